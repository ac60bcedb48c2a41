#include "orm/rewindable_input.h"

#include <stdlib.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <string>

#include "engine/fail.h"

namespace capdb::orm {
namespace {

bool seekable(std::istream& in, std::streampos& start) {
  start = in.tellg();
  if (start == std::streampos(-1)) {
    in.clear(in.rdstate() & ~std::ios::failbit);
    return false;
  }
  return true;
}

}  // namespace

RewindableInput::RewindableInput(std::istream& in) : source_(&in) {
  CAPDB_REQUIRE(!in.fail(), ErrorCode::IoError,
                "the input cannot be read: the stream is in a failed state (or at its end)");
  if (seekable(in, start_)) return;
  std::error_code ec;
  std::filesystem::path dir = std::filesystem::temp_directory_path(ec);
  if (ec) dir = "/tmp";
  std::string name = (dir / "capdb-import-XXXXXX").string();
  int fd = mkstemp(name.data());
  CAPDB_REQUIRE(fd >= 0, ErrorCode::IoError,
                "cannot make a temporary file in {} to hold the input: {}", dir.string(),
                std::strerror(errno));
  close(fd);
  spool_.emplace(name, std::ios::in | std::ios::out | std::ios::binary | std::ios::trunc);
  // Unlinked at once: the file lives while the stream holds it open, and never outlives it.
  std::filesystem::remove(name, ec);
  CAPDB_REQUIRE(spool_->is_open(), ErrorCode::IoError, "cannot open the temporary file {}", name);
  char buffer[1 << 16];
  while (in.read(buffer, sizeof buffer) || in.gcount() > 0) {
    spool_->write(buffer, in.gcount());
    CAPDB_REQUIRE(spool_->good(), ErrorCode::IoError,
                  "cannot copy the input into a temporary file in {} (is the disk full?)",
                  dir.string());
  }
  CAPDB_REQUIRE(!in.bad(), ErrorCode::IoError, "reading the input failed");
  spool_->flush();
  source_ = &*spool_;
  start_ = 0;
}

std::istream& RewindableInput::rewind() {
  source_->clear();
  source_->seekg(start_);
  CAPDB_REQUIRE(!source_->fail(), ErrorCode::IoError, "cannot go back to the start of the input");
  return *source_;
}

}  // namespace capdb::orm
