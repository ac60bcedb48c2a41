// Differential test of the SQL layer against SQLite: the same rows and the same random statements
// run in capdb and in an in-memory SQLite mirror of the people table, and the answers must agree.
// The Joins test does the same for random joins over three more tables.
// The generator stays inside what both dialects share (docs/sql.md: SQLite's semantics except
// integer overflow, bare columns in aggregates and storage affinity). CAPDB_SQL_SEED and
// CAPDB_SQL_QUERIES override the seed and the number of SELECTs (the writes test runs a tenth as
// many statements); a failure prints the seed, the statement, its parameters and both answers.
#include <gtest/gtest.h>
#include <sqlite3.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <numeric>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "capdb/capdb.h"
#include "capdb/query.h"
#include "sql_people.capnp.h"
#include "support/temp_dir.h"

namespace capdb {
namespace {

using Row = std::vector<Value>;
using RowList = std::vector<Row>;

// clang-format off
// The people table's SQL columns in SELECT * order, and the mirror SQLite answers from.
enum Col { kId, kName, kEmail, kAge, kCity, kScore, kActive, kBalance, kPhoto, kKind, kStreet, kZip, kColumns };
enum class Ty { Num, Text, Blob };
const char* const kColNames[kColumns] = {"id", "name", "email", "age", "city", "score", "active",
                                         "balance", "photo", "kind", "address.street", "address.zip"};
constexpr Ty kColTypes[kColumns] = {Ty::Num, Ty::Text, Ty::Text, Ty::Num, Ty::Text, Ty::Num,
                                    Ty::Num, Ty::Num, Ty::Blob, Ty::Text, Ty::Text, Ty::Num};
// clang-format on
const char* const kMirror =
    "CREATE TABLE people(id INTEGER PRIMARY KEY, name TEXT, email TEXT UNIQUE, age INTEGER,"
    " city TEXT, score REAL, active INTEGER, balance INTEGER, photo BLOB, kind TEXT,"
    " \"address.street\" TEXT, \"address.zip\" INTEGER);"
    "CREATE INDEX people_age ON people(age); CREATE INDEX by_city_age ON people(city, age);";

const std::vector<std::string> kNames = {"Ada",   "Alan", "Grace", "Edsger",  "Barbara", "Ken",
                                         "Linus", "Zoë",  "Émile", "O'Brien", "x_y",     "100%"};
const std::vector<std::string> kCities = {"London", "london", "LONDON", "Londonderry", "Paris",
                                          "Par",    "paris",  "Berlin", "São Paulo",   "New York"};
const std::vector<std::string> kStreets = {"1 High St",  "22 Main Rd",      "main rd", "42",
                                           "1e2 Exp Rd", "7 rue de Rivoli", ""};
const std::vector<std::string> kKinds = {"person", "company", "robot"};
const std::vector<std::string> kWords = {"a", "A", "on", "don", "", "ë", "@", "Lon", "robot", " "};

// clang-format off
// Templates, expanded left to right by Gen::expand. Upper-case letters and # $ @ are placeholders
// (SQL words are written in lower case): N, T, B, P, Y a numeric, text, blob, predicate or any
// expression one level shallower; M a numeric one that may use the wide columns; G a small
// INTEGER aggregate; I, R, W, K, X an INTEGER in -4..8, a REAL, a word, a kind or a BLOB, as a
// literal or a parameter; O a comparison operator; L a LIKE pattern. For the template's column c:
// # names it, E is an expression of its class, $ a value of its class, A a value of either class
// (its affinity converts it), @ a value its field accepts.
// Numeric operands are small (|x| < 1e4) and nest at most twice, so no INTEGER passes ~1e15 and
// no SUM overflows; the wide columns (balance, zip) enter arithmetic only through kWideForms.
const std::vector<const char*> kNumForms = {
    "(N + N)", "(N - N)", "(N * N)", "(N / N)", "(N % N)", "(N + N * N)", "(N - N / N)",
    "(N * N % N)", "-(N)", "abs(N)", "case when P then N else N end", "case when P then N end",
    "coalesce(N, N)", "ifnull(N, N)", "nullif(N, N)", "cast(N as integer)", "cast(N as real)",
    "min(cast(N as integer), cast(N as integer))", "max(cast(N as real), R, cast(N as real))",
    "length(T)", "instr(T, W)", "cast(T as integer)", "cast(T as real)"};
const std::vector<const char*> kWideForms = {
    "(balance + N)", "(balance - N)", "(balance / N)", "(balance % N)", "(balance * I)",
    "-(balance)", "(\"address.zip\" * I)", "(\"address.zip\" - N)", "abs(\"address.zip\" - balance)"};
const std::vector<const char*> kTextForms = {
    "lower(T)", "upper(T)", "substr(T, I)", "substr(T, I, I)", "trim(T)", "trim(T, W)",
    "replace(T, W, W)", "T || T", "T || N", "coalesce(T, W)", "ifnull(T, W)", "nullif(T, W)",
    "case when P then T else T end", "case kind when K then T when K then T else T end",
    "cast(N as text)", "N || ''", "min(T, T)", "max(T, T, T)"};
const std::vector<const char*> kLeafForms = {
    "# O A", "# O A", "A O #", "E O $", "# O E", "E O E", "E is null", "# is not null",
    "# between $ and $", "E not between $ and $", "# in ($, $, $)", "E in ($)",
    "# not in ($, $, null)", "T like L", "T not like L", "not active", "active = true", "score",
    "\"address.street\"", "id < 9223372036854775808"};
// MIN and MAX only over one class: of an INTEGER and an equal REAL they may return either.
const std::vector<const char*> kAggForms = {
    "count(*)", "count(Y)", "sum(M)", "sum(M)", "avg(M)", "min(T)", "max(T)", "min(#)", "max(#)",
    "count(#)", "min(cast(N as real))", "max(cast(N as integer))", "G + G", "G * G"};
const std::vector<const char*> kIntAggs = {"count(*)", "count(city)", "sum(age)", "min(age)",
                                           "max(id)"};
// Group columns and aggregates whose value does not depend on the order rows are added in.
const std::vector<const char*> kHavingForms = {
    "# is not null", "count(*) O I", "count(city) O I", "sum(active) O I", "min(score) O R",
    "avg(age) O 100", "max(city) O W"};
// ORDER BY expressions: never a bare integer, which would name a result column.
const std::vector<const char*> kKeyForms = {"(N + N)", "abs(N)", "lower(T)", "T || W", "P",
                                            "(balance - N)"};
// UPDATE ... SET c = form. Each keeps the field's range and never makes a scalar NULL, so the two
// databases refuse the same statements (duplicate emails) and no others. upper and lower keep
// emails unique, since each holds its row's id.
const std::vector<const char*> kTextSets = {
    "upper(#)", "lower(#)", "# || 'x'", "null", "substr(#, 2)", "trim(#, 'ab')", "city", "age",
    "score", "case when P then null else # end", "@", "@"};
const std::vector<const char*> kSetForms[kColumns] = {
    {},  // id: a primary key is never set
    kTextSets,
    {"upper(#)", "lower(#)", "null", "@"},
    {"(# + 256 + I) % 256", "# / 2", "255 - #", "abs(balance) % 256",
     "coalesce(length(name), 0) % 256", "@", "@"},
    kTextSets,
    {"# + 0.5", "# * -1", "# / 2", "age / 4.0", "age", "abs(#)", "@"},
    {"1 - #", "not #", "age > 100", "true", "false", "@"},
    {"# + I", "-#", "# / 3", "# - age", "# % 1000", "@"},
    {"null", "case when P then X else # end", "@"},
    {"case when age > 100 then 'robot' else # end", "@"},
    kTextSets,
    {"(# + 4294967296 + I) % 4294967296", "# / 2", "age * 1000", "@"}};
// clang-format on

// Deterministic on every standard library (the std:: distributions are not).
class Rng {
 public:
  explicit Rng(uint64_t seed) : engine_(seed) {}
  uint64_t below(uint64_t n) { return engine_() % n; }
  int64_t range(int64_t lo, int64_t hi) {
    return lo + static_cast<int64_t>(below(static_cast<uint64_t>(hi - lo) + 1));
  }
  bool chance(double p) { return static_cast<double>(engine_() >> 11) * 0x1.0p-53 < p; }
  template <typename T>
  T pick(const std::vector<T>& v) {
    return v[below(v.size())];
  }
  template <typename T>
  T pick(std::initializer_list<T> v) {
    return v.begin()[below(v.size())];
  }
  template <typename T>
  void shuffle(std::vector<T>& v) {
    for (size_t i = v.size(); i > 1; --i) std::swap(v[i - 1], v[below(i)]);
  }

