// NaN in Float fields: SQL reads it as NULL (as SQLite stores it), and so do index keys, key
// ranges and expressions. The same records are stored in a table with indexes over the Float
// fields and in one without any; every query must return the same rows from both (through an
// index and through a full scan) and from SQLite holding NULL where capdb holds NaN. The object
// API still returns the NaN it stored.
#include <gtest/gtest.h>
#include <sqlite3.h>

#include <algorithm>
#include <bit>
#include <cmath>
#include <limits>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "capdb/admin.h"
#include "capdb/capdb.h"
#include "capdb/query.h"
#include "support/errors.h"
#include "support/schema_text.h"
#include "support/temp_dir.h"
#include "support/value_print.h"

namespace capdb {
namespace {

using ::capdb::testing::errorOf;

constexpr double kInf = std::numeric_limits<double>::infinity();
const double kNan = std::numeric_limits<double>::quiet_NaN();
const double kNegativeNan = -std::numeric_limits<double>::quiet_NaN();
const double kPayloadNan = std::bit_cast<double>(uint64_t{0x7FF8000000000123});

// `indexed` and `plain` hold the same fields; only `indexed` has indexes: one over each Float
// field (x Float64, f Float32, inner.y under a struct that may be unset, u unique) and a
// composite one whose second field is x. `keyed` has a Float64 primary key.
const char* const kSchema = R"(
struct Inner { y @0 :Float64; }
struct Indexed $Db.table("indexed") $Db.primaryKey(["id"])
    $Db.index([(name = "by_k_x", fields = ["k", "x"]), (name = "by_y", fields = ["inner.y"])]) {
  id @0 :Int64;
  x @1 :Float64 $Db.indexed;
  f @2 :Float32 $Db.indexed;
  k @3 :Int32;
  inner @4 :Inner;
  u @5 :Float64 $Db.unique;
}
struct Plain $Db.table("plain") $Db.primaryKey(["id"]) {
  id @0 :Int64;
  x @1 :Float64;
  f @2 :Float32;
  k @3 :Int32;
  inner @4 :Inner;
  u @5 :Float64;
}
struct Keyed $Db.table("keyed") $Db.primaryKey(["at"]) {
  at @0 :Float64;
  note @1 :Text;
}
)";

const char* const kMirror =
    "CREATE TABLE plain(id INTEGER PRIMARY KEY, x REAL, f REAL, k INTEGER, \"inner.y\" REAL, "
    "u REAL)";

struct Sample {
  int64_t id;
  double x;
  float f;
  int32_t k;
  std::optional<double> y;  // nullopt: inner unset, so inner.y is NULL
  double u;
};

std::vector<Sample> samples() {
  const std::vector<double> values = {kNan, kNegativeNan, kPayloadNan, kInf, -kInf, 0.0, -0.0, 1.5,
                                      4.75, 5.0,          5.5,         7.25, -3.0,  1e30, -1e30};
  std::vector<Sample> out;
  for (int64_t i = 0; i < 45; ++i) {
    Sample s;
    s.id = i + 1;
    s.x = values[static_cast<size_t>(i) % values.size()];
    s.f = static_cast<float>(values[static_cast<size_t>(i * 2 + 1) % values.size()]);
    s.k = static_cast<int32_t>(i % 3);
    if (i % 4 != 0) s.y = values[static_cast<size_t>(i * 7 + 3) % values.size()];
    // Several NaNs in the unique index, which may hold NULL more than once.
    s.u = i % 5 == 0 ? (i % 10 == 0 ? kNan : kNegativeNan) : static_cast<double>(i) + 0.5;
    out.push_back(s);
  }
  return out;
}

using RowList = std::vector<std::vector<Value>>;

class NanTest : public ::testing::Test {
 protected:
  NanTest()
      : schema_(testing::parseText(dir_, "nan.capnp", kSchema)),
        db_(Database::open(dir_ / "db", Schemas(schema_.tables))),
        data_(samples()) {
    EXPECT_EQ(sqlite3_open(":memory:", &lite_), SQLITE_OK);
    EXPECT_EQ(sqlite3_exec(lite_, kMirror, nullptr, nullptr, nullptr), SQLITE_OK)
        << sqlite3_errmsg(lite_);
    db_.write([&](WriteTxn& tx) {
      for (const char* name : {"indexed", "plain"}) {
        DynamicTable t = db_.table(name);
        for (const Sample& s : data_) insert(tx, t, s);
      }
    });
    for (const Sample& s : data_) insertSqlite(s);
  }
  ~NanTest() override { sqlite3_close(lite_); }

