// The planner: for each access-path kind, the plan EXPLAIN shows, and that the rows it returns
// are the rows a full scan with the same WHERE returns.
#include <gtest/gtest.h>

#include <algorithm>
#include <functional>
#include <random>

#include "capdb/capdb.h"
#include "sql_people.capnp.h"
#include "support/temp_dir.h"
#include "support/value_print.h"

namespace capdb {
namespace {

class PlannerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    db_ = std::make_unique<Database>(Database::open(
        dir_ / "db", Schemas{table<sqltest::Person>(), table<sqltest::Event>()}));
    const char* cities[] = {"Paris", "London", "Lyon", "Berlin", "paris"};
    std::mt19937 rng(7);
    db_->write([&](WriteTxn& tx) {
      for (int i = 0; i < 2000; ++i) {
        Params p{std::string("p") + std::to_string(i), static_cast<int64_t>(rng() % 100),
                 cities[rng() % 5], static_cast<double>(rng() % 1000) / 10.0};
        if (i % 7 == 0) p.positional[2] = Value();
        p.set("email", i % 3 == 0 ? Value() : Value("e" + std::to_string(i) + "@x"));
        db_->query(tx,
                   "INSERT INTO people (name, age, city, score, email) VALUES (?, ?, ?, ?, :email)",
                   p);
      }
      for (int i = 0; i < 300; ++i) {
        db_->query(tx, "INSERT INTO events (device, seq, level, value) VALUES (?, ?, ?, ?)",
                   {std::string("dev") + std::to_string(i % 4), i, i % 5, i * 0.5});
      }
    });
  }

  std::string explain(const std::string& sql, const Params& p = {}) {
    auto r = db_->query("EXPLAIN " + sql, p);
    EXPECT_EQ(r.columns, std::vector<std::string>{"plan"});
    return r.at(0, 0).text();
  }

  // The statement's rows, and the rows of the same statement forced through a full scan (by
  // turning every column reference in WHERE into an expression no range can use).
  void expectSameAsFullScan(const std::string& select, const std::string& where,
                            const std::string& fullWhere, const Params& p = {}) {
    auto planned = db_->query(select + " WHERE " + where, p);
    auto full = db_->query(select + " WHERE " + fullWhere, p);
    std::string fullPlan = explain(select + " WHERE " + fullWhere, p);
    EXPECT_NE(fullPlan.find("est. 2000 rows"), std::string::npos) << fullPlan;
    auto a = planned.rows.toVectors(), b = full.rows.toVectors();
    auto less = [](const std::vector<Value>& x, const std::vector<Value>& y) {
      return x.at(0).integer() < y.at(0).integer();
    };
    std::sort(a.begin(), a.end(), less);
    std::sort(b.begin(), b.end(), less);
    EXPECT_EQ(a, b) << select << " WHERE " << where;
  }

  testing::TempDir dir_;
  std::unique_ptr<Database> db_;
};

TEST_F(PlannerTest, PrimaryKeyPointAndRange) {
  EXPECT_EQ(explain("SELECT name FROM people WHERE id = 5"),
            "PRIMARY KEY SCAN people (id) (id = 5) est. 1 rows");
  EXPECT_EQ(db_->query("SELECT name FROM people WHERE id = 5").at(0, 0).text(), "p4");
  EXPECT_EQ(explain("SELECT name FROM people WHERE id >= 10 AND id < 20"),
            "PRIMARY KEY SCAN people (id) (id >= 10 AND id < 20) est. 10 rows");
  EXPECT_EQ(db_->query("SELECT name FROM people WHERE id >= 10 AND id < 20").size(), 10u);
  EXPECT_EQ(explain("SELECT name FROM people WHERE id BETWEEN ? AND ?", {10, 19}),
            "PRIMARY KEY SCAN people (id) (id BETWEEN ?1 AND ?2) est. 200 rows");
  EXPECT_EQ(db_->query("SELECT name FROM people WHERE id BETWEEN ? AND ?", {10, 19}).size(), 10u);
  expectSameAsFullScan("SELECT id FROM people", "id > 1990.5", "id + 0 > 1990.5");
  expectSameAsFullScan("SELECT id FROM people", "id < '5'", "CAST(id AS INTEGER) < '5'");
}