 private:
  std::mt19937_64 engine_;
};

// s as it is, in lower case or in upper case (ASCII only: LIKE ignores the difference, = not).
std::string recase(Rng& r, std::string s) {
  const uint64_t how = r.below(3);
  for (char& ch : s) {
    const auto byte = static_cast<unsigned char>(ch);
    if (how && byte < 128)
      ch = static_cast<char>(how == 1 ? std::tolower(byte) : std::toupper(byte));
  }
  return s;
}
std::string join(const std::vector<std::string>& parts) {
  std::string s;
  for (size_t i = 0; i < parts.size(); ++i) s += (i ? ", " : "") + parts[i];
  return s;
}

// v as a SQL literal; a REAL with 17 digits, which read back as the same double.
std::string literal(const Value& v) {
  const auto& x = v.variant();
  if (v.isNull()) return "NULL";
  if (auto* i = std::get_if<int64_t>(&x)) return std::to_string(*i);
  if (auto* d = std::get_if<double>(&x)) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.17g", *d);
    return buf + std::string(std::strpbrk(buf, ".en") ? "" : ".0");
  }
  std::string s = std::holds_alternative<Blob>(x) ? "x'" : "'";
  if (auto* t = std::get_if<std::string>(&x))
    for (char ch : *t) s += ch == '\'' ? "''" : std::string(1, ch);
  if (auto* b = std::get_if<Blob>(&x))
    for (unsigned char ch : b->bytes)
      s += {"0123456789abcdef"[ch >> 4], "0123456789abcdef"[ch & 15]};
  return s + "'";
}
std::string showRow(const Row& row) {
  std::vector<std::string> values;
  for (const Value& v : row) values.push_back(literal(v));
  return "(" + join(values) + ")";
}

// REALs agree within 1e-9, relative (SUM and AVG may add in another order); an INTEGER and a REAL
// agree only in a `lenient` column (AVG), and only when they are the same number.
double number(const Value& v) {
  auto* i = std::get_if<int64_t>(&v.variant());
  return i ? static_cast<double>(*i) : std::get<double>(v.variant());
}
bool same(const Value& a, const Value& b, bool lenient) {
  auto isNumber = [](const Value& v) {
    return v.type() == Value::Type::Integer || v.type() == Value::Type::Real;
  };
  if (a.type() != b.type() && !(lenient && isNumber(a) && isNumber(b))) return false;
  if (a.type() != Value::Type::Real && b.type() != Value::Type::Real) return a == b;
  const double x = number(a), y = number(b);
  return x == y || std::fabs(x - y) <= 1e-9 * std::max({1.0, std::fabs(x), std::fabs(y)});
}

Blob randomBlob(Rng& r) {
  Blob b;
  for (uint64_t n = r.below(5), i = 0; i < n; ++i)
    b.bytes += static_cast<char>(r.pick({0x00, 0x01, 0x41, 0xff}));
  return b;
}

// A row: NULL only in Text and Data columns; emails unique, as they hold the id; balance within
// +-1e12 so that no SUM overflows.
Row randomRow(Rng& r, int64_t id) {
  Row row(kColumns);
  row[kId] = Value(id);
  if (!r.chance(0.1))
    row[kName] = Value(r.chance(0.03) ? std::string() : recase(r, r.pick(kNames)));
  if (!r.chance(0.2)) {
    auto* name = std::get_if<std::string>(&row[kName].variant());
    std::string local = name ? *name : "anon";
    for (char& ch : local)
      ch = static_cast<unsigned char>(ch) < 128 ? static_cast<char>(std::tolower(ch)) : ch;
    row[kEmail] =
        Value(local + "." + std::to_string(id) + (r.chance(0.5) ? "@example.com" : "@mail.org"));
  }
  row[kAge] =
      Value(r.chance(0.5) ? r.pick<int64_t>({0, 18, 21, 30, 42, 65, 255}) : r.range(0, 255));
  if (!r.chance(0.1)) row[kCity] = Value(r.pick(kCities));
  row[kScore] = Value(r.chance(0.3) ? r.pick({0.0, 1.5, -2.25, 100.0}) : r.range(-400, 400) / 4.0);
  row[kActive] = Value(r.range(0, 1));
  row[kBalance] =
      Value(r.chance(0.3) ? r.range(-1000, 1000) : r.range(-1000000000000, 1000000000000));
  if (!r.chance(0.3)) row[kPhoto] = Value(randomBlob(r));
  row[kKind] = Value(r.pick(kKinds));
  if (!r.chance(0.15)) row[kStreet] = Value(r.pick(kStreets));
  row[kZip] =
      Value(r.chance(0.3) ? r.pick<int64_t>({0, 12345, 4294967295}) : r.range(0, 4294967295));
  return row;
}

// A statement, its parameters, and how to compare its answers.
struct Stmt {
  std::string sql;
  Params params;
  bool ordered = false;       // the ORDER BY makes the order total: compare rows in order
  std::vector<bool> lenient;  // per column: may an INTEGER stand for an equal REAL (AVG)?
};

// Random statements over the people table, comparing against values `data` holds. Parameters
// take one style a statement (literals only, ?, ?NNN or :name), so their numbers are unambiguous.
class Gen {
 public:
  Gen(Rng& rng, const RowList& data) : r_(rng), data_(data) {}

