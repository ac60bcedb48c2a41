// Every write path across a map that must grow mid-transaction. The database starts with a
// 256 KiB map, far smaller than what each operation writes, so LMDB reports a full map in the
// middle of it: the transaction is aborted and run again in a bigger map. Each test checks that
// the map did grow and that the records and index entries afterwards are exactly those of the
// same operation run in a map that never had to grow: nothing lost, skipped or done twice.
#include <gtest/gtest.h>

#include <sstream>
#include <streambuf>

#include "capdb/capdb.h"
#include "engine/key_codec.h"
#include "support/errors.h"
#include "support/people_versions.h"
#include "db/database_state.h"

namespace capdb {
namespace {

using testing::errorOf;

constexpr size_t kTinyMap = size_t{256} << 10;
constexpr int kRecords = 3000;

// A stream that cannot seek, as a pipe or standard input.
class PipeBuffer : public std::streambuf {
 public:
  explicit PipeBuffer(std::string text) : text_(std::move(text)) {
    setg(text_.data(), text_.data(), text_.data() + text_.size());
  }

 protected:
  pos_type seekoff(off_type, std::ios_base::seekdir, std::ios_base::openmode) override {
    return pos_type(off_type(-1));
  }
  pos_type seekpos(pos_type, std::ios_base::openmode) override { return pos_type(off_type(-1)); }

 private:
  std::string text_;
};

class MapGrowthTest : public testing::PeopleVersions {
 protected:
  static constexpr const char* kFields =
      "id @0 :UInt64; name @1 :Text; score @2 :Float64; city @3 :Text $Db.indexed;";

  static Options tiny(Options options = {}) {
    options.env.mapSize = kTinyMap;
    return options;
  }

  // kRecords people as JSON Lines in the export's form, with names long enough to fill pages.
  static std::string peopleJson(int count = kRecords) {
    std::string out;
    const char* cities[] = {"paris", "lima", "oslo", "quito"};
    for (int i = 1; i <= count; ++i) {
      out += "{\"id\":\"" + std::to_string(i) + "\",\"name\":\"person " + std::to_string(i) + " " +
             std::string(60, 'n') + "\",\"score\":" + std::to_string(i % 97) + ",\"city\":\"" +
             cities[i % 4] + "\"}\n";
    }
    return out;
  }

  // The table's records as JSON Lines, then each index's primary keys in index order.
  static std::string dump(Database& db) {
    std::string out = exportOf(db);
    auto people = db.table("people");
    auto tx = db.read();
    for (const auto& index : people.schema().indexes) {
      out += "index " + index.name + ":";
      for (auto c = people.find(tx, index.name, Range::all()); c.valid(); c.next()) {
        out += " " + engine::formatKey(c.primaryKey());
      }
      out += "\n";
    }
    return out;
  }

  // Loads the people into a database at `path` with schema v1 in a map of `options`.
  void populate(const std::filesystem::path& path, const TableSchema& v1, const Options& options) {
    Database db = Database::open(path, Schemas{v1}, options);
    std::istringstream in(peopleJson());
    ASSERT_EQ(db.importJsonLines("people", in), static_cast<uint64_t>(kRecords));
  }

