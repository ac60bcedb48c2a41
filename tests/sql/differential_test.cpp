// Differential test of the SQL layer against SQLite: the same rows and the same random statements
// run in capdb and in an in-memory SQLite mirror of the people table, and the answers must agree.
// The generator stays inside what the two dialects share (docs/sql.md: SQLite's semantics except
// integer overflow, bare columns in aggregates and storage affinity). CAPDB_SQL_SEED and
// CAPDB_SQL_QUERIES override the seed and the number of SELECTs; a failure prints the seed, the
// statement, its parameters and the first rows of both answers.
#include <gtest/gtest.h>
#include <sqlite3.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <memory>
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
using Rows = std::vector<Row>;

// The people table's SQL columns, in SELECT * order.
enum Col { kId, kName, kEmail, kAge, kCity, kScore, kActive, kBalance, kPhoto, kKind, kStreet, kZip, kColumns };
enum class Ty { Num, Text, Blob };
struct ColInfo {
  const char* name;
  Ty ty;
  double bound;  // the largest magnitude the column reaches, the writes test included
};
constexpr ColInfo kCols[kColumns] = {
    {"id", Ty::Num, 1e5},      {"name", Ty::Text, 0},     {"email", Ty::Text, 0},
    {"age", Ty::Num, 255},     {"city", Ty::Text, 0},     {"score", Ty::Num, 1e3},
    {"active", Ty::Num, 1},    {"balance", Ty::Num, 2e12}, {"photo", Ty::Blob, 0},
    {"kind", Ty::Text, 0},     {"address.street", Ty::Text, 0}, {"address.zip", Ty::Num, 4294967295.0}};
constexpr int kTextCols[] = {kName, kEmail, kCity, kKind, kStreet};
// Integer expressions stay below this, so neither they nor a SUM over the table can overflow.
constexpr double kMaxBound = 1e15;

const char* const kMirror =
    "CREATE TABLE people(id INTEGER PRIMARY KEY, name TEXT, email TEXT UNIQUE, age INTEGER, city TEXT,"
    " score REAL, active INTEGER, balance INTEGER, photo BLOB, kind TEXT, \"address.street\" TEXT,"
    " \"address.zip\" INTEGER);"
    "CREATE INDEX people_age ON people(age); CREATE INDEX by_city_age ON people(city, age);";
const std::vector<std::string> kNames = {"Ada", "Alan", "Grace", "Edsger", "Barbara", "Ken",
                                         "Linus", "Zoë", "Émile", "O'Brien", "x_y", "100%"};
const std::vector<std::string> kCities = {"London", "london", "LONDON", "Londonderry", "Paris",
                                          "Par", "paris", "Berlin", "São Paulo", "New York"};
const std::vector<std::string> kStreets = {"1 High St", "22 Main Rd", "main rd", "42", "1e2 Exp Rd", "7 rue de Rivoli", ""};
const std::vector<std::string> kKinds = {"person", "company", "robot"};
const std::vector<std::string> kWords = {"a", "A", "on", "don", "", "ë", "@", "Lon", "robot", "zzz", " "};
const char* const kOps[] = {"=", "!=", "<>", "<", "<=", ">", ">="};

// Deterministic on every standard library (the std:: distributions are not).
class Rng {
 public:
  explicit Rng(uint64_t seed) : engine_(seed) {}
  uint64_t below(uint64_t n) { return engine_() % n; }
  int64_t range(int64_t lo, int64_t hi) { return lo + static_cast<int64_t>(below(static_cast<uint64_t>(hi - lo) + 1)); }
  bool chance(double p) { return static_cast<double>(engine_() >> 11) * 0x1.0p-53 < p; }
  template <typename T>
  T pick(const std::vector<T>& v) { return v[below(v.size())]; }
  template <typename T>
  T pick(std::initializer_list<T> v) { return v.begin()[below(v.size())]; }

 private:
  std::mt19937_64 engine_;
};

template <typename T>
void shuffle(Rng& r, std::vector<T>& v) {
  for (size_t i = v.size(); i > 1; --i) std::swap(v[i - 1], v[r.below(i)]);
}

bool isAsciiLetter(char ch) { return static_cast<unsigned char>(ch) < 128 && std::isalpha(static_cast<unsigned char>(ch)); }
bool isContinuation(char ch) { return (static_cast<unsigned char>(ch) & 0xC0) == 0x80; }

// Changes the case of ASCII letters: all, none or some (LIKE ignores it; =, lower and upper do not).
std::string recase(Rng& r, std::string s) {
  const uint64_t how = r.below(4);
  for (char& ch : s) {
    if (!isAsciiLetter(ch) || how == 0 || (how == 3 && r.chance(0.5))) continue;
    ch = static_cast<char>(how == 1 ? std::tolower(ch) : how == 2 ? std::toupper(ch) : (std::islower(ch) ? std::toupper(ch) : std::tolower(ch)));
  }
  return s;
}

std::string join(const std::vector<std::string>& parts) {
  std::string s;
  for (size_t i = 0; i < parts.size(); ++i) s += (i ? ", " : "") + parts[i];
  return s;
}

// v as a SQL literal; a REAL with the fewest digits that read back as the same double.
std::string literal(const Value& v) {
  const auto& x = v.variant();
  if (auto* i = std::get_if<int64_t>(&x)) return std::to_string(*i);
  if (auto* d = std::get_if<double>(&x)) {
    char buf[40];
    for (int digits : {15, 17}) {
      std::snprintf(buf, sizeof buf, "%.*g", digits, *d);
      if (std::strtod(buf, nullptr) == *d) break;
    }
    std::string s = buf;
    return s.find_first_of(".e") == std::string::npos ? s + ".0" : s;
  }
  if (auto* t = std::get_if<std::string>(&x)) {
    std::string s = "'";
    for (char ch : *t) s += ch == '\'' ? "''" : std::string(1, ch);
    return s + "'";
  }
  if (auto* b = std::get_if<Blob>(&x)) {
    std::string s = "x'";
    for (unsigned char ch : b->bytes) s += {"0123456789abcdef"[ch >> 4], "0123456789abcdef"[ch & 15]};
    return s + "'";
  }
  return "NULL";
}

