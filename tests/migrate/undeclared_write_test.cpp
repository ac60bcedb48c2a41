// A step that changes an indexed field without declaring it in StepOptions::writes: the index is
// kept rather than rebuilt, so the eager rewrite, a drain and checkUpgrade must each fail naming
// the table, the record, the step, the field and the index, and leave the database consistent.
#include <gtest/gtest.h>

#include <map>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "capdb/admin.h"
#include "capdb/capdb.h"
#include "capdb/testing.h"
#include "engine/key_codec.h"
#include "orm/record_codec.h"
#include "orm/table_core.h"
#include "support/errors.h"
#include "support/raw_trees.h"
#include "support/people_versions.h"
#include "db/database_state.h"

namespace capdb {
namespace {

using CityEntries = std::set<std::pair<std::string, uint64_t>>;

class UndeclaredWriteTest : public ::capdb::testing::PeopleVersions {
 protected:
  static constexpr const char* kFields = "id @0 :UInt64; name @1 :Text; city @2 :Text $Db.indexed;";
  static constexpr uint64_t kRecords = 60;

  static std::string errorOf(const std::function<void()>& fn) {
    return ::capdb::testing::errorOf(fn);
  }

  // Record i lives in lima, oslo or paris; record 42 in "paris " with a trailing space.
  static std::string cityOf(uint64_t id) {
    static const char* const kCities[] = {"lima", "oslo", "paris"};
    return id == 42 ? "paris " : kCities[id % 3];
  }
  static std::string records() {
    std::string out;
    for (uint64_t i = 1; i <= kRecords; ++i) {
      out += "{\"id\":\"" + std::to_string(i) + "\",\"name\":\"n" + std::to_string(i) +
             "\",\"city\":\"" + cityOf(i) + "\"}\n";
    }
    return out;
  }
  // The people_city entries of the records above, their cities trimmed or not.
  static CityEntries expectedEntries(bool trimmed) {
    CityEntries out;
    for (uint64_t i = 1; i <= kRecords; ++i) {
      out.emplace(trimmed && i == 42 ? "paris" : cityOf(i), i);
    }
    return out;
  }

  // people 1 -> 2: sets nameLength and trims the city's trailing spaces (only record 42 has
  // any), declaring `writes`.
  static void addTrimStep(Migrations& m, std::vector<std::string> writes) {
    m.step("people", 1, 2, [](StepRecord old, StepBuilder next) {
      next.set("nameLength", old.get("name").as<capnp::Text>().size());
      std::string city = old.get("city").as<capnp::Text>().cStr();
      while (!city.empty() && city.back() == ' ') city.pop_back();
      next.set("city", capnp::Text::Reader(city.c_str()));
    }, {.writes = std::move(writes)});
  }

  // An id decoded from a key without types: integers decode as int64_t.
  static uint64_t idOf(const engine::KeyValue& v) {
    return static_cast<uint64_t>(std::get<int64_t>(v));
  }

  // Every record's stored schema version by id, read from the table's LMDB database.
  static std::map<uint64_t, uint32_t> storedVersions(Database& db) {
    std::map<uint64_t, uint32_t> out;
    auto tx = db.read();
    for (auto s = internal::engineTxn(tx).scan(internal::core(db.table("people")).records(tx), engine::KeyRange::all());
         s.valid(); s.next()) {
      out[idOf(engine::decodeKey(s.key())[0])] =
          orm::readRecordHeader(s.value(), "people", s.key()).version;
    }
    return out;
  }
  static std::map<uint64_t, uint32_t> versions(uint32_t upTo40, uint32_t rest) {
    std::map<uint64_t, uint32_t> out;
    for (uint64_t i = 1; i <= kRecords; ++i) out[i] = i <= 40 ? upTo40 : rest;
    return out;
  }

  // The entries of people_city as (city, id), read from the index's LMDB database.
  static CityEntries cityEntries(Database& db) {
    CityEntries out;
    auto tx = db.read();
    for (const auto& index : internal::core(db.table("people")).indexes()) {
      if (index.schema.name != "people_city") continue;
      for (auto s = internal::engineTxn(tx).scan(index.db, engine::KeyRange::all()); s.valid(); s.next()) {
        auto key = engine::decodeKey(s.key());
        out.emplace(std::get<std::string>(key[0]), idOf(key[1]));
      }
    }
    return out;
  }

  static void expectNamesTheUndeclaredField(const std::string& err) {
    EXPECT_NE(err.find("MigrationFailed"), std::string::npos) << err;
    EXPECT_NE(err.find("table people, record (42): step 1->2 changed indexed field city "
                       "(index people_city) without declaring it in StepOptions::writes"),
              std::string::npos)
        << err;
  }