  static size_t mapSize(const std::filesystem::path& path) {
    Database db = Database::open(path, Schemas{}, tiny());
    return internal::env(db).info().mapSize;
  }
};

TEST_F(MapGrowthTest, AJsonImportFromAFileOrAPipeKeepsEveryRecord) {
  TableSchema v1 = people(1, kFields);
  std::string json = peopleJson();
  {
    Database db = Database::open(dir_ / "file", Schemas{v1}, tiny());
    std::istringstream in(json);
    EXPECT_EQ(db.importJsonLines("people", in), static_cast<uint64_t>(kRecords));
    EXPECT_GT(internal::env(db).info().mapSize, kTinyMap);
    EXPECT_EQ(exportOf(db), json);
  }
  {
    Database db = Database::open(dir_ / "pipe", Schemas{v1}, tiny());
    PipeBuffer buffer(json);
    std::istream in(&buffer);
    EXPECT_EQ(db.importJsonLines("people", in), static_cast<uint64_t>(kRecords));
    EXPECT_GT(internal::env(db).info().mapSize, kTinyMap);
    EXPECT_EQ(exportOf(db), json);
  }
  {
    // Text in memory, imported in the caller's transaction: read again from its start.
    Database db = Database::open(dir_ / "text", Schemas{v1}, tiny());
    EXPECT_EQ(db.write([&](WriteTxn& tx) { return db.table("people").importJsonLines(tx, json); }),
              static_cast<uint64_t>(kRecords));
    EXPECT_GT(internal::env(db).info().mapSize, kTinyMap);
    EXPECT_EQ(exportOf(db), json);
  }
}

TEST_F(MapGrowthTest, ABadLineAfterTheMapGrewIsNamedByItsRealNumberAndNothingIsImported) {
  TableSchema v1 = people(1, kFields);
  std::string json = peopleJson() + "{\"id\":\"9999\",\"name\":\n";
  for (bool pipe : {false, true}) {
    SCOPED_TRACE(pipe ? "pipe" : "file");
    Database db = Database::open(dir_ / (pipe ? "pipe" : "file"), Schemas{v1}, tiny());
    PipeBuffer buffer(json);
    std::istringstream file(json);
    std::istream piped(&buffer);
    std::string error = errorOf([&] { db.importJsonLines("people", pipe ? piped : file); });
    EXPECT_NE(error.find("InvalidArgument"), std::string::npos) << error;
    EXPECT_NE(error.find("line " + std::to_string(kRecords + 1)), std::string::npos) << error;
    EXPECT_EQ(db.table("people").count(db.read()), 0u);
  }
}

TEST_F(MapGrowthTest, AMultiRowInsertAndALargeUpdateChangeEveryRecordOnce) {
  TableSchema v1 = people(1, kFields);
  std::string insert = "INSERT INTO people (id, name, score, city) VALUES ";
  for (int i = 1; i <= kRecords; ++i) {
    insert += (i > 1 ? ", (" : "(") + std::to_string(i) + ", 'person " + std::to_string(i) + " " +
              std::string(60, 'n') + "', " + std::to_string(i % 97) + ", '" +
              (i % 2 ? "paris" : "lima") + "')";
  }
  const std::string update = "UPDATE people SET score = score + 1000, name = name || '" +
                             std::string(80, 'x') + "', city = upper(city)";
  std::string expected;
  for (const auto& path : {dir_ / "big", dir_ / "tiny"}) {
    bool small = path == dir_ / "tiny";
    Database db = Database::open(path, Schemas{v1}, small ? tiny() : Options{});
    EXPECT_EQ(db.query(insert).changes, static_cast<uint64_t>(kRecords));
    size_t afterInsert = internal::env(db).info().mapSize;
    if (small) {
      EXPECT_GT(afterInsert, kTinyMap);
    }
    EXPECT_EQ(db.query(update).changes, static_cast<uint64_t>(kRecords));
    if (small) {
      EXPECT_GT(internal::env(db).info().mapSize, afterInsert);
    }
    auto rs = db.query("SELECT count(*), sum(score), min(score) FROM people WHERE city = 'PARIS'");
    EXPECT_EQ(rs.at(0, 0).integer(), kRecords / 2);
    EXPECT_GE(rs.at(0, 2).real(), 1000.0);
    if (small) {
      EXPECT_EQ(dump(db), expected);
    } else {
      expected = dump(db);
    }
  }
}

TEST_F(MapGrowthTest, AnEagerMigrationAnIndexBuildAKeyMoveAndADrainLoseNothing) {
  TableSchema v1 = people(1, kFields);
  // Version 2: nameLength computed by a step and indexed (eager, or lazy then drained), or not
  // indexed (drained); version 1 with an index over the name added (built by a drain); version 2
  // keyed by the name.
  TableSchema v2 = people(2, std::string(kFields) + " nameLength @4 :UInt32 $Db.indexed;");
  TableSchema v2Lazy = people(2, std::string(kFields) + " nameLength @4 :UInt32;");
  TableSchema v1Indexed =
      people(1, "id @0 :UInt64; name @1 :Text $Db.indexed; score @2 :Float64; city @3 :Text $Db.indexed;");
  TableSchema v2Keyed = keyedPeople(2, "\"name\"", kFields);
  Migrations steps;
  addNameLengthStep(steps);
  Migrations none;

  struct Case {
    const char* name;
    const TableSchema* to;
    const Migrations* migrations;
    MigrationMode mode;
    bool drain;
  };
  const Case cases[] = {
      {"eager", &v2, &steps, MigrationMode::Eager, false},
      {"index build", &v1Indexed, &none, MigrationMode::Lazy, true},
      {"key move", &v2Keyed, &none, MigrationMode::Eager, false},
      {"drain", &v2Lazy, &steps, MigrationMode::Hybrid, true},
      {"drained index over a computed field", &v2, &steps, MigrationMode::Hybrid, true},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    std::string expected;
    for (bool small : {false, true}) {
      auto path = dir_ / (std::string(c.name) + (small ? " tiny" : " big"));
      populate(path, v1, small ? tiny() : Options{});
      size_t before = small ? mapSize(path) : 0;
      Options options = small ? tiny() : Options{};
      options.migrations = c.migrations;
      options.mode = c.mode;
      options.eager.batchRecords = 1000;
      Database db = Database::open(path, Schemas{*c.to}, options);
      if (c.drain) {
        int rounds = 0;
        while (!db.drain(DrainBudget{.records = 700}) && ++rounds < 100) {
        }
      }
      EXPECT_EQ(db.oldRecords(), 0u);
      ASSERT_EQ(db.table("people").count(db.read()), static_cast<uint64_t>(kRecords));
      if (small) {
        EXPECT_GT(internal::env(db).info().mapSize, before);
        EXPECT_EQ(dump(db), expected);
      } else {
        expected = dump(db);
      }
    }
  }
}

}  // namespace
}  // namespace capdb
