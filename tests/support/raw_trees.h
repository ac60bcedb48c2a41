// The bytes a database holds, read past every layer above the engine: to check that a failed
// operation left a database exactly as it was (records, index entries, the catalog's entry of a
// table), not just equal through the API.
#pragma once

#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "engine/env.h"
#include "orm/catalog.h"
#include "orm/disk_names.h"

namespace capdb::testing {

struct RawTable {
  // Every entry of the table's records (both of its records databases) and of each named index,
  // by LMDB database name.
  std::map<std::string, std::vector<std::pair<std::string, std::string>>> trees;
  orm::TableInfo entry;  // the catalog's entry of the table
  friend bool operator==(const RawTable&, const RawTable&) = default;
};

// `table`'s records and `indexes` as stored in the database at `dir`, and its catalog entry.
// The database must not be open elsewhere in this process.
inline RawTable rawTable(const std::filesystem::path& dir, const std::string& table,
                         const std::vector<std::string>& indexes) {
  RawTable out;
  engine::Env env = engine::Env::open(dir);
  auto tx = env.read();
  std::vector<std::string> names{orm::tableDbName(table, 0), orm::tableDbName(table, 1)};
  for (const auto& index : indexes) names.push_back(orm::indexDbName(table, index));
  for (const auto& name : names) {
    auto& entries = out.trees[name];
    auto db = env.openDb(name);
    if (!db) continue;
    for (auto [key, value] : tx.scan(*db, engine::KeyRange::all())) entries.emplace_back(key, value);
  }
  auto catalog = orm::Catalog::load(tx);
  if (catalog && catalog->table(table)) out.entry = *catalog->table(table);
  return out;
}

// Whether the database at `dir` has an LMDB database named `name` (a scratch database left
// behind, say). The database must not be open elsewhere in this process.
inline bool hasDb(const std::filesystem::path& dir, const std::string& name) {
  engine::Env env = engine::Env::open(dir);
  return env.openDb(name).has_value();
}

}  // namespace capdb::testing