// ORDER BY's order of values (NULL, numbers, text, blobs), to sort results compared as multisets.
int rank(const Value& v) { return std::array<int, 5>{0, 1, 1, 2, 3}[v.variant().index()]; }
double number(const Value& v) {
  auto* i = std::get_if<int64_t>(&v.variant());
  return i ? static_cast<double>(*i) : std::get<double>(v.variant());
}
int order(const Value& a, const Value& b) {
  if (rank(a) != rank(b)) return rank(a) < rank(b) ? -1 : 1;
  if (rank(a) == 0) return 0;
  if (rank(a) == 1) {
    auto *x = std::get_if<int64_t>(&a.variant()), *y = std::get_if<int64_t>(&b.variant());
    if (x && y) return (*x > *y) - (*x < *y);
    return (number(a) > number(b)) - (number(a) < number(b));
  }
  const std::string& s = rank(a) == 2 ? std::get<std::string>(a.variant()) : std::get<Blob>(a.variant()).bytes;
  const std::string& t = rank(a) == 2 ? std::get<std::string>(b.variant()) : std::get<Blob>(b.variant()).bytes;
  return s.compare(t);
}
void sortRows(Rows& rows) {
  std::sort(rows.begin(), rows.end(), [](const Row& a, const Row& b) {
    return std::lexicographical_compare(a.begin(), a.end(), b.begin(), b.end(),
                                        [](const Value& x, const Value& y) { return order(x, y) < 0; });
  });
}

// REALs agree within 1e-9 relative (SUM and AVG may add in another order); an INTEGER and a REAL
// agree only where the column is `lenient` (AVG) and they are the same number.
bool nearlyEqual(double a, double b) { return a == b || std::fabs(a - b) <= 1e-9 * std::max({1.0, std::fabs(a), std::fabs(b)}); }
bool same(const Value& a, const Value& b, bool lenient) {
  if (a.type() == Value::Type::Real && b.type() == Value::Type::Real) return nearlyEqual(number(a), number(b));
  if (a.type() == b.type()) return a == b;
  return lenient && rank(a) == 1 && rank(b) == 1 && nearlyEqual(number(a), number(b));
}

Blob randomBlob(Rng& r) {
  Blob b;
  for (uint64_t n = r.below(5), i = 0; i < n; ++i) b.bytes += static_cast<char>(r.pick({0x00, 0x01, 0x41, 0xff}));
  return b;
}

// A row: NULLs only in the Text and Data columns; emails unique (they hold the id).
Row randomRow(Rng& r, int64_t id) {
  Row row(kColumns);
  row[kId] = Value(id);
  if (!r.chance(0.1)) row[kName] = Value(r.chance(0.03) ? std::string() : recase(r, r.pick(kNames)));
  if (!r.chance(0.2)) {
    auto* name = std::get_if<std::string>(&row[kName].variant());
    std::string local = name ? *name : "anon";
    std::transform(local.begin(), local.end(), local.begin(), [](char ch) { return isAsciiLetter(ch) ? static_cast<char>(std::tolower(ch)) : ch; });
    row[kEmail] = Value(local + "." + std::to_string(id) + "@" + (r.chance(0.5) ? "example.com" : "mail.org"));
  }
  row[kAge] = Value(r.chance(0.5) ? r.pick<int64_t>({0, 18, 21, 30, 42, 65, 255}) : r.range(0, 255));
  if (!r.chance(0.1)) row[kCity] = Value(r.pick(kCities));
  row[kScore] = Value(r.chance(0.3) ? r.pick({0.0, 1.5, -2.25, 100.0}) : static_cast<double>(r.range(-400, 400)) / 4);
  row[kActive] = Value(static_cast<int64_t>(r.below(2)));
  row[kBalance] = Value(r.chance(0.3) ? r.range(-1000, 1000) : r.range(-1000000000000, 1000000000000));
  if (!r.chance(0.3)) row[kPhoto] = Value(randomBlob(r));
  row[kKind] = Value(r.pick(kKinds));
  if (!r.chance(0.15)) row[kStreet] = Value(r.pick(kStreets));
  row[kZip] = Value(r.chance(0.3) ? r.pick<int64_t>({0, 12345, 4294967295}) : r.range(0, 4294967295));
  return row;
}

// INSERT of rows: with the columns listed in `columns`' order, or (empty) in SELECT * order.
std::string insertSql(const Rows& rows, const std::vector<int>& columns, const std::function<std::string(const Value&)>& render) {
  std::vector<int> cols = columns;
  std::string sql = "INSERT INTO people";
  if (!cols.empty()) {
    std::vector<std::string> names;
    for (int c : cols) names.push_back("\"" + std::string(kCols[c].name) + "\"");
    sql += " (" + join(names) + ")";
  } else {
    for (int c = 0; c < kColumns; ++c) cols.push_back(c);
  }
  std::vector<std::string> tuples;
  for (const Row& row : rows) {
    std::vector<std::string> values;
    for (int c : cols) values.push_back(render(row[c]));
    tuples.push_back("(" + join(values) + ")");
  }
  return sql + " VALUES " + join(tuples);
}

// A statement, its parameters, and how its answer is compared.
struct Stmt {
  std::string sql;
  Params params;
  bool ordered = false;       // the ORDER BY makes the order total: compare rows in order
  std::vector<bool> lenient;  // per column: may an INTEGER meet an equal REAL (AVG)?
};

// An expression: its text, the largest magnitude it can take (infinity when unknown), the
// classes it can take, and whether it is a bare literal or parameter.
struct Expr {
  std::string sql;
  double bound = 0;
  bool mayInt = false, mayReal = false, literal = false;
};

// Random statements over the people table, reading sample values from `data`. Parameters take
// one style a statement (literals only, ?, ?NNN or :name), so the numbering is never ambiguous.
class Gen {
 public:
  Gen(Rng& rng, const Rows& data) : r_(rng), data_(data) {}

