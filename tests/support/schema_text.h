// Writes .capnp text into a temporary directory and parses it, for tests of schema rules.
#pragma once

#include <fstream>
#include <string>

#include "orm/schema_file.h"
#include "support/temp_dir.h"

namespace capdb::testing {

inline std::filesystem::path writeFile(const TempDir& dir, const std::string& name,
                                       const std::string& text) {
  auto path = dir / name;
  std::ofstream(path) << text;
  return path;
}

// Parses `body` (struct declarations) as a schema file with the given file id, with the
// annotations imported as Db.
inline orm::SchemaFile parseText(const TempDir& dir, const std::string& name,
                                 const std::string& body,
                                 const std::string& fileId = "0xe2a7c9f5b3d10475") {
  return orm::parseSchemaFile(
      writeFile(dir, name, "@" + fileId + ";\nusing Db = import \"/capdb/annotations.capnp\";\n" + body));
}

}  // namespace capdb::testing