  static void insert(WriteTxn& tx, const DynamicTable& t, const Sample& s) {
    t.insert(tx, [&](capnp::DynamicStruct::Builder b) {
      b.set("id", s.id);
      b.set("x", s.x);
      b.set("f", s.f);
      b.set("k", s.k);
      if (s.y) b.init("inner").as<capnp::DynamicStruct>().set("y", *s.y);
      b.set("u", s.u);
    });
  }

  // SQLite has no NaN: NULL where capdb stores NaN, and where inner is unset.
  void insertSqlite(const Sample& s) {
    sqlite3_stmt* st = nullptr;
    ASSERT_EQ(sqlite3_prepare_v2(lite_, "INSERT INTO plain VALUES (?, ?, ?, ?, ?, ?)", -1, &st,
                                 nullptr),
              SQLITE_OK);
    auto real = [&](int i, std::optional<double> v) {
      if (!v || std::isnan(*v)) sqlite3_bind_null(st, i);
      else sqlite3_bind_double(st, i, *v);
    };
    sqlite3_bind_int64(st, 1, s.id);
    real(2, s.x);
    real(3, static_cast<double>(s.f));
    sqlite3_bind_int64(st, 4, s.k);
    real(5, s.y);
    real(6, s.u);
    EXPECT_EQ(sqlite3_step(st), SQLITE_DONE) << sqlite3_errmsg(lite_);
    sqlite3_finalize(st);
  }

  RowList capdbRows(const std::string& sql, const Params& p) {
    return db_.query(sql, p).rows.toVectors();
  }

  RowList sqliteRows(const std::string& sql, const Params& p) {
    RowList out;
    sqlite3_stmt* st = nullptr;
    if (sqlite3_prepare_v2(lite_, sql.c_str(), -1, &st, nullptr) != SQLITE_OK) {
      ADD_FAILURE() << "SQLite: " << sqlite3_errmsg(lite_) << "\n  " << sql;
      return out;
    }
    for (size_t i = 0; i < p.positional.size(); ++i) {
      const Value& v = p.positional[i];
      int at = static_cast<int>(i + 1);
      if (v.isNull()) sqlite3_bind_null(st, at);
      else if (v.type() == Value::Type::Integer) sqlite3_bind_int64(st, at, v.integer());
      else sqlite3_bind_double(st, at, v.real());
    }
    while (sqlite3_step(st) == SQLITE_ROW) {
      std::vector<Value> row;
      for (int c = 0; c < sqlite3_column_count(st); ++c) {
        switch (sqlite3_column_type(st, c)) {
          case SQLITE_INTEGER: row.emplace_back(static_cast<int64_t>(sqlite3_column_int64(st, c))); break;
          case SQLITE_FLOAT: row.emplace_back(sqlite3_column_double(st, c)); break;
          default: row.emplace_back(); break;
        }
      }
      out.push_back(std::move(row));
    }
    sqlite3_finalize(st);
    return out;
  }

  std::string plan(const std::string& sql, const Params& p) {
    return db_.query("EXPLAIN " + sql, p).at(0, 0).text();
  }

  // Runs `SELECT id, <column> FROM <table> WHERE <where> <tail>` on the indexed table, the plain
  // one and SQLite, and expects the same rows (in order when `tail` orders them, else sorted by
  // id). With `index`, the indexed table's plan must read that index and leave nothing to a
  // FILTER, so that the rows come from the key ranges alone.
  void expectSame(const std::string& column, const std::string& where, const Params& p = {},
                  const std::string& index = "", const std::string& tail = "") {
    auto sql = [&](const std::string& table) {
      return "SELECT id, " + column + " FROM " + table + (where.empty() ? "" : " WHERE " + where) +
             (tail.empty() ? "" : " " + tail);
    };
    RowList viaIndex = capdbRows(sql("indexed"), p);
    RowList viaScan = capdbRows(sql("plain"), p);
    RowList lite = sqliteRows(sql("plain"), p);
    if (tail.find("ORDER BY") == std::string::npos) {
      for (RowList* rows : {&viaIndex, &viaScan, &lite}) {
        std::sort(rows->begin(), rows->end(),
                  [](const auto& a, const auto& b) { return a[0].integer() < b[0].integer(); });
      }
    }
    EXPECT_EQ(viaIndex, viaScan) << sql("indexed");
    EXPECT_EQ(viaScan, lite) << sql("plain");
    std::string full = plan(sql("plain"), p);
    EXPECT_EQ(full.rfind("FULL SCAN plain", 0), 0u) << full;
    if (!index.empty()) {
      std::string used = plan(sql("indexed"), p);
      EXPECT_EQ(used.rfind("INDEX", 0), 0u) << used;
      EXPECT_NE(used.find("indexed." + index), std::string::npos) << used;
      EXPECT_EQ(used.find("FILTER"), std::string::npos) << used;
    }
  }

