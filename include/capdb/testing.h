// A test helper for apps' migrations: builds a database at an old schema version from JSON
// records, upgrades it to the new version lazily and eagerly, and checks that both give the same
// records. Use it in the app's own tests, for every step it registers.
//
//   std::string out = capdb::testing::checkUpgrade(tmpDir, oldTable, newTable, migrations,
//                                                  R"({"id":"1","name":"Ada Lovelace"})");
//   EXPECT_EQ(out, R"({"id":"1","firstName":"Ada","lastName":"Lovelace"})" "\n");
#pragma once

#include <filesystem>
#include <optional>
#include <sstream>
#include <string>
#include <string_view>

#include "capdb/capdb.h"

namespace capdb::testing {

// Returns the table's records at the new version as JSON Lines (primary-key order), the same
// whether read lazily or after an eager rewrite. Throws MigrationFailed describing the first
// difference when the two modes disagree, or the error of the step that failed. A migration
// that only the eager mode may run (a step that requires it or changes indexed fields without
// declaring them, a new primary key) is checked eagerly alone. `dir` must be an empty, writable
// directory.
inline std::string checkUpgrade(const std::filesystem::path& dir, const TableSchema& from,
                                const TableSchema& to, const Migrations& migrations,
                                std::string_view jsonLines) {
  auto build = [&](const std::filesystem::path& path) {
    Database db = Database::open(path, Schemas{from});
    db.write([&](WriteTxn& tx) { db.table(from.name).importJsonLines(tx, jsonLines); });
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

  build(dir / "lazy");
  build(dir / "eager");
  std::string lazyOut, eagerOut;
  bool lazyRefused = false;
  {
    std::optional<Database> db;
    try {
      db.emplace(Database::open(dir / "lazy", Schemas{to}, lazy));
    } catch (const Error& e) {
      // Refused for its mode, or for a mismatch that the eager open then reports too.
      if (e.code() != ErrorCode::SchemaMismatch) throw;
      lazyRefused = true;
    }
    if (db) lazyOut = exported(*db);
  }
  {
    Database db = Database::open(dir / "eager", Schemas{to}, eager);
    if (db.oldRecords() != 0) {
      throw Error(ErrorCode::MigrationFailed,
                  "table " + to.name + ": old records remain after the eager upgrade");
    }
    eagerOut = exported(db);
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
