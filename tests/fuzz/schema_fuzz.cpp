// Schema files (orm::parseSchemaFile, as `capdb --schema` reads them): the input is written to a
// temporary .capnp file and parsed, imports resolving against the built-in annotations and the
// system's Cap'n Proto directory. Each table found is then taken apart as opening a database
// would: its SQL columns (query::TableColumns) and its record check (orm::RecordCheck). Any
// capdb::Error is an answer; anything else escaping, or a sanitizer report, is a finding.
#include <cstddef>
#include <cstdint>
#include <fstream>

#include "capdb/capdb.h"
#include "query/columns.h"
#include "orm/record_check.h"
#include "orm/schema_file.h"
#include "support/temp_dir.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const auto* dir = new capdb::testing::TempDir();
  std::filesystem::path file = *dir / "fuzz.capnp";
  {
    std::ofstream out(file, std::ios::binary | std::ios::trunc);
    out.write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(size));
  }
  try {
    capdb::orm::SchemaFile parsed = capdb::orm::parseSchemaFile(file);
    for (const auto& table : parsed.tables) {
      capdb::query::TableColumns columns(table);
      capdb::orm::RecordCheck check(table.schema);
    }
  } catch (const capdb::Error&) {
  }
  return 0;
}