  Stmt select() {
    begin();
    std::string sql = "SELECT ";
    std::vector<bool> lenient;
    bool ordered = false;
    if (r_.chance(0.35)) {  // aggregates; group columns bare in the select list or not at all
      std::vector<int> groups;
      for (uint64_t n = r_.chance(0.65) ? r_.range(1, 2) : 0; groups.size() < n;) {
        const int g = r_.pick<int>({kName, kAge, kCity, kActive, kKind, kStreet, kPhoto});
        if (std::find(groups.begin(), groups.end(), g) == groups.end()) groups.push_back(g);
      }
      std::vector<std::string> items, keys;
      for (int g : groups) {
        keys.push_back(col(g));
        if (!r_.chance(0.8)) continue;
        items.push_back(col(g));
        lenient.push_back(false);
      }
      for (int64_t n = r_.range(1, 3), i = 0; i < n; ++i) {
        const char* form = r_.pick(kAggForms);
        lenient.push_back(std::string(form).rfind("avg", 0) == 0);
        items.push_back(expand(form, 2, static_cast<int>(r_.below(kColumns))));
      }
      sql += join(items) + " FROM people";
      if (r_.chance(0.7)) sql += " WHERE " + pred(2);
      if (!groups.empty()) sql += " GROUP BY " + join(keys);
      for (int64_t n = groups.empty() || r_.chance(0.6) ? 0 : r_.range(1, 2), i = 0; i < n; ++i) {
        sql += i ? (r_.chance(0.6) ? " AND " : " OR ") : " HAVING ";
        const int g = groups[r_.below(groups.size())];
        sql += expand(r_.pick(kHavingForms), 1, g);
      }
      ordered = groups.empty() || r_.chance(0.6);  // one row, or every group column a key
      if (!groups.empty() && ordered) {
        keys.clear();
        if (r_.chance(0.4)) keys.push_back(key(r_.pick(kIntAggs)));
        if (r_.chance(0.5)) std::reverse(groups.begin(), groups.end());
        for (int g : groups) keys.push_back(key(col(g)));
        sql += " ORDER BY " + join(keys);
      }
    } else {
      const bool star = r_.chance(0.15), distinct = !star && r_.chance(0.15);
      std::vector<std::string> items;
      std::vector<int> bare;
      for (int64_t n = star ? 0 : r_.range(1, 4), i = 0; i < n; ++i) {
        if (r_.chance(distinct ? 0.7 : 0.4)) {
          bare.push_back(static_cast<int>(r_.below(kColumns)));
          items.push_back(col(bare.back()));
          continue;
        }
        items.push_back(distinct ? text(1) : any(2));  // DISTINCT would keep either of 1 and 1.0
        if (r_.chance(0.3)) items.back() += " AS r" + std::to_string(i);
      }
      lenient.assign(star ? size_t{kColumns} : items.size(), false);
      sql += (distinct ? "DISTINCT " : "") + (star ? "*" : join(items)) + " FROM people";
      if (r_.chance(0.85)) sql += " WHERE " + pred(static_cast<int>(r_.range(2, 3)));
      if (!distinct) {
        sql += orderBy(&ordered);
      } else if (bare.size() == items.size() && r_.chance(0.6)) {  // distinct rows differ in a key
        std::vector<std::string> keys;
        for (int c : bare) keys.push_back(key(col(c)));
        sql += " ORDER BY " + join(keys);
        ordered = true;
      }
    }
    if (ordered && r_.chance(0.4)) {
      sql += " LIMIT " + std::to_string(r_.chance(0.1) ? -1 : r_.range(0, 20));  // -1: none
      const int64_t offset = r_.range(0, 30);
      if (r_.chance(0.6)) sql += " OFFSET " + std::to_string(r_.chance(0.2) ? offset * 10 : offset);
    }
    return finish(sql, ordered, lenient);
  }

  // DELETE of a few rows (while the table holds `rows`, at least 150), or UPDATE of one to three
  // columns.
  Stmt write(size_t rows) {
    begin();
    std::string sql;
    if (rows >= 150 && r_.chance(0.15)) {
      sql = "DELETE FROM people WHERE " + col(kId);
      if (r_.chance(0.5)) {
        sql += " IN (" + lit(sample(kId));
        for (uint64_t n = r_.below(3), i = 0; i < n; ++i) sql += ", " + lit(sample(kId));
        return finish(sql + ")");
      }
      sql += " % 50 = " + lit(Value(r_.range(0, 49)));
      return finish(sql + " AND " + pred(2));
    }
    std::vector<int> cols;
    for (int64_t n = r_.range(1, 3), i = 0; i < n; ++i) {
      const int c = static_cast<int>(r_.range(1, kColumns - 1));
      if (std::find(cols.begin(), cols.end(), c) == cols.end()) cols.push_back(c);
    }
    sql = "UPDATE people SET ";
    for (size_t i = 0; i < cols.size(); ++i) {
      sql += (i ? ", " : "") + col(cols[i]) + " = ";
      sql += expand(r_.pick(kSetForms[cols[i]]), 2, cols[i]);
    }
    return finish(r_.chance(0.9) ? sql + " WHERE " + pred(2) : sql);
  }

 private:
  void begin() {
    style_ = static_cast<int>(r_.below(4));
    params_ = Params();
    pending_.clear();
  }

  // Bare ? parameters number in textual order, which building the text need not follow: lit()
  // leaves a marker, and finish() turns the markers into ? and their values into ?1, ?2, ...
  Stmt finish(const std::string& sql, bool ordered = false, std::vector<bool> lenient = {}) {
    Stmt s{"", {}, ordered, std::move(lenient)};
    for (size_t i = 0; i < sql.size(); ++i) {
      if (sql[i] != '\x01') {
        s.sql += sql[i];
        continue;
      }
      const size_t end = sql.find('\x02', i);
      params_.positional.push_back(pending_[std::stoul(sql.substr(i + 1, end - i - 1))]);
      s.sql += '?';
      i = end;
    }
    s.params = std::move(params_);
    return s;
  }

  // v as a literal or, three times in ten, as a parameter bound to it (?NNN and :name are reused
  // for an equal value, so they come out of order and repeated).
  std::string lit(const Value& v) {
    if (style_ == 0 || !r_.chance(0.3)) return literal(v);
    if (style_ == 1) {
      pending_.push_back(v);
      return "\x01" + std::to_string(pending_.size() - 1) + "\x02";
    }
    auto& values = params_.positional;
    if (style_ == 2) {
      const size_t at = std::find(values.begin(), values.end(), v) - values.begin();
      if (at == values.size()) values.push_back(v);
      return "?" + std::to_string(at + 1);
    }
    for (const auto& [name, value] : params_.named)
      if (value == v) return ":" + name;
    const std::string name = r_.pick({"p", "city", "Val"}) + std::to_string(params_.named.size());
    params_.set(name, v);
    return ":" + name;
  }

