// The C++ query builder: it renders the SQL one would write, gets the same plans as that SQL,
// and returns the same rows; typed queries return records.
#include <gtest/gtest.h>

#include "capdb/capdb.h"
#include "sql_people.capnp.h"
#include "support/errors.h"
#include "support/temp_dir.h"
#include "support/value_print.h"

namespace capdb {
namespace {

using sqltest::Person;

class QueryBuilderTest : public ::testing::Test {
 protected:
  void SetUp() override {
    db_ = std::make_unique<Database>(Database::open(dir_ / "db", Schemas{table<Person>()}));
    const char* cities[] = {"Paris", "London", "Lyon"};
    db_->write([&](WriteTxn& tx) {
      for (int i = 0; i < 300; ++i) {
        db_->query(tx, "INSERT INTO people (name, age, city, score) VALUES (?, ?, ?, ?)",
                   {"n" + std::to_string(i), i % 90, cities[i % 3], i * 0.25});
      }
    });
  }

  // The builder query and the SQL text have the same plan and the same rows.
  void expectSame(const Query& q, const std::string& sql) {
    auto tx = db_->read();
    EXPECT_EQ(q.explain(tx), db_->query(tx, "EXPLAIN " + sql).at(0, 0).text()) << q.sql();
    EXPECT_EQ(q.run(tx).rows, db_->query(tx, sql).rows) << q.sql();
  }