TEST_F(PlannerTest, CompositePrimaryKey) {
  EXPECT_EQ(explain("SELECT seq FROM events WHERE device = 'dev1' AND seq > 250"),
            "PRIMARY KEY SCAN events (device, seq) (device = 'dev1' AND seq > 250) est. 9 rows");
  auto r = db_->query("SELECT seq FROM events WHERE device = 'dev1' AND seq > 250 ORDER BY seq");
  ASSERT_EQ(r.size(), 12u);
  EXPECT_EQ(r.at(0, 0).integer(), 253);
}

TEST_F(PlannerTest, IndexPointPrefixAndRange) {
  EXPECT_EQ(explain("SELECT name FROM people WHERE age = 30"),
            "INDEX SCAN people.people_age (age = 30) est. 200 rows");
  EXPECT_EQ(explain("SELECT name FROM people WHERE city = 'Paris' AND age > 30 AND name LIKE 'a%' "
                    "LIMIT 10"),
            "INDEX SCAN people.by_city_age (city = 'Paris' AND age > 30) est. 60 rows -> FILTER "
            "name LIKE 'a%' -> LIMIT 10");
  EXPECT_EQ(explain("SELECT name FROM people WHERE email = 'e4@x'"),
            "INDEX SCAN people.people_email (email = 'e4@x') est. 1 rows");
  expectSameAsFullScan("SELECT id FROM people", "age = 30", "age + 0 = 30");
  expectSameAsFullScan("SELECT id FROM people", "city = 'Paris' AND age BETWEEN 10 AND 20",
                       "city || '' = 'Paris' AND age + 0 BETWEEN 10 AND 20");
  expectSameAsFullScan("SELECT id FROM people", "city < 'M'", "city || '' < 'M'");
  expectSameAsFullScan("SELECT id FROM people", "city IS NULL", "city || '' IS NULL");
  expectSameAsFullScan("SELECT id FROM people", "age > 97.5", "age + 0 > 97.5");
}

TEST_F(PlannerTest, LikePrefixBecomesARangeAndIsRechecked) {
  std::string plan = explain("SELECT id FROM people WHERE city LIKE 'pa%'");
  EXPECT_EQ(plan.rfind("INDEX ONLY SCAN people.by_city_age", 0), 0u) << plan;
  EXPECT_NE(plan.find("FILTER city LIKE 'pa%'"), std::string::npos) << plan;
  expectSameAsFullScan("SELECT id FROM people", "city LIKE 'pa%'", "city || '' LIKE 'pa%'");
  expectSameAsFullScan("SELECT id FROM people", "city LIKE 'l_on'", "city || '' LIKE 'l_on'");
  expectSameAsFullScan("SELECT id FROM people", "city LIKE '%'", "city || '' LIKE '%'");
}

TEST_F(PlannerTest, InListsAndOrsAreUnionsWithoutDuplicates) {
  EXPECT_EQ(explain("SELECT id FROM people WHERE id IN (3, 1, 2, 3)"),
            "PRIMARY KEY SCAN people (id) (id IN (3, 1, 2, 3)) est. 4 rows");
  auto r = db_->query("SELECT id FROM people WHERE id IN (3, 1, 2, 3)");
  EXPECT_EQ(r.size(), 3u);
  EXPECT_EQ(explain("SELECT id FROM people WHERE id = 3 OR id BETWEEN 2 AND 5"),
            "PRIMARY KEY SCAN people (id) (id = 3 OR id BETWEEN 2 AND 5) est. 5 rows");
  EXPECT_EQ(db_->query("SELECT id FROM people WHERE id = 3 OR id BETWEEN 2 AND 5").size(), 4u);
  expectSameAsFullScan("SELECT id FROM people", "age IN (1, 2, 50) AND city = 'Lyon'",
                       "age + 0 IN (1, 2, 50) AND city || '' = 'Lyon'");
  expectSameAsFullScan("SELECT id FROM people", "age < 3 OR age > 96 OR age = 50",
                       "age + 0 < 3 OR age + 0 > 96 OR age + 0 = 50");
  std::string plan = explain("SELECT id FROM people WHERE age < 3 OR age > 96");
  EXPECT_EQ(plan.rfind("INDEX ONLY SCAN people.people_age (age < 3 OR age > 96)", 0), 0u) << plan;
}

