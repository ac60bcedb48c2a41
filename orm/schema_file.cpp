#include "orm/schema_file.h"

#include <capnp/schema-parser.h>
#include <kj/filesystem.h>

#include "engine/fail.h"
#include "orm/kj_error.h"

namespace capdb::orm {
namespace {

// Everything the parser refers to must outlive it.
struct ParserState {
  kj::Own<kj::Filesystem> disk = kj::newDiskFilesystem();
  kj::Own<kj::Directory> builtinDir = kj::newInMemoryDirectory(kj::nullClock());
  std::vector<kj::Own<const kj::ReadableDirectory>> dirs;
  std::vector<const kj::ReadableDirectory*> importPath;
  capnp::SchemaParser parser;
};

kj::Path toKjPath(const std::filesystem::path& p) {
  std::string s = std::filesystem::absolute(p).lexically_normal().string();
  return kj::Path::parse(kj::StringPtr(s.c_str() + 1));  // relative to the root directory
}

void writeBuiltin(kj::Directory& dir, const char* path, std::string_view text) {
  dir.openFile(kj::Path::parse(path), kj::WriteMode::CREATE | kj::WriteMode::CREATE_PARENT)
      ->writeAll(kj::StringPtr(std::string(text).c_str()));
}

void collectTables(capnp::ParsedSchema scope, const std::shared_ptr<ParserState>& owner,
                   std::vector<TableSchema>& out) {
  for (auto nested : scope.getAllNested()) {
    if (nested.getProto().isStruct()) {
      if (auto t = tableSchemaOf(nested.asStruct(), owner)) out.push_back(std::move(*t));
    }
    collectTables(nested, owner, out);
  }
}

}  // namespace

const TableSchema* SchemaFile::find(std::string_view table) const {
  for (const auto& t : tables) {
    if (t.name == table) return &t;
  }
  return nullptr;
}

SchemaFile parseSchemaFile(const std::filesystem::path& file,
                           std::span<const std::filesystem::path> importDirs) {
  std::error_code ec;
  CAPDB_REQUIRE(std::filesystem::is_regular_file(file, ec), ErrorCode::IoError,
          "{}: no such schema file", file.string());
  auto state = std::make_shared<ParserState>();
  auto& root = state->disk->getRoot();
  for (const auto& dir : importDirs) {
    CAPDB_REQUIRE(std::filesystem::is_directory(dir, ec), ErrorCode::IoError,
            "{}: no such import directory", dir.string());
    state->dirs.push_back(root.openSubdir(toKjPath(dir)));
  }
  writeBuiltin(*state->builtinDir, "capdb/annotations.capnp", builtin::kAnnotationsCapnp);
  writeBuiltin(*state->builtinDir, "capnp/c++.capnp", builtin::kCxxCapnp);
  for (auto& d : state->dirs) state->importPath.push_back(d.get());
  state->importPath.push_back(state->builtinDir.get());
  if (std::filesystem::is_directory("/usr/include/capnp", ec)) {
    state->dirs.push_back(root.openSubdir(kj::Path::parse("usr/include")));
    state->importPath.push_back(state->dirs.back().get());
  }

  SchemaFile result;
  capnp::ParsedSchema parsed;
  try {
    parsed = state->parser.parseFromDirectory(
        root, toKjPath(file),
        kj::ArrayPtr<const kj::ReadableDirectory* const>(state->importPath.data(),
                                                         state->importPath.size()));
  } catch (const kj::Exception& e) {
    // The parser's exception carries the .capnp file the error is in and its line (from 0).
    std::string at = e.getFile();
    if (at.ends_with(".capnp")) {
      std::string line = std::to_string(e.getLine() + 1);
      std::string_view what = e.getDescription().cStr();
      if (file.string().ends_with(at)) fail(ErrorCode::SyntaxError, "{}:{}: {}", file.string(), line, what);
      fail(ErrorCode::SyntaxError, "{}: in {}:{}: {}", file.string(), at, line, what);
    }
    fail(ErrorCode::SyntaxError, "{}: {}", file.string(), std::string_view(e.getDescription().cStr()));
  }
  translateKj(
      ErrorCode::SyntaxError, [&] { collectTables(parsed, state, result.tables); }, "{}",
      file.string());
  checkDistinctNames(result.tables);
  result.parser = state;
  return result;
}

}  // namespace capdb::orm
