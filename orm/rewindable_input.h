// RewindableInput: a stream that a write transaction's body can read again from its start.
//
// Database::write runs its body again when the map fills (capdb.h, Caveats), so a body that
// reads a stream must start from the same place each time. A seekable stream (a file) is sought
// back to where it was when the RewindableInput was made; any other stream (a pipe, standard
// input) is copied once into an unnamed temporary file, so memory stays bounded whatever the
// input's size. Internal to the library.
#pragma once

#include <fstream>
#include <istream>
#include <optional>

namespace capdb::orm {

class RewindableInput {
 public:
  // Reads nothing yet from a seekable `in`; copies the rest of any other `in` into a temporary
  // file (IoError naming the directory when it cannot be made or written).
  explicit RewindableInput(std::istream& in);
  RewindableInput(const RewindableInput&) = delete;
  RewindableInput& operator=(const RewindableInput&) = delete;

  // The input from its start: call at the beginning of each run of the body.
  std::istream& rewind();

 private:
  std::istream* source_;
  std::streampos start_;
  std::optional<std::fstream> spool_;
};

}  // namespace capdb::orm