  // A reference to column c, spelled any way that names it.
  std::string col(int c) {
    const std::string name = kColNames[c];
    if (name.find('.') != std::string::npos)
      return r_.chance(0.8) ? "\"" + name + "\"" : "`" + name + "`";
    const uint64_t k = r_.below(12);
    return k == 0   ? recase(r_, name)
           : k == 1 ? "\"" + name + "\""
           : k == 2 ? "`" + name + "`"
                    : name;
  }
  std::string key(const std::string& k) { return k + r_.pick({"", " ASC", " DESC"}); }
  Value sample(int c) { return data_[r_.below(data_.size())][c]; }

  // A value to compare column c with: mostly one the table holds, sometimes an edge. With
  // `affinity`, sometimes of the other class, which the column's affinity converts.
  Value valueFor(int c, bool affinity) {
    Value v = sample(c);
    if (kColTypes[c] == Ty::Text) {
      if (affinity && r_.chance(0.05)) return Value(r_.range(0, 50));
      if (v.isNull() || r_.chance(0.25)) v = Value(r_.pick(kWords));
      return r_.chance(0.2) ? Value(recase(r_, std::get<std::string>(v.variant()))) : v;
    }
    if (kColTypes[c] == Ty::Blob) return v.isNull() || r_.chance(0.3) ? Value(randomBlob(r_)) : v;
    if (affinity && r_.chance(0.08))
      return Value(r_.chance(0.5) ? literal(v) : r_.pick<std::string>({"2.5", "-7", "1e2", "042"}));
    if (r_.chance(0.1))
      return r_.pick<Value>({int64_t{-1}, int64_t{256}, 2.5, int64_t{4294967296}, 1e19});
    return r_.chance(0.2) ? randomRow(r_, r_.range(1, 1000))[c] : v;
  }
  // A value column c's field accepts: a random row's, or for age an integral REAL or TEXT integer.
  Value fitting(int c) {
    const Row row = randomRow(r_, r_.range(1, 1000));
    if (c != kAge || r_.chance(0.5)) return row[c];
    return r_.chance(0.5) ? Value(number(row[c])) : Value(literal(row[c]));
  }

  // A LIKE pattern cut from a value the table holds: characters made _ (one character, however
  // many bytes), case changed, % around.
  std::string likePattern() {
    const Value v = sample(r_.pick<int>({kName, kEmail, kCity, kKind, kStreet}));
    const std::string s = v.isNull() ? r_.pick(kWords) : std::get<std::string>(v.variant());
    std::vector<std::string> chars;
    for (char ch : s) {
      if ((static_cast<unsigned char>(ch) & 0xC0) == 0x80 && !chars.empty())
        chars.back() += ch;
      else
        chars.emplace_back(1, ch);
    }
    const size_t from = r_.below(chars.size() + 1), to = from + r_.below(chars.size() - from + 1);
    std::string p = r_.chance(0.6) ? "%" : "";
    for (size_t i = from; i < to; ++i) p += r_.chance(0.15) ? "_" : chars[i];
    return recase(r_, r_.chance(0.6) ? p + "%" : p);
  }

  // clang-format off
  std::string expand(const char* form, int depth, int c = kId) {
    std::string out;
    for (const char* p = form; *p; ++p) {
      switch (*p) {
        case 'N': out += num(depth - 1); break;
        case 'T': out += text(depth - 1); break;
        case 'B': out += blob(); break;
        case 'P': out += pred(depth - 1); break;
        case 'Y': out += any(depth - 1); break;
        case 'M': out += of(Ty::Num, depth - 1); break;
        case 'G': out += r_.pick(kIntAggs); break;
        case 'I': out += lit(Value(r_.range(-4, 8))); break;
        case 'R': out += lit(Value(r_.range(-40, 40) / 4.0)); break;
        case 'W': out += lit(Value(r_.pick(kWords))); break;
        case 'K': out += lit(Value(r_.pick(kKinds))); break;
        case 'X': out += lit(Value(randomBlob(r_))); break;
        case 'O': out += r_.pick({"=", "!=", "<>", "<", "<=", ">", ">="}); break;
        case 'L': out += lit(Value(likePattern())); break;
        case '#': out += col(c); break;
        case 'E': out += of(kColTypes[c], depth - 1); break;
        case '$': out += lit(valueFor(c, false)); break;
        case 'A': out += lit(valueFor(c, true)); break;
        case '@': out += lit(fitting(c)); break;
        default: out += *p;
      }
    }
    return out;
  }
  // clang-format on
  std::string num(int depth) {
    if (depth > 0 && r_.chance(0.7)) return expand(r_.pick(kNumForms), depth);
    if (r_.chance(0.55)) return col(r_.pick<int>({kId, kAge, kActive, kScore}));
    return lit(r_.chance(0.35) ? Value(r_.range(-40, 40) / 4.0) : Value(r_.range(-20, 300)));
  }
  std::string text(int depth) {  // TEXT or NULL, whatever the row
    if (depth > 0 && r_.chance(0.7)) return expand(r_.pick(kTextForms), depth);
    const int c = r_.pick<int>({kName, kEmail, kCity, kKind, kStreet});
    return r_.chance(0.7) ? col(c) : lit(valueFor(c, false));
  }
  std::string blob() {
    const uint64_t k = r_.below(4);
    return k < 2    ? col(kPhoto)
           : k == 2 ? lit(Value(randomBlob(r_)))
                    : "coalesce(" + col(kPhoto) + ", x'00')";
  }
  std::string of(Ty ty, int depth) {
    if (ty == Ty::Num) return r_.chance(0.2) ? expand(r_.pick(kWideForms), depth) : num(depth);
    return ty == Ty::Text ? text(depth) : blob();
  }
  std::string any(int depth) {
    const uint64_t k = r_.below(20);
    return k < 10 ? of(Ty::Num, depth) : k < 16 ? text(depth) : k < 17 ? blob() : pred(depth);
  }
  std::string pred(int depth) {
    if (depth <= 0 || r_.chance(0.35)) return leaf();
    const uint64_t k = r_.below(6);
    if (k == 3) return "NOT (" + pred(depth - 1) + ")";
    if (k == 4) return "NOT " + leaf();  // NOT binds looser than comparisons
    std::string s = "(" + (k < 3 ? pred(depth - 1) : leaf());
    s += r_.chance(0.6) ? " AND " : " OR ";
    s += k < 3 ? pred(depth - 1) : leaf();
    if (k == 5) s += r_.chance(0.5) ? " AND " : " OR ";  // AND binds tighter than OR
    return k == 5 ? s + leaf() + ")" : s + ")";
  }
  std::string leaf() {
    const int c = static_cast<int>(r_.below(kColumns));
    return expand(r_.pick(kLeafForms), 2, c);
  }
  // ORDER BY columns and expressions; ending in id, the order is total.
  std::string orderBy(bool* total) {
    if (!r_.chance(0.6)) return "";
    std::vector<std::string> keys;
    for (uint64_t n = r_.below(3), i = 0; i < n; ++i)
      keys.push_back(key(r_.chance(0.6) ? col(static_cast<int>(r_.below(kColumns)))
                                        : expand(r_.pick(kKeyForms), 1)));
    *total = keys.empty() || r_.chance(0.7);
    if (*total) keys.push_back(key(col(kId)));
    return " ORDER BY " + join(keys);
  }

