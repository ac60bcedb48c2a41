// Parsing .capnp files at run time (capnp::SchemaParser), as the capdb tool does.
#pragma once

#include <filesystem>
#include <memory>
#include <span>
#include <string_view>
#include <vector>

#include "orm/table_schema.h"

namespace capdb::orm {

namespace builtin {
// The text of include/capdb/annotations.capnp and of Cap'n Proto's /capnp/c++.capnp, built into
// the library.
extern const std::string_view kAnnotationsCapnp;
extern const std::string_view kCxxCapnp;
}  // namespace builtin

struct SchemaFile {
  // Every struct of the file annotated with $Db.table, nested ones included, in file order.
  std::vector<TableSchema> tables;
  // Owns the parsed schemas (each TableSchema also holds it through TableSchema::owner).
  std::shared_ptr<const void> parser;

  const TableSchema* find(std::string_view table) const;
};

// Parses `file`. Absolute imports resolve against importDirs in order, then against the
// built-in /capdb/annotations.capnp and /capnp/c++.capnp, then the system's Cap'n Proto include
// directory when there is one. Throws IoError when the file cannot be read, SyntaxError (with
// file, line and column) when it does not parse, InvalidArgument when annotations are misused or
// two structs declare one table.
SchemaFile parseSchemaFile(const std::filesystem::path& file,
                           std::span<const std::filesystem::path> importDirs = {});

}  // namespace capdb::orm
