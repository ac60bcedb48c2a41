// Queries built in C++: people.where(col("age") > 30 && col("city") == "Paris").orderBy("name")
// .limit(10). A builder query is rendered as SQL text (values as literals) and runs through the
// same parser, planner and executor as Database::query, so it gets the same plans: its explain()
// is the EXPLAIN of its sql().
#pragma once

#include <cstdint>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include "capdb/query.h"

namespace capdb {

class DynamicTable;

// A SQL expression: a column, a value, or an operator over expressions.
class SqlExpr {
  template <typename V>
  static constexpr bool isValueType() {
    return std::is_arithmetic_v<V> || std::is_same_v<V, Value> || std::is_same_v<V, std::string> ||
           std::is_same_v<V, std::string_view> || std::is_same_v<V, const char*> ||
           std::is_same_v<V, char*> || std::is_same_v<V, Blob> || std::is_same_v<V, std::nullptr_t>;
  }

 public:
  // A value (42, 2.5, "Paris", Blob{...}, nullptr for NULL).
  template <typename V, typename = std::enable_if_t<isValueType<std::decay_t<V>>()>>
  SqlExpr(V&& v) : SqlExpr(literal(Value(std::forward<V>(v)))) {}

  const std::string& sql() const { return sql_; }

  SqlExpr like(const SqlExpr& pattern) const;
  SqlExpr notLike(const SqlExpr& pattern) const;
  SqlExpr in(std::initializer_list<SqlExpr> values) const;
  SqlExpr in(const std::vector<SqlExpr>& values) const;
  SqlExpr between(const SqlExpr& low, const SqlExpr& high) const;
  SqlExpr isNull() const;
  SqlExpr isNotNull() const;

  // Text that is already SQL, at the given binding strength (internal; col(), fn() and the
  // operators build it).
  static SqlExpr raw(std::string sql, int strength);
  int strength() const { return strength_; }

  // Operators, found only for SqlExpr operands (hidden friends), so `col("age") > 30` builds
  // an expression and nothing else in the namespace is affected.
  friend SqlExpr operator==(const SqlExpr& a, const SqlExpr& b);
  friend SqlExpr operator!=(const SqlExpr& a, const SqlExpr& b);
  friend SqlExpr operator<(const SqlExpr& a, const SqlExpr& b);
  friend SqlExpr operator<=(const SqlExpr& a, const SqlExpr& b);
  friend SqlExpr operator>(const SqlExpr& a, const SqlExpr& b);
  friend SqlExpr operator>=(const SqlExpr& a, const SqlExpr& b);
  friend SqlExpr operator&&(const SqlExpr& a, const SqlExpr& b);
  friend SqlExpr operator||(const SqlExpr& a, const SqlExpr& b);
  friend SqlExpr operator!(const SqlExpr& a);
  friend SqlExpr operator+(const SqlExpr& a, const SqlExpr& b);
  friend SqlExpr operator-(const SqlExpr& a, const SqlExpr& b);
  friend SqlExpr operator*(const SqlExpr& a, const SqlExpr& b);
  friend SqlExpr operator/(const SqlExpr& a, const SqlExpr& b);
  friend SqlExpr operator%(const SqlExpr& a, const SqlExpr& b);

 private:
  SqlExpr() = default;
  static SqlExpr literal(const Value& v);
  std::string sql_;
  int strength_ = 10;  // how tightly it binds, as in SQLite's precedence (10: an operand)
};

// A column by name or dotted path ("address.city").
SqlExpr col(std::string_view name);
// A table or column name as SQL text: as it is when it needs no quotes, else "quoted".
std::string quoteName(std::string_view name);
// A function call: fn("lower", {col("name")}).
SqlExpr fn(std::string_view name, std::initializer_list<SqlExpr> args);


enum class Order : uint8_t { Asc, Desc };

// A SELECT over one table, or a join of tables, built step by step; each step returns the query
// for chaining.
// Errors (an unknown column, say) are reported when the query runs, as for SQL text.
class Query {
 public:

  // Keeps only rows where `condition` holds; a second call ANDs with the first.
  Query& where(const SqlExpr& condition);
  // The result's columns (default: *).
  Query& select(std::initializer_list<SqlExpr> columns);
  Query& orderBy(const SqlExpr& key, Order order = Order::Asc);
  Query& orderBy(const char* column, Order order = Order::Asc) { return orderBy(col(column), order); }
  Query& orderBy(const std::string& column, Order order = Order::Asc) {
    return orderBy(col(column), order);
  }
  Query& limit(int64_t n);
  Query& offset(int64_t n);

  // Joins another table (docs/sql.md, Joins): INNER JOIN other [AS alias] ON condition. Columns
  // of a join are named table.column, or alias.column when the table has an alias, which it
  // needs to be joined to itself. `other` is a DynamicTable, or a typed table's dynamic().
  Query& join(const DynamicTable& other, const SqlExpr& on, std::string_view alias = {});
  // LEFT JOIN: a row of this query's tables with no match in `other` is kept, with NULLs for
  // `other`'s columns.
  Query& leftJoin(const DynamicTable& other, const SqlExpr& on, std::string_view alias = {});
  // An alias for the query's own table (FROM t AS alias).
  Query& as(std::string_view alias);
  // Whether the query joins other tables (its rows are then not one table's records).
  bool joins() const { return !joins_.empty(); }

  // The query as SQL text.
  std::string sql() const;
  // Runs the query in `tx`; the rows are copies that outlive it.
  ResultSet run(const Txn& tx) const;
  // The plan, as EXPLAIN prints it.
  std::string explain(const Txn& tx) const;
  // The SQL of a query selecting the matching records' primary-key columns, in the query's order
  // (what typed queries read records by).
  std::string keySql() const;

 private:
  // Queries come from a table: DynamicTable::where / query(), Table<T>::where / query().
  friend class DynamicTable;
  friend struct detail::Access;
  explicit Query(const detail::TableHandle& table);
  std::string sqlWith(const std::string& list) const;

  struct Joined {
    const detail::TableHandle* table;
    bool left;
    std::string alias;
    std::string on;
  };
  const detail::TableHandle* table_;
  std::string alias_;
  std::vector<Joined> joins_;
  std::vector<std::string> select_;
  std::string where_;
  std::vector<std::string> orderBy_;
  std::optional<int64_t> limit_;
  std::optional<int64_t> offset_;
};

}  // namespace capdb