  Rng& r_;
  const RowList& data_;
  int style_ = 0;  // 0 literals only, 1 ?, 2 ?NNN, 3 :name
  Params params_;
  std::vector<Value> pending_;  // style 1: the values behind lit()'s markers
};

// One database's answer: an error, or columns, rows and the changes count.
struct Outcome {
  std::optional<std::string> error;
  bool constraint = false;
  std::vector<std::string> columns;
  RowList rows;
  uint64_t changes = 0;
};

std::string report(const std::string& problem, uint64_t seed, uint64_t index, const Stmt& s,
                   const Outcome& lite, const Outcome& cap) {
  std::string out = problem + "\n  seed " + std::to_string(seed) +
                    " (CAPDB_SQL_SEED), statement #" + std::to_string(index) + "\n  " + s.sql +
                    "\n  params:";
  for (size_t i = 0; i < s.params.positional.size(); ++i)
    out += " ?" + std::to_string(i + 1) + "=" + literal(s.params.positional[i]);
  for (const auto& [name, v] : s.params.named) out += " :" + name + "=" + literal(v);
  for (const Outcome* o : {&lite, &cap}) {
    out += o == &lite ? "\n  sqlite: " : "\n  capdb:  ";
    if (o->error) {
      out += "error: " + *o->error;
      continue;
    }
    out += std::to_string(o->rows.size()) + " rows, changes " + std::to_string(o->changes) +
           ", columns [" + join(o->columns) + "]";
    for (size_t i = 0; i < std::min<size_t>(o->rows.size(), 8); ++i)
      out += "\n      " + showRow(o->rows[i]);
  }
  return out;
}

// What is wrong with capdb's answer, or "" when it agrees with SQLite's. When the order is not
// total, both answers' rows are sorted first (by their text: equal rows sort alike).
std::string compare(const Stmt& s, Outcome& lite, Outcome& cap) {
  if (lite.error) return "SQLite failed: " + *lite.error;
  if (cap.error) return "capdb threw where SQLite did not: " + *cap.error;
  if (lite.columns != cap.columns) return "column names differ";
  for (RowList* rows : {&lite.rows, &cap.rows}) {
    // -0.0 equals 0.0; which one SQLite returns depends on how it stored the operand (a REAL 0.0
    // is kept on disk as the integer 0), so both answers show it as 0.0.
    for (Row& row : *rows) {
      for (Value& v : row) {
        if (v.type() == Value::Type::Real && v.real() == 0.0) v = Value(0.0);
      }
    }
    if (s.ordered) continue;
    std::vector<std::pair<std::string, Row>> keyed;
    for (Row& row : *rows) keyed.emplace_back(showRow(row), std::move(row));
    std::sort(keyed.begin(), keyed.end(), [](auto& a, auto& b) { return a.first < b.first; });
    for (size_t i = 0; i < keyed.size(); ++i) (*rows)[i] = std::move(keyed[i].second);
  }
  for (size_t i = 0; i < std::max(lite.rows.size(), cap.rows.size()); ++i) {
    const std::string at = "row " + std::to_string(i) + (s.ordered ? "" : " (both sorted)");
    if (i >= cap.rows.size()) return at + " missing in capdb: " + showRow(lite.rows[i]);
    if (i >= lite.rows.size()) return at + " only in capdb: " + showRow(cap.rows[i]);
    bool ok = lite.rows[i].size() == cap.rows[i].size();
    for (size_t j = 0; ok && j < lite.rows[i].size(); ++j)
      ok = same(lite.rows[i][j], cap.rows[i][j], j < s.lenient.size() && s.lenient[j]);
    if (!ok)
      return at + " differs: sqlite " + showRow(lite.rows[i]) + ", capdb " + showRow(cap.rows[i]);
  }
  return "";
}

// The join tables (schemas/sql_people.capnp) as SQLite holds them, with the same indexes.
const char* const kJoinMirror =
    "CREATE TABLE customers(id INTEGER PRIMARY KEY, name TEXT, city TEXT, code TEXT);"
    "CREATE INDEX by_city ON customers(city); CREATE INDEX customers_code ON customers(code);"
    "CREATE TABLE orders(id INTEGER PRIMARY KEY, customer INTEGER, day INTEGER, amount REAL,"
    " code TEXT, status TEXT);"
    "CREATE INDEX by_customer_day ON orders(customer, day);"
    "CREATE TABLE lines(\"order\" INTEGER, line INTEGER, product TEXT, qty INTEGER,"
    " PRIMARY KEY(\"order\", line));";

// capdb in a fresh directory and its SQLite mirror in memory.
class Pair {
 public:
  Pair()
      : db_(Database::open(dir_ / "db",
                           Schemas{table<sqltest::Person>(), table<sqltest::Customer>(),
                                   table<sqltest::Order>(), table<sqltest::Line>()})) {
    EXPECT_EQ(sqlite3_open(":memory:", &lite_), SQLITE_OK);
    EXPECT_EQ(sqlite3_exec(lite_, kMirror, nullptr, nullptr, nullptr), SQLITE_OK)
        << sqlite3_errmsg(lite_);
    EXPECT_EQ(sqlite3_exec(lite_, kJoinMirror, nullptr, nullptr, nullptr), SQLITE_OK)
        << sqlite3_errmsg(lite_);
  }
  ~Pair() { sqlite3_close(lite_); }

  // Fills both with the same 300 rows in shuffled order, by the same INSERT statements: one in
  // SELECT * order, two naming the columns in shuffled orders.
  RowList load(uint64_t seed) {
    Rng r(seed);
    RowList data;
    for (int64_t i = 0, id = 0; i < 300; ++i) data.push_back(randomRow(r, id += r.range(1, 3)));
    RowList shuffled = data;
    r.shuffle(shuffled);
    for (size_t at = 0; at < shuffled.size(); at += 100) {
      std::vector<int> columns(at ? size_t{kColumns} : 0), order(kColumns);
      std::iota(columns.begin(), columns.end(), 0);
      std::iota(order.begin(), order.end(), 0);
      r.shuffle(columns);
      std::vector<std::string> names, tuples;
      for (int c : columns) names.push_back("\"" + std::string(kColNames[c]) + "\"");
      for (size_t i = at; i < at + 100; ++i) {
        std::vector<std::string> values;
        for (int c : columns.empty() ? order : columns) values.push_back(literal(shuffled[i][c]));
        tuples.push_back("(" + join(values) + ")");
      }
      const std::string list = at ? " (" + join(names) + ")" : "";
      const Stmt s{"INSERT INTO people" + list + " VALUES " + join(tuples), {}, false, {}};
      const Outcome lite = runSqlite(s), cap = runCapdb(s);
      if (lite.error || cap.error || lite.changes != 100 || cap.changes != 100)
        ADD_FAILURE() << report("loading the table failed", seed, at / 100, s, lite, cap);
    }
    return data;
  }