TEST_F(PlannerTest, OrderByServedByKeyOrderInEitherDirection) {
  EXPECT_EQ(explain("SELECT name FROM people ORDER BY id DESC LIMIT 3"),
            "PRIMARY KEY SCAN people (id) BACKWARD est. 2000 rows -> LIMIT 3");
  auto r = db_->query("SELECT id FROM people ORDER BY id DESC LIMIT 3");
  ASSERT_EQ(r.size(), 3u);
  EXPECT_EQ(r.at(0, 0).integer(), 2000);
  EXPECT_EQ(r.at(2, 0).integer(), 1998);
  EXPECT_EQ(explain("SELECT name FROM people WHERE city = 'Paris' ORDER BY age DESC LIMIT 5"),
            "INDEX SCAN people.by_city_age BACKWARD (city = 'Paris') est. 200 rows -> LIMIT 5");
  auto top = db_->query("SELECT age FROM people WHERE city = 'Paris' ORDER BY age DESC LIMIT 5");
  auto sorted = db_->query("SELECT age FROM people WHERE city || '' = 'Paris' ORDER BY age DESC LIMIT 5");
  EXPECT_EQ(top.rows, sorted.rows);
  std::string sortPlan = explain("SELECT name FROM people WHERE city = 'Paris' ORDER BY name");
  EXPECT_NE(sortPlan.find("-> SORT name"), std::string::npos) << sortPlan;
}

TEST_F(PlannerTest, IndexOnlyScanWhenTheIndexHoldsEveryColumn) {
  std::string plan = explain("SELECT city, age, id FROM people WHERE city = 'Lyon' AND age < 10");
  EXPECT_EQ(plan.rfind("INDEX ONLY SCAN people.by_city_age", 0), 0u) << plan;
  expectSameAsFullScan("SELECT id, city, age FROM people", "city = 'Lyon' AND age < 10",
                       "city || '' = 'Lyon' AND age + 0 < 10");
}

TEST_F(PlannerTest, CountOfAWholeTableReadsTheStoredCount) {
  EXPECT_EQ(explain("SELECT count(*) FROM people"), "COUNT people");
  EXPECT_EQ(db_->query("SELECT count(*) FROM people").at(0, 0).integer(), 2000);
}

TEST_F(PlannerTest, NeverAFullScanWhereAnIndexCoversThePredicate) {
  for (const char* where :
       {"age = 5", "age > 90", "city = 'Paris'", "city = 'Paris' AND age = 3", "email = 'e1@x'",
        "id = 9", "age IN (1, 2)", "city IS NULL", "email IS NULL AND age = 1"}) {
    std::string plan = explain(std::string("SELECT * FROM people WHERE ") + where);
    EXPECT_EQ(plan.find("FULL SCAN"), std::string::npos) << where << ": " << plan;
  }
}

TEST_F(PlannerTest, ExplainNeedsNoParameterValues) {
  EXPECT_EQ(db_->query("EXPLAIN SELECT name FROM people WHERE id = ?").at(0, 0).text(),
            "PRIMARY KEY SCAN people (id) (id = ?1) est. 1 rows");
}

TEST_F(PlannerTest, PreparedStatementsPlanOnceAndRunWithNewParameters) {
  Statement s = db_->prepare("SELECT count(*) FROM people WHERE age = ?");
  EXPECT_EQ(s.explain(), "INDEX ONLY SCAN people.people_age (age = ?1) est. 200 rows -> AGGREGATE");
  int64_t total = 0;
  for (int age = 0; age < 100; ++age) total += s.run({age}).at(0, 0).integer();
  EXPECT_EQ(total, 2000);
}

}  // namespace
}  // namespace capdb

namespace capdb {
namespace {

// Joins: each table's access path and join method, in plan order, as EXPLAIN shows them, over
// 400 customers, 4000 orders (10 each, the last 40 customers none) and 8000 order lines.
class JoinPlannerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    db_ = std::make_unique<Database>(Database::open(
        dir_ / "db", Schemas{table<sqltest::Customer>(), table<sqltest::Order>(), table<sqltest::Line>()}));
    const char* cities[] = {"Paris", "Rome", "Oslo", "Lima"};
    db_->write([&](WriteTxn& tx) {
      for (int i = 1; i <= 400; ++i) {
        db_->query(tx, "INSERT INTO customers (id, name, city, code) VALUES (?, ?, ?, ?)",
                   {int64_t{i}, "c" + std::to_string(i), cities[i % 4], "k" + std::to_string(i % 50)});
      }
      for (int j = 1; j <= 4000; ++j) {
        db_->query(tx, "INSERT INTO orders (id, customer, day, amount, code, status) VALUES (?, ?, ?, ?, ?, ?)",
                   {int64_t{j}, int64_t{1 + (j * 7) % 360}, int64_t{j % 30}, j * 0.5,
                    "k" + std::to_string(j % 50), j % 3 ? "paid" : "open"});
        for (int line = 1; line <= 2; ++line) {
          db_->query(tx, "INSERT INTO lines (\"order\", line, product, qty) VALUES (?, ?, 'tea', ?)",
                     {int64_t{j}, int64_t{line}, int64_t{j % 7}});
        }
      }
    });
  }

