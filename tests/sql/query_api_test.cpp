// The C++ side of SQL (capdb/query.h and Database::query / prepare): parameters, result sets,
// prepared statements in their own and in the caller's transactions, all-or-nothing writes,
// results that outlive their transaction, and Value.
#include <gtest/gtest.h>

#include <cstdint>
#include <atomic>
#include <fstream>
#include <functional>
#include <iterator>
#include <thread>
#include <string>
#include <vector>

#include "capdb/capdb.h"
#include "orm/flat_record.h"
#include "orm/table_core.h"
#include "sql_people.capnp.h"
#include "support/errors.h"
#include "support/temp_dir.h"
#include "support/value_print.h"
#include "db/database_state.h"

namespace capdb {
namespace {

using ::capdb::testing::errorOf;

// The rows as SQL literals: cells joined by |, rows by "; ".
std::string cells(const ResultSet& rs) {
  std::string out;
  for (size_t r = 0; r < rs.rows.size(); ++r) {
    if (r > 0) out += "; ";
    for (size_t c = 0; c < rs.rows[r].size(); ++c) {
      if (c > 0) out += "|";
      out += rs.rows[r][c].toSql();
    }
  }
  return out;
}

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

// A fresh database with the SQL test tables and three people (ids 1, 2, 3).
class QueryApi : public ::testing::Test {
 protected:
  QueryApi()
      : db_(Database::open(dir_ / "db",
                           Schemas{table<sqltest::Person>(), table<sqltest::Event>()})) {
    db_.query(
        "INSERT INTO people (name, age, city) "
        "VALUES ('Ann', 31, 'Paris'), ('Bob', 25, 'London'), ('Cara', 42, 'Paris')");
  }

  int64_t count(std::string_view where = "") {
    std::string sql = "SELECT COUNT(*) FROM people";
    if (!where.empty()) sql += " WHERE " + std::string(where);
    return db_.query(sql).at(0, 0).integer();
  }
  std::string everyone() { return cells(db_.query("SELECT * FROM people ORDER BY id")); }