  Outcome runCapdb(const Stmt& s) {
    Outcome o;
    try {
      ResultSet rs = db_.query(s.sql, s.params);
      o.columns = std::move(rs.columns);
      o.rows = std::move(rs.rows).toVectors();
      o.changes = rs.changes;
    } catch (const Error& e) {
      o.error = std::string(errorCodeName(e.code())) + ": " + e.what();
      o.constraint = e.code() == ErrorCode::ConstraintViolation;
    } catch (const std::exception& e) {
      o.error = std::string("not a capdb::Error: ") + e.what();
    }
    return o;
  }

  Outcome runSqlite(const Stmt& s) {
    Outcome o;
    sqlite3_stmt* st = nullptr;
    if (sqlite3_prepare_v2(lite_, s.sql.c_str(), -1, &st, nullptr) != SQLITE_OK) {
      o.error = sqlite3_errmsg(lite_);
      return o;
    }
    std::unique_ptr<sqlite3_stmt, int (*)(sqlite3_stmt*)> owner(st, sqlite3_finalize);
    for (int i = 1; i <= sqlite3_bind_parameter_count(st); ++i) {
      const char* name = sqlite3_bind_parameter_name(st, i);
      const bool named = name && name[0] == ':';
      const auto it = named ? s.params.named.find(name + 1) : s.params.named.end();
      if (it != s.params.named.end()) bind(st, i, it->second);
      if (!named && i <= static_cast<int>(s.params.positional.size()))
        bind(st, i, s.params.positional[i - 1]);
    }
    for (int c = 0; c < sqlite3_column_count(st); ++c)
      o.columns.push_back(sqlite3_column_name(st, c));
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
      Row row;
      for (int c = 0; c < sqlite3_column_count(st); ++c) row.push_back(column(st, c));
      o.rows.push_back(std::move(row));
    }
    if (rc != SQLITE_DONE) {
      o.error = sqlite3_errmsg(lite_);
      o.constraint = (rc & 0xff) == SQLITE_CONSTRAINT;
    } else if (!sqlite3_stmt_readonly(st)) {
      o.changes = static_cast<uint64_t>(sqlite3_changes(lite_));
    }
    return o;
  }

 private:
  static void bind(sqlite3_stmt* st, int i, const Value& v) {
    const auto& x = v.variant();
    if (auto* n = std::get_if<int64_t>(&x)) sqlite3_bind_int64(st, i, *n);
    if (auto* d = std::get_if<double>(&x)) sqlite3_bind_double(st, i, *d);
    if (auto* t = std::get_if<std::string>(&x))
      sqlite3_bind_text(st, i, t->data(), static_cast<int>(t->size()), SQLITE_TRANSIENT);
    if (auto* b = std::get_if<Blob>(&x))
      sqlite3_bind_blob(st, i, b->bytes.data(), static_cast<int>(b->bytes.size()),
                        SQLITE_TRANSIENT);
  }
  static Value column(sqlite3_stmt* st, int c) {
    const int type = sqlite3_column_type(st, c);
    if (type == SQLITE_INTEGER) return Value(static_cast<int64_t>(sqlite3_column_int64(st, c)));
    if (type == SQLITE_FLOAT) return Value(sqlite3_column_double(st, c));
    if (type == SQLITE_NULL) return Value();
    const char* bytes = static_cast<const char*>(
        type == SQLITE_TEXT ? static_cast<const void*>(sqlite3_column_text(st, c))
                            : sqlite3_column_blob(st, c));
    std::string s(bytes ? bytes : "", static_cast<size_t>(sqlite3_column_bytes(st, c)));
    return type == SQLITE_TEXT ? Value(std::move(s)) : Value(Blob{std::move(s)});
  }

  testing::TempDir dir_;
  Database db_;
  sqlite3* lite_ = nullptr;
};

uint64_t envNumber(const char* name, uint64_t fallback) {
  const char* text = std::getenv(name);
  return text && *text ? std::strtoull(text, nullptr, 10) : fallback;
}
const uint64_t kSeed = envNumber("CAPDB_SQL_SEED", 20240611);
const uint64_t kQueries = envNumber("CAPDB_SQL_QUERIES", 3000);

TEST(SqlDifferential, Selects) {
  Pair pair;
  const RowList data = pair.load(kSeed);
  if (::testing::Test::HasFailure()) return;
  uint64_t skipped = 0, nonEmpty = 0, failures = 0;
  std::string firstSkipped;
  for (uint64_t i = 0; i < kQueries && failures < 5; ++i) {
    Rng rng(kSeed * 0x9E3779B97F4A7C15ull + i);  // statement #i is the same whatever the count
    const Stmt s = Gen(rng, data).select();
    Outcome lite = pair.runSqlite(s);
    if (lite.error && skipped++ == 0) firstSkipped = s.sql + "\n  " + *lite.error;
    if (lite.error) continue;
    Outcome cap = pair.runCapdb(s);
    nonEmpty += !lite.rows.empty();
    const std::string problem = compare(s, lite, cap);
    if (!problem.empty()) {
      ++failures;
      ADD_FAILURE() << report(problem, kSeed, i, s, lite, cap);
    }
  }
  // The generator is meant to stay inside SQLite's grammar and to find rows.
  EXPECT_LT(skipped * 20, kQueries)
      << skipped << " statements SQLite refused, the first:\n  " << firstSkipped;
  EXPECT_GT(nonEmpty * 2, kQueries - skipped) << "only " << nonEmpty << " statements returned rows";
}

// Random joins over customers, orders and lines: 2 to 4 tables (a table may come twice, under
// another alias), INNER, LEFT, RIGHT, FULL, CROSS and comma joins on keys, on columns no index serves, on
// NULL-able Text and on inequalities, or USING (code) with its bare name read; filters on each side,
// groups, DISTINCT, ORDER BY and LIMIT.
class JoinGen {
 public:
  explicit JoinGen(Rng& r) : r_(r) {}

