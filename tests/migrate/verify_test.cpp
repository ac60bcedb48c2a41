// verify() on a table part-way through a lazy migration: records at the old version are checked
// through the migration's steps when the process has them (the app's, or the declarative ones the
// catalog keeps), and otherwise against the indexes over fields no step writes; what could not be
// checked is named, with the reason. A lost or stale entry of an old record is found either way.
#include <gtest/gtest.h>

#include <algorithm>

#include "capdb/admin.h"
#include "capdb/capdb.h"
#include "engine/key_codec.h"
#include "orm/table_core.h"
#include "support/people_versions.h"
#include "db/database_state.h"

namespace capdb {
namespace {

constexpr int kRecords = 200;

std::string joined(const std::vector<std::string>& lines) {
  std::string out;
  for (const auto& l : lines) out += l + "\n";
  return out;
}

class VerifyTest : public testing::PeopleVersions {
 protected:
  static constexpr const char* kFields =
      "id @0 :UInt64; name @1 :Text; city @2 :Text $Db.indexed; age @3 :UInt32 $Db.indexed;";
  static constexpr const char* kStep =
      "MIGRATE people FROM 1 TO 2 SET nameLength = length(name)";

  void SetUp() override {
    v1_ = people(1, kFields);
    v2_ = people(2, std::string(kFields) + " nameLength @4 :UInt32;");
    std::string json;
    for (int i = 1; i <= kRecords; ++i) {
      json += "{\"id\":\"" + std::to_string(i) + "\",\"name\":\"person " + std::to_string(i) +
              "\",\"city\":\"city " + std::to_string(i % 9) + "\",\"age\":" + std::to_string(i % 70) +
              "}\n";
    }
    load(dir_ / "db", v1_, json);
  }

  // Opens version 2 lazily with the step as C++ (`sql` false) or declarative, and writes one
  // record at version 2: the table then holds records at both versions.
  void upgradeLazily(bool sql) {
    Migrations m;
    if (sql) {
      m.sql(kStep);
    } else {
      addNameLengthStep(m);
    }
    Options o;
    o.migrations = &m;
    Database db = Database::open(dir_ / "db", Schemas{v2_}, o);
    db.query("INSERT INTO people (id, name, city, age, nameLength) VALUES (1000, 'new', 'x', 5, 3)");
    ASSERT_EQ(db.oldRecords(), static_cast<uint64_t>(kRecords));
  }

  // Erases the index entry of record `id` in index `index` behind the library's back, or with
  // `stale`, leaves it and adds one with another key for the same record.
  void damage(const std::string& index, uint64_t id, bool stale) {
    Database db = Database::open(dir_ / "db");
    const auto& core = internal::core(db.table("people"));
    const auto& ic = *std::find_if(core.indexes().begin(), core.indexes().end(),
                                   [&](const auto& i) { return i.schema.name == index; });
    std::string pk = engine::KeyEncoder().uint64(id).bytes();
    internal::env(db).write([&](engine::WriteTxn& t) {
      for (auto scan = t.scan(ic.db, engine::KeyRange::all()); scan.valid(); scan.next()) {
        if (core.primaryKeyOfEntry(ic, scan.key(), scan.value()) != pk) continue;
        std::string key(scan.key());
        if (stale) {
          t.put(ic.db, engine::KeyEncoder().text("nowhere").raw(pk).bytes(), "");
        } else {
          t.erase(ic.db, key);
        }
        return;
      }
      FAIL() << "no entry for record " << id;
    });
  }

  TableSchema v1_, v2_;
};

TEST_F(VerifyTest, OldRecordsAreCheckedThroughTheAppsSteps) {
  upgradeLazily(false);
  Migrations m;
  addNameLengthStep(m);
  Options o;
  o.migrations = &m;
  {
    Database db = Database::open(dir_ / "db", Schemas{v2_}, o);
    VerifyReport r = verify(db);
    EXPECT_TRUE(r.ok()) << joined(r.problems);
    EXPECT_EQ(r.records, kRecords + 1u);
    EXPECT_EQ(r.indexEntries, 2 * (kRecords + 1u));
    EXPECT_NE(joined(r.notes).find("200 records at older schema versions were read through the "
                                   "migration steps"),
              std::string::npos)
        << joined(r.notes);
  }
  damage("people_city", 17, false);
  Database db = Database::open(dir_ / "db", Schemas{v2_}, o);
  VerifyReport r = verify(db);
  EXPECT_EQ(joined(r.problems), "table people: record (17) has no entry ('city 8', 17) in index "
                                "people_city\n");
}

TEST_F(VerifyTest, OldRecordsAreCheckedThroughTheStepsTheCatalogKeeps) {
  upgradeLazily(true);
  {
    Database tool = Database::open(dir_ / "db");  // as `capdb verify` opens it: no app
    VerifyReport r = verify(tool);
    EXPECT_TRUE(r.ok()) << joined(r.problems);
    EXPECT_EQ(r.indexEntries, 2 * (kRecords + 1u));
  }
  damage("people_age", 30, true);
  Database tool = Database::open(dir_ / "db");
  VerifyReport r = verify(tool);
  EXPECT_EQ(joined(r.problems),
            "table people: index people_age has the entry ('nowhere', 30) for record (30), whose "
            "fields give (30, 30)\n"
            "table people: index people_age has 202 entries, 1 more than its records give (stale "
            "entries)\n");
}

TEST_F(VerifyTest, WithoutTheStepsTheIndexesNoStepWritesAreStillChecked) {
  upgradeLazily(false);  // C++ steps: a tool without the app cannot read old records through them
  {
    Database tool = Database::open(dir_ / "db");
    VerifyReport r = verify(tool);
    EXPECT_TRUE(r.ok()) << joined(r.problems);
    EXPECT_EQ(r.records, kRecords + 1u);
    EXPECT_EQ(r.indexEntries, 2 * (kRecords + 1u));
  }
  damage("people_city", 5, false);
  damage("people_age", 6, true);
  Database tool = Database::open(dir_ / "db");
  VerifyReport r = verify(tool);
  std::string problems = joined(r.problems);
  EXPECT_NE(problems.find("record (5) has no entry ('city 5', 5) in index people_city"),
            std::string::npos)
      << problems;
  EXPECT_NE(problems.find("index people_age has 202 entries, 1 more than its records give"),
            std::string::npos)
      << problems;
}

TEST_F(VerifyTest, WhatCannotBeCheckedIsNamedWithItsReason) {
  // Version 2 adds an indexed field that no step writes: its index is built at open through the
  // steps, and a tool without them cannot tell what the old records' entries should be.
  TableSchema v2 = people(2, std::string(kFields) + " nameLength @4 :UInt32; tag @5 :UInt32 $Db.indexed;");
  Migrations m;
  addNameLengthStep(m);
  Options o;
  o.migrations = &m;
  { Database db = Database::open(dir_ / "db", Schemas{v2}, o); }
  Database tool = Database::open(dir_ / "db");
  VerifyReport r = verify(tool);
  EXPECT_TRUE(r.ok()) << joined(r.problems);
  EXPECT_NE(joined(r.notes).find("table people: index people_tag: the entries of 200 records at "
                                 "version 1 were not checked: version 1 has no field named as the "
                                 "index's fields (tag)"),
            std::string::npos)
      << joined(r.notes);
}

}  // namespace
}  // namespace capdb
