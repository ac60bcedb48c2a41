// Migrations that change primary keys: a new $Db.primaryKey, or a step that writes a key field.
// Every record moves to its new key (eagerly, through a scratch database), every index is
// rebuilt, a key met twice undoes the migration, and an interruption in either phase resumes.
#include <gtest/gtest.h>

#include <sstream>
#include <stdexcept>

#include "capdb/admin.h"
#include "capdb/capdb.h"
#include "capdb/testing.h"
#include "engine/key_codec.h"
#include "orm/disk_names.h"
#include "orm/table_core.h"
#include "support/errors.h"
#include "support/people_versions.h"
#include "db/database_state.h"

namespace capdb {
namespace {

using ::capdb::testing::errorOf;

class RekeyTest : public ::capdb::testing::PeopleVersions {
 protected:
  static constexpr const char* kFields =
      "id @0 :UInt64; email @1 :Text; city @2 :Text $Db.indexed;";

  // 60 people; emails are unique and do not ascend with the ids.
  static std::string records(int n = 60) {
    std::string out;
    for (int i = 1; i <= n; ++i) {
      out += "{\"id\":\"" + std::to_string(i) + "\",\"email\":\"u" + std::to_string((i * 37) % 101) +
             "@x.org\",\"city\":\"" + (i % 3 == 0 ? "paris" : "lima") + "\"}\n";
    }
    return out;
  }
  static std::string text(const capnp::DynamicStruct::Reader& r, const char* name) {
    return r.get(name).as<capnp::Text>().cStr();
  }
  // Whether the database holds an LMDB database of that name.
  static bool hasDb(Database& db, const std::string& name) {
    return internal::engineTxn(db.read()).openDb(name).has_value();
  }
  // Every index entry points to a record that has it, and every record has its entries; with
  // `oldRecords`, records wait for steps and their index entries go unchecked.
  static void expectConsistent(Database& db, bool oldRecords = false) {
    VerifyReport report = verify(db);
    EXPECT_TRUE(report.ok()) << (report.problems.empty() ? "" : report.problems[0]);
    EXPECT_EQ(report.notes.empty(), !oldRecords) << (report.notes.empty() ? "" : report.notes[0]);
  }
};

TEST_F(RekeyTest, ANewPrimaryKeyMovesEveryRecordAndRebuildsEveryIndex) {
  TableSchema v1 = people(1, kFields);
  TableSchema v2 = keyedPeople(2, "\"email\"", kFields);
  load(dir_ / "db", v1, records());
  Options o;  // no step: the records' bytes read as version 2 as they are

  std::string lazy = errorOf([&] { Database::open(dir_ / "db", Schemas{v2}, o); });
  EXPECT_NE(lazy.find("SchemaMismatch"), std::string::npos) << lazy;
  EXPECT_NE(lazy.find("the primary key changes from (id) to (email)"), std::string::npos) << lazy;
  EXPECT_NE(lazy.find("MigrationMode::Eager"), std::string::npos) << lazy;

  o.mode = MigrationMode::Eager;
  o.eager.batchRecords = 7;
  std::vector<std::string> phases;
  o.eager.progress = [&](const MigrationProgress& p) {
    if (phases.empty() || phases.back() != p.phase) phases.push_back(p.phase);
    EXPECT_LE(p.done, p.total);
    EXPECT_EQ(p.total, 60u);
  };
  Database db = Database::open(dir_ / "db", Schemas{v2}, o);
  // The moved records swap in: no phase copies them back.
  EXPECT_EQ(phases, (std::vector<std::string>{"rekey", "indexes"}));
  EXPECT_FALSE(hasDb(db, orm::rekeyDbName("people")));
  auto people = db.table("people");
  auto tx = db.read();
  ASSERT_EQ(people.count(tx), 60u);
  // In email order now, every record whole.
  std::string previous;
  for (auto r : people.scan(tx)) {
    EXPECT_LT(previous, text(r, "email"));
    previous = text(r, "email");
  }
  auto row = people.get(tx, Key{"u37@x.org"});
  ASSERT_TRUE(row.has_value());
  EXPECT_EQ(row->get().get("id").as<uint64_t>(), 1u);
  int paris = 0;
  for (auto c = people.find(tx, "people_city", Range::prefix(Key{"paris"})); c.valid(); c.next()) {
    EXPECT_EQ(text(c.record(), "city"), "paris");
    ++paris;
  }
  EXPECT_EQ(paris, 20);
  expectConsistent(db);
  DatabaseStatus st = status(db);
  EXPECT_EQ(st.tables[0].primaryKey, (std::vector<std::string>{"email"}));
  EXPECT_FALSE(st.tables[0].migration.has_value());
  // The new key is the key: a second record with an existing email is refused.
  std::string dup = errorOf([&] {
    db.write([&](WriteTxn& w) {
      people.insert(w, [](capnp::DynamicStruct::Builder b) {
        b.set("id", 999);
        b.set("email", "u37@x.org");
      });
    });
  });
  EXPECT_NE(dup.find("ConstraintViolation"), std::string::npos) << dup;
  // SQL finds records by the new key.
  auto rows = db.query("SELECT id FROM people WHERE email = 'u74@x.org'");
  ASSERT_EQ(rows.size(), 1u);
}

TEST_F(RekeyTest, AStepThatWritesAKeyFieldMovesTheRecordsAndTheSequenceFollows) {
  const char* fields = "id @0 :UInt64 $Db.autoIncrement; email @1 :Text; city @2 :Text $Db.indexed;";
  TableSchema v1 = people(1, fields);
  TableSchema v2 = people(2, fields);
  load(dir_ / "db", v1, records(30));
  Migrations m;
  m.step("people", 1, 2, [](StepRecord old, StepBuilder next) {
    next.set("id", 1000 - old.get("id").as<uint64_t>() * 10);  // the order reverses
  }, {.writes = {"id"}});
  Options o;
  o.migrations = &m;
  std::string lazy = errorOf([&] { Database::open(dir_ / "db", Schemas{v2}, o); });
  EXPECT_NE(lazy.find("a migration step writes a field of the primary key"), std::string::npos) << lazy;
  o.mode = MigrationMode::Eager;
  o.eager.batchRecords = 4;
  Database db = Database::open(dir_ / "db", Schemas{v2}, o);
  auto people = db.table("people");
  auto tx = db.read();
  EXPECT_FALSE(people.get(tx, Key{1}).has_value());
  auto moved = people.get(tx, Key{990});
  ASSERT_TRUE(moved.has_value());
  EXPECT_EQ(text(moved->get(), "email"), "u37@x.org");
  EXPECT_EQ(moved->version(), 2u);
  EXPECT_EQ(people.count(tx), 30u);
  EXPECT_EQ(db.oldRecords(), 0u);
  expectConsistent(db);
  // The autoIncrement sequence continues after the highest new key.
  uint64_t next = db.write([&](WriteTxn& w) {
    return people.insert(w, [](capnp::DynamicStruct::Builder b) { b.set("email", "new@x.org"); });
  });
  EXPECT_EQ(next, 991u);
}

TEST_F(RekeyTest, CheckUpgradeRunsAMoveToNewKeysEagerly) {
  TableSchema v1 = people(1, "id @0 :UInt64; email @1 :Text;");
  TableSchema v2 = keyedPeople(2, "\"email\"", "id @0 :UInt64; email @1 :Text;");
  Migrations none;
  std::string out = ::capdb::testing::checkUpgrade(
      dir_ / "check", v1, v2, none,
      "{\"id\":\"1\",\"email\":\"b@x.org\"}\n{\"id\":\"2\",\"email\":\"a@x.org\"}\n");
  EXPECT_EQ(out, "{\"id\":\"2\",\"email\":\"a@x.org\"}\n{\"id\":\"1\",\"email\":\"b@x.org\"}\n");
}

TEST_F(RekeyTest, AnOldStepThatWroteTheKeyMovesNothingOnceEveryRecordIsPastIt) {
  const char* fields = "id @0 :UInt64; email @1 :Text; city @2 :Text $Db.indexed;";
  TableSchema v1 = people(1, fields);
  TableSchema v2 = people(2, fields);
  TableSchema v3 = people(3, std::string(fields) + " note @3 :Text;");
  load(dir_ / "db", v1, records(20));
  Migrations m;
  m.step("people", 1, 2, [](StepRecord old, StepBuilder next) {
    next.set("id", old.get("id").as<uint64_t>() + 100);
  }, {.writes = {"id"}, .target = v2.schema});
  Options o;
  o.migrations = &m;
  o.mode = MigrationMode::Eager;
  { Database db = Database::open(dir_ / "db", Schemas{v2}, o); }
  // Every record is at version 2: version 3 only adds a field, and opens lazily at once.
  o.mode = MigrationMode::Lazy;
  Database db = Database::open(dir_ / "db", Schemas{v3}, o);
  EXPECT_FALSE(status(db).tables[0].migration.has_value());
  EXPECT_EQ(db.oldRecords(), 0u);
  EXPECT_TRUE(db.table("people").get(db.read(), Key{101}).has_value());
}

TEST_F(RekeyTest, AKeyFieldDeclaredForAPendingMigrationMovesItsRecords) {
  TableSchema v1 = people(1, "id @0 :UInt64; email @1 :Text; city @2 :Text;");
  TableSchema v2 = people(2, "id @0 :UInt64; email @1 :Text; city @2 :Text;");
  load(dir_ / "db", v1, records(10));
  {
    Migrations lower;
    addLowerCaseEmailStep(lower);
    Options o;
    o.migrations = &lower;
    Database db = Database::open(dir_ / "db", Schemas{v2}, o);  // lazy: records stay at 1
    EXPECT_EQ(db.oldRecords(), 10u);
  }
  // The app's next build renumbers the ids in the same step, and says so.
  Migrations renumber;
  renumber.step("people", 1, 2, [](StepRecord old, StepBuilder next) {
    next.set("id", old.get("id").as<uint64_t>() * 2);
  }, {.writes = {"id", "email"}});
  Options o;
  o.migrations = &renumber;
  std::string lazy = errorOf([&] { Database::open(dir_ / "db", Schemas{v2}, o); });
  EXPECT_NE(lazy.find("MigrationMode::Eager"), std::string::npos) << lazy;
  o.mode = MigrationMode::Eager;
  Database db = Database::open(dir_ / "db", Schemas{v2}, o);
  auto tx = db.read();
  EXPECT_EQ(db.table("people").count(tx), 10u);
  EXPECT_TRUE(db.table("people").get(tx, Key{20}).has_value());
  EXPECT_FALSE(db.table("people").get(tx, Key{1}).has_value());
}

TEST_F(RekeyTest, AFailingStepUndoesTheMoveAndAPendingMigrationSurvivesIt) {
  // Version 2 is pending lazily (records at 1 wait for the step that sets score); version 3
  // moves the records to the email as their key and drops the city index, and its step fails.
  TableSchema v1 = people(1, "id @0 :UInt64; email @1 :Text; city @2 :Text $Db.indexed;");
  TableSchema v2 = people(2, "id @0 :UInt64; email @1 :Text; city @2 :Text $Db.indexed; "
                             "score @3 :UInt32;");
  TableSchema v3 = keyedPeople(3, "\"email\"", "id @0 :UInt64; email @1 :Text; city @2 :Text; "
                                                "score @3 :UInt32;");
  load(dir_ / "db", v1, records(30));
  auto scoreStep = [](StepRecord old, StepBuilder next) {
    next.set("score", old.get("id").as<uint64_t>() * 3);
  };
  Migrations toV2;
  toV2.step("people", 1, 2, scoreStep, {.writes = {"score"}});
  Options o;
  o.migrations = &toV2;
  { Database db = Database::open(dir_ / "db", Schemas{v2}, o); }

  Migrations toV3;
  toV3.step("people", 1, 2, scoreStep, {.writes = {"score"}, .target = v2.schema});
  toV3.step("people", 2, 3, [](StepRecord old, StepBuilder) {
    if (old.get("id").as<uint64_t>() == 17) throw std::runtime_error("no email for 17");
  }, {.writes = {"email"}});
  Options eager;
  eager.migrations = &toV3;
  eager.mode = MigrationMode::Eager;
  eager.eager.batchRecords = 4;
  std::string err = errorOf([&] { Database::open(dir_ / "db", Schemas{v3}, eager); });
  EXPECT_NE(err.find("MigrationFailed"), std::string::npos) << err;
  EXPECT_NE(err.find("(17)"), std::string::npos) << err;
  EXPECT_NE(err.find("no email for 17"), std::string::npos) << err;
  EXPECT_NE(err.find("back at version 2"), std::string::npos) << err;

  // As before: version 2, keyed by id, its lazy migration pending, the city index whole.
  Database db = Database::open(dir_ / "db", Schemas{v2}, o);
  TableStatus st = status(db).tables[0];
  EXPECT_EQ(st.version, 2u);
  EXPECT_EQ(st.primaryKey, (std::vector<std::string>{"id"}));
  ASSERT_TRUE(st.migration.has_value());
  EXPECT_EQ(st.migration->phase, "records");
  EXPECT_EQ(st.migration->fromVersion, 1u);
  EXPECT_EQ(db.oldRecords(), 30u);
  EXPECT_FALSE(hasDb(db, orm::rekeyDbName("people")));
  auto tx = db.read();
  EXPECT_EQ(db.table("people").get(tx, Key{17})->get().get("score").as<uint32_t>(), 51u);
  int paris = 0;
  for (auto c = db.table("people").find(tx, "people_city", Range::prefix(Key{"paris"})); c.valid();
       c.next()) {
    ++paris;
  }
  EXPECT_EQ(paris, 10);
  expectConsistent(db, true);
}

TEST_F(RekeyTest, AnIndexAddedWhileAMigrationIsPendingIsBuiltThroughTheSteps) {
  TableSchema v1 = people(1, "id @0 :UInt64; email @1 :Text; city @2 :Text;");
  TableSchema v2 = people(2, "id @0 :UInt64; email @1 :Text; city @2 :Text; score @3 :UInt32;");
  TableSchema v2indexed =
      people(2, "id @0 :UInt64; email @1 :Text; city @2 :Text; score @3 :UInt32 $Db.indexed;");
  load(dir_ / "db", v1, records(10));
  Migrations m;
  m.step("people", 1, 2, [](StepRecord old, StepBuilder next) {
    next.set("score", old.get("id").as<uint64_t>() * 3);
  }, {.writes = {"score"}});
  Options o;
  o.migrations = &m;
  { Database db = Database::open(dir_ / "db", Schemas{v2}, o); }  // lazy: records stay at 1
  Database db = Database::open(dir_ / "db", Schemas{v2indexed}, o);
  EXPECT_EQ(db.oldRecords(), 10u);
  // The index builds from the records read through the steps; the records stay at version 1
  // until the migration's own batches, which run first.
  EXPECT_FALSE(db.drain(DrainBudget{.records = 10}));
  EXPECT_EQ(db.oldRecords(), 0u);
  EXPECT_TRUE(db.drain(DrainBudget{}));
  auto tx = db.read();
  auto c = db.table("people").find(tx, "people_score", Range::prefix(Key{15}));
  ASSERT_TRUE(c.valid());
  EXPECT_EQ(c.record().get("id").as<uint64_t>(), 5u);
  expectConsistent(db, false);
}

TEST_F(RekeyTest, AStepThatChangesTheKeyWithoutDeclaringItFailsNamingWrites) {
  TableSchema v1 = people(1, "id @0 :UInt64; email @1 :Text;");
  TableSchema v2 = people(2, "id @0 :UInt64; email @1 :Text;");
  load(dir_ / "db", v1, "{\"id\":\"5\",\"email\":\"a@x.org\"}\n");
  Migrations m;
  m.step("people", 1, 2, [](StepRecord old, StepBuilder next) {
    next.set("id", old.get("id").as<uint64_t>() + 1);
  });
  Options o;
  o.migrations = &m;
  Database db = Database::open(dir_ / "db", Schemas{v2}, o);  // lazy: no index, unknown writes
  std::string err = errorOf([&] { db.table("people").get(db.read(), Key{5}); });
  EXPECT_NE(err.find("MigrationFailed"), std::string::npos) << err;
  EXPECT_NE(err.find("StepOptions::writes"), std::string::npos) << err;
}

// The duplicate is met several batches in (`batch` 6), or within one batch (1000).
class RekeyDuplicateTest : public RekeyTest, public ::testing::WithParamInterface<uint64_t> {};

TEST_P(RekeyDuplicateTest, ANewKeyMetTwiceUndoesTheMigration) {
  const char* fields = "id @0 :UInt64; email @1 :Text; city @2 :Text $Db.indexed;";
  TableSchema v1 = people(1, fields);
  TableSchema v2 = keyedPeople(2, "\"email\"", fields);
  std::string data = records(40);
  data += "{\"id\":\"41\",\"email\":\"U37@X.org\",\"city\":\"oslo\"}\n";  // id 1's, once lower-cased
  load(dir_ / "db", v1, data);
  std::string before = exportOf(dir_ / "db", v1);
  Migrations m;
  addLowerCaseEmailStep(m);
  Options o;
  o.migrations = &m;
  o.mode = MigrationMode::Eager;
  o.eager.batchRecords = GetParam();
  std::string err = errorOf([&] { Database::open(dir_ / "db", Schemas{v2}, o); });
  EXPECT_NE(err.find("MigrationFailed"), std::string::npos) << err;
  EXPECT_NE(err.find("records (1) and (41)"), std::string::npos) << err;
  EXPECT_NE(err.find("primary key ('u37@x.org')"), std::string::npos) << err;
  EXPECT_NE(err.find("back at version 1"), std::string::npos) << err;

  // Exactly as before: the old app opens and writes at version 1, keyed by id.
  Database db = Database::open(dir_ / "db", Schemas{v1});
  EXPECT_EQ(exportOf(db), before);
  EXPECT_FALSE(hasDb(db, orm::rekeyDbName("people")));
  DatabaseStatus st = status(db);
  EXPECT_EQ(st.tables[0].version, 1u);
  EXPECT_EQ(st.tables[0].primaryKey, (std::vector<std::string>{"id"}));
  EXPECT_FALSE(st.tables[0].migration.has_value());
  expectConsistent(db);
  db.write([&](WriteTxn& w) {
    db.table("people").insert(w, [](capnp::DynamicStruct::Builder b) {
      b.set("id", 42);
      b.set("email", "z@x.org");
    });
  });
  auto tx = db.read();
  EXPECT_EQ(text(db.table("people").get(tx, Key{41})->get(), "email"), "U37@X.org");
  EXPECT_TRUE(db.table("people").find(tx, "people_city", Range::prefix(Key{"oslo"})).valid());
}

INSTANTIATE_TEST_SUITE_P(Batches, RekeyDuplicateTest, ::testing::Values(6, 1000));

// The progress callback throws after `stopAfter` batches: the batches before it are committed,
// as after a crash there.
TEST_F(RekeyTest, AnInterruptionInEitherPhaseResumesAndLosesNothing) {
  TableSchema v1 = people(1, kFields);
  TableSchema v2 = keyedPeople(2, "\"email\"", kFields);
  Migrations m;
  m.step("people", 1, 2, [](StepRecord old, StepBuilder next) {
    std::string city = old.get("city").as<capnp::Text>().cStr();
    for (char& c : city) c = static_cast<char>(toupper(c));
    next.set("city", capnp::Text::Reader(city.c_str()));
  }, {.writes = {"city"}});
  Options o;
  o.migrations = &m;
  o.mode = MigrationMode::Eager;
  o.eager.batchRecords = 9;  // 7 batches to move 60 records, then the index builds

  std::string expected;
  load(dir_ / "whole", v1, records());
  {
    Database db = Database::open(dir_ / "whole", Schemas{v2}, o);
    expected = exportOf(db);
  }
  for (int stopAfter = 1; stopAfter <= 7; ++stopAfter) {
    SCOPED_TRACE("stopped after batch " + std::to_string(stopAfter));
    auto path = dir_ / ("db" + std::to_string(stopAfter));
    load(path, v1, records());
    Options stopping = o;
    int batches = 0;
    std::string stoppedIn;
    stopping.eager.progress = [&](const MigrationProgress& p) {
      if (++batches == stopAfter) {
        stoppedIn = p.phase;
        throw std::runtime_error("stop");
      }
    };
    EXPECT_THROW(Database::open(path, Schemas{v2}, stopping), std::runtime_error);
    // Batch 7 moves the last records and swaps them in; the index builds follow.
    EXPECT_EQ(stoppedIn, "rekey");
    std::string phase = stopAfter < 7 ? "rekey" : "indexes";
    {
      Options lazy = o;
      lazy.mode = MigrationMode::Lazy;
      std::string refused = errorOf([&] { Database::open(path, Schemas{v2}, lazy); });
      Database tool = Database::open(path, Schemas{});
      TableStatus st = status(tool).tables[0];
      EXPECT_EQ(st.records, 60u);
      if (phase == "indexes") {
        // The records are in place and the migration over; only the index is still building,
        // which any mode opens with.
        EXPECT_FALSE(st.migration.has_value());
        EXPECT_EQ(st.indexes[0].state, "building");
        EXPECT_EQ(refused, "no error");
        EXPECT_EQ(tool.query("SELECT count(*) FROM people").at(0, 0).integer(), 60);
      } else {
        EXPECT_EQ(st.migration->phase, phase);
        // Half-way, the table is closed to everything but the eager migration.
        EXPECT_NE(refused.find("moving its records to new primary keys"), std::string::npos)
            << refused;
        std::string busy = errorOf([&] { tool.query("SELECT count(*) FROM people"); });
        EXPECT_NE(busy.find("Busy"), std::string::npos) << busy;
        // A write refused part-way erases nothing, even when the caller commits.
        tool.write([&](WriteTxn& w) {
          for (const char* email : {"u37@x.org", "u74@x.org", "nobody@x.org"}) {
            std::string err = errorOf([&] { tool.table("people").remove(w, Key{email}); });
            EXPECT_NE(err.find("Busy"), std::string::npos) << err;
          }
        });
        std::string raised = errorOf([&] {
          Database::open(path, Schemas{keyedPeople(3, "\"email\"", kFields)}, o);
        });
        EXPECT_NE(raised.find("finish it"), std::string::npos) << raised;
        {
          // Until the records are in place the indexes may not change: the migration may still
          // be undone to the ones it began with, or is about to rebuild every one.
          std::string indexed = errorOf([&] {
            Database::open(path, Schemas{keyedPeople(2, "\"email\"", std::string(kFields) + " "
                                                    "note @3 :Text $Db.indexed;")}, o);
          });
          EXPECT_NE(indexed.find("before adding, changing or dropping indexes"), std::string::npos)
              << indexed;
        }
      }
    }
    Database db = Database::open(path, Schemas{v2}, o);
    EXPECT_EQ(exportOf(db), expected);
    EXPECT_EQ(db.oldRecords(), 0u);
    expectConsistent(db);
    auto tx = db.read();
    EXPECT_EQ(db.table("people").find(tx, "people_city", Range::prefix(Key{"PARIS"})).record().get("city").as<capnp::Text>(),
              "PARIS");
  }
}

}  // namespace
}  // namespace capdb