  Stmt select() {
    begin();
    std::string sql;
    std::vector<bool> lenient;
    bool ordered = false;
    const uint64_t kind = r_.below(20);
    if (kind < 7) {  // aggregates; group-by columns only bare in the select list
      std::vector<int> groups;
      if (r_.chance(0.65)) {
        const std::vector<int> groupable = {kName, kAge, kCity, kActive, kKind, kStreet, kPhoto};
        groups.push_back(r_.pick(groupable));
        const int second = r_.pick(groupable);
        if (r_.chance(0.3) && second != groups[0]) groups.push_back(second);
      }
      std::vector<std::string> items;
      for (int g : groups) {
        if (r_.chance(0.2)) continue;
        items.push_back(col(g));
        lenient.push_back(false);
      }
      for (uint64_t n = 1 + r_.below(3), i = 0; i < n; ++i) {
        bool avg = false;
        const std::string a = agg(&avg);
        items.push_back(r_.chance(0.25) ? a + " AS a" + std::to_string(i) : a);
        lenient.push_back(avg);
      }
      sql = "SELECT " + join(items) + " FROM people";
      if (r_.chance(0.7)) sql += " WHERE " + pred(2);
      if (!groups.empty()) {
        std::vector<std::string> keys;
        for (int g : groups) keys.push_back(col(g));
        sql += " GROUP BY " + join(keys);
        if (r_.chance(0.4)) sql += " HAVING " + having(groups);
        if (r_.chance(0.6)) {  // every group column as a key: a total order
          keys.clear();
          if (r_.chance(0.4)) keys.push_back(key(intAgg()));
          if (r_.chance(0.5)) std::reverse(groups.begin(), groups.end());
          for (int g : groups) keys.push_back(key(col(g)));
          sql += " ORDER BY " + join(keys);
          ordered = true;
        }
      } else {
        ordered = true;  // one row
      }
    } else if (kind < 9) {
      sql = "SELECT * FROM people";
      lenient.assign(kColumns, false);
      if (r_.chance(0.8)) sql += " WHERE " + pred(3);
      sql += orderBy(&ordered);
    } else {
      const bool distinct = r_.chance(0.15);
      std::vector<std::string> items;
      std::vector<int> bare;
      for (uint64_t n = 1 + r_.below(4), i = 0; i < n; ++i) {
        lenient.push_back(false);
        if (r_.chance(distinct ? 0.7 : 0.4)) {
          bare.push_back(static_cast<int>(r_.below(kColumns)));
          items.push_back(col(bare.back()));
          continue;
        }
        // DISTINCT only over expressions of one class: it keeps one of 1 and 1.0, whichever.
        const std::string e = distinct ? text(1).sql : any(2).sql;
        items.push_back(r_.chance(0.3) ? e + " AS r" + std::to_string(i) : e);
      }
      sql = std::string("SELECT ") + (distinct ? "DISTINCT " : "") + join(items) + " FROM people";
      if (r_.chance(0.85)) sql += " WHERE " + pred(r_.chance(0.5) ? 2 : 3);
      if (!distinct) {
        sql += orderBy(&ordered);
      } else if (bare.size() == items.size() && r_.chance(0.6)) {  // distinct rows differ in some key
        std::vector<std::string> keys;
        for (int c : bare) keys.push_back(key(col(c)));
        sql += " ORDER BY " + join(keys);
        ordered = true;
      }
    }
    if (ordered && r_.chance(0.4)) sql += limit();
    return finish(sql, ordered, lenient);
  }

  // INSERT, UPDATE or DELETE. Every value fits its field and no scalar becomes NULL, so that
  // the two refuse the same statements: duplicate keys (both refuse) and nothing else.
  Stmt write(int64_t* nextId) {
    begin();
    const uint64_t kind = r_.below(20);
    if (kind < 3) {  // fresh ids; now and then a taken id or email
      Rows rows;
      for (uint64_t n = 1 + r_.below(3), i = 0; i < n; ++i) {
        const int64_t id = r_.chance(0.1) ? std::get<int64_t>(sample(kId).variant()) : (*nextId += 1 + r_.range(0, 2));
        rows.push_back(randomRow(r_, id));
        if (r_.chance(0.1)) rows.back()[kEmail] = sample(kEmail);
      }
      std::vector<int> columns;
      if (r_.chance(0.8)) {
        for (int c = 0; c < kColumns; ++c) columns.push_back(c);
        shuffle(r_, columns);
      }
      return finish(insertSql(rows, columns, [this](const Value& v) { return lit(v); }));
    }
    if (kind < 6) {  // narrow, so that the table does not run dry
      std::string where;
      if (r_.chance(0.5)) {
        std::vector<std::string> ids;
        for (uint64_t n = 1 + r_.below(4), i = 0; i < n; ++i) ids.push_back(lit(sample(kId)));
        where = col(kId) + " IN (" + join(ids) + ")";
      } else {
        const std::string p = pred(2), k = lit(Value(r_.range(0, 9)));
        where = "(" + p + ") AND " + col(kId) + " % 10 = " + k;
      }
      return finish("DELETE FROM people WHERE " + where);
    }
    std::vector<int> cols;  // never the primary key
    for (uint64_t n = 1 + r_.below(3), i = 0; i < n; ++i) {
      const int c = 1 + static_cast<int>(r_.below(kColumns - 1));
      if (std::find(cols.begin(), cols.end(), c) == cols.end()) cols.push_back(c);
    }
    std::vector<std::string> sets;
    for (int c : cols) {
      const std::string lhs = col(c);
      sets.push_back(lhs + " = " + setValue(c));
    }
    std::string sql = "UPDATE people SET " + join(sets);
    if (r_.chance(0.9)) sql += " WHERE " + pred(2);
    return finish(sql);
  }

 private:
  void begin() {
    style_ = static_cast<int>(r_.below(4));
    params_ = Params();
    pending_.clear();
    taken_.clear();
  }

  // Style ? binds in textual order, which string building need not follow: lit() leaves a
  // marker, and finish() turns the markers into ? and their values into ?1, ?2, ...
  Stmt finish(const std::string& sql, bool ordered = false, std::vector<bool> lenient = {}) {
    Stmt s;
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
    s.ordered = ordered;
    s.lenient = std::move(lenient);
    return s;
  }

  // v as a literal or, now and then, as a parameter bound to it.
  std::string lit(const Value& v) {
    if (style_ == 0 || !r_.chance(0.3)) return literal(v);
    if (style_ == 1) {
      pending_.push_back(v);
      return "\x01" + std::to_string(pending_.size() - 1) + "\x02";
    }
    if (style_ == 2) {  // ?NNN: repeated, with gaps, out of order
      auto& values = params_.positional;
      for (size_t i = 0; i < values.size(); ++i)
        if (taken_[i] && values[i] == v) return "?" + std::to_string(i + 1);
      size_t slot = values.size() + r_.below(3);
      for (size_t i = 0; i < values.size(); ++i)
        if (!taken_[i]) slot = i;
      if (slot >= values.size()) values.resize(slot + 1), taken_.resize(slot + 1);
      values[slot] = v;
      taken_[slot] = true;
      return "?" + std::to_string(slot + 1);
    }
    for (const auto& [name, value] : params_.named)
      if (value == v) return ":" + name;
    const std::string name = r_.pick({"p", "city", "Val"}) + std::to_string(params_.named.size());
    params_.set(name, v);
    return ":" + name;
  }

  // A column reference, spelled any way that names it.
  std::string col(int c) {
    std::string name = kCols[c].name;
    if (name.find('.') != std::string::npos) return r_.chance(0.8) ? "\"" + name + "\"" : "`" + name + "`";
    switch (r_.below(12)) {
      case 0: return recase(r_, name);
      case 1: return "\"" + name + "\"";
      case 2: return "`" + name + "`";
      default: return name;
    }
  }
  std::string key(const std::string& k) { return k + r_.pick({"", " ASC", " DESC"}); }
  Value sample(int c) { return data_[r_.below(data_.size())][c]; }

