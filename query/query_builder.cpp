// The C++ query builder (capdb/query_builder.h): expressions rendered as SQL text.
#include "capdb/query_builder.h"

#include <fmt/format.h>

#include <cmath>

#include "query/lexer.h"
#include "orm/table_core.h"

namespace capdb {
namespace {

// Binding strengths, as in SQLite (see query/ast.cpp).
constexpr int kOr = 1, kAnd = 2, kNot = 3, kEquality = 4, kRelational = 5, kAdditive = 6,
              kMultiplicative = 7, kOperand = 10;

std::string operand(const SqlExpr& e, int strength, bool right = false) {
  if (e.strength() < strength || (right && e.strength() == strength)) return "(" + e.sql() + ")";
  return e.sql();
}

SqlExpr binary(const SqlExpr& a, std::string_view op, const SqlExpr& b, int strength) {
  return SqlExpr::raw(fmt::format("{} {} {}", operand(a, strength), op, operand(b, strength, true)),
                      strength);
}

// A name that needs no quotes: identifier characters, dots between parts, no keyword as a part.
bool plainIdentifier(std::string_view name) {
  if (name.empty()) return false;
  size_t partStart = 0;
  for (size_t i = 0; i <= name.size(); ++i) {
    if (i < name.size() && name[i] != '.') {
      char c = name[i];
      bool alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
      bool digit = c >= '0' && c <= '9';
      if (i == partStart ? !alpha : !(alpha || digit)) return false;
      continue;
    }
    if (i == partStart || query::isReservedWord(name.substr(partStart, i - partStart))) return false;
    partStart = i + 1;
  }
  return true;
}

}  // namespace

std::string quoteName(std::string_view name) {
  if (plainIdentifier(name)) return std::string(name);
  std::string out = "\"";
  for (char c : name) {
    out += c;
    if (c == '"') out += '"';
  }
  return out + "\"";
}

SqlExpr SqlExpr::raw(std::string sql, int strength) {
  SqlExpr e;
  e.sql_ = std::move(sql);
  e.strength_ = strength;
  return e;
}

SqlExpr SqlExpr::literal(const Value& v) {
  if (v.type() != Value::Type::Real) return raw(v.toSql(), kOperand);
  double d = v.real();
  if (std::isnan(d)) return raw("NULL", kOperand);
  if (std::isinf(d)) return raw(d > 0 ? "1e999" : "-1e999", kOperand);
  // The shortest text that reads back as the same double, always lexed as a REAL.
  std::string text = fmt::format("{}", d);
  if (text.find_first_of(".e") == std::string::npos) text += ".0";
  return raw(text, d < 0 ? kAdditive : kOperand);
}

SqlExpr SqlExpr::like(const SqlExpr& pattern) const { return binary(*this, "LIKE", pattern, kEquality); }
SqlExpr SqlExpr::notLike(const SqlExpr& pattern) const {
  return binary(*this, "NOT LIKE", pattern, kEquality);
}

SqlExpr SqlExpr::in(std::initializer_list<SqlExpr> values) const {
  return in(std::vector<SqlExpr>(values));
}

SqlExpr SqlExpr::in(const std::vector<SqlExpr>& values) const {
  std::string list;
  for (size_t i = 0; i < values.size(); ++i) list += (i ? ", " : "") + values[i].sql();
  return raw(fmt::format("{} IN ({})", operand(*this, kEquality), list), kEquality);
}

SqlExpr SqlExpr::between(const SqlExpr& low, const SqlExpr& high) const {
  return raw(fmt::format("{} BETWEEN {} AND {}", operand(*this, kEquality),
                         operand(low, kRelational), operand(high, kRelational)),
             kEquality);
}

SqlExpr SqlExpr::isNull() const { return raw(operand(*this, kEquality) + " IS NULL", kEquality); }
SqlExpr SqlExpr::isNotNull() const {
  return raw(operand(*this, kEquality) + " IS NOT NULL", kEquality);
}

SqlExpr col(std::string_view name) { return SqlExpr::raw(quoteName(name), kOperand); }

SqlExpr fn(std::string_view name, std::initializer_list<SqlExpr> args) {
  std::string list;
  size_t i = 0;
  for (const auto& a : args) list += (i++ ? ", " : "") + a.sql();
  return SqlExpr::raw(fmt::format("{}({})", name, list), kOperand);
}

SqlExpr operator==(const SqlExpr& a, const SqlExpr& b) { return binary(a, "=", b, kEquality); }
SqlExpr operator!=(const SqlExpr& a, const SqlExpr& b) { return binary(a, "!=", b, kEquality); }
SqlExpr operator<(const SqlExpr& a, const SqlExpr& b) { return binary(a, "<", b, kRelational); }
SqlExpr operator<=(const SqlExpr& a, const SqlExpr& b) { return binary(a, "<=", b, kRelational); }
SqlExpr operator>(const SqlExpr& a, const SqlExpr& b) { return binary(a, ">", b, kRelational); }
SqlExpr operator>=(const SqlExpr& a, const SqlExpr& b) { return binary(a, ">=", b, kRelational); }
SqlExpr operator&&(const SqlExpr& a, const SqlExpr& b) { return binary(a, "AND", b, kAnd); }
SqlExpr operator||(const SqlExpr& a, const SqlExpr& b) { return binary(a, "OR", b, kOr); }
SqlExpr operator!(const SqlExpr& a) { return SqlExpr::raw("NOT " + operand(a, kNot), kNot); }
SqlExpr operator+(const SqlExpr& a, const SqlExpr& b) { return binary(a, "+", b, kAdditive); }
SqlExpr operator-(const SqlExpr& a, const SqlExpr& b) { return binary(a, "-", b, kAdditive); }
SqlExpr operator*(const SqlExpr& a, const SqlExpr& b) { return binary(a, "*", b, kMultiplicative); }
SqlExpr operator/(const SqlExpr& a, const SqlExpr& b) { return binary(a, "/", b, kMultiplicative); }
SqlExpr operator%(const SqlExpr& a, const SqlExpr& b) { return binary(a, "%", b, kMultiplicative); }

Query::Query(const detail::TableHandle& table) : table_(&table) {}

Query& Query::where(const SqlExpr& condition) {
  where_ = where_.empty() ? operand(condition, kAnd)
                          : where_ + " AND " + operand(condition, kAnd, true);
  return *this;
}

Query& Query::select(std::initializer_list<SqlExpr> columns) {
  select_.clear();
  for (const auto& c : columns) select_.push_back(c.sql());
  return *this;
}

Query& Query::orderBy(const SqlExpr& key, Order order) {
  orderBy_.push_back(key.sql() + (order == Order::Desc ? " DESC" : ""));
  return *this;
}

Query& Query::join(const DynamicTable& other, const SqlExpr& on, std::string_view alias) {
  joins_.push_back({detail::Access::handle(other), false, std::string(alias), on.sql()});
  return *this;
}

Query& Query::leftJoin(const DynamicTable& other, const SqlExpr& on, std::string_view alias) {
  joins_.push_back({detail::Access::handle(other), true, std::string(alias), on.sql()});
  return *this;
}

Query& Query::as(std::string_view alias) {
  alias_ = std::string(alias);
  return *this;
}

Query& Query::limit(int64_t n) {
  limit_ = n;
  return *this;
}

Query& Query::offset(int64_t n) {
  offset_ = n;
  return *this;
}

std::string Query::sqlWith(const std::string& list) const {
  auto named = [](const detail::TableHandle* t, const std::string& alias) {
    std::string name = col(static_cast<const orm::TableCore&>(*t).schema().name).sql();
    return alias.empty() ? name : name + " AS " + quoteName(alias);
  };
  std::string sql = fmt::format("SELECT {} FROM {}", list, named(table_, alias_));
  for (const auto& j : joins_) {
    sql += fmt::format(" {} {} ON {}", j.left ? "LEFT JOIN" : "JOIN", named(j.table, j.alias), j.on);
  }
  if (!where_.empty()) sql += " WHERE " + where_;
  for (size_t i = 0; i < orderBy_.size(); ++i) sql += (i ? ", " : " ORDER BY ") + orderBy_[i];
  if (limit_ || offset_) sql += fmt::format(" LIMIT {}", limit_.value_or(-1));
  if (offset_) sql += fmt::format(" OFFSET {}", *offset_);
  return sql;
}

std::string Query::sql() const {
  std::string list;
  for (size_t i = 0; i < select_.size(); ++i) list += (i ? ", " : "") + select_[i];
  return sqlWith(list.empty() ? "*" : list);
}

std::string Query::keySql() const {
  std::string list;
  const auto& pk = internal::core(*this).schema().primaryKey;
  for (size_t i = 0; i < pk.size(); ++i) list += (i ? ", " : "") + col(pk[i].dotted).sql();
  return sqlWith(list);
}

}  // namespace capdb