  std::set<int64_t> ids(RecordCursor cursor) {
    std::set<int64_t> out;
    for (auto record : cursor) out.insert(record.get("id").as<int64_t>());
    return out;
  }

  testing::TempDir dir_;
  orm::SchemaFile schema_;
  Database db_;
  std::vector<Sample> data_;
  sqlite3* lite_ = nullptr;
};

struct FloatColumn {
  const char* name;
  const char* index;
};
constexpr FloatColumn kColumns[] = {
    {"x", "indexed_x"}, {"f", "indexed_f"}, {"\"inner.y\"", "by_y"}, {"u", "indexed_u"}};

TEST_F(NanTest, RangesAndNullTestsAgreeWithAFullScanAndSqlite) {
  for (const FloatColumn& c : kColumns) {
    SCOPED_TRACE(c.name);
    std::string x = c.name;
    expectSame(x, x + " IS NULL", {}, c.index);
    expectSame(x, x + " IS NOT NULL");
    expectSame(x, x + " > 5", {}, c.index);
    expectSame(x, x + " < 5", {}, c.index);
    expectSame(x, x + " <= 5", {}, c.index);
    expectSame(x, x + " = 5", {}, c.index);
    expectSame(x, x + " >= ?", {-kInf}, c.index);
    expectSame(x, x + " <= ?", {kInf}, c.index);
    expectSame(x, x + " > ?", {-1e300}, c.index);
    expectSame(x, x + " BETWEEN -3 AND 5", {}, c.index);
    expectSame(x, x + " BETWEEN ? AND ?", {-kInf, 5.0}, c.index);
    expectSame(x, x + " IN (0, 5, 1.5, -3)", {}, c.index);
    expectSame(x, x + " != 5");
    expectSame(x, "NOT (" + x + " < 5)");
    expectSame(x, x + " < 5 OR " + x + " IS NULL");
  }
}

TEST_F(NanTest, ANanParameterIsNull) {
  EXPECT_TRUE(Value(kNan).isNull());
  EXPECT_TRUE(Value(std::numeric_limits<float>::quiet_NaN()).isNull());
  for (const FloatColumn& c : kColumns) {
    SCOPED_TRACE(c.name);
    std::string x = c.name;
    expectSame(x, x + " = ?", {kNan}, c.index);
    expectSame(x, x + " > ?", {kNan}, c.index);
    expectSame(x, x + " <= ?", {kNegativeNan}, c.index);
    expectSame(x, x + " BETWEEN ? AND 5", {kNan}, c.index);
    expectSame(x, x + " IN (?, 5)", {kNan}, c.index);
  }
  // A Float field takes no NULL, so no NaN either.
  EXPECT_NE(errorOf([&] { db_.query("INSERT INTO plain (id, x) VALUES (100, ?)", {kNan}); })
                .find("InvalidArgument: plain.x: NULL does not fit Float64"),
            std::string::npos);
}

TEST_F(NanTest, IndexOrderPutsNanWithTheNulls) {
  for (const FloatColumn& c : kColumns) {
    if (std::string(c.index) == "indexed_u") continue;  // a unique index's key has no id after it
    SCOPED_TRACE(c.name);
    std::string x = c.name;
    expectSame(x, "", {}, c.index, "ORDER BY " + x + ", id");
    expectSame(x, "", {}, c.index, "ORDER BY " + x + " DESC, id DESC");
    expectSame(x, "", {}, c.index, "ORDER BY " + x + ", id LIMIT 3");
    expectSame(x, x + " < 5", {}, c.index, "ORDER BY " + x + ", id LIMIT 4");
    expectSame(x, x + " > -1e300", {}, c.index, "ORDER BY " + x + " DESC, id DESC LIMIT 4");
  }
}

TEST_F(NanTest, CompositeIndexTreatsNanAsNull) {
  expectSame("x", "k = 1 AND x IS NULL", {}, "by_k_x");
  expectSame("x", "k = 1 AND x > 5", {}, "by_k_x");
  expectSame("x", "k = 1 AND x < 5", {}, "by_k_x");
  expectSame("x", "k = 2 AND x BETWEEN -3 AND 5", {}, "by_k_x");
  expectSame("x", "k IN (0, 2) AND x >= ?", {-kInf}, "by_k_x");
  expectSame("x", "k = 0 AND x = ?", {kNan}, "by_k_x");
  expectSame("x", "k = 1", {}, "by_k_x", "ORDER BY x, id");
  expectSame("x", "k = 2", {}, "by_k_x", "ORDER BY x DESC, id DESC");
}

TEST_F(NanTest, TheObjectApiReturnsTheStoredNan) {
  auto tx = db_.read();
  DynamicTable t = db_.table("indexed");
  std::set<int64_t> nanX;
  for (const Sample& s : data_) {
    auto row = t.get(tx, Key{s.id});
    ASSERT_TRUE(row);
    double x = row->get().get("x").as<double>();
    EXPECT_EQ(std::bit_cast<uint64_t>(x), std::bit_cast<uint64_t>(s.x)) << s.id;
    EXPECT_EQ(std::isnan(row->get().get("f").as<float>()), std::isnan(s.f)) << s.id;
    if (std::isnan(s.x)) nanX.insert(s.id);
  }
  ASSERT_EQ(nanX.size(), 9u);
  size_t scanned = 0;
  for (auto record : t.scan(tx)) scanned += std::isnan(record.get("x").as<double>());
  EXPECT_EQ(scanned, nanX.size());
  // The index holds NaN as NULL: a bound of NaN is NULL too.
  EXPECT_EQ(ids(t.find(tx, "indexed_x", Range::prefix(Key{kNan}))), nanX);
  EXPECT_EQ(ids(t.find(tx, "indexed_x", Range::prefix(Key{nullptr}))), nanX);
  for (auto record : t.find(tx, "indexed_x", Range::prefix(Key{kNegativeNan}))) {
    EXPECT_TRUE(std::isnan(record.get("x").as<double>()));
  }
  std::set<int64_t> above;
  for (const Sample& s : data_) {
    if (s.x > 5) above.insert(s.id);
  }
  EXPECT_EQ(ids(t.find(tx, "indexed_x", Range::greaterThan(Key{5.0}))), above);
  EXPECT_EQ(ids(t.find(tx, "by_k_x", Range::prefix(Key{1, kNan}))),
            ids(t.find(tx, "by_k_x", Range::prefix(Key{1, nullptr}))));
}

TEST_F(NanTest, WritesKeepTheIndexesOnTheNullKey) {
  // NaN to a number, a number to NaN, a NaN record removed: on both tables alike.
  db_.write([&](WriteTxn& tx) {
    for (const char* name : {"indexed", "plain"}) {
      DynamicTable t = db_.table(name);
      ASSERT_TRUE(t.update(tx, Key{int64_t{1}}, [](capnp::DynamicStruct::Builder b) {
        b.set("x", 7.0);
        b.set("u", kNegativeNan);
      }));
      ASSERT_TRUE(t.update(tx, Key{int64_t{8}}, [](capnp::DynamicStruct::Builder b) {
        b.set("x", kNan);
        b.set("f", std::numeric_limits<float>::quiet_NaN());
      }));
      ASSERT_TRUE(t.remove(tx, Key{int64_t{2}}));
    }
  });
  for (const FloatColumn& c : kColumns) {
    std::string x = c.name;
    for (const std::string& where : {x + " IS NULL", x + " > 5", x + " < 5"}) {
      EXPECT_EQ(capdbRows("SELECT id FROM indexed WHERE " + where + " ORDER BY id", {}),
                capdbRows("SELECT id FROM plain WHERE " + where + " ORDER BY id", {}))
          << where;
    }
  }
  VerifyReport report = verify(db_);
  EXPECT_TRUE(report.problems.empty()) << report.problems.front();
}

TEST_F(NanTest, APrimaryKeyRefusesNan) {
  DynamicTable keyed = db_.table("keyed");
  std::string error = errorOf([&] {
    db_.write([&](WriteTxn& tx) {
      keyed.insert(tx, [](capnp::DynamicStruct::Builder b) { b.set("at", kNan); });
    });
  });
  EXPECT_EQ(error.rfind("InvalidArgument: table keyed: primary key field at is NaN", 0), 0u)
      << error;
  db_.write([&](WriteTxn& tx) {
    keyed.insert(tx, [](capnp::DynamicStruct::Builder b) { b.set("at", 1.5); });
  });
  auto tx = db_.read();
  EXPECT_EQ(keyed.count(tx), 1u);
  EXPECT_TRUE(keyed.get(tx, Key{1.5}));
}

}  // namespace
}  // namespace capdb