  // A value to compare column c with: mostly one the table holds, sometimes an edge; with
  // `affinity` (c is a bare column) sometimes of the other class, which c's affinity converts.
  Value valueFor(int c, bool affinity) {
    Value v = sample(c);
    if (kCols[c].ty == Ty::Blob) return v.isNull() || r_.chance(0.3) ? Value(randomBlob(r_)) : v;
    if (kCols[c].ty == Ty::Text) {
      if (affinity && r_.chance(0.05)) return Value(r_.range(0, 50));  // compares as its text
      if (v.isNull() || r_.chance(0.25)) v = Value(r_.pick(kWords));
      return r_.chance(0.2) ? Value(recase(r_, std::get<std::string>(v.variant()))) : v;
    }
    if (affinity && r_.chance(0.08)) return Value(r_.chance(0.5) ? literal(v) : r_.pick<std::string>({"2.5", "-7", "1e2", "042"}));
    if (r_.chance(0.1)) return r_.pick<Value>({int64_t{-1}, int64_t{0}, int64_t{256}, 2.5, int64_t{4294967296}, 1e19});
    if (c == kScore && r_.chance(0.3)) return Value(static_cast<double>(r_.range(-400, 400)) / 4);
    const int64_t hi = c == kId ? 1000 : static_cast<int64_t>(kCols[c].bound);
    return r_.chance(0.3) ? Value(r_.range(c == kBalance ? -hi : 0, hi)) : v;
  }

  // A LIKE pattern cut from a value the table holds: case changed, characters made _, % around.
  std::string likePattern() {
    const Value v = sample(kTextCols[r_.below(5)]);
    auto* held = std::get_if<std::string>(&v.variant());
    const std::string s = held ? *held : r_.pick(kWords);
    size_t from = r_.below(s.size() + 1);
    while (from < s.size() && isContinuation(s[from])) ++from;
    size_t to = from + r_.below(s.size() - from + 1);
    while (to < s.size() && isContinuation(s[to])) ++to;
    std::string p;
    for (size_t i = from; i < to; ++i) {
      if (!isContinuation(s[i]) && r_.chance(0.15)) {
        p += '_';  // one character, however many bytes
        while (i + 1 < to && isContinuation(s[i + 1])) ++i;
      } else {
        p += s[i];
      }
    }
    p = recase(r_, p);
    if (r_.chance(0.6)) p = "%" + p;
    return r_.chance(0.6) ? p + "%" : p;
  }

  Expr numAtom() {
    const uint64_t k = r_.below(20);
    if (k < 11) {
      const int c = r_.pick({kId, kAge, kActive, kBalance, kZip, kScore});
      return {col(c), kCols[c].bound, c != kScore, c == kScore};
    }
    if (k < 18) {
      const Value v = r_.chance(0.35) ? Value(static_cast<double>(r_.range(-40, 40)) / 4) : Value(r_.range(-20, 300));
      return {lit(v), std::fabs(number(v)), v.type() == Value::Type::Integer, v.type() == Value::Type::Real, true};
    }
    if (k == 18) {
      const Expr t = text(1);
      if (r_.chance(0.5)) return {"length(" + t.sql + ")", 1e4, true, false};
      return {"instr(" + t.sql + ", " + lit(Value(r_.pick(kWords))) + ")", 1e4, true, false};
    }
    const std::string c = col(r_.pick({kName, kCity, kStreet}));
    return r_.chance(0.5) ? Expr{"CAST(" + c + " AS INTEGER)", 1e4, true, false} : Expr{"CAST(" + c + " AS REAL)", 1e4, false, true};
  }

  Expr num(int depth) {
    if (depth <= 0 || r_.chance(0.3)) return numAtom();
    switch (r_.below(8)) {
      case 0:
      case 1: {
        const Expr a = num(depth - 1), b = num(depth - 1);
        std::string op = r_.pick({"+", "-", "*", "/", "%"});
        const bool mayInt = a.mayInt && b.mayInt, mayReal = a.mayReal || b.mayReal;
        if (op == "*" && mayInt && a.bound * b.bound > kMaxBound) op = "/";
        double bound = op == "+" || op == "-" ? a.bound + b.bound : op == "*" ? a.bound * b.bound : a.bound;
        if (op == "/" && b.mayReal) bound = INFINITY;
        // An integer result must stay in range; % casts REALs to INTEGER first.
        if ((mayInt && bound > kMaxBound) || (op == "%" && std::max(a.bound, b.bound) > kMaxBound)) return a;
        return {"(" + a.sql + " " + op + " " + b.sql + ")", bound, mayInt, mayReal};
      }
      case 2: {
        const Expr a = num(depth - 1);
        if (r_.chance(0.5)) return {"abs(" + a.sql + ")", a.bound, a.mayInt, a.mayReal};
        return {(a.sql[0] == '-' ? "-(" + a.sql + ")" : "-" + a.sql), a.bound, a.mayInt, a.mayReal, a.literal};
      }
      case 3: {
        const std::string p = pred(depth - 1);
        const Expr a = num(depth - 1), b = r_.chance(0.8) ? num(depth - 1) : Expr{};
        return {"CASE WHEN " + p + " THEN " + a.sql + (b.sql.empty() ? "" : " ELSE " + b.sql) + " END",
                std::max(a.bound, b.bound), a.mayInt || b.mayInt, a.mayReal || b.mayReal};
      }
      case 4: {
        const Expr a = num(depth - 1), b = num(depth - 1);
        const std::string f = r_.pick({"coalesce", "ifnull", "nullif"});
        if (f == "nullif") return {"nullif(" + a.sql + ", " + b.sql + ")", a.bound, a.mayInt, a.mayReal};
        return {f + "(" + a.sql + ", " + b.sql + ")", std::max(a.bound, b.bound), a.mayInt || b.mayInt, a.mayReal || b.mayReal};
      }
      case 5: {  // arguments of one class: min and max pick among equal values by position
        const bool real = r_.chance(0.4);
        std::vector<std::string> args;
        double bound = 0;
        for (uint64_t n = 2 + r_.below(2), i = 0; i < n; ++i) {
          const Expr e = numAs(real, depth - 1);
          args.push_back(e.sql);
          bound = std::max(bound, e.bound);
        }
        return {r_.pick<std::string>({"min(", "max("}) + join(args) + ")", bound, !real, real};
      }
      case 6: {
        const Expr a = num(depth - 1);
        if (r_.chance(0.5) && a.bound <= kMaxBound) return {"CAST(" + a.sql + " AS INTEGER)", a.bound, true, false};
        return {"CAST(" + a.sql + " AS REAL)", a.bound, false, true};
      }
      default: {  // no parentheses: * / % bind tighter than + -
        const Expr a = numAtom(), b = numAtom(), c = numAtom();
        const std::string op1 = r_.pick({" + ", " - ", " * ", " / ", " % "}), op2 = r_.pick({" + ", " - ", " * ", " / ", " % "});
        const double bound = (a.bound + 1) * (b.bound + 1) * (c.bound + 1);
        if (bound > kMaxBound) return a;
        return {"(" + a.sql + op1 + b.sql + op2 + c.sql + ")", bound, a.mayInt && b.mayInt && c.mayInt,
                a.mayReal || b.mayReal || c.mayReal};
      }
    }
  }