  static void expectConsistent(Database& db) {
    EXPECT_EQ(db.oldRecords(), 0u);
    VerifyReport report = verify(db);
    EXPECT_TRUE(report.ok()) << (report.problems.empty() ? "" : report.problems[0]);
    EXPECT_TRUE(report.notes.empty()) << (report.notes.empty() ? "" : report.notes[0]);
  }

  TableSchema v1_ = people(1, kFields);
  TableSchema v2_ = people(2, std::string(kFields) + " nameLength @3 :UInt32;");
};

TEST_F(UndeclaredWriteTest, AnEagerRewriteFailsAndIsUndone) {
  load(dir_ / "db", v1_, records());
  Migrations undeclared;
  addTrimStep(undeclared, {"nameLength"});
  Options o;
  o.migrations = &undeclared;
  o.mode = MigrationMode::Eager;
  o.eager.batchRecords = 10;
  std::string err = errorOf([&] { Database::open(dir_ / "db", Schemas{v2_}, o); });
  expectNamesTheUndeclaredField(err);
  EXPECT_NE(err.find("declare it so that the index is rebuilt"), std::string::npos) << err;

  {
    // Undone: the batches before record 42's were rewritten into the scratch database only, so
    // every record is still at version 1 and the index holds exactly the entries it held before.
    Database db = Database::open(dir_ / "db", Schemas{v1_}, Options{});
    EXPECT_EQ(db.oldRecords(), 0u);
    EXPECT_EQ(storedVersions(db), versions(1, 1));
    EXPECT_EQ(cityEntries(db), expectedEntries(false));
    expectConsistent(db);
  }

  // Declared, the eager open migrates from the start and rebuilds the index afterwards.
  Migrations declared;
  addTrimStep(declared, {"nameLength", "city"});
  o.migrations = &declared;
  Database db = Database::open(dir_ / "db", Schemas{v2_}, o);
  EXPECT_EQ(storedVersions(db), versions(2, 2));
  EXPECT_EQ(cityEntries(db), expectedEntries(true));
  auto tx = db.read();
  auto c = db.table("people").find(tx, "people_city", Range::prefix(Key{"paris"}));
  size_t paris = 0;
  bool has42 = false;
  for (; c.valid(); c.next()) {
    ++paris;
    has42 = has42 || c.record().get("id").as<uint64_t>() == 42;
  }
  EXPECT_EQ(paris, 21u);  // 2, 5, ..., 59 and 42
  EXPECT_TRUE(has42);
  expectConsistent(db);
}

TEST_F(UndeclaredWriteTest, ADrainFailsTheSameWayAndChangesNothing) {
  load(dir_ / "db", v1_, records());
  Migrations undeclared;
  addTrimStep(undeclared, {"nameLength"});
  Options o;
  o.migrations = &undeclared;
  o.mode = MigrationMode::Hybrid;  // accepted: the step declares no indexed field
  Database db = Database::open(dir_ / "db", Schemas{v2_}, o);
  EXPECT_EQ(db.oldRecords(), kRecords);
  std::string err = errorOf([&] { db.drain(DrainBudget{}); });
  expectNamesTheUndeclaredField(err);
  EXPECT_EQ(db.oldRecords(), kRecords);
  EXPECT_EQ(storedVersions(db), versions(1, 1));
  EXPECT_EQ(cityEntries(db), expectedEntries(false));
}

TEST_F(UndeclaredWriteTest, CheckUpgradeFailsForLazyReads) {
  Migrations undeclared;
  addTrimStep(undeclared, {"nameLength"});
  std::string err = errorOf(
      [&] { ::capdb::testing::checkUpgrade(dir_ / "check", v1_, v2_, undeclared, records()); });
  expectNamesTheUndeclaredField(err);
}

TEST_F(UndeclaredWriteTest, TheSameStepWithTheFieldDeclaredPasses) {
  Migrations declared;
  addTrimStep(declared, {"nameLength", "city"});
  std::string out = ::capdb::testing::checkUpgrade(dir_ / "check", v1_, v2_, declared, records());
  EXPECT_NE(out.find("{\"id\":\"42\",\"name\":\"n42\",\"city\":\"paris\",\"nameLength\":3}"),
            std::string::npos)
      << out;

  load(dir_ / "db", v1_, records());
  std::filesystem::copy(dir_ / "db", dir_ / "hybrid");
  Options o;
  o.migrations = &declared;
  o.mode = MigrationMode::Eager;
  {
    Database db = Database::open(dir_ / "db", Schemas{v2_}, o);
    EXPECT_EQ(storedVersions(db), versions(2, 2));
    EXPECT_EQ(cityEntries(db), expectedEntries(true));
    expectConsistent(db);
  }
  // A declared indexed field opens lazily too: the index builds as the drain goes.
  o.mode = MigrationMode::Hybrid;
  Database db = Database::open(dir_ / "hybrid", Schemas{v2_}, o);
  while (!db.drain(DrainBudget{.records = 1})) {
  }
  EXPECT_EQ(storedVersions(db), versions(2, 2));
  EXPECT_EQ(cityEntries(db), expectedEntries(true));
  expectConsistent(db);
}

TEST_F(UndeclaredWriteTest, AnUndeclaredFieldInNoIndexPasses) {
  // The step upper-cases the name without declaring it: no index covers it.
  Migrations m;
  m.step("people", 1, 2, [](StepRecord old, StepBuilder next) {
    std::string name = old.get("name").as<capnp::Text>().cStr();
    next.set("nameLength", name.size());
    for (char& ch : name) ch = static_cast<char>(toupper(static_cast<unsigned char>(ch)));
    next.set("name", capnp::Text::Reader(name.c_str()));
  }, {.writes = {"nameLength"}});
  std::string out = ::capdb::testing::checkUpgrade(dir_ / "check", v1_, v2_, m, records());
  EXPECT_NE(out.find("{\"id\":\"42\",\"name\":\"N42\",\"city\":\"paris \",\"nameLength\":3}"),
            std::string::npos)
      << out;

  Options o;
  o.migrations = &m;
  o.mode = MigrationMode::Eager;
  load(dir_ / "eager", v1_, records());
  {
    Database db = Database::open(dir_ / "eager", Schemas{v2_}, o);
    EXPECT_EQ(cityEntries(db), expectedEntries(false));
    expectConsistent(db);
  }
  o.mode = MigrationMode::Hybrid;
  load(dir_ / "drain", v1_, records());
  Database db = Database::open(dir_ / "drain", Schemas{v2_}, o);
  EXPECT_TRUE(db.drain(DrainBudget{}));
  EXPECT_EQ(storedVersions(db), versions(2, 2));
  EXPECT_EQ(cityEntries(db), expectedEntries(false));
  expectConsistent(db);
}

TEST_F(UndeclaredWriteTest, TheMessageNamesEveryStepOfAChain) {
  TableSchema v3 = people(3, std::string(kFields) + " nameLength @3 :UInt32; tag @4 :UInt64;");
  load(dir_ / "db", v1_, records());
  Migrations m;
  m.step("people", 1, 2, [](StepRecord old, StepBuilder next) {
    next.set("nameLength", old.get("name").as<capnp::Text>().size());
  }, {.writes = {"nameLength"}, .target = v2_.schema});
  m.step("people", 2, 3, [](StepRecord old, StepBuilder next) {
    next.set("tag", 7);
    std::string city = old.get("city").as<capnp::Text>().cStr();
    while (!city.empty() && city.back() == ' ') city.pop_back();
    next.set("city", capnp::Text::Reader(city.c_str()));
  }, {.writes = {"tag"}});
  Options o;
  o.migrations = &m;
  o.mode = MigrationMode::Eager;
  std::string err = errorOf([&] { Database::open(dir_ / "db", Schemas{v3}, o); });
  EXPECT_NE(err.find("MigrationFailed"), std::string::npos) << err;
  EXPECT_NE(err.find("table people, record (42): steps 1->2, 2->3 changed indexed field city "
                     "(index people_city)"),
            std::string::npos)
      << err;
}

// The same on two threads: record 1000 of 1200 is upgraded by the second thread of its chunk,
// which tells the batch's own thread to look its kept entry up; the migration fails naming it,
// and is undone.
TEST_F(UndeclaredWriteTest, AnUndeclaredChangeMetByTheSecondThreadFailsTheSameWay) {
  std::string many;
  for (int i = 1; i <= 1200; ++i) {
    many += "{\"id\":\"" + std::to_string(i) + "\",\"name\":\"n" + std::to_string(i) +
            "\",\"city\":\"" + (i == 1000 ? "paris " : "lima") + "\"}\n";
  }
  load(dir_ / "db", v1_, many);
  const testing::RawTable before = testing::rawTable(dir_ / "db", "people", {"people_city"});
  Migrations undeclared;
  addTrimStep(undeclared, {"nameLength"});
  Options o;
  o.migrations = &undeclared;
  o.mode = MigrationMode::Eager;
  o.eager.threads = 2;
  std::string err = errorOf([&] { Database::open(dir_ / "db", Schemas{v2_}, o); });
  EXPECT_NE(err.find("MigrationFailed: table people, record (1000): step 1->2 changed indexed "
                     "field city (index people_city) without declaring it"),
            std::string::npos) << err;
  EXPECT_TRUE(testing::rawTable(dir_ / "db", "people", {"people_city"}) == before);
}

}  // namespace
}  // namespace capdb

