#include "orm/disk_names.h"

#include <fmt/format.h>

#include "engine/key_codec.h"

namespace capdb::orm {

using engine::KeyEncoder;

std::string tableDbName(std::string_view table, uint32_t tree) {
  return tree == 0 ? fmt::format("table:{}", table) : fmt::format("table.{}:{}", tree, table);
}

std::string indexDbName(std::string_view table, std::string_view index) {
  return fmt::format("index:{}:{}", table, index);
}

std::string checkDbName(std::string_view table, std::string_view index) {
  return fmt::format("capdb:check:{}:{}", table, index);
}

std::string rekeyDbName(std::string_view table) { return fmt::format("capdb:rekey:{}", table); }
std::string rewriteDbName(std::string_view table) { return fmt::format("capdb:rewrite:{}", table); }

std::string catalogFormatKey() { return KeyEncoder().text("format").bytes(); }

const std::string& catalogGenerationKey() {
  static const std::string key = KeyEncoder().text("generation").bytes();
  return key;
}

std::string catalogTableKey(std::string_view table) {
  return KeyEncoder().text("table").text(table).bytes();
}

std::string catalogTablePrefix() { return KeyEncoder().text("table").bytes(); }

std::string catalogSchemaKey(std::string_view table, uint32_t version) {
  return KeyEncoder().text("schema").text(table).uint64(version).bytes();
}

std::string catalogSchemaPrefix(std::string_view table) {
  return KeyEncoder().text("schema").text(table).bytes();
}

}  // namespace capdb::orm
