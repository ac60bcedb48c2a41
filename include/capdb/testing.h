// A test helper for apps' migrations: builds a database at an old schema version from JSON
// records, upgrades it to the new version lazily and eagerly, and checks that both give the same
// records. Use it in the app's own tests, for every step it registers.
//
//   std::string out = capdb::testing::checkUpgrade(tmpDir, oldTable, newTable, migrations,
//                                                  R"({"id":"1","name":"Ada Lovelace"})");
//   EXPECT_EQ(out, R"({"id":"1","firstName":"Ada","lastName":"Lovelace"})" "\n");
#pragma once

#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include "capdb/admin.h"
#include "capdb/capdb.h"

namespace capdb::testing {

namespace detail {

// "step 1->2" or "steps 1->2, 2->3": the steps of `migrations` that carry `table`'s records from
// version `from` to `to`, named as capdb's own messages name them.
inline std::string stepNames(const Migrations& migrations, const std::string& table, uint32_t from,
                             uint32_t to) {
  std::string names;
  size_t n = 0;
  if (const auto* steps = migrations.stepsOf(table)) {
    for (auto it = steps->lower_bound(from); it != steps->end() && it->second.to <= to;
         it = steps->lower_bound(it->second.to)) {
      names +=
          (n++ == 0 ? "" : ", ") + std::to_string(it->first) + "->" + std::to_string(it->second.to);
    }
  }
  if (n == 0) return "the migration from version " + std::to_string(from);
  return (n == 1 ? "step " : "steps ") + names;
}

// Index keys by encoded primary key, then by index name.
using IndexKeys = std::map<std::string, std::map<std::string, Key>>;

// The keys of every record of `table` in the indexes that `to` declares with the same name and
// fields: the indexes a migration to `to` may keep rather than rebuild.
inline IndexKeys keptIndexKeys(const DynamicTable& table, const Txn& tx, const TableSchema& to) {
  std::vector<std::string> kept;
  for (const auto& index : to.indexes) {
    const auto* before = table.schema().findIndex(index.name);
    bool same = before != nullptr && before->fields.size() == index.fields.size();
    for (size_t i = 0; same && i < index.fields.size(); ++i) {
      same = before->fields[i].dotted == index.fields[i].dotted;
    }
    if (same) kept.push_back(index.name);
  }
  IndexKeys keys;
  for (auto c = table.scan(tx); c.valid(); c.next()) {
    auto& byIndex = keys[std::string(c.primaryKey())];
    for (const auto& name : kept) byIndex.emplace(name, table.indexKey(name, c.record()));
  }
  return keys;
}

// Checks that every ready index of `table` finds every record by the key the record has when read
// through `steps` (an index still building is not read). `before` holds the records' keys as
// stored. Throws MigrationFailed naming the record, the steps, the fields whose key changed and
// the index.
inline void checkLazyIndexes(const Database& db, const DynamicTable& table, const Txn& tx,
                             const IndexKeys& before, const std::string& steps) {
  std::vector<std::string> ready;
  for (const auto& t : status(db).tables) {
    if (t.name != table.name()) continue;
    for (const auto& i : t.indexes) {
      if (i.ready) ready.push_back(i.name);
    }
  }
  for (auto c = table.scan(tx); c.valid(); c.next()) {
    std::string pk(c.primaryKey());
    for (const auto& index : table.schema().indexes) {
      if (std::find(ready.begin(), ready.end(), index.name) == ready.end()) continue;
      Key key = table.indexKey(index.name, c.record());
      bool found = false;
      for (auto f = table.find(tx, index.name, Range::prefix(key)); f.valid() && !found; f.next()) {
        found = f.primaryKey() == pk;
      }
      if (found) continue;
      std::vector<std::string> changed;
      auto record = before.find(pk);
      if (record != before.end()) {
        if (auto old = record->second.find(index.name); old != record->second.end()) {
          // Compared as the index stores them: integers of any width by value.
          auto bytes = [](const KeyValue& v) { return encodeKey(std::span(&v, 1)); };
          for (size_t i = 0; i < index.fields.size(); ++i) {
            if (bytes(old->second.values[i]) != bytes(key.values[i])) {
              changed.push_back(index.fields[i].dotted);
            }
          }
        }
      }
      if (changed.empty()) {
        for (const auto& f : index.fields) changed.push_back(f.dotted);
      }
      std::string fields;
      for (const auto& f : changed) fields += (fields.empty() ? "" : ", ") + f;
      const char* it = changed.size() == 1 ? "it" : "them";
      throw Error(ErrorCode::MigrationFailed,
                  "table " + table.name() + ", record " + formatKey(pk) + ": " + steps +
                      " changed indexed field" + (changed.size() == 1 ? " " : "s ") + fields +
                      " (index " + index.name + ") without declaring " + it +
                      " in StepOptions::writes; declare " + it +
                      " so that the index is rebuilt");
    }
  }
}

}  // namespace detail

// Returns the table's records at the new version as JSON Lines (primary-key order), the same
// whether read lazily, read after a lazy open drained (its indexes built from the records read
// through the steps), or after an eager rewrite. Throws MigrationFailed describing the first
// difference when the modes disagree, or the error of the step that failed. A migration that
// only the eager mode may run (a step that requires it, a new primary key) is checked eagerly
// alone. Either way, every index must find every upgraded record by its new key: the indexes the
// migration keeps from the start (a step that changes an indexed field without declaring it in
// StepOptions::writes is MigrationFailed naming the record, the step, the field and the index,
// whether read lazily or rewritten eagerly), and every index once built, lazy then drained and
// eager alike. `dir` must be an empty, writable directory.
inline std::string checkUpgrade(const std::filesystem::path& dir, const TableSchema& from,
                                const TableSchema& to, const Migrations& migrations,
                                std::string_view jsonLines) {
  // `keys`, when given, receives the records' keys in the indexes `to` may keep.
  auto build = [&](const std::filesystem::path& path, detail::IndexKeys* keys) {
    Database db = Database::open(path, Schemas{from});
    db.write([&](WriteTxn& tx) { db.table(from.name).importJsonLines(tx, jsonLines); });
    if (keys != nullptr) *keys = detail::keptIndexKeys(db.table(from.name), db.read(), to);
  };
  auto exported = [&](Database& db) {
    std::ostringstream out;
    db.table(to.name).exportJsonLines(db.read(), out);
    return out.str();
  };
  Options lazy;
  lazy.migrations = &migrations;
  Options eager = lazy;
  eager.mode = MigrationMode::Eager;

  detail::IndexKeys stored;
  build(dir / "lazy", &stored);
  build(dir / "eager", nullptr);
  std::string lazyOut, drainedOut, eagerOut;
  bool lazyRefused = false;
  const std::string steps = detail::stepNames(migrations, to.name, from.version, to.version);
  {
    std::optional<Database> db;
    try {
      db.emplace(Database::open(dir / "lazy", Schemas{to}, lazy));
    } catch (const Error& e) {
      // Refused for its mode, or for a mismatch that the eager open then reports too.
      if (e.code() != ErrorCode::SchemaMismatch) throw;
      lazyRefused = true;
    }
    if (db) {
      detail::checkLazyIndexes(*db, db->table(to.name), db->read(), stored, steps);
      lazyOut = exported(*db);
      // Drained: the records rewritten and the indexes that build filled, a batch at a time.
      while (!db->drain(DrainBudget{.records = 1000})) {
      }
      detail::checkLazyIndexes(*db, db->table(to.name), db->read(), stored, steps);
      drainedOut = exported(*db);
    }
  }
  {
    Database db = Database::open(dir / "eager", Schemas{to}, eager);
    if (db.oldRecords() != 0) {
      throw Error(ErrorCode::MigrationFailed,
                  "table " + to.name + ": old records remain after the eager upgrade");
    }
    detail::checkLazyIndexes(db, db.table(to.name), db.read(), stored, steps);
    eagerOut = exported(db);
  }
  if (!lazyRefused && lazyOut != drainedOut) {
    throw Error(ErrorCode::MigrationFailed,
                "table " + to.name + ": the records read lazily differ from the same records "
                "after the drain rewrote them");
  }
  if (!lazyRefused && lazyOut != eagerOut) {
    std::istringstream a(lazyOut), b(eagerOut);
    std::string la, lb;
    size_t line = 0;
    while (true) {
      bool ga = static_cast<bool>(std::getline(a, la)), gb = static_cast<bool>(std::getline(b, lb));
      ++line;
      if (!ga && !gb) break;
      if (la != lb || ga != gb) {
        throw Error(ErrorCode::MigrationFailed,
                    "table " + to.name + ": record " + std::to_string(line) +
                        " differs between the lazy and eager upgrades:\n  lazy:  " + la +
                        "\n  eager: " + lb);
      }
    }
  }
  return eagerOut;
}

}  // namespace capdb::testing