  // Always REAL (real) or always INTEGER, where the class must not depend on the row.
  Expr numAs(bool real, int depth) {
    const Expr e = num(depth);
    if (real ? !e.mayInt : !e.mayReal) return e;
    if (real) return {"CAST(" + e.sql + " AS REAL)", e.bound, false, true};
    if (e.bound <= kMaxBound) return {"CAST(" + e.sql + " AS INTEGER)", e.bound, true, false};
    return {col(kAge), 255, true, false};
  }

  // TEXT or NULL, whatever the row.
  Expr text(int depth) {
    if (depth <= 0 || r_.chance(0.3)) {
      const int c = kTextCols[r_.below(5)];
      if (r_.chance(0.7)) return {col(c)};
      return {lit(valueFor(c, false)), 0, false, false, true};
    }
    const Expr a = text(depth - 1);
    switch (r_.below(11)) {
      case 0: return {(r_.chance(0.5) ? "lower(" : "upper(") + a.sql + ")"};
      case 1: {
        std::string s = "substr(" + a.sql + ", " + lit(Value(r_.range(-4, 8)));
        if (r_.chance(0.6)) s += ", " + lit(Value(r_.range(-3, 6)));
        return {s + ")"};
      }
      case 2: {
        if (r_.chance(0.5)) return {"trim(" + a.sql + ")"};
        return {"trim(" + a.sql + ", " + lit(Value(r_.pick({"a", " ", "Ld", "don"}))) + ")"};
      }
      case 3: {
        const std::string from = lit(Value(r_.pick(kWords))), to = lit(Value(r_.pick({"A", "_", "", "xyz"})));
        return {"replace(" + a.sql + ", " + from + ", " + to + ")"};
      }
      case 4: {  // no parentheses: || binds tighter than anything binary
        const Expr b = r_.chance(0.5) ? text(depth - 1) : num(depth - 1);
        return {a.sql + " || " + b.sql};
      }
      case 5: {
        const std::string f = r_.pick({"coalesce(", "ifnull("});
        return {f + a.sql + ", " + lit(valueFor(kCity, false)) + ")"};
      }
      case 6: return {"nullif(" + a.sql + ", " + lit(valueFor(kCity, false)) + ")"};
      case 7: {
        const std::string p = pred(depth - 1);
        const Expr b = text(depth - 1);
        return {"CASE WHEN " + p + " THEN " + a.sql + " ELSE " + b.sql + " END"};
      }
      case 8: {
        const std::string kind = col(kKind), value = lit(Value(r_.pick(kKinds)));
        const Expr b = text(depth - 1);
        return {"CASE " + kind + " WHEN " + value + " THEN " + a.sql + " ELSE " + b.sql + " END"};
      }
      case 9: {
        const Expr b = num(depth - 1);
        return {r_.chance(0.5) ? "CAST(" + b.sql + " AS TEXT)" : b.sql + " || ''"};
      }
      default: {
        const Expr b = text(depth - 1);
        return {(r_.chance(0.5) ? "min(" : "max(") + a.sql + ", " + b.sql + ")"};
      }
    }
  }

  Expr blob() {
    switch (r_.below(4)) {
      case 0: return {lit(randomBlob(r_)), 0, false, false, true};
      case 1: {
        const std::string b = lit(randomBlob(r_));
        return {"coalesce(" + col(kPhoto) + ", " + b + ")"};
      }
      default: return {col(kPhoto)};
    }
  }

  Expr of(Ty ty, int depth) { return ty == Ty::Num ? num(depth) : ty == Ty::Text ? text(depth) : blob(); }
  Expr any(int depth) {
    const uint64_t k = r_.below(20);
    return k < 10 ? num(depth) : k < 16 ? text(depth) : k < 17 ? blob() : Expr{pred(depth), 1, true, false};
  }
  // An expression whose class does not depend on the row (for MIN and MAX).
  Expr stable(int depth) {
    const uint64_t k = r_.below(10);
    return k < 5 ? numAs(r_.chance(0.4), depth) : k < 9 ? text(depth) : blob();
  }

  std::string pred(int depth) {
    if (depth <= 0 || r_.chance(0.35)) return leaf();
    switch (r_.below(6)) {
      case 0:
      case 1:
      case 2: {
        const std::string a = pred(depth - 1), b = pred(depth - 1);
        return "(" + a + (r_.chance(0.6) ? " AND " : " OR ") + b + ")";
      }
      case 3: return "NOT (" + pred(depth - 1) + ")";
      case 4: return "NOT " + leaf();
      default: {  // no parentheses: AND binds tighter than OR, NOT looser than comparisons
        const std::string a = leaf(), b = leaf(), c = leaf();
        const std::string op1 = r_.chance(0.5) ? " AND " : " OR ", op2 = r_.chance(0.5) ? " AND " : " OR ";
        return "(" + a + op1 + b + op2 + c + ")";
      }
    }
  }