  testing::TempDir dir_;
  std::unique_ptr<Database> db_;
};

TEST_F(QueryBuilderTest, RendersTheSqlOneWouldWrite) {
  auto people = db_->table("people");
  EXPECT_EQ(people.where(col("age") > 30 && col("city") == "Paris").orderBy("name").limit(10).sql(),
            "SELECT * FROM people WHERE age > 30 AND city = 'Paris' ORDER BY name LIMIT 10");
  EXPECT_EQ(people.where((col("age") < 3 || col("age") > 80) && !col("name").like("n1%")).sql(),
            "SELECT * FROM people WHERE (age < 3 OR age > 80) AND NOT name LIKE 'n1%'");
  EXPECT_EQ(people.where(col("score") * 2 - 1 >= 0.1).select({col("id"), fn("upper", {col("city")})})
                .orderBy(col("id"), Order::Desc).offset(5).sql(),
            "SELECT id, upper(city) FROM people WHERE score * 2 - 1 >= 0.1 ORDER BY id DESC LIMIT -1 "
            "OFFSET 5");
  EXPECT_EQ(people.where(col("name") == "it's").sql(), "SELECT * FROM people WHERE name = 'it''s'");
  EXPECT_EQ(people.where(col("age") - (col("age") - 1) == 1.5).sql(),
            "SELECT * FROM people WHERE age - (age - 1) = 1.5");
  EXPECT_EQ(people.where(col("address.zip").in({1, 2}) && col("email").isNull()).sql(),
            "SELECT * FROM people WHERE address.zip IN (1, 2) AND email IS NULL");
  EXPECT_EQ(people.where(col("odd name") == nullptr).sql(),
            "SELECT * FROM people WHERE \"odd name\" = NULL");
  // Keywords used as names are quoted, in any part of a path.
  EXPECT_EQ(people.where(col("limit") == 1 && col("address.order") == 2).orderBy("desc").sql(),
            "SELECT * FROM people WHERE \"limit\" = 1 AND \"address.order\" = 2 ORDER BY \"desc\"");
}

TEST_F(QueryBuilderTest, SamePlansAndRowsAsSql) {
  auto people = db_->table("people");
  expectSame(people.where(col("age") > 30 && col("city") == "Paris").orderBy("name").limit(10),
             "SELECT * FROM people WHERE age > 30 AND city = 'Paris' ORDER BY name LIMIT 10");
  expectSame(people.where(col("id") == 7), "SELECT * FROM people WHERE id = 7");
  expectSame(people.where(col("age").between(10, 12)).select({col("id"), col("age")}).orderBy("age", Order::Desc),
             "SELECT id, age FROM people WHERE age BETWEEN 10 AND 12 ORDER BY age DESC");
  expectSame(people.where(col("city").in({"Lyon", "Paris"}) && col("age") == 4).select({col("id")}),
             "SELECT id FROM people WHERE city IN ('Lyon', 'Paris') AND age = 4");
  expectSame(people.where(col("score") >= 70.25).where(col("name").like("n2%")),
             "SELECT * FROM people WHERE score >= 70.25 AND name LIKE 'n2%'");
}

TEST_F(QueryBuilderTest, TypedQueriesReturnRecordsInOrder) {
  auto people = db_->table<Person>();
  auto tx = db_->read();
  auto rows = people.where(col("city") == "Lyon" && col("age") >= 80).orderBy("age", Order::Desc).limit(4).rows(tx);
  ASSERT_EQ(rows.size(), 4u);
  EXPECT_EQ(rows[0]->getAge(), 89);
  for (const auto& r : rows) EXPECT_EQ(std::string(r->getCity().cStr()), "Lyon");
  for (size_t i = 1; i < rows.size(); ++i) EXPECT_GE(rows[i - 1]->getAge(), rows[i]->getAge());
  EXPECT_EQ(people.where(col("age") > 200).rows(tx).size(), 0u);
}

TEST_F(QueryBuilderTest, ErrorsAreReportedWhenTheQueryRuns) {
  auto people = db_->table("people");
  auto tx = db_->read();
  EXPECT_EQ(testing::errorOf([&] { people.where(col("agee") > 3).run(tx); }),
            "InvalidArgument: table people has no column 'agee' (did you mean 'age'?)");
}

// Joins built in C++: the SQL one would write, the same plan and rows as that SQL, aliases for a
// table joined to itself, and a join's rows are not one table's records.
TEST(QueryBuilderJoins, JoinAndLeftJoinAsSql) {
  testing::TempDir dir;
  Database db = Database::open(dir / "db", Schemas{table<sqltest::Customer>(), table<sqltest::Order>()});
  db.query("INSERT INTO customers (id, name, city) VALUES (1, 'Ann', 'Paris'), (2, 'Bob', 'Rome'), "
           "(3, 'Cy', 'Paris')");
  db.query("INSERT INTO orders (id, customer, day, amount) VALUES (10, 1, 5, 2.5), (11, 1, 6, 4.0), "
           "(12, 2, 5, 1.0), (13, 9, 7, 8.0)");
  auto customers = db.table("customers");
  auto orders = db.table<sqltest::Order>();

  Query q = customers.query()
                .join(orders.dynamic(), col("orders.customer") == col("customers.id"))
                .where(col("customers.city") == "Paris")
                .select({col("customers.name"), col("orders.amount")})
                .orderBy("orders.id");
  const std::string sql =
      "SELECT customers.name, orders.amount FROM customers JOIN orders ON orders.customer = "
      "customers.id WHERE customers.city = 'Paris' ORDER BY orders.id";
  EXPECT_EQ(q.sql(), sql);
  auto tx = db.read();
  EXPECT_EQ(q.explain(tx), db.query(tx, "EXPLAIN " + sql).at(0, 0).text());
  EXPECT_NE(q.explain(tx).find("INDEX NESTED LOOP"), std::string::npos) << q.explain(tx);
  ResultSet rs = q.run(tx);
  ASSERT_EQ(rs.size(), 2u);
  EXPECT_EQ(rs.at(0, 0).text(), "Ann");
  EXPECT_EQ(rs.at(1, 1).real(), 4.0);

  Query left = customers.query()
                   .as("c")
                   .leftJoin(orders.dynamic(), col("o.customer") == col("c.id"), "o")
                   .select({col("c.name"), fn("count", {col("o.id")})});
  left.where(col("c.id") > 1);
  EXPECT_EQ(left.sql(),
            "SELECT c.name, count(o.id) FROM customers AS c LEFT JOIN orders AS o ON o.customer = "
            "c.id WHERE c.id > 1");
  // A bare column beside an aggregate must be grouped: the builder reports it as SQL does.
  EXPECT_EQ(testing::errorOf([&] { left.run(tx); }),
            "InvalidArgument: column c.name must appear in GROUP BY or be used in an aggregate");

  Query self = customers.query().as("a").join(customers, col("b.city") == col("a.city") &&
                                                                  col("b.id") != col("a.id"), "b")
                   .select({col("a.name"), col("b.name")})
                   .orderBy("a.id");
  ResultSet pairs = self.run(tx);
  ASSERT_EQ(pairs.size(), 2u);
  EXPECT_EQ(pairs.at(0, 1).text(), "Cy");
  EXPECT_EQ(pairs.at(1, 1).text(), "Ann");
  EXPECT_EQ(testing::errorOf([&] { recordKeys(self, tx); }),
            "InvalidArgument: a join's rows are not one table's records: run() the query for its rows");
}

}  // namespace
}  // namespace capdb