  // Fills the three tables: customers 1..30 with gaps, orders pointing at customers that may not
  // exist, lines pointing at orders that may not exist, NULL codes and statuses.
  static std::vector<std::string> load(uint64_t seed) {
    Rng r(seed);
    std::vector<std::string> out;
    std::vector<std::string> rows;
    const std::vector<std::string> cities = {"'Paris'", "'Rome'", "'Oslo'", "NULL"};
    // Codes A and E are on one side only, so that a join on codes misses partners both ways.
    const std::vector<std::string> codes = {"'A'", "'B'", "'C'", "'D'", "NULL", "NULL"};
    const std::vector<std::string> orderCodes = {"'B'", "'C'", "'D'", "'E'", "NULL", "NULL"};
    for (int64_t id = 1; id <= 30; id += r.range(1, 2)) {
      rows.push_back("(" + std::to_string(id) + ", 'c" + std::to_string(id) + "', " +
                     r.pick(cities) + ", " + r.pick(codes) + ")");
    }
    out.push_back("INSERT INTO customers (id, name, city, code) VALUES " + join(rows));
    rows.clear();
    const std::vector<std::string> statuses = {"'paid'", "'open'", "'void'", "NULL"};
    for (int64_t id = 1; id <= 60; ++id) {
      rows.push_back("(" + std::to_string(id) + ", " + std::to_string(r.range(0, 34)) + ", " +
                     std::to_string(r.range(1, 9)) + ", " + std::to_string(r.range(0, 400) / 4.0) +
                     ", " + r.pick(orderCodes) + ", " + r.pick(statuses) + ")");
    }
    out.push_back("INSERT INTO orders (id, customer, day, amount, code, status) VALUES " + join(rows));
    rows.clear();
    const std::vector<std::string> products = {"'tea'", "'cup'", "'pot'", "NULL"};
    for (int64_t order = 1; order <= 66; ++order) {
      for (int64_t line = 1, n = r.range(0, 2); line <= n; ++line) {
        rows.push_back("(" + std::to_string(order) + ", " + std::to_string(line) + ", " +
                       r.pick(products) + ", " + std::to_string(r.range(0, 9)) + ")");
      }
    }
    out.push_back("INSERT INTO lines (\"order\", line, product, qty) VALUES " + join(rows));
    return out;
  }

  Stmt select() {
    tables_.clear();
    bareCode_ = false;
    bool usingCode = false;
    std::string from;
    const int64_t n = r_.range(2, 4);
    // A join without a condition only between two tables, so results stay small.
    bool crossed = n > 2;
    std::vector<std::string> where;
    std::vector<int> types;
    for (int64_t i = 0; i < n; ++i) types.push_back(static_cast<int>(r_.below(3)));
    // USING (code) only when no other table has a code: SQLite finds the name ambiguous then,
    // even in *.
    const bool codeOnlyInFirstTwo = std::all_of(types.begin() + 2, types.end(), [](int t) { return t == 2; });
    for (int64_t i = 0; i < n; ++i) {
      const int t = types[static_cast<size_t>(i)];
      const std::string alias = std::string(1, "col"[t]) + std::to_string(i);
      tables_.push_back({t, alias});
      const std::string named = std::string(kTables[t]) + (r_.chance(0.5) ? " AS " : " ") + alias;
      if (i == 0) {
        from = named;
        continue;
      }
      std::string cond = joinCondition(i);
      const uint64_t kind = r_.below(crossed ? 3 : 5);
      // The first two tables, when both have a code, may join USING it.
      usingCode = i == 1 && codeOnlyInFirstTwo && tables_[0].type != 2 && t != 2 && r_.chance(0.3);
      auto on = [&](bool filtered, size_t side) {
        if (usingCode) return std::string(" USING (code)");
        if (filtered && r_.chance(0.4)) cond += " AND " + filter(side);
        return " ON " + cond;
      };
      if (i == 1 && r_.chance(0.25)) {
        // RIGHT and FULL join the first two tables.
        const std::string how = r_.chance(0.5) ? " RIGHT JOIN " : " FULL JOIN ";
        from += how + named + on(true, r_.below(2));
      } else if (kind == 0) {
        from += " JOIN " + named + on(false, 0);
      } else if (kind == 1) {
        from += " LEFT JOIN " + named + on(true, static_cast<size_t>(i));
      } else if (kind == 2) {
        usingCode = false;
        from += ", " + named;
        where.push_back(cond);
      } else {
        usingCode = false;
        crossed = true;
        from += r_.chance(0.5) ? " CROSS JOIN " + named : ", " + named;
      }
      if (i == 1) bareCode_ = usingCode;
    }
    for (int64_t k = r_.range(0, 2), i = 0; i < k; ++i) {
      where.push_back(r_.chance(0.2) ? "(" + filter(r_.below(n)) + " OR " + filter(r_.below(n)) + ")"
                                     : filter(r_.below(n)));
    }
    if (bareCode_ && r_.chance(0.3)) {
      where.push_back(r_.pick<std::string>({"code IS NULL", "code IS NOT NULL", "code IN ('A', 'E')", "code > 'B'"}));
    }
    std::string tail;
    if (!where.empty()) {
      tail = " WHERE " + where[0];
      for (size_t i = 1; i < where.size(); ++i) tail += " AND " + where[i];
    }
    bool ordered = false;
    std::vector<bool> lenient;
    std::string list;
    if (r_.chance(0.3)) {
      // Groups: the group columns and aggregates.
      const std::string g1 = column(r_.below(n)), g2 = column(r_.below(n));
      const bool two = r_.chance(0.4) && g1 != g2;
      const std::string groups = two ? g1 + ", " + g2 : g1;
      const std::string num = numericColumn(r_.below(n));
      list = groups + ", count(*), count(" + column(r_.below(n)) + "), sum(" + num + "), min(" +
             num + "), max(" + column(r_.below(n)) + ")";
      tail += " GROUP BY " + groups;
      if (r_.chance(0.3)) tail += " HAVING count(*) > " + std::to_string(r_.range(0, 3));
      lenient = {false, two, false, false, true};
    } else {
      const bool star = r_.chance(0.15);
      if (star) {
        list = r_.chance(0.5) ? "*" : tables_[r_.below(n)].alias + ".*";
      } else {
        std::vector<std::string> cols;
        for (int64_t k = r_.range(1, 4), i = 0; i < k; ++i) cols.push_back(column(r_.below(n)));
        list = join(cols);
      }
      if (r_.chance(0.2)) list = "DISTINCT " + list;
      if (!star && r_.chance(0.35)) {
        // Ordered by every output column, so the order (and LIMIT's rows) is total.
        const size_t outputs = static_cast<size_t>(std::count(list.begin(), list.end(), ',')) + 1;
        std::vector<std::string> keys;
        for (size_t i = 1; i <= outputs; ++i) keys.push_back(std::to_string(i) + (r_.chance(0.3) ? " DESC" : ""));
        tail += " ORDER BY " + join(keys);
        if (r_.chance(0.6)) {
          tail += " LIMIT " + std::to_string(r_.range(0, 12));
          if (r_.chance(0.3)) tail += " OFFSET " + std::to_string(r_.range(0, 5));
        }
        ordered = true;
      }
    }
    return Stmt{"SELECT " + list + " FROM " + from + tail, {}, ordered, lenient};
  }