  std::string leaf() {
    const int c = static_cast<int>(r_.below(kColumns));
    const bool bare = r_.chance(0.7);
    const std::string x = bare ? col(c) : of(kCols[c].ty, 1).sql;
    switch (r_.below(10)) {
      case 0:
      case 1:
      case 2:
      case 3: {  // x op value, of x's class or, against a bare column, one its affinity converts
        const std::string op = kOps[r_.below(7)];
        const std::string v = kCols[c].ty == Ty::Num && r_.chance(0.02) ? "9223372036854775808" : lit(valueFor(c, bare));
        return r_.chance(0.2) ? v + " " + op + " " + x : x + " " + op + " " + v;
      }
      case 4: {
        const std::string op = kOps[r_.below(7)];
        return x + " " + op + " " + of(kCols[c].ty, 1).sql;
      }
      case 5: return x + (r_.chance(0.5) ? " IS NULL" : " IS NOT NULL");
      case 6: {
        Value lo = valueFor(c, false), hi = valueFor(c, false);
        if (order(lo, hi) > 0 && r_.chance(0.7)) std::swap(lo, hi);
        const std::string a = lit(lo), b = lit(hi);
        return x + (r_.chance(0.2) ? " NOT BETWEEN " : " BETWEEN ") + a + " AND " + b;
      }
      case 7: {
        std::vector<std::string> values;
        for (uint64_t n = 1 + r_.below(6), i = 0; i < n; ++i) values.push_back(r_.chance(0.04) ? "NULL" : lit(valueFor(c, false)));
        return x + (r_.chance(0.2) ? " NOT IN (" : " IN (") + join(values) + ")";
      }
      case 8: {
        const std::string t = r_.chance(0.7) ? col(kTextCols[r_.below(5)]) : text(1).sql;
        const std::string p = lit(Value(likePattern()));
        return t + (r_.chance(0.15) ? " NOT LIKE " : " LIKE ") + p;
      }
      default: {  // a value's truth: non-zero as a number
        const std::string t = col(r_.pick({kActive, kActive, kScore, kStreet, kAge}));
        if (r_.chance(0.2)) return t + r_.pick({" = TRUE", " = FALSE"});
        return r_.chance(0.3) ? "NOT " + t : t;
      }
    }
  }

  std::string sumArg() {
    const Expr e = num(1);
    return e.bound <= kMaxBound ? e.sql : col(kBalance);
  }
  // An INTEGER aggregate small enough to multiply by another.
  std::string intAgg() {
    switch (r_.below(5)) {
      case 0: return "COUNT(*)";
      case 1: return "COUNT(" + col(kCity) + ")";
      case 2: return "SUM(" + col(kAge) + ")";
      case 3: return "MIN(" + col(kAge) + ")";
      default: return "MAX(" + col(kId) + ")";
    }
  }
  std::string agg(bool* avg) {
    switch (r_.below(9)) {
      case 0: return "COUNT(*)";
      case 1: return "COUNT(" + any(1).sql + ")";
      case 2:
      case 3: return "SUM(" + sumArg() + ")";
      case 4: *avg = true; return "AVG(" + sumArg() + ")";
      case 5:
      case 6: {
        const Expr e = stable(1);
        return (r_.chance(0.5) ? "MIN(" : "MAX(") + e.sql + ")";
      }
      case 7: {
        const std::string a = intAgg(), b = intAgg();
        return a + r_.pick({" + ", " - ", " * "}) + b;
      }
      default: {
        const std::string f = r_.pick({"MIN(", "MAX(", "COUNT("});
        return f + col(static_cast<int>(r_.below(kColumns))) + ")";
      }
    }
  }
  // Aggregates whose value does not depend on the order rows are added in, and group columns.
  std::string having(const std::vector<int>& groups) {
    std::string s;
    for (uint64_t n = 1 + r_.below(2), i = 0; i < n; ++i) {
      if (i) s += r_.chance(0.6) ? " AND " : " OR ";
      if (r_.chance(0.25)) {
        s += col(groups[r_.below(groups.size())]) + " IS NOT NULL";
        continue;
      }
      std::string a;
      Value v;
      switch (r_.below(5)) {
        case 0: a = intAgg(), v = Value(r_.range(0, 10)); break;
        case 1: a = "SUM(" + col(kAge) + ")", v = Value(r_.range(0, 2000)); break;
        case 2: a = "AVG(" + col(kAge) + ")", v = Value(static_cast<double>(r_.range(0, 255)) + 0.5); break;
        case 3: a = "MIN(" + col(kScore) + ")", v = Value(static_cast<double>(r_.range(-400, 400)) / 4); break;
        default: a = "MAX(" + col(kCity) + ")", v = valueFor(kCity, false); break;
      }
      const std::string op = kOps[r_.below(7)];
      s += a + " " + op + " " + lit(v);
    }
    return s;
  }

  // ORDER BY a few keys (never a bare literal: ORDER BY 2 names a column); ending in id, the
  // order is total and LIMIT may follow.
  std::string orderBy(bool* total) {
    if (!r_.chance(0.6)) return "";
    std::vector<std::string> keys;
    for (uint64_t n = r_.below(3), i = 0; i < n; ++i) {
      const Expr e = r_.chance(0.65) ? Expr{col(static_cast<int>(r_.below(kColumns)))} : any(1);
      keys.push_back(key(e.literal ? col(kAge) : e.sql));
    }
    if (keys.empty() || r_.chance(0.7)) {
      keys.push_back(key(col(kId)));
      *total = true;
    }
    return " ORDER BY " + join(keys);
  }
  std::string limit() {
    std::string s = " LIMIT " + std::to_string(r_.chance(0.1) ? -1 : r_.range(0, 20));  // -1: no limit
    if (!r_.chance(0.6)) return s;
    const int64_t offset = r_.range(0, 30);
    return s + " OFFSET " + std::to_string(r_.chance(0.2) ? offset * 10 : offset);
  }