  std::string explain(const std::string& sql) {
    return db_->query("EXPLAIN " + sql).at(0, 0).text();
  }

  testing::TempDir dir_;
  std::unique_ptr<Database> db_;
};

TEST_F(JoinPlannerTest, ALookupByTheJoinedTablesPrimaryKey) {
  EXPECT_EQ(explain("SELECT o.id, c.name FROM orders o JOIN customers c ON c.id = o.customer "
                    "WHERE o.id BETWEEN 10 AND 20"),
            "PRIMARY KEY SCAN orders AS o (id) (o.id BETWEEN 10 AND 20) est. 11 rows -> INDEX "
            "NESTED LOOP customers AS c BY PRIMARY KEY (id) (c.id = o.customer) est. 1 rows");
}

TEST_F(JoinPlannerTest, TheFilteredSideDrivesAndAnIndexPrefixServesTheOther) {
  // Written orders first, planned customers first: one customer, then its orders by the index.
  EXPECT_EQ(explain("SELECT c.name, o.amount FROM orders o JOIN customers c ON o.customer = c.id "
                    "WHERE c.id = 7"),
            "PRIMARY KEY SCAN customers AS c (id) (c.id = 7) est. 1 rows -> INDEX NESTED LOOP "
            "orders AS o BY INDEX orders.by_customer_day (o.customer = c.id) est. 10 rows");
}

TEST_F(JoinPlannerTest, AHashJoinWhereNoIndexServesTheEquality) {
  std::string plan = explain("SELECT o.id, c.name FROM orders o JOIN customers c ON c.name = o.status");
  EXPECT_NE(plan.find("HASH JOIN customers AS c ON (c.name = o.status) BUILT FROM FULL SCAN customers"),
            std::string::npos)
      << plan;
  // The smaller table is the one kept in memory.
  EXPECT_EQ(plan.rfind("FULL SCAN orders AS o", 0), 0u) << plan;
}

TEST_F(JoinPlannerTest, ANestedLoopOnlyWhenNothingElseApplies) {
  // A range over the primary key is still a lookup per outer row; an expression over the
  // column is not.
  EXPECT_NE(explain("SELECT o.id, c.id FROM orders o JOIN customers c ON c.id < o.customer - 355")
                .find("INDEX NESTED LOOP customers AS c BY PRIMARY KEY (id) (c.id < o.customer - 355)"),
            std::string::npos);
  std::string plan = explain("SELECT o.id, c.id FROM orders o JOIN customers c ON c.id + 0 < o.customer - 355");
  EXPECT_NE(plan.find("NESTED LOOP"), std::string::npos) << plan;
  EXPECT_NE(plan.find("(every pair checked)"), std::string::npos) << plan;
  EXPECT_EQ(plan.find("INDEX NESTED LOOP"), std::string::npos) << plan;
  auto rows = db_->query("SELECT count(*) FROM orders o JOIN customers c ON c.id + 0 < o.customer - 355");
  auto oracle = db_->query("SELECT sum(o.customer - 356) FROM orders o WHERE o.customer > 356");
  EXPECT_EQ(rows.at(0, 0).integer(), oracle.at(0, 0).integer());
}

TEST_F(JoinPlannerTest, LeftJoinKeepsItsOrderAndChecksWhereAfterItsNullRow) {
  EXPECT_EQ(explain("SELECT c.id FROM customers c LEFT JOIN orders o ON o.customer = c.id "
                    "WHERE o.id IS NULL"),
            "INDEX ONLY SCAN customers.customers_code AS c est. 400 rows -> LEFT INDEX NESTED LOOP "
            "orders AS o BY INDEX ONLY orders.by_customer_day (o.customer = c.id) est. 3 rows -> "
            "FILTER o.id IS NULL");
  EXPECT_EQ(db_->query("SELECT count(*) FROM customers c LEFT JOIN orders o ON o.customer = c.id "
                       "WHERE o.id IS NULL").at(0, 0).integer(),
            40);
}