 private:
  struct Table {
    int type;  // 0 customers, 1 orders, 2 lines
    std::string alias;
  };
  static constexpr const char* kTables[3] = {"customers", "orders", "lines"};

  std::string column(size_t i) {
    static const std::vector<std::vector<std::string>> cols = {
        {"id", "name", "city", "code"},
        {"id", "customer", "day", "amount", "code", "status"},
        {"\"order\"", "line", "product", "qty"}};
    if (bareCode_ && r_.chance(0.15)) return "code";
    return tables_[i].alias + "." + r_.pick(cols[tables_[i].type]);
  }
  std::string numericColumn(size_t i) {
    static const std::vector<std::vector<std::string>> cols = {
        {"id"}, {"customer", "day", "amount"}, {"line", "qty"}};
    return tables_[i].alias + "." + r_.pick(cols[tables_[i].type]);
  }

  // A condition joining table i to one before it.
  std::string joinCondition(size_t i) {
    const Table& t = tables_[i];
    const Table& e = tables_[r_.below(i)];
    auto c = [](const Table& x, const char* col) { return x.alias + "." + col; };
    std::vector<std::string> forms;
    if (t.type == 0 && e.type == 1) forms = {c(t, "id") + " = " + c(e, "customer"), c(e, "code") + " = " + c(t, "code")};
    if (t.type == 1 && e.type == 0) forms = {c(t, "customer") + " = " + c(e, "id"), c(t, "code") + " = " + c(e, "code")};
    if (t.type == 2 && e.type == 1) forms = {c(t, "\"order\"") + " = " + c(e, "id"), c(t, "qty") + " = " + c(e, "day")};
    if (t.type == 1 && e.type == 2) forms = {c(t, "id") + " = " + c(e, "\"order\""), c(t, "day") + " > " + c(e, "qty")};
    if (t.type == 0 && e.type == 2) forms = {c(t, "id") + " = " + c(e, "qty"), c(t, "id") + " = " + c(e, "\"order\"")};
    if (t.type == 2 && e.type == 0) forms = {c(t, "\"order\"") + " = " + c(e, "id"), c(t, "qty") + " < " + c(e, "id") + " - 25"};
    if (t.type == e.type) {
      static const char* same[3][2] = {{"city", "code"}, {"customer", "code"}, {"product", "qty"}};
      forms = {c(t, same[t.type][0]) + " = " + c(e, same[t.type][0]),
               c(t, same[t.type][1]) + " = " + c(e, same[t.type][1])};
    }
    std::string cond = r_.pick(forms);
    if (r_.chance(0.15)) cond += " AND " + c(t, t.type == 2 ? "qty" : "id") + " <> " + c(e, e.type == 2 ? "qty" : "id");
    return cond;
  }

  // A filter on one table's columns.
  std::string filter(size_t i) {
    const Table& t = tables_[i];
    auto c = [&](const char* col) { return t.alias + "." + col; };
    switch (t.type) {
      case 0: return r_.pick<std::string>({c("id") + " < " + std::to_string(r_.range(1, 30)),
                                           c("city") + " = 'Paris'", c("code") + " IS NULL",
                                           c("code") + " IN ('A', 'B')", c("city") + " IS NOT NULL"});
      case 1: return r_.pick<std::string>({c("status") + " = 'paid'", c("amount") + " > 50",
                                           c("customer") + " BETWEEN 3 AND 20", c("day") + " = " + std::to_string(r_.range(1, 9)),
                                           c("status") + " IS NULL", c("id") + " > 30"});
      default: return r_.pick<std::string>({c("qty") + " >= 5", c("product") + " = 'tea'",
                                            c("product") + " IS NULL", c("line") + " = 1"});
    }
  }

  Rng& r_;
  std::vector<Table> tables_;
  bool bareCode_ = false;  // USING (code) joined the first two tables
};

TEST(SqlDifferential, Joins) {
  Pair pair;
  for (const std::string& sql : JoinGen::load(kSeed)) {
    const Stmt s{sql, {}, false, {}};
    const Outcome lite = pair.runSqlite(s), cap = pair.runCapdb(s);
    ASSERT_TRUE(!lite.error && !cap.error && lite.changes == cap.changes)
        << report("loading the join tables failed", kSeed, 0, s, lite, cap);
  }
  const uint64_t queries = std::max<uint64_t>(kQueries / 5, 1);
  uint64_t nonEmpty = 0, failures = 0;
  for (uint64_t i = 0; i < queries && failures < 5; ++i) {
    Rng rng(kSeed * 0xD1B54A32D192ED03ull + i);
    const Stmt s = JoinGen(rng).select();
    Outcome lite = pair.runSqlite(s);
    ASSERT_FALSE(lite.error) << "SQLite refused a generated join: " << s.sql << "\n  " << *lite.error;
    Outcome cap = pair.runCapdb(s);
    nonEmpty += !lite.rows.empty();
    const std::string problem = compare(s, lite, cap);
    if (!problem.empty()) {
      ++failures;
      ADD_FAILURE() << report(problem, kSeed, i, s, lite, cap);
    }
  }
  EXPECT_GT(nonEmpty * 2, queries) << "only " << nonEmpty << " joins returned rows";
}

TEST(SqlDifferential, Writes) {
  Pair pair;
  const RowList data = pair.load(kSeed);
  if (::testing::Test::HasFailure()) return;
  Rng rng(kSeed + 1);
  Gen gen(rng, data);
  const Stmt everything{"SELECT * FROM people ORDER BY id", {}, true, {}};
  const uint64_t writes = std::max<uint64_t>(kQueries / 10, 1);
  uint64_t refused = 0;
  for (uint64_t i = 0, rows = data.size(); i < writes; ++i) {
    const Stmt s = gen.write(rows);
    const Outcome lite = pair.runSqlite(s), cap = pair.runCapdb(s);
    std::string problem;
    if (lite.error.has_value() != cap.error.has_value())
      problem = lite.error ? "SQLite refused the statement and capdb ran it"
                           : "capdb threw where SQLite did not";
    else if (lite.error && lite.constraint != cap.constraint)
      problem = "SQLite and capdb refused the statement for different reasons";
    else if (!lite.error && lite.changes != cap.changes)
      problem = "changes differ";
    refused += lite.error && cap.error;
    if (problem.empty()) {  // whatever ran, the tables must still be equal
      Outcome liteAll = pair.runSqlite(everything), capAll = pair.runCapdb(everything);
      rows = liteAll.rows.size();
      const std::string differ = compare(everything, liteAll, capAll);
      if (!differ.empty()) problem = "the tables differ after the statement: " + differ;
    }
    if (!problem.empty()) {
      ADD_FAILURE() << report(problem, kSeed, i, s, lite, cap);
      return;  // every later statement would find them different too
    }
  }
  EXPECT_LT(refused * 4, writes) << refused << " of " << writes << " writes were refused by both";
}

}  // namespace
}  // namespace capdb
