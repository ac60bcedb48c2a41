// Prints every record of a table, reading schemas from the catalog alone: this program links no
// generated code for the tables it reads. Used by the catalog tests as "another process".
//   capdb_table_dump DB_DIR TABLE
// Output: one line per record: "<version>\t<key>\t<record in Cap'n Proto text format>".
#include <capnp/dynamic.h>
#include <fmt/format.h>
#include <kj/string.h>

#include "capdb/error.h"
#include "engine/env.h"
#include "engine/key_codec.h"
#include "orm/catalog.h"
#include "orm/disk_names.h"
#include "orm/table_reader.h"

int main(int argc, char** argv) {
  using namespace capdb;
  if (argc != 3) {
    fmt::print(stderr, "usage: {} DB_DIR TABLE\n", argv[0]);
    return 2;
  }
  try {
    auto env = engine::Env::open(argv[1], engine::EnvOptions{.readOnly = true});
    auto txn = env.read();
    auto catalog = orm::Catalog::load(txn);
    if (!catalog) {
      fmt::print(stderr, "error: {} has no catalog\n", argv[1]);
      return 1;
    }
    orm::TableReader reader(*catalog, argv[2]);
    const orm::TableInfo* info = catalog->table(argv[2]);
    auto db = txn.openDb(orm::tableDbName(argv[2], info ? info->recordsTree : 0));
    if (!db) return 0;
    for (auto [key, value] : txn.scan(*db, engine::KeyRange::all())) {
      auto record = reader.decode(txn, key, value);
      fmt::print("{}\t{}\t{}\n", record.version, engine::formatKey(key),
                 kj::str(record.value).cStr());
    }
    return 0;
  } catch (const Error& e) {
    fmt::print(stderr, "error: {}\n", e.what());
    return 1;
  }
}