  testing::TempDir dir_;
  Database db_;
};

TEST_F(QueryApi, PositionalParameters) {
  ResultSet rs =
      db_.query("SELECT name FROM people WHERE city = ? AND age > ? ORDER BY id", {"Paris", 30});
  EXPECT_EQ(cells(rs), "'Ann'; 'Cara'");

  // Each Value type binds as itself.
  rs = db_.query(
      "SELECT typeof(?), typeof(?), typeof(?), typeof(?), typeof(?) FROM people "
      "WHERE id = 1",
      {nullptr, int64_t{7}, 2.5, "t", Blob{"b"}});
  EXPECT_EQ(cells(rs), "'null'|'integer'|'real'|'text'|'blob'");
  rs = db_.query("SELECT ?, ?, ?, ?, ? FROM people WHERE id = 1",
                 {true, INT64_MIN, uint64_t{INT64_MAX}, std::string("it's"),
                  Blob{std::string("\x00\xff", 2)}});
  EXPECT_EQ(cells(rs), "1|-9223372036854775808|9223372036854775807|'it''s'|x'00ff'");

  // Parameters are values, never SQL text.
  rs = db_.query("SELECT COUNT(*) FROM people WHERE name = ?", {"x' OR '1'='1"});
  EXPECT_EQ(cells(rs), "0");

  // Values the statement does not use are ignored.
  rs = db_.query("SELECT name FROM people WHERE id = ?", {2, "unused", 3.5});
  EXPECT_EQ(cells(rs), "'Bob'");
}

TEST_F(QueryApi, NumberedParameters) {
  ResultSet rs = db_.query("SELECT ?2, ?1, ?2 FROM people WHERE id = 1", {"a", "b"});
  EXPECT_EQ(cells(rs), "'b'|'a'|'b'");

  // A bare ? takes the number after the previous one.
  rs = db_.query("SELECT ?, ?3, ? FROM people WHERE id = 1", {10, 20, 30, 40});
  EXPECT_EQ(cells(rs), "10|30|40");

  rs = db_.query("SELECT name FROM people WHERE age BETWEEN ?1 AND ?1 + 15 ORDER BY id", {30});
  EXPECT_EQ(cells(rs), "'Ann'; 'Cara'");
}

TEST_F(QueryApi, NamedParameters) {
  Params p;
  p.set("city", "Paris").set("min", 30);
  ResultSet rs =
      db_.query("SELECT name FROM people WHERE city = :city AND age > :min ORDER BY id", p);
  EXPECT_EQ(cells(rs), "'Ann'; 'Cara'");

  // One name used twice is one value.
  rs = db_.query("SELECT name FROM people WHERE name = :who OR city = :who ORDER BY id",
                 Params().set("who", "London"));
  EXPECT_EQ(cells(rs), "'Bob'");

  // Named and positional parameters together.
  rs = db_.query("SELECT ?1, :label FROM people WHERE id = ?2", Params{"x", 3}.set("label", "L"));
  EXPECT_EQ(cells(rs), "'x'|'L'");
}

TEST_F(QueryApi, AMissingParameterIsNamed) {
  std::string err = errorOf([&] { db_.query("SELECT name FROM people WHERE age > ?2", {30}); });
  EXPECT_TRUE(contains(err, "InvalidArgument")) << err;
  EXPECT_TRUE(contains(err, "?2")) << err;

  err = errorOf([&] { db_.query("SELECT name FROM people WHERE age > ? AND age < ?", {30}); });
  EXPECT_TRUE(contains(err, "InvalidArgument")) << err;
  EXPECT_TRUE(contains(err, "?2")) << err;

  err = errorOf([&] { db_.query("SELECT name FROM people WHERE id = ?"); });
  EXPECT_TRUE(contains(err, "InvalidArgument")) << err;
  EXPECT_TRUE(contains(err, "?1")) << err;

  err = errorOf([&] {
    db_.query("SELECT name FROM people WHERE city = :city", Params().set("town", "Paris"));
  });
  EXPECT_TRUE(contains(err, "InvalidArgument")) << err;
  EXPECT_TRUE(contains(err, ":city")) << err;

  // In a write: nothing is written.
  err = errorOf([&] { db_.query("INSERT INTO people (name, age) VALUES (?, ?)", {"Dan"}); });
  EXPECT_TRUE(contains(err, "?2")) << err;
  EXPECT_EQ(count(), 3);

  // And through a prepared statement.
  Statement byCity = db_.prepare("SELECT name FROM people WHERE city = :city");
  err = errorOf([&] { byCity.run(); });
  EXPECT_TRUE(contains(err, "InvalidArgument")) << err;
  EXPECT_TRUE(contains(err, ":city")) << err;
}

TEST_F(QueryApi, ResultSetColumnsRowsAndChanges) {
  ResultSet rs = db_.query("SELECT name AS who, age, age * 2 FROM people ORDER BY id");
  EXPECT_EQ(rs.columns, (std::vector<std::string>{"who", "age", "age * 2"}));
  EXPECT_EQ(rs.column("who"), 0u);
  EXPECT_EQ(rs.column("age"), 1u);
  EXPECT_EQ(rs.column("age * 2"), 2u);
  std::string err = errorOf([&] { rs.column("name"); });
  EXPECT_TRUE(contains(err, "InvalidArgument")) << err;
  EXPECT_TRUE(contains(err, "name")) << err;

  EXPECT_EQ(rs.size(), 3u);
  EXPECT_FALSE(rs.empty());
  EXPECT_EQ(rs.changes, 0u);
  EXPECT_EQ(rs.at(1, rs.column("who")).text(), "Bob");
  EXPECT_EQ(rs.at(2, rs.column("age * 2")).integer(), 84);

  ResultSet none = db_.query("SELECT name FROM people WHERE age > 100");
  EXPECT_TRUE(none.empty());
  EXPECT_EQ(none.columns, std::vector<std::string>{"name"});

  ResultSet updated = db_.query("UPDATE people SET age = age + 1 WHERE city = 'Paris'");
  EXPECT_EQ(updated.changes, 2u);
  EXPECT_TRUE(updated.empty());
  EXPECT_TRUE(updated.columns.empty());
  EXPECT_EQ(db_.query("INSERT INTO people (name) VALUES ('Dan'), ('Eve')").changes, 2u);
  EXPECT_EQ(db_.query("DELETE FROM people WHERE age < 30").changes, 3u);
}

TEST_F(QueryApi, RowsAreSpansOverOneArray) {
  ResultSet rs = db_.query("SELECT name, age FROM people ORDER BY id");
  EXPECT_EQ(rs.rows.width(), 2u);
  ASSERT_EQ(rs.rows.size(), 3u);
  std::string seen;
  for (Rows::Row row : rs.rows) {
    ASSERT_EQ(row.size(), 2u);
    seen += row[0].text() + "=" + std::to_string(row[1].integer()) + ";";
  }
  EXPECT_EQ(seen, "Ann=31;Bob=25;Cara=42;");
  EXPECT_EQ(rs.rows[2][0].text(), "Cara");
  EXPECT_EQ(rs.rows.at(1)[1].integer(), 25);
  EXPECT_TRUE(contains(errorOf([&] { rs.rows.at(3); }), "there is no row 3: 3 rows"));
  EXPECT_TRUE(contains(errorOf([&] { rs.at(3, 0); }), "there is no row 3"));
  EXPECT_TRUE(contains(errorOf([&] { rs.at(0, 2); }), "there is no column 2: 2 columns"));
  auto first = rs.rows.begin();
  EXPECT_EQ(rs.rows.end() - first, 3);
  EXPECT_EQ(first[2][0].text(), "Cara");
  EXPECT_EQ((*(first + 1))[0].text(), "Bob");
  EXPECT_TRUE(first < rs.rows.end());

  auto vectors = rs.rows.toVectors();
  ASSERT_EQ(vectors.size(), 3u);
  EXPECT_EQ(vectors[1], (std::vector<Value>{Value("Bob"), Value(25)}));
  EXPECT_EQ(rs.rows, db_.query("SELECT name, age FROM people ORDER BY id").rows);
  EXPECT_NE(rs.rows, db_.query("SELECT name, age FROM people ORDER BY id DESC").rows);

  // Moving leaves the source empty, never claiming rows it no longer holds.
  ResultSet moved = std::move(rs);
  EXPECT_EQ(moved.size(), 3u);
  EXPECT_EQ(rs.size(), 0u);  // what a move leaves is specified
  EXPECT_TRUE(rs.rows.empty());
  EXPECT_TRUE(contains(errorOf([&] { rs.at(0, 0); }), "there is no row 0: 0 rows"));
  EXPECT_EQ(std::move(moved.rows).toVectors(), vectors);
  EXPECT_TRUE(moved.rows.empty());
}

TEST(QueryRows, BuiltByHand) {
  // The first row sets the width of Rows made without one; every row after it must match.
  Rows built;
  std::vector<Value> row{Value(1), Value("a")};
  built.push_back(row);
  EXPECT_EQ(built.width(), 2u);
  built.push_back(std::move(row));
  EXPECT_TRUE(row.empty());  // the rvalue form leaves it empty
  EXPECT_GE(row.capacity(), 2u);
  EXPECT_EQ(built.size(), 2u);
  EXPECT_EQ(built[1][1].text(), "a");
  std::string err = errorOf([&] { built.push_back(std::vector<Value>{Value(1)}); });
  EXPECT_TRUE(contains(err, "a row of 1 values where every row has 2")) << err;
  EXPECT_EQ(built.size(), 2u);
  Rows fixed(3);
  EXPECT_TRUE(contains(errorOf([&] { fixed.push_back(std::vector<Value>{Value(1)}); }), "every row has 3"));
  EXPECT_TRUE(fixed.empty());
  Rows none(0);
  none.push_back(std::vector<Value>{});
  EXPECT_EQ(none.size(), 1u);
  EXPECT_EQ(std::distance(none.begin(), none.end()), 1);
  EXPECT_TRUE(contains(errorOf([&] { Rows(4).reserve(SIZE_MAX / 2); }), "cannot reserve"));
}

TEST_F(QueryApi, AStatementIsPreparedOnceAndRunManyTimes) {
  Statement insert = db_.prepare("INSERT INTO people (name, age) VALUES (?, ?)");
  EXPECT_FALSE(insert.isQuery());
  EXPECT_TRUE(insert.columns().empty());
  Statement byAge = db_.prepare("SELECT id, name FROM people WHERE age = :age");
  EXPECT_TRUE(byAge.isQuery());
  EXPECT_EQ(byAge.columns(), (std::vector<std::string>{"id", "name"}));
  EXPECT_FALSE(byAge.explain().empty());

  // 3 -> 63 records: the statements stay valid while the table grows past what they were
  // planned for.
  for (int i = 0; i < 60; ++i) {
    ResultSet r = insert.run({"p" + std::to_string(i), 100 + i});
    EXPECT_EQ(r.changes, 1u) << i;
  }
  for (int i = 0; i < 60; ++i) {
    ResultSet r = byAge.run(Params().set("age", 100 + i));
    EXPECT_EQ(cells(r), std::to_string(4 + i) + "|'p" + std::to_string(i) + "'") << i;
  }
  EXPECT_EQ(cells(byAge.run(Params().set("age", 25))), "2|'Bob'");
  EXPECT_TRUE(byAge.run(Params().set("age", 7)).empty());
  EXPECT_EQ(count(), 63);

  // A moved statement runs as the original did.
  Statement moved = std::move(byAge);
  EXPECT_EQ(cells(moved.run(Params().set("age", 31))), "1|'Ann'");

  // Errors in the SQL or its names come from prepare.
  std::string err = errorOf([&] { db_.prepare("SELEC name FROM people"); });
  EXPECT_TRUE(contains(err, "SyntaxError")) << err;
  err = errorOf([&] { db_.prepare("SELECT nmae FROM people"); });
  EXPECT_TRUE(contains(err, "InvalidArgument")) << err;
  EXPECT_TRUE(contains(err, "nmae")) << err;
}

TEST_F(QueryApi, StatementsRunInTheCallersWriteTransaction) {
  Statement insert = db_.prepare("INSERT INTO people (name, age) VALUES (?, ?)");
  Statement total = db_.prepare("SELECT COUNT(*) FROM people");

  db_.write([&](WriteTxn& tx) {
    EXPECT_EQ(insert.run(tx, {"Dan", 19}).changes, 1u);
    EXPECT_EQ(insert.run(tx, {"Eve", 58}).changes, 1u);
    // The transaction reads its own writes.
    EXPECT_EQ(total.run(tx).at(0, 0).integer(), 5);
    EXPECT_EQ(cells(db_.query(tx, "SELECT name FROM people WHERE age < ?", {20})), "'Dan'");
    EXPECT_EQ(db_.query(tx, "UPDATE people SET city = 'Rome' WHERE city IS NULL").changes, 2u);
  });
  EXPECT_EQ(count(), 5);
  EXPECT_EQ(count("city = 'Rome'"), 2);

  // abort() discards the statements' writes.
  db_.write([&](WriteTxn& tx) {
    insert.run(tx, {"Gone", 1});
    db_.query(tx, "DELETE FROM people WHERE city = 'Paris'");
    tx.abort();
  });
  EXPECT_EQ(count(), 5);
  EXPECT_EQ(count("city = 'Paris'"), 2);

  // A statement that fails takes the whole transaction with it, earlier statements included.
  std::string before = everyone();
  std::string err = errorOf([&] {
    db_.write([&](WriteTxn& tx) {
      insert.run(tx, {"Kept?", 20});
      insert.run(tx, {"Bad", 300});
    });
  });
  EXPECT_TRUE(contains(err, "InvalidArgument: people.age: 300 does not fit UInt8")) << err;
  EXPECT_EQ(everyone(), before);

  // A transaction from beginWrite, committed by hand.
  WriteTxn tx = db_.beginWrite();
  EXPECT_EQ(db_.query(tx, "DELETE FROM people WHERE name = 'Ann'").changes, 1u);
  tx.commit();
  EXPECT_EQ(count(), 4);
}

TEST_F(QueryApi, WritesThroughAReadTransactionAreRefused) {
  std::string before = everyone();
  ReadTxn tx = db_.read();
  for (const char* sql : {"INSERT INTO people (name) VALUES ('X')", "UPDATE people SET age = 1",
                          "DELETE FROM people"}) {
    std::string err = errorOf([&] { db_.query(tx, sql); });
    EXPECT_TRUE(contains(err, "InvalidArgument")) << sql << ": " << err;
  }
  Statement remove = db_.prepare("DELETE FROM people WHERE id = ?");
  std::string err = errorOf([&] { remove.run(tx, {1}); });
  EXPECT_TRUE(contains(err, "InvalidArgument")) << err;

  // Reading through it works.
  EXPECT_EQ(db_.query(tx, "SELECT COUNT(*) FROM people").at(0, 0).integer(), 3);
  Statement names = db_.prepare("SELECT name FROM people ORDER BY id");
  EXPECT_EQ(cells(names.run(tx)), "'Ann'; 'Bob'; 'Cara'");
  tx.release();
  EXPECT_EQ(everyone(), before);
}

TEST_F(QueryApi, AStatementThatFailsInItsOwnTransactionLeavesNothing) {
  std::string before = everyone();

  // A duplicate unique key in the second row.
  std::string err = errorOf([&] {
    db_.query(
        "INSERT INTO people (name, email) "
        "VALUES ('X', 'x@example.com'), ('Y', 'x@example.com')");
  });
  EXPECT_TRUE(contains(err, "ConstraintViolation")) << err;
  // A value that does not fit, after rows that did.
  err = errorOf([&] { db_.query("INSERT INTO people (name, age) VALUES ('P', 1), ('Q', 300)"); });
  EXPECT_TRUE(contains(err, "people.age: 300 does not fit UInt8")) << err;
  // An UPDATE that fails on its last record (Cara: 42 + 220 > 255).
  err = errorOf([&] { db_.query("UPDATE people SET age = age + 220"); });
  EXPECT_TRUE(contains(err, "does not fit UInt8")) << err;
  // A prepared statement, in its own transaction.
  Statement insert = db_.prepare("INSERT INTO people (name, email) VALUES (?, ?), (?, ?)");
  err = errorOf([&] { insert.run({"S", "s@example.com", "T", "s@example.com"}); });
  EXPECT_TRUE(contains(err, "ConstraintViolation")) << err;

  EXPECT_EQ(everyone(), before);
  EXPECT_EQ(db_.table<sqltest::Person>().count(db_.read()), 3u);
  // The sequence did not move either: the next id is 4.
  db_.query("INSERT INTO people (name) VALUES ('Next')");
  EXPECT_EQ(cells(db_.query("SELECT id FROM people WHERE name = 'Next'")), "4");
}

TEST_F(QueryApi, AStatementThatFailsInTheCallersTransactionLetsItOnlyAbort) {
  std::string before = everyone();
  // The first row is written before the second fails: catching the error and committing anyway
  // must not keep half the statement.
  std::string err = errorOf([&] {
    db_.write([&](WriteTxn& tx) {
      try {
        db_.query(tx, "INSERT INTO people (name, age) VALUES ('Dan', 1), ('Eve', 300)");
      } catch (const Error&) {
      }
    });
  });
  EXPECT_TRUE(contains(err, "InvalidArgument")) << err;
  EXPECT_EQ(everyone(), before);
}

TEST_F(QueryApi, TextLongerThanAnyKeyStillCompares) {
  // No key is longer than LMDB's 511 bytes; a range bound past that is left to the WHERE.
  std::string longText(600, 'z');
  EXPECT_EQ(db_.query("SELECT count(*) FROM people WHERE city < ?", {longText}).at(0, 0).integer(), 3);
  EXPECT_EQ(db_.query("SELECT count(*) FROM people WHERE city > ?", {longText}).at(0, 0).integer(), 0);
  EXPECT_EQ(db_.query("SELECT count(*) FROM people WHERE city = ?", {longText}).at(0, 0).integer(), 0);
  EXPECT_EQ(db_.query("SELECT count(*) FROM people WHERE city = 'Paris' AND age < ?", {longText})
                .at(0, 0).integer(), 2);
}

TEST_F(QueryApi, RecordsOfSeveralSegmentsReadTheSame) {
  // Records too large for the encoder's first Cap'n Proto segment are stored as one segment all
  // the same, and read in place (orm::FlatRecord): the rows are the same as the decoder's, over
  // every kind of access path.
  std::string big(20000, 'x');
  std::string bigger(30000, 'y');
  db_.query("INSERT INTO people (id, name, email, age, city, address.street) VALUES "
            "(10, ?, 'b@x', 50, 'Rome', ?), (11, ?, 'c@x', 51, 'Paris', NULL)",
            {big, bigger, bigger});
  {
    const orm::TableCore& core = internal::core(db_.table("people"));
    auto tx = db_.read();
    orm::FlatRecord record;
    EXPECT_TRUE(record.reset(*internal::engineTxn(tx).get(core.records(tx), core.encodePrimaryKey(Key{10}))));
    EXPECT_TRUE(record.reset(*internal::engineTxn(tx).get(core.records(tx), core.encodePrimaryKey(Key{1}))));
  }
  EXPECT_EQ(cells(db_.query("SELECT id, length(name), length(address.street), age, city FROM people "
                            "WHERE id >= 10")),
            "10|20000|30000|50|'Rome'; 11|30000|NULL|51|'Paris'");
  EXPECT_EQ(cells(db_.query("SELECT id FROM people WHERE id = 11")), "11");
  EXPECT_EQ(cells(db_.query("SELECT count(*), max(length(name)), sum(age) FROM people")),
            "5|30000|199");
  EXPECT_EQ(cells(db_.query("SELECT id, length(name) FROM people WHERE city = 'Paris' AND age > 40")),
            "3|4; 11|30000");
  EXPECT_EQ(db_.query("SELECT name FROM people WHERE age = 50").at(0, 0).text(), big);
}

TEST_F(QueryApi, ResultsOutliveTheirTransaction) {
  db_.query("UPDATE people SET photo = ? WHERE id = 1", {Blob{std::string("\x00\xff", 2)}});

  ResultSet fromRead;
  {
    ReadTxn tx = db_.read();
    fromRead = db_.query(tx, "SELECT name, city, photo FROM people ORDER BY id");
  }
  ResultSet fromWrite;
  db_.write(
      [&](WriteTxn& tx) { fromWrite = db_.query(tx, "SELECT name FROM people ORDER BY id"); });
  Statement names = db_.prepare("SELECT name FROM people ORDER BY id");
  ResultSet fromStatement = names.run();

  // Overwrite and remove every record the results came from, then write more.
  db_.query("UPDATE people SET name = 'Zed', city = 'Rome', photo = x'eeee'");
  db_.query("DELETE FROM people");
  Statement insert = db_.prepare("INSERT INTO people (name, city) VALUES (?, ?)");
  for (int i = 0; i < 200; ++i) insert.run({"filler" + std::to_string(i), std::string(100, 'c')});

  EXPECT_EQ(cells(fromRead), "'Ann'|'Paris'|x'00ff'; 'Bob'|'London'|NULL; 'Cara'|'Paris'|NULL");
  EXPECT_EQ(fromRead.at(0, 2).blob(), std::string("\x00\xff", 2));
  EXPECT_EQ(cells(fromWrite), "'Ann'; 'Bob'; 'Cara'");
  EXPECT_EQ(cells(fromStatement), "'Ann'; 'Bob'; 'Cara'");
}

TEST_F(QueryApi, AUInt64AboveInt64MaxCannotBeRead) {
  auto people = db_.table<sqltest::Person>();
  db_.write([&](WriteTxn& tx) {
    people.insert(tx, [](sqltest::Person::Builder p) {
      p.setId(uint64_t{1} << 63);
      p.setName("Huge");
    });
  });
  std::string err = errorOf([&] { db_.query("SELECT id FROM people WHERE name = 'Huge'"); });
  EXPECT_TRUE(contains(err, "InvalidArgument")) << err;
  EXPECT_TRUE(contains(err, "people.id")) << err;
  // Its other columns read.
  EXPECT_EQ(cells(db_.query("SELECT name FROM people WHERE name = 'Huge'")), "'Huge'");
}

// Expression trees are walked by recursion (parser, binder, planner, evaluation): one too deep
// for the stack is a SyntaxError. The first input is sql_fuzz's, which overflowed the stack in
// the parser.
TEST_F(QueryApi, ExpressionsTooDeepToWalkAreSyntaxErrors) {
  std::ifstream in(std::string(CAPDB_SQL_TEST_DIR) + "/../fuzz/corpus/sql_fuzz/crash-nested-parens.sql",
                   std::ios::binary);
  ASSERT_TRUE(in);
  std::string found((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_TRUE(contains(errorOf([&] { db_.query(found); }), "nested more than 200 deep"));

  auto repeat = [](std::string_view part, int n) {
    std::string out;
    for (int i = 0; i < n; ++i) out += part;
    return out;
  };
  const std::string one = " FROM people WHERE id = 1";
  auto parens = [&](int n) { return "SELECT " + repeat("(", n) + "1" + repeat(")", n) + one; };
  EXPECT_EQ(cells(db_.query(parens(199))), "1");
  for (const std::string& sql :
       {parens(200), parens(100000), "SELECT abs(" + repeat("abs(", 100000) + "1",
        "SELECT " + repeat("- ", 100000) + "1",
        "SELECT name FROM people WHERE " + repeat("NOT ", 100000) + "age = 1"}) {
    EXPECT_TRUE(contains(errorOf([&] { db_.query(sql); }), "nested more than 200 deep"))
        << sql.substr(0, 40);
  }
  // Left-associative chains build a deep tree without nesting.
  EXPECT_EQ(cells(db_.query("SELECT 1" + repeat(" + 1", 999) + one)), "1000");
  for (const std::string& sql :
       {"SELECT 1" + repeat(" + 1", 1000) + one, "SELECT name" + repeat(" || name", 100000) + " FROM people",
        "SELECT name FROM people WHERE age = 1" + repeat(" OR age = 1", 100000)}) {
    EXPECT_TRUE(contains(errorOf([&] { db_.query(sql); }), "more than 1000 levels deep"))
        << sql.substr(0, 40);
  }
}

TEST(QueryValue, TypesAndAccessors) {
  Value null;
  EXPECT_TRUE(null.isNull());
  EXPECT_EQ(null.type(), Value::Type::Null);
  EXPECT_TRUE(Value(nullptr).isNull());

  Value i(42);
  EXPECT_EQ(i.type(), Value::Type::Integer);
  EXPECT_FALSE(i.isNull());
  EXPECT_EQ(i.integer(), 42);
  EXPECT_EQ(i.real(), 42.0);  // an INTEGER converts
  EXPECT_EQ(Value(true).integer(), 1);
  EXPECT_EQ(Value(false).integer(), 0);
  EXPECT_EQ(Value(true).type(), Value::Type::Integer);
  EXPECT_EQ(Value(uint8_t{255}).integer(), 255);
  EXPECT_EQ(Value(int16_t{-7}).integer(), -7);
  EXPECT_EQ(Value(INT64_MIN).integer(), INT64_MIN);
  EXPECT_EQ(Value(uint64_t{INT64_MAX}).integer(), INT64_MAX);

  Value d(2.5);
  EXPECT_EQ(d.type(), Value::Type::Real);
  EXPECT_EQ(d.real(), 2.5);
  EXPECT_EQ(Value(1.5f).type(), Value::Type::Real);
  EXPECT_EQ(Value(1.5f).real(), 1.5);

  EXPECT_EQ(Value("it's").type(), Value::Type::Text);
  EXPECT_EQ(Value("it's").text(), "it's");
  EXPECT_EQ(Value(std::string("s")).text(), "s");
  EXPECT_EQ(Value(std::string_view("v")).text(), "v");

  Value b(Blob{std::string("\x00\xff", 2)});
  EXPECT_EQ(b.type(), Value::Type::Blob);
  EXPECT_EQ(b.blob(), std::string("\x00\xff", 2));

  EXPECT_EQ(typeName(Value::Type::Null), "NULL");
  EXPECT_EQ(typeName(Value::Type::Integer), "INTEGER");
  EXPECT_EQ(typeName(Value::Type::Real), "REAL");
  EXPECT_EQ(typeName(Value::Type::Text), "TEXT");
  EXPECT_EQ(typeName(Value::Type::Blob), "BLOB");

  // Same type and same value: 1 and 1.0 differ, as do text and blob of the same bytes.
  EXPECT_EQ(Value(), Value(nullptr));
  EXPECT_EQ(Value(1), Value(int64_t{1}));
  EXPECT_NE(Value(1), Value(1.0));
  EXPECT_NE(Value("a"), Value(Blob{"a"}));
}

TEST(QueryValue, TheWrongAccessorNamesBothTypes) {
  struct Case {
    std::function<void()> read;
    std::string has, wants;
  };
  std::vector<Case> cases = {
      {[] { Value("abc").integer(); }, "TEXT", "INTEGER"},
      {[] { Value(2.5).integer(); }, "REAL", "INTEGER"},
      {[] { Value().integer(); }, "NULL", "INTEGER"},
      {[] { Value("abc").real(); }, "TEXT", "REAL"},
      {[] { Value(Blob{"x"}).real(); }, "BLOB", "REAL"},
      {[] { Value(42).text(); }, "INTEGER", "TEXT"},
      {[] { Value(Blob{"x"}).text(); }, "BLOB", "TEXT"},
      {[] { Value("x").blob(); }, "TEXT", "BLOB"},
      {[] { Value().blob(); }, "NULL", "BLOB"},
  };
  for (const Case& c : cases) {
    std::string err = errorOf(c.read);
    EXPECT_TRUE(contains(err, "InvalidArgument")) << err;
    EXPECT_TRUE(contains(err, c.has)) << err;
    EXPECT_TRUE(contains(err, c.wants)) << err;
  }
}

TEST(QueryValue, ToSqlAndToText) {
  EXPECT_EQ(Value().toSql(), "NULL");
  EXPECT_EQ(Value(42).toSql(), "42");
  EXPECT_EQ(Value(-7).toSql(), "-7");
  EXPECT_EQ(Value(2.5).toSql(), "2.5");
  EXPECT_EQ(Value(1.0).toSql(), "1.0");  // still a REAL when read back as SQL
  EXPECT_EQ(Value("it's").toSql(), "'it''s'");
  EXPECT_EQ(Value("").toSql(), "''");
  EXPECT_EQ(Value(Blob{std::string("\x00\xff", 2)}).toSql(), "x'00ff'");
  EXPECT_EQ(Value(Blob{}).toSql(), "x''");

  // As SQLite's CAST(x AS TEXT).
  EXPECT_EQ(Value().toText(), "");
  EXPECT_EQ(Value(42).toText(), "42");
  EXPECT_EQ(Value(INT64_MIN).toText(), "-9223372036854775808");
  EXPECT_EQ(Value(2.5).toText(), "2.5");
  EXPECT_EQ(Value(1.0).toText(), "1.0");
  EXPECT_EQ(Value(100.0).toText(), "100.0");
  EXPECT_EQ(Value(0.1).toText(), "0.1");
  EXPECT_EQ(Value(1.0 / 3).toText(), "0.333333333333333");
  EXPECT_EQ(Value(1e20).toText(), "1.0e+20");
  EXPECT_EQ(Value(2.5e-5).toText(), "2.5e-05");
  EXPECT_EQ(Value(123456789012345.0).toText(), "123456789012345.0");
  EXPECT_EQ(Value(static_cast<double>(0.1f)).toText(), "0.100000001490116");
  EXPECT_EQ(Value("it's").toText(), "it's");
  EXPECT_EQ(Value(Blob{"ab"}).toText(), "ab");
}

TEST(QueryValue, AUInt64AboveInt64MaxThrows) {
  std::string err = errorOf([] { Value v(uint64_t{9223372036854775808ull}); });
  EXPECT_TRUE(contains(err, "InvalidArgument")) << err;
  EXPECT_TRUE(contains(err, "9223372036854775808")) << err;
  err = errorOf([] { Value v(UINT64_MAX); });
  EXPECT_TRUE(contains(err, "InvalidArgument")) << err;
  // In Params too, before any SQL runs.
  err = errorOf([] { Params p{uint64_t{1} << 63}; });
  EXPECT_TRUE(contains(err, "InvalidArgument")) << err;
}

}  // namespace
}  // namespace capdb

namespace capdb {
namespace {

// Database::query from many threads at once, while a writer changes the table: every reader sees
// a consistent snapshot (the count and the sum agree within one statement's snapshot), and
// prepared statements, one per thread, re-plan as the table grows.
TEST(QueryThreads, ReadersAndAWriterAtOnce) {
  testing::TempDir dir;
  Database db = Database::open(dir / "db", Schemas{table<sqltest::Person>()});
  db.query("INSERT INTO people (name, age, city) VALUES ('seed', 1, 'Paris')");
  std::atomic<bool> stop{false};
  std::atomic<int> failures{0};
  std::vector<std::thread> readers;
  for (int t = 0; t < 3; ++t) {
    readers.emplace_back([&, t] {
      Statement byCity = db.prepare("SELECT count(*), sum(age) FROM people WHERE city = ?");
      while (!stop) {
        try {
          auto tx = db.read();
          int64_t n = db.query(tx, "SELECT count(*) FROM people WHERE age >= 1").at(0, 0).integer();
          int64_t sum = db.query(tx, "SELECT sum(age) FROM people").at(0, 0).integer();
          // Each INSERT adds two records at once, of ages 1 and 2, after a seed of age 1: a
          // snapshot holds 1 + 2k records whose ages sum to 1 + 3k.
          if ((n - 1) % 2 != 0 || sum - 1 != 3 * ((n - 1) / 2)) ++failures;
          auto r = byCity.run(tx, {t % 2 ? "Paris" : "Lyon"});
          if (r.at(0, 0).integer() < 0) ++failures;
        } catch (const Error&) {
          ++failures;
        }
      }
    });
  }
  for (int i = 0; i < 300; ++i) {
    db.query("INSERT INTO people (name, age, city) VALUES (?, 1, 'Paris'), (?, 2, 'Lyon')",
             {"a" + std::to_string(i), "b" + std::to_string(i)});
  }
  stop = true;
  for (auto& r : readers) r.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_EQ(db.query("SELECT count(*) FROM people").at(0, 0).integer(), 601);
}

}  // namespace
}  // namespace capdb
