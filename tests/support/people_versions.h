// A fixture for migration tests: versions of a `people` table parsed from schema text (kept alive
// for the test's Database objects), and loading JSON records into a database at one of them.
#pragma once

#include <gtest/gtest.h>

#include <filesystem>
#include <sstream>
#include <string>
#include <vector>

#include "capdb/capdb.h"
#include "capdb/migrations.h"
#include "support/schema_text.h"
#include "support/temp_dir.h"

namespace capdb::testing {

class PeopleVersions : public ::testing::Test {
 protected:
  // The version-1 fields most tests start from; version 2 usually adds `nameLength @3 :UInt32`.
  static constexpr const char* kV1 = "id @0 :UInt64; name @1 :Text; score @2 :Float64;";

  // Registers the step most tests use: people 1 -> 2 sets nameLength to the name's length.
  static void addNameLengthStep(Migrations& m) {
    m.step("people", 1, 2, [](StepRecord old, StepBuilder next) {
      next.set("nameLength", old.get("name").as<capnp::Text>().size());
    }, {.writes = {"nameLength"}});
  }

  // Registers a step people 1 -> 2 that lower-cases the email field.
  static void addLowerCaseEmailStep(Migrations& m) {
    m.step("people", 1, 2, [](StepRecord old, StepBuilder next) {
      std::string e = old.get("email").as<capnp::Text>().cStr();
      for (char& c : e) c = static_cast<char>(tolower(static_cast<unsigned char>(c)));
      next.set("email", capnp::Text::Reader(e.c_str()));
    }, {.writes = {"email"}});
  }

  // The people table's records as JSON Lines, in key order.
  static std::string exportOf(Database& db) {
    std::ostringstream out;
    db.table("people").exportJsonLines(db.read(), out);
    return out.str();
  }
  // The same for the database at `path`, opened with `schema` and closed again.
  static std::string exportOf(const std::filesystem::path& path, const TableSchema& schema) {
    Database db = Database::open(path, Schemas{schema});
    return exportOf(db);
  }

  // struct Person $Db.table("people") $Db.version(version) $Db.primaryKey(["id"]) { fields },
  // followed by `extra` declarations.
  TableSchema people(uint32_t version, const std::string& fields, const std::string& extra = "") {
    return keyedPeople(version, "\"id\"", fields, extra);
  }
  // The same with another primary key: `key` is the annotation's list, e.g. "\"email\"".
  TableSchema keyedPeople(uint32_t version, const std::string& key, const std::string& fields,
                          const std::string& extra = "") {
    files_.push_back(parseText(
        dir_, "v" + std::to_string(files_.size()) + ".capnp",
        "struct Person $Db.table(\"people\") $Db.version(" + std::to_string(version) +
            ") $Db.primaryKey([" + key + "]) { " + fields + " }\n" + extra));
    return files_.back().tables[0];
  }
  // A database at `path` with `schema`'s table holding the JSON Lines records `json`.
  void load(const std::filesystem::path& path, const TableSchema& schema, const std::string& json) {
    Database db = Database::open(path, Schemas{schema});
    db.write([&](WriteTxn& tx) { db.table("people").importJsonLines(tx, json); });
  }

  TempDir dir_;
  std::vector<orm::SchemaFile> files_;
};

}  // namespace capdb::testing