  // A new value for column c that its field accepts whatever the row holds: in range, never
  // NULL for a scalar, and an email that stays unique unless it collides in both databases.
  std::string setValue(int c) {
    const std::string self = col(c);
    const uint64_t k = r_.below(8);
    switch (c) {
      case kAge:
        switch (k) {
          case 0: return "(" + self + " + " + lit(Value(r_.range(0, 255))) + ") % 256";
          case 1: return self + " / 2";
          case 2: return "255 - " + self;
          case 3: return lit(Value(static_cast<double>(r_.range(0, 255))));  // an integral REAL fits
          case 4: return lit(Value(std::to_string(r_.range(0, 255))));      // so does TEXT of an integer
          case 5: return "abs(" + col(kBalance) + ") % 256";
          case 6: return "coalesce(length(" + col(kName) + "), 0) % 256";
          default: return lit(Value(r_.range(0, 255)));
        }
      case kScore:
        switch (k) {
          case 0: return self + " + 0.5";
          case 1: return self + " * -1";
          case 2: return self + " / 2";
          case 3: return col(kAge) + " / 4.0";
          case 4: return col(kAge);  // an INTEGER into Float64
          case 5: return "abs(" + self + ")";
          default: return lit(Value(static_cast<double>(r_.range(-400, 400)) / 4));
        }
      case kActive: return k < 5 ? r_.pick<std::string>({"1 - " + self, "NOT " + self, col(kAge) + " > 100", "TRUE", "FALSE"}) : lit(Value(r_.range(0, 1)));
      case kBalance:
        switch (k) {
          case 0: return self + " + " + lit(Value(r_.range(-1000000, 1000000)));
          case 1: return "-" + self;
          case 2: return self + " / 3";
          case 3: return self + " - " + col(kAge);
          case 4: return self + " % 1000";
          default: return lit(Value(r_.range(-1000000000000, 1000000000000)));
        }
      case kZip:
        switch (k) {
          case 0: return "(" + self + " + " + lit(Value(r_.range(0, 4294967295))) + ") % 4294967296";
          case 1: return self + " / 2";
          case 2: return col(kAge) + " * 1000";
          default: return lit(Value(r_.range(0, 4294967295)));
        }
      case kKind: return k < 3 ? "CASE WHEN " + col(kAge) + " > 100 THEN 'robot' ELSE " + self + " END" : lit(Value(r_.pick(kKinds)));
      case kPhoto: {
        if (k < 2) return "NULL";
        const std::string b = lit(randomBlob(r_));
        return k < 5 ? b : "CASE WHEN " + pred(1) + " THEN " + b + " ELSE " + self + " END";
      }
      case kEmail:  // upper and lower keep emails unique: each holds its row's id
        switch (k) {
          case 0: case 1: return "upper(" + self + ")";
          case 2: case 3: return "lower(" + self + ")";
          case 4: return "NULL";
          case 5: return lit(sample(kEmail));
          default: return lit(Value("w" + std::to_string(r_.below(1000)) + "@x.org"));
        }
      default:  // name, city, street: Text takes INTEGER and REAL as their text
        switch (r_.below(12)) {
          case 0: return "upper(" + self + ")";
          case 1: return "lower(" + self + ")";
          case 2: return self + " || 'x'";
          case 3: return "NULL";
          case 4: return "substr(" + self + ", 2)";
          case 5: return "trim(" + self + ", 'aA')";
          case 6: return "replace(" + self + ", 'a', 'o')";
          case 7: return col(r_.pick({kName, kCity, kStreet}));
          case 8: return col(r_.pick({kAge, kScore}));
          case 9: return "CASE WHEN " + pred(1) + " THEN NULL ELSE " + self + " END";
          default: return lit(valueFor(c, false));
        }
    }
  }

  Rng& r_;
  const Rows& data_;
  int style_ = 0;               // 0 literals only, 1 ?, 2 ?NNN, 3 :name
  Params params_;
  std::vector<Value> pending_;  // style 1: the values behind lit()'s markers
  std::vector<bool> taken_;     // style 2: the ?NNN numbers in use
};

// One database's answer: an error, or columns, rows and the changes count.
struct Outcome {
  std::optional<std::string> error;
  bool constraint = false;
  std::vector<std::string> columns;
  Rows rows;
  uint64_t changes = 0;
};

std::string showRow(const Row& row) {
  std::vector<std::string> values;
  for (const Value& v : row) values.push_back(literal(v));
  return "(" + join(values) + ")";
}
std::string show(const Outcome& o) {
  if (o.error) return "error: " + *o.error;
  std::string s = std::to_string(o.rows.size()) + " rows, changes " + std::to_string(o.changes) + ", columns [" + join(o.columns) + "]";
  for (size_t i = 0; i < std::min<size_t>(o.rows.size(), 8); ++i) s += "\n      " + showRow(o.rows[i]);
  return s;
}
std::string report(const std::string& problem, uint64_t seed, uint64_t index, const Stmt& s, const Outcome& lite, const Outcome& cap) {
  std::string out = problem + "\n  seed " + std::to_string(seed) + " (CAPDB_SQL_SEED), statement #" + std::to_string(index) + "\n  " + s.sql + "\n  params:";
  for (size_t i = 0; i < s.params.positional.size(); ++i) out += " ?" + std::to_string(i + 1) + "=" + literal(s.params.positional[i]);
  for (const auto& [name, v] : s.params.named) out += " :" + name + "=" + literal(v);
  return out + "\n  sqlite: " + show(lite) + "\n  capdb:  " + show(cap);
}

// What is wrong with capdb's answer, or "" when it agrees with SQLite's. Sorts both answers'
// rows when the order is not total, so that the report shows them side by side.
std::string compare(const Stmt& s, Outcome& lite, Outcome& cap) {
  if (lite.error) return "SQLite failed: " + *lite.error;
  if (cap.error) return "capdb threw where SQLite did not: " + *cap.error;
  if (lite.columns != cap.columns) return "column names differ";
  if (!s.ordered) sortRows(lite.rows), sortRows(cap.rows);
  for (size_t i = 0; i < std::max(lite.rows.size(), cap.rows.size()); ++i) {
    if (i >= lite.rows.size() || i >= cap.rows.size()) return "row counts differ";
    bool ok = lite.rows[i].size() == cap.rows[i].size();
    for (size_t j = 0; ok && j < lite.rows[i].size(); ++j) ok = same(lite.rows[i][j], cap.rows[i][j], j < s.lenient.size() && s.lenient[j]);
    if (!ok) return "row " + std::to_string(i) + (s.ordered ? "" : " (both sorted)") + " differs: sqlite " + showRow(lite.rows[i]) + ", capdb " + showRow(cap.rows[i]);
  }
  return "";
}

// capdb in a fresh directory and its SQLite mirror in memory.
class Pair {
 public:
  Pair() : db_(Database::open(dir_ / "db", Schemas{table<sqltest::Person>()})) {
    EXPECT_EQ(sqlite3_open(":memory:", &lite_), SQLITE_OK);
    EXPECT_EQ(sqlite3_exec(lite_, kMirror, nullptr, nullptr, nullptr), SQLITE_OK) << sqlite3_errmsg(lite_);
  }
  ~Pair() { sqlite3_close(lite_); }

  // Fills both with the same few hundred rows, in shuffled order, by the same INSERT statements.
  Rows load(uint64_t seed) {
    Rng r(seed);
    Rows data;
    for (int64_t i = 0, id = 0; i < 300; ++i) data.push_back(randomRow(r, id += 1 + r.range(0, 2)));
    Rows shuffled = data;
    shuffle(r, shuffled);
    for (size_t at = 0; at < shuffled.size(); at += 50) {
      const Rows chunk(shuffled.begin() + static_cast<std::ptrdiff_t>(at), shuffled.begin() + static_cast<std::ptrdiff_t>(std::min(at + 50, shuffled.size())));
      std::vector<int> columns;
      for (int c = 0; at > 0 && c < kColumns; ++c) columns.push_back(c);
      shuffle(r, columns);
      const Stmt s{insertSql(chunk, columns, literal)};
      const Outcome lite = runSqlite(s), cap = runCapdb(s);
      if (lite.error || cap.error || lite.changes != chunk.size() || cap.changes != chunk.size())
        ADD_FAILURE() << report("loading the table failed", seed, at / 50, s, lite, cap);
    }
    return data;
  }

