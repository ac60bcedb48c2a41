// Index builds online: an index that builds (added, changed, or over a field a step computes) is
// kept by every write at once and filled in checkpointed batches, and a record written during the
// build ends with exactly its one current entry, whether the build had passed it or not. A unique
// build that meets duplicates fails the index and leaves the records as they were. Queries never
// read an index that is not complete in their snapshot.
#include <gtest/gtest.h>

#include <atomic>
#include <map>
#include <random>
#include <set>
#include <string>
#include <utility>

#include "capdb/admin.h"
#include "capdb/capdb.h"
#include "support/errors.h"
#include "support/people_versions.h"

namespace capdb {
namespace {

using ::capdb::testing::errorOf;

constexpr const char* kPlain = "id @0 :UInt64; email @1 :Text; city @2 :Text;";
constexpr const char* kIndexed =
    "id @0 :UInt64; email @1 :Text $Db.unique; city @2 :Text $Db.indexed;";

class IndexBuildTest : public ::capdb::testing::PeopleVersions {
 protected:
  static std::string records(int n) {
    std::string out;
    for (int i = 1; i <= n; ++i) {
      out += "{\"id\":\"" + std::to_string(i) + "\",\"email\":\"u" + std::to_string(i) +
             "@x.org\",\"city\":\"c" + std::to_string(i % 13) + "\"}\n";
    }
    return out;
  }