TEST_F(JoinPlannerTest, OrderByTheDrivingTablesKeyNeedsNoSortAndLimitStopsEarly) {
  EXPECT_EQ(explain("SELECT o.id, c.name FROM orders o JOIN customers c ON c.id = o.customer "
                    "ORDER BY o.id DESC LIMIT 5"),
            "PRIMARY KEY SCAN orders AS o (id) BACKWARD est. 4000 rows -> INDEX NESTED LOOP "
            "customers AS c BY PRIMARY KEY (id) (c.id = o.customer) est. 1 rows -> LIMIT 5");
  std::string sorted = explain("SELECT o.id, c.name FROM orders o JOIN customers c ON c.id = o.customer "
                               "ORDER BY c.name LIMIT 5");
  EXPECT_NE(sorted.find("-> SORT c.name -> LIMIT 5"), std::string::npos) << sorted;
}

TEST_F(JoinPlannerTest, ChainsOfFourTablesReadEachByKey) {
  std::string plan = explain(
      "SELECT c.name, o.id, l.product, c2.name FROM customers c JOIN orders o ON o.customer = c.id "
      "JOIN lines l ON l.\"order\" = o.id JOIN customers c2 ON c2.id = o.customer WHERE c.id = 3");
  EXPECT_EQ(plan.rfind("PRIMARY KEY SCAN customers AS c (id) (c.id = 3)", 0), 0u) << plan;
  EXPECT_NE(plan.find("INDEX NESTED LOOP orders AS o BY INDEX ONLY orders.by_customer_day"), std::string::npos) << plan;
  EXPECT_NE(plan.find("INDEX NESTED LOOP lines AS l BY PRIMARY KEY (order, line)"), std::string::npos) << plan;
  EXPECT_NE(plan.find("INDEX NESTED LOOP customers AS c2 BY PRIMARY KEY (id)"), std::string::npos) << plan;
}

TEST_F(JoinPlannerTest, AHashJoinsBuildRechecksItsTermsWhenItsRangesAreApproximate) {
  // A bound longer than any key is dropped from the range, which then reads too much: the rows
  // kept in memory must still pass the bound.
  const std::string longBound = "'k" + std::string(600, 'z') + "'";
  const std::string sql = "SELECT count(*) FROM orders o JOIN customers c ON c.name = o.status AND c.code > " +
                          longBound + " WHERE o.id <= 100";
  std::string plan = explain(sql);
  EXPECT_NE(plan.find("HASH JOIN customers AS c"), std::string::npos) << plan;
  EXPECT_NE(plan.find("BUILT FROM INDEX"), std::string::npos) << plan;
  db_->query("UPDATE customers SET name = 'paid' WHERE id <= 3");
  db_->query("UPDATE customers SET code = 'l' WHERE id = 2");
  EXPECT_EQ(db_->query(sql).at(0, 0).integer(),
            db_->query("SELECT count(*) FROM orders o JOIN customers c ON c.name = o.status AND "
                       "c.code || '' > " + longBound + " WHERE o.id <= 100").at(0, 0).integer());
  // Orders 1..100 that are paid, each matching customer 2 only.
  EXPECT_EQ(db_->query(sql).at(0, 0).integer(), 67);
}

TEST_F(JoinPlannerTest, AHashJoinOverItsMemoryLimitNamesTheOption) {
  testing::TempDir dir;
  Options options;
  options.joinMemoryBytes = 4096;
  Database small = Database::open(dir / "db", Schemas{table<sqltest::Customer>(), table<sqltest::Order>()}, options);
  small.write([&](WriteTxn& tx) {
    for (int i = 1; i <= 200; ++i) {
      small.query(tx, "INSERT INTO customers (id, name, city) VALUES (?, ?, 'x')", {int64_t{i}, "c" + std::to_string(i)});
      small.query(tx, "INSERT INTO orders (id, customer, status) VALUES (?, ?, ?)", {int64_t{i}, int64_t{i}, "c" + std::to_string(i)});
    }
  });
  auto tooBig = [](const std::function<void()>& run) {
    try {
      run();
      ADD_FAILURE() << "a hash join past joinMemoryBytes ran";
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), ErrorCode::InvalidArgument);
      EXPECT_NE(std::string(e.what()).find("Options::joinMemoryBytes (0 MiB)"), std::string::npos) << e.what();
    }
  };
  tooBig([&] { small.query("SELECT count(*) FROM orders o JOIN customers c ON c.name = o.status"); });
  // The builder's joins are held to the same option.
  tooBig([&] {
    small.table("orders").query().join(small.table("customers"), col("customers.name") == col("orders.status")).run(small.read());
  });
}

}  // namespace
}  // namespace capdb
