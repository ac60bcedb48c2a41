// Migrations: every step kind in every mode, chains, lazy/eager equivalence, failing steps,
// open-time refusals.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <set>
#include <thread>
#include <mutex>

#include <sstream>

#include "capdb/admin.h"
#include "capdb/capdb.h"
#include "capdb/testing.h"
#include "engine/key_codec.h"
#include "orm/table_core.h"
#include "people_versions.capnp.h"
#include "support/errors.h"
#include "support/people_versions.h"
#include "support/raw_trees.h"
#include "support/schema_text.h"
#include "support/temp_dir.h"
#include "db/database_state.h"

namespace capdb {
namespace {

class MigrationTest : public ::capdb::testing::PeopleVersions {
 protected:
  static std::string errorOf(const std::function<void()>& fn) {
    return ::capdb::testing::errorOf(fn);
  }
  // What opening `dir` at `schema` with `o` throws ("no error"), verifying the database once open.
  static std::string openVerified(const std::filesystem::path& dir, const TableSchema& schema,
                                  const Options& o) {
    return errorOf([&] {
      Database db = Database::open(dir, Schemas{schema}, o);
      VerifyReport v = verify(db);
      EXPECT_TRUE(v.ok()) << (v.problems.empty() ? "" : v.problems[0]);
    });
  }