  // What each index holds, read through find(): (key, id) pairs.
  static std::set<std::pair<std::string, uint64_t>> entries(Database& db, const char* index) {
    std::set<std::pair<std::string, uint64_t>> out;
    auto tx = db.read();
    for (auto c = db.table("people").find(tx, index, Range::all()); c.valid(); c.next()) {
      std::string field = std::string(index) == "people_email" ? "email" : "city";
      out.emplace(c.record().get(field).as<capnp::Text>().cStr(),
                  c.record().get("id").as<uint64_t>());
    }
    return out;
  }
  // What the records say each index must hold.
  static std::set<std::pair<std::string, uint64_t>> expected(Database& db, const char* field) {
    std::set<std::pair<std::string, uint64_t>> out;
    auto tx = db.read();
    for (auto c = db.table("people").scan(tx); c.valid(); c.next()) {
      out.emplace(c.record().get(field).as<capnp::Text>().cStr(),
                  c.record().get("id").as<uint64_t>());
    }
    return out;
  }
  static void expectVerified(Database& db) {
    VerifyReport v = verify(db);
    EXPECT_TRUE(v.ok()) << (v.problems.empty() ? "" : v.problems[0]);
  }
};

TEST_F(IndexBuildTest, WritesDuringABuildLeaveEveryRecordExactlyItsOneEntry) {
  constexpr int kRecords = 600;
  load(dir_ / "db", people(1, kPlain), records(kRecords));
  Options o;
  o.eager.batchRecords = 40;
  Database db = Database::open(dir_ / "db", Schemas{people(1, kIndexed)}, o);
  ASSERT_EQ(status(db).tables[0].indexes[0].state, "building");
  std::mt19937 rng(17);
  int next = kRecords + 1, rounds = 0, serial = 0;
  bool done = false;
  while (!done) {
    done = db.drain(DrainBudget{.records = 40});
    ++rounds;
    // Random writes all over the key range: behind the build's checkpoint and ahead of it.
    db.write([&](WriteTxn& tx) {
      auto t = db.table("people");
      for (int w = 0; w < 12; ++w) {
        uint64_t id = rng() % static_cast<uint64_t>(next) + 1;
        std::string email = "w" + std::to_string(++serial) + "@x.org";
        std::string city = "c" + std::to_string(rng() % 17);
        switch (rng() % 3) {
          case 0:
            t.update(tx, Key{id}, [&](capnp::DynamicStruct::Builder b) {
              b.set("email", capnp::Text::Reader(email.c_str()));
              b.set("city", capnp::Text::Reader(city.c_str()));
            });
            break;
          case 1:
            t.remove(tx, Key{id});
            break;
          default:
            t.insert(tx, [&](capnp::DynamicStruct::Builder b) {
              b.set("id", next++);
              b.set("email", capnp::Text::Reader(email.c_str()));
              b.set("city", capnp::Text::Reader(city.c_str()));
            });
        }
      }
    });
    // Part-way, the building indexes already hold exactly the entries verify expects.
    if (rounds % 5 == 0) expectVerified(db);
  }
  EXPECT_GT(rounds, 10);
  IndexStatus email = status(db).tables[0].indexes[0];
  EXPECT_EQ(email.state, "ready");
  EXPECT_EQ(entries(db, "people_email"), expected(db, "email"));
  EXPECT_EQ(entries(db, "people_city"), expected(db, "city"));
  expectVerified(db);
}

TEST_F(IndexBuildTest, AUniqueBuildRefusesADuplicateEntryAndFailsOnOnesItFindsLater) {
  load(dir_ / "db", people(1, kPlain), records(100));
  Options o;
  o.eager.batchRecords = 10;
  Database db = Database::open(dir_ / "db", Schemas{people(1, kIndexed)}, o);
  EXPECT_FALSE(db.drain(DrainBudget{.records = 10}));  // the build has passed records 1..10
  auto insert = [&](uint64_t id, const char* email) {
    return errorOf([&] {
      db.write([&](WriteTxn& tx) {
        db.table("people").insert(tx, [&](capnp::DynamicStruct::Builder b) {
          b.set("id", id);
          b.set("email", email);
        });
      });
    });
  };
  // Record 5's key is in the index already: refused.
  std::string dup = insert(101, "u5@x.org");
  EXPECT_NE(dup.find("ConstraintViolation"), std::string::npos) << dup;
  // Record 50's is not yet: taken, and the build finds the two when it reaches record 50.
  EXPECT_EQ(insert(102, "u50@x.org"), "no error");
  std::string failed = errorOf([&] { db.migrate(); });
  EXPECT_NE(failed.find("MigrationFailed: table people: unique index people_email cannot be built, "
                        "its keys repeat: key ('u50@x.org') of records (102) and (50)"),
            std::string::npos)
      << failed;
  TableStatus st = status(db).tables[0];
  EXPECT_EQ(st.indexes[0].state, "failed");
  EXPECT_EQ(st.indexes[1].state, "ready");  // the other index finished its build
  EXPECT_EQ(st.records, 101u);
  // Neither kept nor read: writes go on, queries take other paths, verify passes.
  EXPECT_EQ(insert(103, "u50@x.org"), "no error");
  EXPECT_EQ(db.query("SELECT count(*) FROM people WHERE email = 'u50@x.org'").at(0, 0).integer(),
            3);
  std::string plan =
      db.query("EXPLAIN SELECT id FROM people WHERE email = 'u50@x.org'").at(0, 0).text();
  EXPECT_EQ(plan.find("people_email"), std::string::npos) << plan;
  expectVerified(db);
  // Nothing more to do: the drain is done, the failed index waits for the app.
  EXPECT_TRUE(db.drain(DrainBudget{}));
}

TEST_F(IndexBuildTest, ATransactionOlderThanTheBuildsLastBatchDoesNotReadTheIndex) {
  load(dir_ / "db", people(1, kPlain), records(50));
  Database db = Database::open(dir_ / "db", Schemas{people(1, kIndexed)});
  const std::string sql = "SELECT id FROM people WHERE city = 'c3'";
  Statement byCity = db.prepare(sql);
  auto before = db.read();
  EXPECT_TRUE(db.drain(DrainBudget{}));
  // The old snapshot lacks entries the build wrote later: it must take another path.
  std::string old = db.query(before, "EXPLAIN " + sql).at(0, 0).text();
  EXPECT_EQ(old.find("people_city"), std::string::npos) << old;
  EXPECT_EQ(db.query(before, sql).size(), 4u);
  std::string busy = errorOf([&] { db.table("people").find(before, "people_city", Range::all()); });
  EXPECT_NE(busy.find("Busy"), std::string::npos) << busy;
  before.release();
  std::string now = db.query("EXPLAIN " + sql).at(0, 0).text();
  EXPECT_NE(now.find("people_city"), std::string::npos) << now;
  EXPECT_EQ(byCity.run().size(), 4u);
  EXPECT_NE(byCity.explain().find("people_city"), std::string::npos) << byCity.explain();
}

TEST_F(IndexBuildTest, RemovingADuplicateDuringAUniqueBuildKeepsTheOtherRecordsEntry) {
  load(dir_ / "db", people(1, kPlain),
       "{\"id\":\"1\",\"email\":\"a@x.org\"}\n{\"id\":\"2\",\"email\":\"a@x.org\"}\n"
       "{\"id\":\"3\",\"email\":\"c@x.org\"}\n{\"id\":\"4\",\"email\":\"d@x.org\"}\n");
  Options o;
  o.eager.batchRecords = 0;  // one record per batch (a build's batch: at least one)
  Database db = Database::open(dir_ / "db", Schemas{people(1, kIndexed)}, o);
  EXPECT_FALSE(db.drain(DrainBudget{.records = 1}));  // the build entered record 1's 'a@x.org'
  // The duplicate goes before the build reaches it: record 1's entry must stay.
  db.write([&](WriteTxn& tx) {
    db.table("people").update(tx, Key{2},
                              [](capnp::DynamicStruct::Builder b) { b.set("email", "b@x.org"); });
  });
  while (!db.drain(DrainBudget{.records = 1})) {
  }
  EXPECT_EQ(status(db).tables[0].indexes[0].state, "ready");
  EXPECT_EQ(entries(db, "people_email"), expected(db, "email"));
  expectVerified(db);
}

TEST_F(IndexBuildTest, ABuildPartWayStartsOverWhenANewVersionBegins) {
  load(dir_ / "db", people(1, kPlain), records(60));
  Options o;
  o.eager.batchRecords = 1;  // builds of 10 records a batch
  {
    Database db = Database::open(dir_ / "db", Schemas{people(1, kIndexed)}, o);
    EXPECT_FALSE(db.drain(DrainBudget{.records = 30}));
    EXPECT_EQ(status(db).tables[0].indexes[1].done, 30u);
  }
  // A step that changes the indexed city without declaring it: the entries the build wrote for
  // records 1..30 are version 1's, so the build starts over.
  Migrations m;
  m.step("people", 1, 2,
         [](StepRecord old, StepBuilder next) {
           next.set("city",
                    capnp::Text::Reader(
                        ("new " + std::string(old.get("city").as<capnp::Text>().cStr())).c_str()));
           next.set("n", 1);
         },
         {.writes = {"n"}});
  o.migrations = &m;
  Database db =
      Database::open(dir_ / "db", Schemas{people(2, std::string(kIndexed) + " n @3 :UInt32;")}, o);
  IndexStatus city = status(db).tables[0].indexes[1];
  EXPECT_EQ(city.state, "building");
  EXPECT_EQ(city.done, 0u);
  while (!db.drain(DrainBudget{.records = 25})) {
  }
  EXPECT_EQ(entries(db, "people_city"), expected(db, "city"));
  expectVerified(db);
}

TEST_F(IndexBuildTest, ARecordWhoseKeyCannotBeStoredFailsTheBuildAndStaysRemovable) {
  std::string lines = records(20);
  lines += "{\"id\":\"21\",\"email\":\"e@x.org\",\"city\":\"" + std::string(600, 'z') + "\"}\n";
  load(dir_ / "db", people(1, kPlain), lines);
  Database db = Database::open(dir_ / "db", Schemas{people(1, kIndexed)});
  std::string err = errorOf([&] { db.migrate(); });
  EXPECT_NE(err.find("MigrationFailed: table people: index people_city cannot be built, a record's "
                     "key cannot be stored in it: record (21):"),
            std::string::npos)
      << err;
  TableStatus st = status(db).tables[0];
  EXPECT_EQ(st.indexes[0].state, "ready");  // the email index built
  EXPECT_EQ(st.indexes[1].state, "failed");
  EXPECT_EQ(st.records, 21u);
  // Neither kept nor read: the record goes, as any other.
  db.write([&](WriteTxn& tx) { EXPECT_TRUE(db.table("people").remove(tx, Key{21})); });
  expectVerified(db);
}

std::atomic<int> stepRuns{0};

// A join reads records at the newest version through the migration's steps, and never an
// index that builds: a lookup by the step-fed field is a hash join until the drain completes
// the index, then an index nested loop, with the same answers.
TEST_F(IndexBuildTest, AJoinReadsThroughStepsAndNeverABuildingIndex) {
  load(dir_ / "db", people(1, kPlain), records(300));
  Migrations m;
  m.step("people", 1, 2,
         [](StepRecord old, StepBuilder next) { next.set("cents", old.get("id").as<uint64_t>() * 100); },
         {.writes = {"cents"}});
  Options o;
  o.migrations = &m;
  o.eager.batchRecords = 50;
  TableSchema v2 =
      people(2, "id @0 :UInt64; email @1 :Text; city @2 :Text; cents @3 :UInt64 $Db.unique;");
  Database db = Database::open(dir_ / "db", Schemas{v2}, o);
  ASSERT_EQ(status(db).tables[0].indexes[0].state, "building");
  const std::string sql =
      "SELECT a.id, b.id, b.email FROM people a JOIN people b ON b.cents = a.id * 100 + 100 "
      "WHERE a.id BETWEEN 10 AND 12 ORDER BY a.id";
  auto check = [&] {
    ResultSet r = db.query(sql);
    ASSERT_EQ(r.size(), 3u);
    for (size_t i = 0; i < 3; ++i) {
      EXPECT_EQ(r.at(i, 0).integer(), static_cast<int64_t>(10 + i));
      EXPECT_EQ(r.at(i, 1).integer(), static_cast<int64_t>(11 + i));
      EXPECT_EQ(r.at(i, 2).text(), "u" + std::to_string(11 + i) + "@x.org");
    }
  };
  std::string plan = db.query("EXPLAIN " + sql).at(0, 0).text();
  EXPECT_EQ(plan.find("people_cents"), std::string::npos) << plan;
  check();
  // Part-way: still not the index.
  db.drain(DrainBudget{.records = 100});
  plan = db.query("EXPLAIN " + sql).at(0, 0).text();
  if (status(db).tables[0].indexes[0].state != "ready") {
    EXPECT_EQ(plan.find("people_cents"), std::string::npos) << plan;
  }
  check();
  EXPECT_TRUE(db.drain(DrainBudget{}));
  plan = db.query("EXPLAIN " + sql).at(0, 0).text();
  EXPECT_NE(plan.find("INDEX NESTED LOOP people AS b BY INDEX people.people_cents"), std::string::npos)
      << plan;
  check();
}

TEST_F(IndexBuildTest, ALazyOpenOfAStepFedIndexReadsNoRecord) {
  load(dir_ / "db", people(1, kPlain), records(300));
  Migrations m;
  m.step("people", 1, 2,
         [](StepRecord old, StepBuilder next) {
           ++stepRuns;
           next.set("cents", old.get("id").as<uint64_t>() * 100);
         },
         {.writes = {"cents"}});
  Options o;
  o.migrations = &m;
  TableSchema v2 =
      people(2, "id @0 :UInt64; email @1 :Text; city @2 :Text; cents @3 :UInt64 $Db.unique;");
  stepRuns = 0;
  Database db = Database::open(dir_ / "db", Schemas{v2}, o);
  EXPECT_EQ(stepRuns.load(), 0);  // O(tables): no record was read
  EXPECT_EQ(status(db).tables[0].indexes[0].state, "building");
  EXPECT_EQ(db.query("SELECT id FROM people WHERE cents = 4200").at(0, 0).integer(), 42);
  // The drain rewrites the records, then builds the index from them.
  EXPECT_TRUE(db.drain(DrainBudget{}));
  EXPECT_EQ(db.oldRecords(), 0u);
  std::string plan = db.query("EXPLAIN SELECT id FROM people WHERE cents = 4200").at(0, 0).text();
  EXPECT_NE(plan.find("people_cents"), std::string::npos) << plan;
  EXPECT_EQ(db.query("SELECT id FROM people WHERE cents = 4200").at(0, 0).integer(), 42);
  expectVerified(db);
}

}  // namespace
}  // namespace capdb