  Outcome runCapdb(const Stmt& s) {
    Outcome o;
    try {
      ResultSet rs = db_.query(s.sql, s.params);
      o.columns = std::move(rs.columns);
      o.rows = std::move(rs.rows);
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
    sqlite3_stmt* raw = nullptr;
    if (sqlite3_prepare_v2(lite_, s.sql.c_str(), -1, &raw, nullptr) != SQLITE_OK) {
      o.error = sqlite3_errmsg(lite_);
      return o;
    }
    std::unique_ptr<sqlite3_stmt, int (*)(sqlite3_stmt*)> owner(raw, sqlite3_finalize);
    for (int i = 1; i <= sqlite3_bind_parameter_count(raw); ++i) {
      const char* name = sqlite3_bind_parameter_name(raw, i);
      const Value* v = nullptr;
      if (name && name[0] == ':') {
        auto it = s.params.named.find(name + 1);
        if (it != s.params.named.end()) v = &it->second;
      } else if (static_cast<size_t>(i) <= s.params.positional.size()) {
        v = &s.params.positional[static_cast<size_t>(i) - 1];
      }
      if (v) bind(raw, i, *v);
    }
    for (int c = 0; c < sqlite3_column_count(raw); ++c) o.columns.push_back(sqlite3_column_name(raw, c));
    int rc;
    while ((rc = sqlite3_step(raw)) == SQLITE_ROW) {
      Row row;
      for (int c = 0; c < sqlite3_column_count(raw); ++c) row.push_back(column(raw, c));
      o.rows.push_back(std::move(row));
    }
    if (rc != SQLITE_DONE) {
      o.error = sqlite3_errmsg(lite_);
      o.constraint = (rc & 0xff) == SQLITE_CONSTRAINT;
    } else if (!sqlite3_stmt_readonly(raw)) {
      o.changes = static_cast<uint64_t>(sqlite3_changes(lite_));
    }
    return o;
  }

 private:
  static void bind(sqlite3_stmt* st, int i, const Value& v) {
    const auto& x = v.variant();
    if (auto* n = std::get_if<int64_t>(&x)) sqlite3_bind_int64(st, i, *n);
    else if (auto* d = std::get_if<double>(&x)) sqlite3_bind_double(st, i, *d);
    else if (auto* t = std::get_if<std::string>(&x)) sqlite3_bind_text(st, i, t->data(), static_cast<int>(t->size()), SQLITE_TRANSIENT);
    else if (auto* b = std::get_if<Blob>(&x)) sqlite3_bind_blob(st, i, b->bytes.data(), static_cast<int>(b->bytes.size()), SQLITE_TRANSIENT);
    else sqlite3_bind_null(st, i);
  }
  static Value column(sqlite3_stmt* st, int c) {
    switch (sqlite3_column_type(st, c)) {
      case SQLITE_INTEGER: return Value(static_cast<int64_t>(sqlite3_column_int64(st, c)));
      case SQLITE_FLOAT: return Value(sqlite3_column_double(st, c));
      case SQLITE_TEXT: return Value(std::string(reinterpret_cast<const char*>(sqlite3_column_text(st, c)), static_cast<size_t>(sqlite3_column_bytes(st, c))));
      case SQLITE_BLOB: {
        const char* bytes = static_cast<const char*>(sqlite3_column_blob(st, c));
        return Value(Blob{std::string(bytes ? bytes : "", static_cast<size_t>(sqlite3_column_bytes(st, c)))});
      }
      default: return Value();
    }
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
  const Rows data = pair.load(kSeed);
  if (::testing::Test::HasFailure()) return;
  uint64_t skipped = 0, nonEmpty = 0, failures = 0;
  std::string firstSkipped;
  for (uint64_t i = 0; i < kQueries && failures < 5; ++i) {
    Rng rng(kSeed * 0x9E3779B97F4A7C15ull + i);  // statement #i is the same whatever the count
    Gen gen(rng, data);
    const Stmt s = gen.select();
    Outcome lite = pair.runSqlite(s);
    if (lite.error) {
      if (skipped++ == 0) firstSkipped = s.sql + "\n  " + *lite.error;
      continue;
    }
    Outcome cap = pair.runCapdb(s);
    nonEmpty += !lite.rows.empty();
    const std::string problem = compare(s, lite, cap);
    if (!problem.empty()) {
      ++failures;
      ADD_FAILURE() << report(problem, kSeed, i, s, lite, cap);
    }
  }
  // The generator is meant to stay inside SQLite's grammar and to find rows.
  EXPECT_LT(skipped * 20, kQueries) << skipped << " statements SQLite refused, the first:\n  " << firstSkipped;
  EXPECT_GT(nonEmpty * 3, kQueries - skipped) << "only " << nonEmpty << " statements returned rows";
}

TEST(SqlDifferential, Writes) {
  Pair pair;
  const Rows data = pair.load(kSeed);
  if (::testing::Test::HasFailure()) return;
  Rng rng(kSeed + 1);
  Gen gen(rng, data);
  int64_t nextId = std::get<int64_t>(data.back()[kId].variant());
  const Stmt everything{"SELECT * FROM people ORDER BY id", {}, true, {}};
  const uint64_t writes = std::max<uint64_t>(kQueries / 10, 1);
  uint64_t refused = 0;
  for (uint64_t i = 0; i < writes; ++i) {
    const Stmt s = gen.write(&nextId);
    const Outcome lite = pair.runSqlite(s), cap = pair.runCapdb(s);
    std::string problem;
    if (lite.error && !cap.error) {
      problem = "SQLite refused the statement and capdb ran it";
    } else if (!lite.error && cap.error) {
      problem = "capdb threw where SQLite did not";
    } else if (lite.error) {
      ++refused;
      if (lite.constraint && !cap.constraint) problem = "SQLite refused a duplicate key and capdb threw another error";
    } else if (lite.changes != cap.changes) {
      problem = "changes differ";
    }
    if (problem.empty()) {  // whatever ran or did not, the tables must still be equal
      Outcome liteAll = pair.runSqlite(everything), capAll = pair.runCapdb(everything);
      const std::string differ = compare(everything, liteAll, capAll);
      if (!differ.empty()) problem = "the tables differ after the statement: " + differ;
    }
    if (!problem.empty()) {
      ADD_FAILURE() << report(problem, kSeed, i, s, lite, cap);
      return;  // every later statement would differ too
    }
  }
  EXPECT_LT(refused * 4, writes) << refused << " of " << writes << " writes were refused by both";
}

}  // namespace
}  // namespace capdb