  // 250 numbered records (numbered(), below) stored at version 1 in dir_/db, and the options that
  // open them at version 2 (nameLength, through `m`'s step) in `mode`, in batches of 40.
  Options numberedToNameLength(Migrations& m, MigrationMode mode);
  TableSchema withNameLength() { return people(2, std::string(kV1) + " nameLength @3 :UInt32;"); }
  // The 250 numbered records all at version 2, each with its name's length, and verify ok.
  static void expectNamedLengthsUpgraded(Database& db);
  // Options that open with `m`'s steps, eagerly, on `threads` threads.
  static Options eagerWith(const Migrations& m, unsigned threads = EagerOptions{}.threads) {
    Options o;
    o.migrations = &m;
    o.mode = MigrationMode::Eager;
    o.eager.threads = threads;
    return o;
  }
  // 3000 numbered records at v1 in `dir`, opened lazily at v2 through `m`, and 100 more written
  // at v2 (3001..3100, nameLength 99).
  void lazyThenWrittenAtTwo(const std::filesystem::path& dir, const TableSchema& v1,
                            const TableSchema& v2, const Migrations& m);
};

const std::string kRecords =
    "{\"id\":\"1\",\"name\":\"Ada Lovelace\",\"score\":36.6}\n"
    "{\"id\":\"2\",\"name\":\"Alan Turing\",\"score\":41.25}\n"
    "{\"id\":\"3\",\"name\":\"Grace Brewster Hopper\",\"score\":85}\n";

std::string field(const capnp::DynamicStruct::Reader& r, const char* name) {
  return r.get(name).as<capnp::Text>().cStr();
}

// Records 1..n as JSON lines, each named "n<id>".
std::string numbered(int n) {
  std::string lines;
  for (int i = 1; i <= n; ++i) {
    lines += "{\"id\":\"" + std::to_string(i) + "\",\"name\":\"n" + std::to_string(i) + "\"}\n";
  }
  return lines;
}

void MigrationTest::expectNamedLengthsUpgraded(Database& db) {
  EXPECT_EQ(db.oldRecords(), 0u);
  auto t = db.table("people");
  auto tx = db.read();
  EXPECT_EQ(t.count(tx), 250u);
  for (auto r : t.scan(tx)) {
    EXPECT_EQ(r.get("nameLength").as<uint32_t>(), field(r, "name").size());
  }
  VerifyReport v = verify(db);
  EXPECT_TRUE(v.ok()) << (v.problems.empty() ? "" : v.problems[0]);
}

Options MigrationTest::numberedToNameLength(Migrations& m, MigrationMode mode) {
  load(dir_ / "db", people(1, kV1), numbered(250));
  addNameLengthStep(m);
  Options o;
  o.migrations = &m;
  o.mode = mode;
  o.eager.batchRecords = 40;
  return o;
}

TEST_F(MigrationTest, AddAComputedField) {
  TableSchema v1 = people(1, kV1);
  TableSchema v2 = people(2, std::string(kV1) + " nameLength @3 :UInt32;");
  Migrations m;
  m.step("people", 1, 2, [](capnp::DynamicStruct::Reader old, capnp::DynamicStruct::Builder next) {
    next.set("nameLength", old.get("name").as<capnp::Text>().size());
  }, {.writes = {"nameLength"}});
  std::string out = ::capdb::testing::checkUpgrade(dir_ / "check", v1, v2, m, kRecords);
  EXPECT_NE(out.find("\"id\":\"1\",\"name\":\"Ada Lovelace\",\"score\":36.6,\"nameLength\":12"),
            std::string::npos)
      << out;
}

TEST_F(MigrationTest, CheckUpgradeBuildsAnIndexOverAComputedFieldLazilyThenDrainedAndEagerly) {
  TableSchema v1 = people(1, kV1);
  TableSchema v2 = people(2, std::string(kV1) + " nameLength @3 :UInt32 $Db.unique;");
  Migrations m;
  addNameLengthStep(m);
  // Lazy (the index building), lazy then drained (the index built from the upgraded records) and
  // eager agree, and the built index finds every record.
  std::string out = ::capdb::testing::checkUpgrade(dir_ / "check", v1, v2, m, kRecords);
  EXPECT_NE(out.find("\"name\":\"Alan Turing\",\"score\":41.25,\"nameLength\":11"), std::string::npos)
      << out;
  // Two names of one length: the unique build fails, in the drained run and the eager one alike.
  std::string err = errorOf([&] {
    ::capdb::testing::checkUpgrade(dir_ / "dup", v1, v2, m,
                                   kRecords + "{\"id\":\"4\",\"name\":\"Ada Lovelaca\"}\n");
  });
  EXPECT_NE(err.find("MigrationFailed: table people: unique index people_nameLength cannot be built, "
                     "its keys repeat: key (12) of records (1) and (4)"),
            std::string::npos)
      << err;
}

TEST_F(MigrationTest, UpgradedRecordsAreAsSmallAsRecordsWrittenAtTheNewVersion) {
  // Prefilling a larger struct must not leave the old struct's words behind in the message.
  TableSchema v1 = people(1, kV1);
  TableSchema v2 = people(2, std::string(kV1) + " nameLength @3 :UInt32;");
  TableSchema v3 = people(3, std::string(kV1) + " nameLength @3 :UInt32; tag @4 :UInt64;");
  load(dir_ / "db", v1, kRecords);
  Migrations m;
  addNameLengthStep(m);
  Options o;
  o.migrations = &m;
  o.mode = MigrationMode::Eager;
  auto sizeOf = [](Database& db, int64_t id) {
    auto tx = db.read();
    std::vector<engine::KeyValue> key{id};
    return internal::engineTxn(tx).get(internal::core(db.table("people")).records(tx), engine::encodeKey(key))->size();
  };
  {
    Database db = Database::open(dir_ / "db", Schemas{v2}, o);
    db.write([&](WriteTxn& tx) {
      db.table("people").insert(tx, [](capnp::DynamicStruct::Builder b) {
        b.set("id", 4);
        b.set("name", "Ada Lovelace");  // as record 1, written at version 2
        b.set("score", 36.6);
        b.set("nameLength", 12);
      });
    });
    EXPECT_EQ(sizeOf(db, 1), sizeOf(db, 4));
  }
  // The same for an edit of a record stored at an older, wire-compatible layout.
  Database db = Database::open(dir_ / "db", Schemas{v3}, o);
  db.write([&](WriteTxn& tx) {
    auto table = db.table("people");
    table.update(tx, Key{1}, [](capnp::DynamicStruct::Builder b) { b.set("tag", 7); });
    table.insert(tx, [](capnp::DynamicStruct::Builder b) {
      b.set("id", 5);
      b.set("name", "Ada Lovelace");
      b.set("score", 36.6);
      b.set("nameLength", 12);
      b.set("tag", 7);
    });
  });
  EXPECT_EQ(sizeOf(db, 1), sizeOf(db, 5));
}

TEST_F(MigrationTest, AnEditByAnAppWithFewerFieldsKeepsTheOthers) {
  // A wire-compatible addition kept at the same version: an older build of the app still opens
  // the database, and its edits must keep the fields it does not know.
  TableSchema older = people(1, kV1);
  TableSchema newer = people(1, std::string(kV1) + " extra @3 :Text; count @4 :UInt64;");
  {
    Database db = Database::open(dir_ / "db", Schemas{newer});
    db.write([&](WriteTxn& tx) {
      db.table("people").insert(tx, [](capnp::DynamicStruct::Builder b) {
        b.set("id", 1);
        b.set("name", "Ada");
        b.set("extra", "keep");
        b.set("count", 77);
      });
    });
  }
  {
    Database db = Database::open(dir_ / "db", Schemas{older});
    db.write([&](WriteTxn& tx) {
      EXPECT_TRUE(db.table("people").update(tx, Key{1}, [](capnp::DynamicStruct::Builder b) {
        b.set("score", 2.5);
      }));
    });
  }
  Database db = Database::open(dir_ / "db", Schemas{newer});
  auto tx = db.read();
  auto row = db.table("people").get(tx, Key{1});
  ASSERT_TRUE(row.has_value());
  EXPECT_EQ(field(row->get(), "extra"), "keep");
  EXPECT_EQ(row->get().get("count").as<uint64_t>(), 77u);
  EXPECT_EQ(row->get().get("score").as<double>(), 2.5);
}

TEST_F(MigrationTest, ATypedStepOverGeneratedTypes) {
  TableSchema v1 = people(1, kV1);
  TableSchema v2 = people(2, std::string(kV1) + " nameLength @3 :UInt32;");
  Migrations m;
  m.typedStep<test::PersonV1, test::PersonV2>(
      "people", 1, 2,
      [](test::PersonV1::Reader old, test::PersonV2::Builder next) {
        next.setNameLength(old.getName().size() * 10);
      },
      {.writes = {"nameLength"}});
  std::string out = ::capdb::testing::checkUpgrade(dir_ / "check", v1, v2, m, kRecords);
  EXPECT_NE(out.find("\"name\":\"Alan Turing\",\"score\":41.25,\"nameLength\":110"),
            std::string::npos)
      << out;
}

TEST_F(MigrationTest, SplitATextFieldInTwo) {
  TableSchema v1 = people(1, kV1);
  TableSchema v2 = people(2, "id @0 :UInt64; firstName @1 :Text; score @2 :Float64; lastName @3 :Text;");
  Migrations m;
  m.step("people", 1, 2, [](capnp::DynamicStruct::Reader old, capnp::DynamicStruct::Builder next) {
    std::string name = old.get("name").as<capnp::Text>().cStr();
    auto space = name.find(' ');
    next.set("firstName", capnp::Text::Reader(name.substr(0, space).c_str()));
    next.set("lastName", capnp::Text::Reader(name.substr(space + 1).c_str()));
  });
  std::string out = ::capdb::testing::checkUpgrade(dir_ / "check", v1, v2, m, kRecords);
  EXPECT_NE(out.find("\"firstName\":\"Grace\",\"score\":85,\"lastName\":\"Brewster Hopper\""),
            std::string::npos)
      << out;
}

TEST_F(MigrationTest, ChangeAFieldsTypeThroughAConverter) {
  TableSchema v1 = people(1, kV1);
  TableSchema v2 = people(2, "id @0 :UInt64; name @1 :Text; score @2 :Int64;");
  Migrations m;
  m.step("people", 1, 2, [](capnp::DynamicStruct::Reader old, capnp::DynamicStruct::Builder next) {
    next.set("score", static_cast<int64_t>(old.get("score").as<double>() * 100 + 0.5));
  }, {.writes = {"score"}});
  std::string out = ::capdb::testing::checkUpgrade(dir_ / "check", v1, v2, m, kRecords);
  EXPECT_NE(out.find("\"score\":\"3660\""), std::string::npos) << out;
  EXPECT_NE(out.find("\"score\":\"4125\""), std::string::npos) << out;
}

TEST_F(MigrationTest, AChainOfThreeSteps) {
  TableSchema v1 = people(1, kV1);
  TableSchema v2 = people(2, std::string(kV1) + " tag @3 :Text;");
  TableSchema v3 = people(3, std::string(kV1) + " tag @3 :Text; rank @4 :UInt32;");
  TableSchema v4 = people(4, std::string(kV1) + " tag @3 :Text; rank @4 :UInt32; label @5 :Text;");
  Migrations m;
  m.step("people", 1, 2, [](auto old, auto next) { next.set("tag", "t"); },
         {.writes = {"tag"}, .target = v2.schema});
  m.step("people", 2, 3, [](auto old, auto next) {
    next.set("rank", static_cast<uint32_t>(old.get("score").template as<double>()));
  }, {.writes = {"rank"}, .target = v3.schema});
  m.step("people", 3, 4, [](auto old, auto next) {
    std::string label = std::string(old.get("tag").template as<capnp::Text>().cStr()) + ":" +
                        std::to_string(old.get("rank").template as<uint32_t>());
    next.set("label", capnp::Text::Reader(label.c_str()));
  }, {.writes = {"label"}});
  std::string out = ::capdb::testing::checkUpgrade(dir_ / "check", v1, v4, m, kRecords);
  EXPECT_NE(out.find("\"tag\":\"t\",\"rank\":85,\"label\":\"t:85\""), std::string::npos) << out;
  // A database at version 2 takes the last two steps only.
  load(dir_ / "at2", v2, "{\"id\":\"9\",\"name\":\"x\",\"score\":7,\"tag\":\"old\"}\n");
  Options o;
  o.migrations = &m;
  Database db = Database::open(dir_ / "at2", Schemas{v4}, o);
  auto tx = db.read();
  EXPECT_EQ(field(db.table("people").get(tx, Key{9})->get(), "label"), "old:7");
}

TEST_F(MigrationTest, LazyReadsWritesCountsAndDrain) {
  TableSchema v2 = withNameLength();
  Migrations m;
  Options o = numberedToNameLength(m, MigrationMode::Hybrid);
  Database db = Database::open(dir_ / "db", Schemas{v2}, o);
  auto t = db.table("people");
  EXPECT_EQ(db.oldRecords(), 250u);
  {
    auto tx = db.read();
    auto row = t.get(tx, Key{100});
    EXPECT_EQ(row->version(), 1u);  // stored at 1, read at 2
    EXPECT_EQ(row->get().get("nameLength").as<uint32_t>(), 4u);
  }
  db.write([&](WriteTxn& tx) {
    t.update(tx, Key{100}, [](capnp::DynamicStruct::Builder b) { b.set("score", 1.0); });
    t.remove(tx, Key{101});
  });
  EXPECT_EQ(db.oldRecords(), 248u);
  EXPECT_EQ(t.get(db.read(), Key{100})->version(), 2u);  // a write stores the newest version
  EXPECT_FALSE(db.drain(DrainBudget{.records = 100}));
  EXPECT_EQ(db.oldRecords(), 148u);
  EXPECT_TRUE(db.drain(DrainBudget{}));
  EXPECT_EQ(db.oldRecords(), 0u);
  auto tx = db.read();
  EXPECT_EQ(t.count(tx), 249u);
  for (auto r : t.scan(tx)) {
    EXPECT_EQ(r.get("nameLength").as<uint32_t>(), field(r, "name").size());
  }
}

TEST_F(MigrationTest, ARenameRewritesNothing) {
  TableSchema v1 = people(1, kV1);
  TableSchema v2 = people(2, "id @0 :UInt64; fullName @1 :Text; score @2 :Float64;");
  load(dir_ / "db", v1, kRecords);
  Options o;
  o.mode = MigrationMode::Eager;
  uint64_t progressCalls = 0;
  o.eager.progress = [&](const MigrationProgress&) { ++progressCalls; };
  Database db = Database::open(dir_ / "db", Schemas{v2}, o);
  EXPECT_EQ(db.oldRecords(), 0u);
  EXPECT_EQ(progressCalls, 0u);
  auto tx = db.read();
  auto row = db.table("people").get(tx, Key{1});
  EXPECT_EQ(field(row->get(), "fullName"), "Ada Lovelace");
  EXPECT_EQ(row->version(), 1u);
}

TEST_F(MigrationTest, AFailingStepFailsNamingTableKeyAndStepIsUndoneAndRunsWhenFixed) {
  TableSchema v1 = people(1, kV1);
  TableSchema v2 = people(2, std::string(kV1) + " nameLength @3 :UInt32;");
  std::string many;
  for (int i = 1; i <= 100; ++i) {
    many += "{\"id\":\"" + std::to_string(i) + "\",\"name\":\"" + (i == 57 ? "bad" : "n") + "\"}\n";
  }
  load(dir_ / "db", v1, many);
  const testing::RawTable before = testing::rawTable(dir_ / "db", "people", {});
  bool broken = true;
  Migrations m;
  m.step("people", 1, 2, [&](auto old, auto next) {
    if (broken && std::string(old.get("name").template as<capnp::Text>().cStr()) == "bad") {
      throw std::runtime_error("cannot measure this name");
    }
    next.set("nameLength", old.get("name").template as<capnp::Text>().size());
  }, {.writes = {"nameLength"}});
  Options o;
  o.migrations = &m;
  o.mode = MigrationMode::Eager;
  o.eager.batchRecords = 10;
  std::string err = errorOf([&] { Database::open(dir_ / "db", Schemas{v2}, o); });
  EXPECT_NE(err.find("MigrationFailed"), std::string::npos) << err;
  EXPECT_NE(err.find("people"), std::string::npos) << err;
  EXPECT_NE(err.find("(57)"), std::string::npos) << err;
  EXPECT_NE(err.find("from version 1 to 2"), std::string::npos) << err;
  EXPECT_NE(err.find("cannot measure this name"), std::string::npos) << err;
  EXPECT_NE(err.find("the table is back at version 1"), std::string::npos) << err;
  // Undone: the five batches before record 57's were rewritten into a scratch database only.
  // Every record, byte for byte, and the catalog's entry are as they were; the scratch database
  // is gone.
  EXPECT_TRUE(testing::rawTable(dir_ / "db", "people", {}) == before);
  EXPECT_FALSE(testing::hasDb(dir_ / "db", "capdb:rewrite:people"));
  {
    Database db = Database::open(dir_ / "db", Schemas{v1}, Options{});
    EXPECT_EQ(db.oldRecords(), 0u);
    EXPECT_EQ(db.table("people").count(db.read()), 100u);
  }
  broken = false;
  Database db = Database::open(dir_ / "db", Schemas{v2}, o);
  EXPECT_EQ(db.oldRecords(), 0u);
  auto tx = db.read();
  EXPECT_EQ(db.table("people").get(tx, Key{57})->get().get("nameLength").as<uint32_t>(), 3u);
  EXPECT_EQ(db.table("people").get(tx, Key{1})->get().get("nameLength").as<uint32_t>(), 1u);
  EXPECT_EQ(db.table("people").count(tx), 100u);
}

// An eager migration rewrites every record into the table's other records database and swaps
// the two in one commit: nothing is copied back, and the old database is left empty.
TEST_F(MigrationTest, AnEagerMigrationSwapsTheRewrittenRecordsIn) {
  TableSchema v2 = withNameLength();
  Migrations m;
  Options o = numberedToNameLength(m, MigrationMode::Eager);
  std::vector<std::string> phases;
  o.eager.progress = [&](const MigrationProgress& p) {
    if (phases.empty() || phases.back() != p.phase) phases.push_back(p.phase);
  };
  { Database db = Database::open(dir_ / "db", Schemas{v2}, o); }
  EXPECT_EQ(phases, std::vector<std::string>{"records"});
  testing::RawTable raw = testing::rawTable(dir_ / "db", "people", {});
  EXPECT_EQ(raw.entry.recordsTree, 1u);
  EXPECT_GT(raw.entry.recordsSince, 0u);
  EXPECT_TRUE(raw.trees["table:people"].empty());
  ASSERT_EQ(raw.trees["table.1:people"].size(), 250u);
  EXPECT_EQ(raw.entry.counts, (std::map<uint32_t, uint64_t>{{2, 250}}));
  EXPECT_FALSE(testing::hasDb(dir_ / "db", "capdb:rewrite:people"));
  // The next eager migration swaps them back.
  TableSchema v3 = people(3, std::string(kV1) + " nameLength @3 :UInt32; twice @4 :UInt32;");
  m.step("people", 2, 3, [](StepRecord old, StepBuilder next) {
    next.set("twice", 2 * old.get("nameLength").as<uint32_t>());
  }, {.writes = {"twice"}});
  {
    Database db = Database::open(dir_ / "db", Schemas{v3}, o);
    EXPECT_EQ(db.oldRecords(), 0u);
    auto tx = db.read();
    EXPECT_EQ(db.table("people").count(tx), 250u);
    EXPECT_EQ(db.table("people").get(tx, Key{200})->get().get("twice").as<uint32_t>(), 8u);
    VerifyReport v = verify(db);
    EXPECT_TRUE(v.ok()) << (v.problems.empty() ? "" : v.problems[0]);
  }
  raw = testing::rawTable(dir_ / "db", "people", {});
  EXPECT_EQ(raw.entry.recordsTree, 0u);
  EXPECT_EQ(raw.trees["table:people"].size(), 250u);
  EXPECT_TRUE(raw.trees["table.1:people"].empty());
  // Anything in the database that does not hold the records, with no migration writing there,
  // is a problem verify reports.
  {
    engine::Env env = engine::Env::open(dir_ / "db");
    env.write([](engine::WriteTxn& t) { t.put(*t.openDb("table.1:people"), "stray", "bytes"); });
  }
  Database db = Database::open(dir_ / "db", Schemas{v3}, o);
  VerifyReport v = verify(db);
  ASSERT_FALSE(v.ok());
  EXPECT_EQ(v.problems[0], "table people: table.1:people holds 1 entries, but the table's records "
                           "are in table:people and no migration is writing there");
}

// An index that an eager migration adds is filled as the records are rewritten, in the same
// batches: it is ready when they swap in, and no build reads the records again.
TEST_F(MigrationTest, AnIndexAnEagerMigrationAddsIsReadyWhenTheRecordsSwapIn) {
  TableSchema v2 = people(2, std::string(kV1) + " nameLength @3 :UInt32 $Db.indexed;");
  Migrations m;
  Options o = numberedToNameLength(m, MigrationMode::Eager);
  o.eager.batchRecords = 40;
  std::vector<std::string> phases;
  o.eager.progress = [&](const MigrationProgress& p) {
    if (phases.empty() || phases.back() != p.phase) phases.push_back(p.phase);
  };
  Database db = Database::open(dir_ / "db", Schemas{v2}, o);
  EXPECT_EQ(phases, std::vector<std::string>{"records"});
  auto tx = db.read();
  uint64_t n = 0;
  for (auto r : db.table("people").find(tx, "people_nameLength", Range::prefix(Key{uint32_t{4}}))) {
    EXPECT_EQ(field(r, "name").size(), 4u);
    ++n;
  }
  EXPECT_GT(n, 0u);
  VerifyReport v = verify(db);
  EXPECT_TRUE(v.ok()) << (v.problems.empty() ? "" : v.problems[0]);
  EXPECT_EQ(v.indexEntries, 250u);
}

// A batch's records are upgraded by two threads (EagerOptions::threads), each taking a share of
// every chunk in key order: the records and index entries written are the ones a single thread
// writes, byte for byte, and a step that fails is reported for the first failing record in key
// order, whichever thread met it, and undone.
TEST_F(MigrationTest, TwoThreadsUpgradeAsOneAndFailAtTheFirstFailingRecordInKeyOrder) {
  TableSchema v1 = people(1, kV1);
  TableSchema v2 = people(2, std::string(kV1) + " nameLength @3 :UInt32 $Db.indexed;");
  std::set<int> failing;  // read by both threads, written only between opens
  std::mutex mutex;
  std::set<std::thread::id> ranOn;
  Migrations m;
  m.step("people", 1, 2, [&](StepRecord old, StepBuilder next) {
    {
      std::lock_guard lock(mutex);
      ranOn.insert(std::this_thread::get_id());
    }
    // Slow enough that the helper thread, woken for a chunk, takes part of it before the batch's
    // own thread has upgraded all of it.
    std::this_thread::sleep_for(std::chrono::microseconds(20));
    std::string name = old.get("name").as<capnp::Text>().cStr();
    if (failing.count(std::stoi(name.substr(1)))) throw std::runtime_error("cannot measure " + name);
    next.set("nameLength", static_cast<uint32_t>(name.size()));
  }, {.writes = {"nameLength"}});
  // 3000 records in one batch: its chunks are shared between the threads, up to 64 records at a
  // time, whichever thread takes them; failures are reported in key order all the same.
  auto open = [&](const std::string& dir, unsigned threads) {
    return openVerified(dir_ / dir, v2, eagerWith(m, threads));
  };
  for (const char* dir : {"one", "two"}) load(dir_ / dir, v1, numbered(3000));
  const testing::RawTable before = testing::rawTable(dir_ / "two", "people", {});
  for (auto [records, first] : {std::pair<std::set<int>, int>{{2100}, 2100},  // one
                                {{2100, 700}, 700},                           // the earlier of two
                                {{1600, 1601, 2500}, 1600}}) {  // two together, one later
    failing = records;
    std::string err = open("two", 2);
    EXPECT_NE(err.find("MigrationFailed: table people, record (" + std::to_string(first) + ")"),
              std::string::npos) << err;
    EXPECT_NE(err.find("cannot measure n" + std::to_string(first)), std::string::npos) << err;
    EXPECT_TRUE(testing::rawTable(dir_ / "two", "people", {}) == before);
  }
  failing.clear();
  ranOn.clear();
  EXPECT_EQ(open("one", 1), "no error");
  EXPECT_EQ(ranOn.size(), 1u);
  ranOn.clear();
  EXPECT_EQ(open("two", 2), "no error");
  EXPECT_EQ(ranOn.size(), 2u);
  testing::RawTable one = testing::rawTable(dir_ / "one", "people", {"people_nameLength"});
  testing::RawTable two = testing::rawTable(dir_ / "two", "people", {"people_nameLength"});
  EXPECT_EQ(two.trees["table.1:people"].size(), 3000u);
  EXPECT_EQ(two.trees["index:people:people_nameLength"].size(), 3000u);
  EXPECT_TRUE(one.trees == two.trees);
}

// While a batch commits, the helper threads upgrade the next batch's first chunk (carried): the
// step runs for records past the last batch committed before that batch's progress is reported,
// every record is upgraded once, and what is written is what one thread writes, byte for byte.
// A step that fails in a carried chunk is reported for its record, and the migration is undone.
TEST_F(MigrationTest, TheNextBatchsFirstChunkIsUpgradedWhileABatchCommits) {
  TableSchema v1 = people(1, kV1);
  TableSchema v2 = people(2, std::string(kV1) + " nameLength @3 :UInt32 $Db.indexed;");
  std::mutex mutex;
  std::map<int, int> upgrades;  // by record id: how many times the step ran for it
  int ahead = 0;                // step calls for records past the last committed batch
  uint64_t committed = 0;       // records the progress reported done
  std::set<int> failing;
  Migrations m;
  m.step("people", 1, 2, [&](StepRecord old, StepBuilder next) {
    std::string name = old.get("name").as<capnp::Text>().cStr();
    int id = std::stoi(name.substr(1));
    {
      std::lock_guard lock(mutex);
      ++upgrades[id];
      // Ids are the keys, and in key order: a batch ends at the id its progress reports.
      if (static_cast<uint64_t>(id) > committed + 100) ++ahead;
    }
    if (failing.count(id)) throw std::runtime_error("cannot measure " + name);
    next.set("nameLength", static_cast<uint32_t>(name.size()));
  }, {.writes = {"nameLength"}});
  auto open = [&](const std::string& dir, unsigned threads) {
    Options o = eagerWith(m, threads);
    o.eager.batchRecords = 100;
    o.eager.progress = [&](const MigrationProgress& p) {
      if (p.phase != "records") return;
      std::lock_guard lock(mutex);
      committed = p.done;
    };
    return openVerified(dir_ / dir, v2, o);
  };
  for (const char* dir : {"one", "two"}) load(dir_ / dir, v1, numbered(3000));
  const testing::RawTable before = testing::rawTable(dir_ / "two", "people", {});
  // Record 150 is in the chunk carried after the first batch (which holds the whole second
  // batch: 100 records); 1234 further on.
  for (int first : {150, 1234}) {
    failing = {first, 2900};
    committed = 0;
    std::string err = open("two", 2);
    EXPECT_NE(err.find("MigrationFailed: table people, record (" + std::to_string(first) + ")"),
              std::string::npos) << err;
    EXPECT_TRUE(testing::rawTable(dir_ / "two", "people", {}) == before);
  }
  failing.clear();
  upgrades.clear();
  ahead = 0;
  committed = 0;
  EXPECT_EQ(open("two", 2), "no error");
  EXPECT_GT(ahead, 0);  // records of a batch upgraded before the batch before it was committed
  ASSERT_EQ(upgrades.size(), 3000u);
  for (auto [id, times] : upgrades) ASSERT_EQ(times, 1) << "record " << id;
  EXPECT_EQ(open("one", 1), "no error");
  testing::RawTable one = testing::rawTable(dir_ / "one", "people", {"people_nameLength"});
  testing::RawTable two = testing::rawTable(dir_ / "two", "people", {"people_nameLength"});
  EXPECT_EQ(two.trees["index:people:people_nameLength"].size(), 3000u);
  EXPECT_TRUE(one.trees == two.trees);
}

// Records at 1 wait for a lazy migration's step to 2 when the app, which wrote records at 2
// meanwhile, opens version 3 eagerly, which reads version 2 as it is: the migration that begins
// upgrades the records at 1 through the step and copies those at 2 as they lie into the other
// records database, and swaps them in.
void MigrationTest::lazyThenWrittenAtTwo(const std::filesystem::path& dir, const TableSchema& v1,
                                         const TableSchema& v2, const Migrations& m) {
  load(dir, v1, numbered(3000));
  Options lazy;
  lazy.migrations = &m;
  lazy.mode = MigrationMode::Lazy;
  Database db = Database::open(dir, Schemas{v2}, lazy);
  auto t = db.table("people");
  db.write([&](WriteTxn& tx) {
    for (uint64_t id = 3001; id <= 3100; ++id) {
      t.insert(tx, [&](capnp::DynamicStruct::Builder b) {
        b.set("id", id);
        b.set("name", ("n" + std::to_string(id)).c_str());
        b.set("nameLength", 99);
      });
    }
  });
}

TEST_F(MigrationTest, AnEagerMigrationCopiesTheRecordsThatNeedNoStepAsTheyLie) {
  TableSchema v3 = people(3, std::string(kV1) + " nameLength @3 :UInt32 $Db.indexed;");
  Migrations m;
  addNameLengthStep(m);
  lazyThenWrittenAtTwo(dir_ / "db", people(1, kV1), withNameLength(), m);
  const testing::RawTable before = testing::rawTable(dir_ / "db", "people", {});
  Options o = eagerWith(m);
  o.eager.batchRecords = 1000;
  {
    Database db = Database::open(dir_ / "db", Schemas{v3}, o);
    EXPECT_EQ(db.oldRecords(), 0u);
    auto t = db.table("people");
    auto tx = db.read();
    EXPECT_EQ(t.get(tx, Key{uint64_t{7}})->get().get("nameLength").as<uint32_t>(), 2u);
    EXPECT_EQ(t.get(tx, Key{uint64_t{3050}})->get().get("nameLength").as<uint32_t>(), 99u);
    VerifyReport v = verify(db);
    EXPECT_TRUE(v.ok()) << (v.problems.empty() ? "" : v.problems[0]);
  }
  const testing::RawTable after = testing::rawTable(dir_ / "db", "people", {});
  ASSERT_NE(after.entry.recordsTree, before.entry.recordsTree);
  const auto& swapped = after.trees.at(orm::tableDbName("people", after.entry.recordsTree));
  ASSERT_EQ(swapped.size(), 3100u);
  const auto& old = before.trees.at(orm::tableDbName("people", before.entry.recordsTree));
  for (size_t i = 3000; i < 3100; ++i) EXPECT_EQ(swapped[i], old[i]) << i;  // byte for byte
}

// A record whose bytes are damaged stops an eager migration at that record with Corruption
// naming it, whether a step upgrades it or it is copied as it lies: the upgrading threads check
// every record's checksum (the scan reads only its version), in key order with the records' other
// failures. The table's records stay as they were.
TEST_F(MigrationTest, ADamagedRecordStopsAnEagerMigrationAtItWhetherUpgradedOrCopied) {
  // Version 3 adds no index: a record copied as it lies is not decoded, only checked.
  TableSchema v3 = people(3, std::string(kV1) + " nameLength @3 :UInt32; nick @4 :Text;");
  Migrations m;
  addNameLengthStep(m);
  auto damage = [&](const std::string& dir, size_t position) {
    engine::Env env = engine::Env::open(dir_ / dir);
    env.write([&](engine::WriteTxn& tx) {
      engine::Db db = *tx.openDb(orm::tableDbName("people", 0));
      size_t at = 0;
      std::string key, value;
      for (auto [k, v] : tx.scan(db, engine::KeyRange::all())) {
        if (at++ == position) {
          key.assign(k);
          value.assign(v);
          break;
        }
      }
      value[value.size() - 3] ^= 0x40;  // in the message, past the header
      tx.put(db, key, value);
    });
  };
  for (auto [dir, id] : {std::pair<std::string, int>{"upgraded", 2200}, {"copied", 3030}}) {
    if (dir == "upgraded") {
      load(dir_ / dir, people(1, kV1), numbered(3000));
    } else {
      lazyThenWrittenAtTwo(dir_ / dir, people(1, kV1), withNameLength(), m);
    }
    damage(dir, static_cast<size_t>(id - 1));
    const testing::RawTable before = testing::rawTable(dir_ / dir, "people", {});
    Options o = eagerWith(m);
    o.eager.batchRecords = 1000;
    TableSchema target = dir == "upgraded" ? withNameLength() : v3;
    std::string err = errorOf([&] { Database::open(dir_ / dir, Schemas{target}, o); });
    EXPECT_NE(err.find("Corruption: table people, record (" + std::to_string(id) +
                       "): checksum mismatch"),
              std::string::npos) << dir << ": " << err;
    const testing::RawTable after = testing::rawTable(dir_ / dir, "people", {});
    EXPECT_TRUE(after.trees.at("table:people") == before.trees.at("table:people")) << dir;
    EXPECT_EQ(after.entry.recordsTree, before.entry.recordsTree) << dir;
  }
}

// A batch of slow steps ends near batchTime, with one thread or two: the records scanned ahead
// for the other thread count against the time left. A step takes at least 2 ms here, so a batch
// of 40 ms holds at most 20 records a thread (the first batch, before the pace is known, 64).
TEST_F(MigrationTest, ABatchOfSlowStepsEndsNearItsTime) {
  Migrations m;
  m.step("people", 1, 2, [](StepRecord old, StepBuilder next) {
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
    next.set("nameLength", static_cast<uint32_t>(old.get("name").as<capnp::Text>().size()));
  }, {.writes = {"nameLength"}});
  for (unsigned threads : {1u, 2u}) {
    std::string dir = "threads" + std::to_string(threads);
    load(dir_ / dir, people(1, kV1), numbered(300));
    Options o = eagerWith(m, threads);
    o.eager.batchRecords = 100'000;
    o.eager.batchTime = std::chrono::milliseconds(40);
    std::vector<uint64_t> sizes;
    uint64_t last = 0;
    o.eager.progress = [&](const MigrationProgress& p) {
      if (p.phase != "records") return;
      sizes.push_back(p.done - last);
      last = p.done;
    };
    Database db = Database::open(dir_ / dir, Schemas{withNameLength()}, o);
    EXPECT_EQ(db.oldRecords(), 0u);
    ASSERT_GE(sizes.size(), 3u) << threads;
    EXPECT_LE(sizes[0], 64u + 2 * 20 * threads) << threads;
    for (size_t i = 1; i < sizes.size(); ++i) {
      EXPECT_LE(sizes[i], 20u * threads + 2) << threads << " threads, batch " << i;
    }
  }
}

// An index an eager migration adds fails when a record's key cannot be stored in it, naming the
// first such record in key order, however the threads shared the records.
TEST_F(MigrationTest, AnAddedIndexThatCannotHoldAKeyNamesTheFirstRecordInKeyOrder) {
  TableSchema v2 = people(2, std::string(kV1) + " tag @3 :Text $Db.indexed;");
  Migrations m;
  m.step("people", 1, 2, [](StepRecord old, StepBuilder next) {
    std::string name = old.get("name").as<capnp::Text>().cStr();
    int id = std::stoi(name.substr(1));
    // Keys past the 511-byte limit for records 1900, 1901 and 2900.
    std::string tag = id == 1900 || id == 1901 || id == 2900 ? std::string(600, 't') : name;
    next.set("tag", capnp::Text::Reader(tag.c_str()));
  }, {.writes = {"tag"}});
  for (unsigned threads : {1u, 2u, 4u}) {
    std::string dir = "threads" + std::to_string(threads);
    load(dir_ / dir, people(1, kV1), numbered(3000));
    Options o = eagerWith(m, threads);
    std::string err = errorOf([&] { Database::open(dir_ / dir, Schemas{v2}, o); });
    EXPECT_NE(err.find("cannot be stored in it: record (1900):"), std::string::npos)
        << threads << ": " << err;
  }
}

// A map far too small for the upgrade grows in the middle of its batches: the engine runs such a
// batch again from its start, which must not enter the entries of an added index twice (the
// index would fail, or its sorted write refuse keys out of order).
TEST_F(MigrationTest, AnIndexAddedByAnEagerMigrationSurvivesTheMapGrowingMidBatch) {
  TableSchema v1 = people(1, kV1);
  TableSchema v2 = people(2, std::string(kV1) + " nameLength @3 :UInt32 $Db.indexed;");
  std::string many;
  for (int i = 1; i <= 3000; ++i) {
    many += "{\"id\":\"" + std::to_string(i) + "\",\"name\":\"" + std::string(100 + i % 50, 'x') + "\"}\n";
  }
  Options small;
  small.env.mapSize = size_t{1} << 20;  // 1 MiB: the records alone take more than that
  {
    Database db = Database::open(dir_ / "db", Schemas{v1}, small);
    db.write([&](WriteTxn& tx) { db.table("people").importJsonLines(tx, many); });
  }
  Migrations m;
  addNameLengthStep(m);
  Options o = small;
  o.migrations = &m;
  o.mode = MigrationMode::Eager;
  o.eager.batchRecords = 400;
  Database db = Database::open(dir_ / "db", Schemas{v2}, o);
  EXPECT_EQ(db.oldRecords(), 0u);
  VerifyReport v = verify(db);
  EXPECT_TRUE(v.ok()) << (v.problems.empty() ? "" : v.problems[0]);
  EXPECT_EQ(v.indexEntries, 3000u);
  uint64_t found = 0;
  auto tx = db.read();
  for (auto r : db.table("people").find(tx, "people_nameLength", Range::prefix(Key{uint32_t{120}}))) {
    EXPECT_EQ(field(r, "name").size(), 120u);
    ++found;
  }
  EXPECT_EQ(found, 60u);
}

// A database an earlier format left half-way through an undoable rewrite holds the rewritten
// records in "capdb:rewrite:<table>", which this format no longer uses: the eager open starts the
// records phase over in the table's other records database, from the first record, and loses
// none.
TEST_F(MigrationTest, AnEarlierFormatsHalfDoneRewriteStartsOverAndLosesNothing) {
  TableSchema v2 = withNameLength();
  Migrations m;
  Options o = numberedToNameLength(m, MigrationMode::Eager);
  o.eager.progress = [&](const MigrationProgress& p) {
    if (p.done >= 80) throw std::runtime_error("stopped");
  };
  EXPECT_THROW(Database::open(dir_ / "db", Schemas{v2}, o), std::runtime_error);
  o.eager.progress = nullptr;
  {
    // As the earlier format left it: the rewritten records in its scratch database, the table's
    // other records database empty.
    engine::Env env = engine::Env::open(dir_ / "db");
    env.write([](engine::WriteTxn& t) {
      engine::Db other = *t.openDb("table.1:people");
      engine::Db legacy = t.createDb("capdb:rewrite:people");
      std::vector<std::pair<std::string, std::string>> rows;
      for (auto [k, v] : t.scan(other, engine::KeyRange::all())) rows.emplace_back(k, v);
      ASSERT_EQ(rows.size(), 80u);
      for (auto& [k, v] : rows) t.put(legacy, k, v);
      t.clearDb(other);
    });
  }
  {
    Database db = Database::open(dir_ / "db", Schemas{v2}, o);
    expectNamedLengthsUpgraded(db);
  }
  EXPECT_FALSE(testing::hasDb(dir_ / "db", "capdb:rewrite:people"));
}

// An eager migration stopped part-way (here by its progress callback). While it rewrites its
// records it may still be undone, so only an eager open may go on with it, and it goes on after
// the batches it committed: each record is rewritten once, the swap takes them all.
TEST_F(MigrationTest, AnInterruptedEagerMigrationResumesAfterWhatItCommitted) {
  TableSchema v2 = withNameLength();
  Migrations m;
  Options o = numberedToNameLength(m, MigrationMode::Eager);
  o.eager.batchRecords = 40;
  o.eager.progress = [&](const MigrationProgress& p) {
    if (p.phase == "records" && p.done >= 80) throw std::runtime_error("stopped");
  };
  EXPECT_THROW(Database::open(dir_ / "db", Schemas{v2}, o), std::exception);
  testing::RawTable raw = testing::rawTable(dir_ / "db", "people", {});
  EXPECT_EQ(raw.entry.recordsTree, 0u);
  EXPECT_EQ(raw.trees["table:people"].size(), 250u);     // untouched
  EXPECT_EQ(raw.trees["table.1:people"].size(), 80u);    // two batches rewritten
  Options hybrid = o;
  hybrid.eager.progress = nullptr;
  hybrid.mode = MigrationMode::Hybrid;
  EXPECT_EQ(errorOf([&] { Database::open(dir_ / "db", Schemas{v2}, hybrid); }),
            "SchemaMismatch: table people: a migration to version 2 is rewriting its records and "
            "may still be undone; open with MigrationMode::Eager to finish it");
  uint64_t resumedFrom = 0;
  o.eager.progress = [&](const MigrationProgress& p) {
    if (resumedFrom == 0) resumedFrom = p.done;
  };
  Database db = Database::open(dir_ / "db", Schemas{v2}, o);
  EXPECT_EQ(resumedFrom, 120u);  // its first batch after the two it had committed
  expectNamedLengthsUpgraded(db);
}

// An undoable rewrite needs room for a second copy of the table's records. Without it (here the
// map's limit) the migration is refused before anything is written, and undone; with the limit
// raised it runs.
TEST_F(MigrationTest, AnEagerMigrationWithoutRoomForASecondCopyIsRefusedBeforeItStarts) {
  TableSchema v1 = people(1, kV1);
  TableSchema v2 = people(2, std::string(kV1) + " nameLength @3 :UInt32;");
  Options small;
  small.env.mapSize = small.env.maxMapSize = size_t{4} << 20;
  {
    Database db = Database::open(dir_ / "db", Schemas{v1}, small);
    const std::string name(1000, 'x');
    db.write([&](WriteTxn& tx) {
      for (uint64_t id = 1; id <= 1500; ++id) {
        db.table("people").insert(tx, [&](capnp::DynamicStruct::Builder b) {
          b.set("id", id);
          b.set("name", capnp::Text::Reader(name.c_str()));
        });
      }
    });
  }
  const testing::RawTable before = testing::rawTable(dir_ / "db", "people", {});
  Migrations m;
  addNameLengthStep(m);
  Options o = small;
  o.migrations = &m;
  o.mode = MigrationMode::Eager;
  std::string err = errorOf([&] { Database::open(dir_ / "db", Schemas{v2}, o); });
  EXPECT_NE(err.find("MigrationFailed: table people: the migration from version 1 to 2 writes a "
                     "second copy of the table's records while it runs"),
            std::string::npos) << err;
  EXPECT_NE(err.find("the map's limit (EnvOptions::maxMapSize)"), std::string::npos) << err;
  EXPECT_NE(err.find("the table is back at version 1"), std::string::npos) << err;
  EXPECT_TRUE(testing::rawTable(dir_ / "db", "people", {}) == before);

  o.env.maxMapSize = size_t{16} << 20;
  {
    Database db = Database::open(dir_ / "db", Schemas{v2}, o);
    EXPECT_EQ(db.oldRecords(), 0u);
    EXPECT_EQ(db.table("people").get(db.read(), Key{7})->get().get("nameLength").as<uint32_t>(), 1000u);
  }
  // A new version that rewrites nothing (a field added) needs no such room, even in a map with
  // only a megabyte left.
  TableSchema v3 = people(3, std::string(kV1) + " nameLength @3 :UInt32; note @4 :Text;");
  o.env.maxMapSize = std::filesystem::file_size(dir_ / "db" / "data.mdb") + (size_t{1} << 20);
  Database db = Database::open(dir_ / "db", Schemas{v3}, o);
  EXPECT_EQ(db.table("people").count(db.read()), 1500u);
}

// A rewrite whose records grow past what the room check allowed for meets the map's limit part
// way: it is undone, the scratch database it filled dropped.
TEST_F(MigrationTest, AnEagerMigrationThatFillsTheMapIsUndone) {
  TableSchema v1 = people(1, kV1);
  TableSchema v2 = people(2, std::string(kV1) + " note @3 :Text;");
  Options small;
  small.env.mapSize = small.env.maxMapSize = size_t{3} << 20;
  load(dir_ / "db", v1, numbered(1000));
  const testing::RawTable before = testing::rawTable(dir_ / "db", "people", {});
  Migrations m;
  const std::string note(4000, 'n');
  m.step("people", 1, 2, [&](auto, auto next) { next.set("note", capnp::Text::Reader(note.c_str())); },
         {.writes = {"note"}});
  Options o = small;
  o.migrations = &m;
  o.mode = MigrationMode::Eager;
  o.eager.batchRecords = 100;
  std::string err = errorOf([&] { Database::open(dir_ / "db", Schemas{v2}, o); });
  EXPECT_NE(err.find("MigrationFailed: table people: the migration from version 1 to 2 ran out of room"),
            std::string::npos) << err;
  EXPECT_NE(err.find("the table is back at version 1"), std::string::npos) << err;
  EXPECT_TRUE(testing::rawTable(dir_ / "db", "people", {}) == before);
  Database db = Database::open(dir_ / "db", Schemas{v1}, small);
  EXPECT_EQ(db.table("people").count(db.read()), 1000u);
  EXPECT_EQ(db.oldRecords(), 0u);
}

// EagerOptions::deferSync: the batches commit unsynced, one sync at the end, and the commits
// after it sync again.
TEST_F(MigrationTest, ADeferredSyncMigrationEndsSynced) {
  TableSchema v2 = withNameLength();
  Migrations m;
  Options o = numberedToNameLength(m, MigrationMode::Eager);
  o.eager.deferSync = true;
  // migrate() on a database opened lazily: its batches see the sync deferred.
  Options lazy = o;
  lazy.mode = MigrationMode::Lazy;
  Database db = Database::open(dir_ / "db", Schemas{v2}, lazy);
  uint64_t deferred = 0, batches = 0;
  EagerOptions e = o.eager;
  e.progress = [&](const MigrationProgress&) {
    ++batches;
    deferred += internal::env(db).syncDeferred() ? 1 : 0;
  };
  db.migrate(e);
  EXPECT_GT(batches, 1u);
  EXPECT_EQ(deferred, batches);
  EXPECT_FALSE(internal::env(db).syncDeferred());
  EXPECT_EQ(db.oldRecords(), 0u);
  EXPECT_EQ(db.table("people").get(db.read(), Key{123})->get().get("nameLength").as<uint32_t>(), 4u);
}

TEST_F(MigrationTest, AStepNamingAFieldThatDoesNotExistFailsNamingIt) {
  TableSchema v1 = people(1, kV1);
  TableSchema v2 = people(2, std::string(kV1) + " nameLength @3 :UInt32;");
  load(dir_ / "db", v1, kRecords);
  Migrations m;
  m.step("people", 1, 2, [](StepRecord old, StepBuilder next) {
    next.set("nameLenght", old.get("name").as<capnp::Text>().size());
  }, {.writes = {"nameLength"}});
  Options o;
  o.migrations = &m;
  o.mode = MigrationMode::Eager;
  std::string err = errorOf([&] { Database::open(dir_ / "db", Schemas{v2}, o); });
  EXPECT_NE(err.find("MigrationFailed"), std::string::npos) << err;
  EXPECT_NE(err.find("from version 1 to 2"), std::string::npos) << err;
  EXPECT_NE(err.find("has no field named 'nameLenght'"), std::string::npos) << err;
  // Nothing was rewritten: with the name fixed, all three records are still to migrate.
  Migrations fixed;
  addNameLengthStep(fixed);
  o.migrations = &fixed;
  o.mode = MigrationMode::Lazy;
  Database db = Database::open(dir_ / "db", Schemas{v2}, o);
  EXPECT_EQ(db.oldRecords(), 3u);
  auto tx = db.read();
  EXPECT_EQ(db.table("people").get(tx, Key{2})->get().get("nameLength").as<uint32_t>(), 11u);
}

TEST_F(MigrationTest, StepRecordsConvertToDynamicStructsAndLookUpEveryMember) {
  const char* shape = "id @0 :UInt64; s :union { circle :group { r @1 :Float64; } square :group { side @2 :Float64; } } name @3 :Text;";
  TableSchema v1 = people(1, shape);
  FieldNames names(v1.schema);
  EXPECT_EQ(names.find("name").getIndex(), v1.schema.getFieldByName("name").getIndex());
  EXPECT_EQ(names.find("s").getIndex(), v1.schema.getFieldByName("s").getIndex());
  std::string err = errorOf([&] { names.find("nmae"); });
  EXPECT_NE(err.find("InvalidArgument"), std::string::npos) << err;
  EXPECT_NE(err.find("has no field named 'nmae'"), std::string::npos) << err;

  capnp::MallocMessageBuilder message;
  auto record = message.initRoot<capnp::DynamicStruct>(v1.schema);
  StepBuilder next(record, &names);
  next.set("name", "Ada");
  next.init("s").as<capnp::DynamicStruct>().init("square").as<capnp::DynamicStruct>().set("side", 2.0);
  EXPECT_TRUE(next.has("name"));
  // Without FieldNames, the same lookups through Cap'n Proto, with the same error.
  StepRecord old(next.asReader());
  EXPECT_EQ(field(old, "name"), "Ada");  // converts to capnp::DynamicStruct::Reader
  EXPECT_TRUE(old.has("s"));
  err = errorOf([&] { old.get("nmae"); });
  EXPECT_NE(err.find("has no field named 'nmae'"), std::string::npos) << err;
  next.clear("name");
  EXPECT_FALSE(StepRecord(next.asReader(), &names).has("name"));
  EXPECT_TRUE(next.which() == nullptr);  // the union is a named field, not the record's own
  KJ_IF_MAYBE (w, next.get("s").as<capnp::DynamicStruct>().which()) {
    EXPECT_EQ(std::string(w->getProto().getName().cStr()), "square");
  } else {
    ADD_FAILURE() << "the union's member is set";
  }
  // A step body called directly with Cap'n Proto's types, as an app's unit test of a step would.
  Migrations m;
  m.step("people", 1, 2, [](StepRecord old, StepBuilder out) {
    out.set(out.field("name"), old.get(old.field("name")));
  });
  capnp::MallocMessageBuilder copy;
  auto target = copy.initRoot<capnp::DynamicStruct>(v1.schema);
  record.set("name", "Grace");
  m.stepsOf("people")->at(1).fn(record.asReader(), target);
  EXPECT_EQ(field(target.asReader(), "name"), "Grace");
}

TEST_F(MigrationTest, AStepThatChangesIndexedFieldsOpensInEveryModeAndTheIndexBuildsOnline) {
  TableSchema v1 = people(1, "id @0 :UInt64; name @1 :Text; city @2 :Text $Db.indexed;");
  TableSchema v2 = people(2, "id @0 :UInt64; name @1 :Text; city @2 :Text $Db.indexed;");
  std::string records;
  for (int i = 1; i <= 40; ++i) {
    records += "{\"id\":\"" + std::to_string(i) + "\",\"name\":\"n" + std::to_string(i) +
               "\",\"city\":\"" + (i % 2 ? "paris" : "lima") + "\"}\n";
  }
  load(dir_ / "db", v1, records);
  std::filesystem::copy(dir_ / "db", dir_ / "eager");
  Migrations m;
  m.step("people", 1, 2, [](auto old, auto next) {
    std::string city = old.get("city").template as<capnp::Text>().cStr();
    for (char& c : city) c = static_cast<char>(toupper(c));
    next.set("city", capnp::Text::Reader(city.c_str()));
  }, {.writes = {"city"}});
  Options o;
  o.migrations = &m;
  o.eager.batchRecords = 3;
  const std::string byCity = "SELECT id FROM people WHERE city = 'PARIS' ORDER BY id";
  auto ids = [](Database& db, const std::string& sql) {
    std::vector<uint64_t> out;
    auto r = db.query(sql);
    for (size_t i = 0; i < r.size(); ++i) out.push_back(static_cast<uint64_t>(r.at(i, 0).integer()));
    return out;
  };
  auto explain = [](Database& db, const std::string& sql) {
    return db.query("EXPLAIN " + sql).at(0, 0).text();
  };
  {
    // Lazy: open returns at once, the index building; queries take another path and see every
    // record at version 2.
    Database db = Database::open(dir_ / "db", Schemas{v2}, o);
    EXPECT_EQ(status(db).tables[0].indexes[0].state, "building");
    EXPECT_EQ(explain(db, byCity).find("people_city"), std::string::npos) << explain(db, byCity);
    EXPECT_EQ(ids(db, byCity).size(), 20u);
    // Part-way through the build, writes before and after its checkpoint.
    EXPECT_FALSE(db.drain(DrainBudget{.records = 6}));
    IndexStatus is = status(db).tables[0].indexes[0];
    EXPECT_EQ(is.state, "building");
    EXPECT_EQ(is.total, 40u);
    db.write([&](WriteTxn& tx) {
      auto t = db.table("people");
      for (uint64_t id : {2, 30}) {  // one the build passed, one it has not reached
        t.update(tx, Key{id}, [](capnp::DynamicStruct::Builder b) { b.set("city", "PARIS"); });
      }
      for (uint64_t id : {1, 33}) t.remove(tx, Key{id});
      t.insert(tx, [](capnp::DynamicStruct::Builder b) {
        b.set("id", 41);
        b.set("city", "PARIS");
      });
    });
    while (!db.drain(DrainBudget{.records = 5})) {
    }
    EXPECT_EQ(status(db).tables[0].indexes[0].state, "ready");
    EXPECT_NE(explain(db, byCity).find("people_city"), std::string::npos) << explain(db, byCity);
    std::vector<uint64_t> expected;
    for (uint64_t i = 1; i <= 41; ++i) {
      if ((i % 2 == 1 && i != 1 && i != 33) || i == 2 || i == 30) expected.push_back(i);
    }
    EXPECT_EQ(ids(db, byCity), expected);
    EXPECT_EQ(ids(db, "SELECT id FROM people WHERE city = 'paris'").size(), 0u);
    VerifyReport v = verify(db);
    EXPECT_TRUE(v.ok()) << (v.problems.empty() ? "" : v.problems[0]);
    EXPECT_EQ(v.indexEntries, 39u);
  }
  // Eager: the same index, built before open returns.
  o.mode = MigrationMode::Eager;
  Database db = Database::open(dir_ / "eager", Schemas{v2}, o);
  EXPECT_EQ(status(db).tables[0].indexes[0].state, "ready");
  auto tx = db.read();
  EXPECT_FALSE(db.table("people").find(tx, "people_city", Range::prefix(Key{"paris"})).valid());
  auto c = db.table("people").find(tx, "people_city", Range::prefix(Key{"PARIS"}));
  ASSERT_TRUE(c.valid());
  EXPECT_EQ(field(c.record(), "name"), "n1");
}

TEST_F(MigrationTest, OpenTimeRefusalsNameWhatIsWrong) {
  TableSchema v1 = people(1, kV1);
  load(dir_ / "db", v1, kRecords);
  std::string before = exportOf(dir_ / "db", v1);
  ASSERT_EQ(std::count(before.begin(), before.end(), '\n'), 3);
  TableSchema v2 = people(2, "id @0 :UInt64; name @1 :Text; score @2 :Int64;");
  Migrations none;
  Options o;
  o.migrations = &none;
  std::string noStep = errorOf([&] { Database::open(dir_ / "db", Schemas{v2}, o); });
  EXPECT_NE(noStep.find("SchemaMismatch"), std::string::npos) << noStep;
  EXPECT_NE(noStep.find("people.score: type changed Float64 -> Int64"), std::string::npos) << noStep;
  EXPECT_NE(noStep.find("Migrations::step(\"people\", 1, 2"), std::string::npos) << noStep;

  TableSchema v3 = people(3, "id @0 :UInt64; name @1 :Text; score @2 :Int64;");
  Migrations middle;
  middle.step("people", 1, 2, [](auto, auto) {});
  o.migrations = &middle;
  std::string target = errorOf([&] { Database::open(dir_ / "db", Schemas{v3}, o); });
  EXPECT_NE(target.find("StepOptions::target"), std::string::npos) << target;

  Migrations eagerOnly;
  eagerOnly.step("people", 1, 2, [](auto, auto next) { next.set("score", 1); },
                 {.writes = {"score"}, .requiresEager = true});
  o.migrations = &eagerOnly;
  std::string mode = errorOf([&] { Database::open(dir_ / "db", Schemas{v2}, o); });
  EXPECT_NE(mode.find("requires the eager mode"), std::string::npos) << mode;

  EXPECT_THROW(Migrations().step("people", 2, 1, [](auto, auto) {}), Error);
  EXPECT_THROW(Migrations().step("people", 1, 2, [](auto, auto) {}).step("people", 1, 3, [](auto, auto) {}),
               Error);
  // Nothing was changed by the refused opens.
  Database db = Database::open(dir_ / "db", Schemas{v1});
  EXPECT_EQ(exportOf(db), before);
  EXPECT_EQ(db.oldRecords(), 0u);
  auto row = db.table("people").get(db.read(), Key{1});
  ASSERT_TRUE(row.has_value());
  EXPECT_EQ(row->version(), 1u);
}

TEST_F(MigrationTest, UniqueDuplicatesFailTheMigrationAndLeaveTheDatabaseAsItWas) {
  TableSchema v1 = people(1, "id @0 :UInt64; email @1 :Text $Db.unique;");
  TableSchema v2 = people(2, "id @0 :UInt64; email @1 :Text $Db.unique;");
  std::string many;
  for (int i = 1; i <= 40; ++i) {
    many += "{\"id\":\"" + std::to_string(i) + "\",\"email\":\"User" + std::to_string(i) +
            (i == 33 ? "@X.org" : "@x.org") + "\"}\n";
  }
  many += "{\"id\":\"41\",\"email\":\"user33@x.org\"}\n";  // equal to 33 once lower-cased
  load(dir_ / "db", v1, many);
  std::string before = exportOf(dir_ / "db", v1);
  Migrations m;
  addLowerCaseEmailStep(m);
  Options o;
  o.migrations = &m;
  o.mode = MigrationMode::Eager;
  o.eager.batchRecords = 7;
  std::string err = errorOf([&] { Database::open(dir_ / "db", Schemas{v2}, o); });
  EXPECT_NE(err.find("MigrationFailed"), std::string::npos) << err;
  EXPECT_NE(err.find("'user33@x.org'"), std::string::npos) << err;
  EXPECT_NE(err.find("(33)"), std::string::npos) << err;
  EXPECT_NE(err.find("(41)"), std::string::npos) << err;
  EXPECT_NE(err.find("people_email"), std::string::npos) << err;
  // Exactly as before: the old app opens at version 1, with the same records and a working index.
  Database db = Database::open(dir_ / "db", Schemas{v1});
  EXPECT_EQ(exportOf(db), before);
  auto tx = db.read();
  EXPECT_EQ(field(db.table("people").find(tx, "people_email", Range::prefix(Key{"User33@X.org"})).record(), "email"),
            "User33@X.org");
  EXPECT_EQ(db.table("people").get(tx, Key{5})->version(), 1u);
}

TEST_F(MigrationTest, ZeroBatchLimitsStillFinish) {
  TableSchema v1 = people(1, kV1);
  TableSchema v2 = people(2, std::string(kV1) + " nameLength @3 :UInt32;");
  load(dir_ / "db", v1, kRecords);
  Migrations m;
  addNameLengthStep(m);
  Options o;
  o.migrations = &m;
  o.mode = MigrationMode::Eager;
  o.eager.batchRecords = 0;
  o.eager.batchBytes = 0;
  Database db = Database::open(dir_ / "db", Schemas{v2}, o);
  EXPECT_EQ(db.oldRecords(), 0u);
}

TEST_F(MigrationTest, ANewVersionDuringAnUnfinishedMigrationStartsOver) {
  TableSchema v1 = people(1, kV1);
  TableSchema v2 = people(2, std::string(kV1) + " a @3 :UInt32;");
  TableSchema v3 = people(3, std::string(kV1) + " a @3 :UInt32; b @4 :UInt32;");
  std::string many;
  for (int i = 1; i <= 60; ++i) many += "{\"id\":\"" + std::to_string(i) + "\",\"name\":\"n\"}\n";
  load(dir_ / "db", v1, many);
  Migrations m;
  m.step("people", 1, 2, [](auto, auto next) { next.set("a", 1); },
         {.writes = {"a"}, .target = v2.schema});
  Options o;
  o.migrations = &m;
  o.mode = MigrationMode::Hybrid;
  o.eager.batchRecords = 10;
  {
    // v2's migration drains half way.
    TableSchema v2only = v2;
    Database db = Database::open(dir_ / "db", Schemas{v2only}, o);
    db.drain(DrainBudget{.records = 30});
    EXPECT_EQ(db.oldRecords(), 30u);
  }
  m.step("people", 2, 3, [](auto old, auto next) {
    next.set("b", old.get("a").template as<uint32_t>() + 1);
  }, {.writes = {"b"}});
  o.mode = MigrationMode::Eager;
  Database db = Database::open(dir_ / "db", Schemas{v3}, o);
  EXPECT_EQ(db.oldRecords(), 0u);
  auto tx = db.read();
  for (auto r : db.table("people").scan(tx)) {
    EXPECT_EQ(r.get("a").as<uint32_t>(), 1u);
    EXPECT_EQ(r.get("b").as<uint32_t>(), 2u) << r.get("id").as<uint64_t>();
  }
}

TEST_F(MigrationTest, CountsStayExactAcrossACompatibleVersionThenAStep) {
  TableSchema v1 = people(1, kV1);
  TableSchema v2 = people(2, "id @0 :UInt64; fullName @1 :Text; score @2 :Float64;");
  TableSchema v3 = people(3, "id @0 :UInt64; fullName @1 :Text; score @2 :Float64; n @3 :UInt32;");
  load(dir_ / "db", v1, kRecords);
  { Database db = Database::open(dir_ / "db", Schemas{v2}); }  // a rename: nothing rewritten
  Migrations m;
  m.step("people", 2, 3, [](auto old, auto next) {
    next.set("n", old.get("fullName").template as<capnp::Text>().size());
  }, {.writes = {"n"}});
  Options o;
  o.migrations = &m;
  {
    Database db = Database::open(dir_ / "db", Schemas{v3}, o);
    EXPECT_EQ(db.oldRecords(), 3u);
    db.write([&](WriteTxn& tx) { db.table("people").remove(tx, Key{2}); });
    EXPECT_EQ(db.oldRecords(), 2u);
    EXPECT_TRUE(db.drain(DrainBudget{}));
    EXPECT_EQ(db.oldRecords(), 0u);
  }
  Database db = Database::open(dir_ / "db", Schemas{v3}, o);
  EXPECT_EQ(db.oldRecords(), 0u);
  auto tx = db.read();
  EXPECT_EQ(db.table("people").count(tx), 2u);
  EXPECT_EQ(db.table("people").get(tx, Key{3})->get().get("n").as<uint32_t>(), 21u);
}

TEST_F(MigrationTest, AChangedFieldsOldBitsNeverLeakIntoNewFields) {
  TableSchema v1 = people(1, "id @0 :UInt64; age @1 :Text; weight @2 :UInt64 = 7;");
  TableSchema v2 = people(2, "id @0 :UInt64; age @1 :UInt32; weight @2 :UInt64 = 9; note @3 :Text; low @4 :UInt32;");
  Migrations m;
  m.step("people", 1, 2, [](auto old, auto next) {
    next.set("age", static_cast<uint32_t>(std::stoul(old.get("age").template as<capnp::Text>().cStr())));
  }, {.writes = {"age"}});
  std::string out = ::capdb::testing::checkUpgrade(
      dir_ / "check", v1, v2, m, "{\"id\":\"1\",\"age\":\"36\",\"weight\":\"123456789012\"}\n");
  // note is unset (not the old age text), low is 0, and weight keeps its value under a new default.
  EXPECT_EQ(out, "{\"id\":\"1\",\"age\":36,\"weight\":\"123456789012\",\"low\":0}\n");
}

TEST_F(MigrationTest, EnumsStructsAndUnionMembersCarryOverFromTheCatalogsSchema) {
  // The old version's schema comes from the catalog, a loader of its own: its enum and struct
  // types are not the app's objects, and the copy must not mix them. The union forces the
  // dynamic field-by-field copy.
  const char* extra = "enum Color { red @0; green @1; }\nstruct Point { x @0 :Int32; y @1 :Int32; }\n";
  const char* common = "id @0 :UInt64; s :union { a @1 :Int32; b @2 :Text; } color @3 :Color = green; at @4 :Point; ";
  TableSchema v1 = people(1, std::string(common) + "n @5 :Int32;", extra);
  TableSchema v2 = people(2, std::string(common) + "n @5 :Int64;", extra);
  Migrations m;
  m.step("people", 1, 2, [](StepRecord old, StepBuilder next) {
    next.set("n", int64_t{old.get("n").as<int32_t>()} * 3);
  }, {.writes = {"n"}});
  std::string out = ::capdb::testing::checkUpgrade(
      dir_ / "check", v1, v2, m,
      "{\"id\":\"1\",\"s\":{\"b\":\"hello\"},\"color\":\"red\",\"at\":{\"y\":3},\"n\":5}\n"
      "{\"id\":\"2\",\"s\":{\"a\":7}}\n");
  EXPECT_NE(out.find("\"id\":\"1\",\"s\":{\"b\":\"hello\"},\"color\":\"red\",\"at\":{\"x\":0,\"y\":3},\"n\":\"15\""),
            std::string::npos) << out;
  EXPECT_NE(out.find("\"id\":\"2\",\"s\":{\"a\":7},\"color\":\"green\""), std::string::npos) << out;
}

TEST_F(MigrationTest, UnionGroupsArePrefilled) {
  const char* shape = "id @0 :UInt64; s :union { circle :group { r @1 :Float64; } square :group { side @2 :Float64; } }";
  TableSchema v1 = people(1, shape);
  TableSchema v2 = people(2, std::string(shape) + " area @3 :Float64; x @4 :Text;");
  Migrations m;
  m.step("people", 1, 2, [](auto old, auto next) {
    auto s = old.get("s").template as<capnp::DynamicStruct>();
    double area = 0;
    KJ_IF_MAYBE (w, s.which()) {
      if (w->getProto().getName() == "square") {
        double side = s.get("square").template as<capnp::DynamicStruct>().get("side").template as<double>();
        area = side * side;
      }
    }
    next.set("area", area);
    next.set("x", "y");  // not a pure addition: the raw copy does not apply
  }, {.writes = {"area", "x"}});
  std::string out = ::capdb::testing::checkUpgrade(
      dir_ / "check", v1, v2, m,
      "{\"id\":\"1\",\"s\":{\"square\":{\"side\":3}}}\n{\"id\":\"2\",\"s\":{\"circle\":{\"r\":1}}}\n");
  EXPECT_NE(out.find("\"square\":{\"side\":3}},\"area\":9"), std::string::npos) << out;
  EXPECT_NE(out.find("\"circle\":{\"r\":1}},\"area\":0"), std::string::npos) << out;
}

}  // namespace
}  // namespace capdb
