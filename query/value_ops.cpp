#include "query/value_ops.h"

#include <fmt/format.h>

#include <cmath>
#include <cstdio>
#include <cstring>
#include <limits>

#include "engine/fail.h"
#include "query/utf8.h"

namespace capdb {

// ---- Value (capdb/query.h) ----

std::string_view typeName(Value::Type type) {
  switch (type) {
    case Value::Type::Null: return "NULL";
    case Value::Type::Integer: return "INTEGER";
    case Value::Type::Real: return "REAL";
    case Value::Type::Text: return "TEXT";
    case Value::Type::Blob: return "BLOB";
  }
  return "?";
}

void Value::throwUnsignedTooLarge(uint64_t v) {
  fail(ErrorCode::InvalidArgument, "{} does not fit a SQL INTEGER (at most 2^63-1)", v);
}

int64_t Value::integer() const {
  CAPDB_REQUIRE(type() == Type::Integer, ErrorCode::InvalidArgument,
                "value {} is {}, not INTEGER", toSql(), typeName(type()));
  return std::get<int64_t>(v_);
}

double Value::real() const {
  if (type() == Type::Integer) return static_cast<double>(std::get<int64_t>(v_));
  CAPDB_REQUIRE(type() == Type::Real, ErrorCode::InvalidArgument, "value {} is {}, not REAL",
                toSql(), typeName(type()));
  return std::get<double>(v_);
}

const std::string& Value::text() const {
  CAPDB_REQUIRE(type() == Type::Text, ErrorCode::InvalidArgument, "value {} is {}, not TEXT",
                toSql(), typeName(type()));
  return std::get<std::string>(v_);
}

const std::string& Value::blob() const {
  CAPDB_REQUIRE(type() == Type::Blob, ErrorCode::InvalidArgument, "value {} is {}, not BLOB",
                toSql(), typeName(type()));
  return std::get<Blob>(v_).bytes;
}

void Value::setText(std::string_view text) {
  if (auto* s = std::get_if<std::string>(&v_)) {
    s->assign(text);
  } else {
    v_.emplace<std::string>(text);
  }
}

std::string Value::toSql() const {
  switch (type()) {
    case Type::Null: return "NULL";
    case Type::Integer: return std::to_string(std::get<int64_t>(v_));
    case Type::Real: return query::realToText(std::get<double>(v_));
    case Type::Text: {
      std::string out = "'";
      for (char c : std::get<std::string>(v_)) {
        out += c;
        if (c == '\'') out += '\'';
      }
      return out + "'";
    }
    case Type::Blob: {
      std::string out = "x'";
      for (unsigned char c : std::get<Blob>(v_).bytes) out += fmt::format("{:02x}", c);
      return out + "'";
    }
  }
  return "?";
}

std::string Value::toText() const {
  switch (type()) {
    case Type::Null: return "";
    case Type::Integer: return std::to_string(std::get<int64_t>(v_));
    case Type::Real: return query::realToText(std::get<double>(v_));
    case Type::Text: return std::get<std::string>(v_);
    case Type::Blob: return std::get<Blob>(v_).bytes;
  }
  return "";
}

Rows::Row Rows::at(size_t row) const {
  CAPDB_REQUIRE(row < count_, ErrorCode::InvalidArgument, "there is no row {}: {} rows", row, count_);
  return (*this)[row];
}

void Rows::reserve(size_t rows) {
  size_t cells = 0;
  CAPDB_REQUIRE(!__builtin_mul_overflow(rows, width_, &cells), ErrorCode::InvalidArgument,
                "cannot reserve {} rows of {} values", rows, width_);
  cells_.reserve(cells);
}

void Rows::checkWidth(size_t values) {
  if (!widthSet_) {
    width_ = values;
    widthSet_ = true;
  }
  CAPDB_REQUIRE(values == width_, ErrorCode::InvalidArgument,
                "a row of {} values where every row has {}", values, width_);
}

void Rows::push_back(std::vector<Value>&& row) {
  checkWidth(row.size());
  // Moving a Value does not throw; growing the array may, and then adds nothing.
  cells_.insert(cells_.end(), std::make_move_iterator(row.begin()), std::make_move_iterator(row.end()));
  ++count_;
  row.clear();
}

void Rows::push_back(const std::vector<Value>& row) {
  checkWidth(row.size());
  size_t before = cells_.size();
  try {
    cells_.insert(cells_.end(), row.begin(), row.end());
  } catch (...) {
    cells_.erase(cells_.begin() + static_cast<std::ptrdiff_t>(before), cells_.end());
    throw;
  }
  ++count_;
}

std::vector<std::vector<Value>> Rows::toVectors() const& {
  std::vector<std::vector<Value>> out;
  out.reserve(count_);
  for (Row row : *this) out.emplace_back(row.begin(), row.end());
  return out;
}

std::vector<std::vector<Value>> Rows::toVectors() && {
  std::vector<std::vector<Value>> out;
  out.reserve(count_);
  for (size_t r = 0; r < count_; ++r) {
    auto first = cells_.begin() + static_cast<std::ptrdiff_t>(r * width_);
    out.emplace_back(std::make_move_iterator(first),
                     std::make_move_iterator(first + static_cast<std::ptrdiff_t>(width_)));
  }
  *this = Rows();
  return out;
}

const Value& ResultSet::at(size_t row, size_t column) const {
  Rows::Row r = rows.at(row);
  CAPDB_REQUIRE(column < r.size(), ErrorCode::InvalidArgument,
                "there is no column {}: {} columns", column, r.size());
  return r[column];
}

size_t ResultSet::column(std::string_view name) const {
  for (size_t i = 0; i < columns.size(); ++i) {
    if (columns[i] == name) return i;
  }
  fail(ErrorCode::InvalidArgument, "the result has no column '{}'", name);
}

namespace query {
namespace {

bool isSpace(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'; }
bool isDigit(char c) { return c >= '0' && c <= '9'; }

// The longest prefix of `s` (after leading spaces) that reads as an integer and as a real:
// lengths of each, 0 when none.
struct NumericPrefix {
  size_t intLen = 0;   // sign + digits
  size_t realLen = 0;  // sign + digits [. digits] [e [sign] digits]
  size_t start = 0;
};

NumericPrefix scanNumber(std::string_view s) {
  NumericPrefix p;
  size_t i = 0;
  while (i < s.size() && isSpace(s[i])) ++i;
  p.start = i;
  size_t j = i;
  if (j < s.size() && (s[j] == '+' || s[j] == '-')) ++j;
  size_t digits = j;
  while (j < s.size() && isDigit(s[j])) ++j;
  bool intDigits = j > digits;
  if (intDigits) p.intLen = j - i;
  size_t fracDigits = 0;
  if (j < s.size() && s[j] == '.') {
    size_t k = j + 1;
    while (k < s.size() && isDigit(s[k])) ++k;
    fracDigits = k - (j + 1);
    if (intDigits || fracDigits > 0) j = k;
  }
  if (!intDigits && fracDigits == 0) return p;
  if (j < s.size() && (s[j] == 'e' || s[j] == 'E')) {
    size_t k = j + 1;
    if (k < s.size() && (s[k] == '+' || s[k] == '-')) ++k;
    size_t expStart = k;
    while (k < s.size() && isDigit(s[k])) ++k;
    if (k > expStart) j = k;
  }
  p.realLen = j - i;
  return p;
}

bool onlySpacesAfter(std::string_view s, size_t at) {
  for (size_t i = at; i < s.size(); ++i) {
    if (!isSpace(s[i])) return false;
  }
  return true;
}

// Parses sign+digits; saturates at the int64 limits like SQLite's CAST (the caller decides
// whether saturation is acceptable).
int64_t parseIntegerSaturating(std::string_view digits, bool* overflow) {
  bool neg = false;
  size_t i = 0;
  if (i < digits.size() && (digits[i] == '+' || digits[i] == '-')) neg = digits[i++] == '-';
  unsigned __int128 mag = 0;
  *overflow = false;
  for (; i < digits.size(); ++i) {
    mag = mag * 10 + static_cast<unsigned>(digits[i] - '0');
    if (mag > (static_cast<unsigned __int128>(INT64_MAX) + 1)) {
      *overflow = true;
      mag = static_cast<unsigned __int128>(INT64_MAX) + 1;
    }
  }
  if (neg) return mag > static_cast<unsigned __int128>(INT64_MAX) ? INT64_MIN : -static_cast<int64_t>(mag);
  if (mag > static_cast<unsigned __int128>(INT64_MAX)) {
    *overflow = true;
    return INT64_MAX;
  }
  return static_cast<int64_t>(mag);
}

int64_t realToIntegerSaturating(double d) {
  if (std::isnan(d)) return 0;
  if (d <= -9223372036854775808.0) return INT64_MIN;
  if (d >= 9223372036854775807.0) return INT64_MAX;
  return static_cast<int64_t>(d);
}

// Compares an integer with a real exactly (no rounding of large integers).
int compareIntReal(int64_t i, double d) {
  if (std::isnan(d)) return 1;
  if (d < -9223372036854775808.0) return 1;
  if (d >= 9223372036854775808.0) return -1;
  double di = static_cast<double>(i);
  if (di < d) return -1;
  if (di > d) return 1;
  int64_t id = static_cast<int64_t>(d);
  return i < id ? -1 : (i > id ? 1 : 0);
}

int storageRank(Value::Type t) {
  switch (t) {
    case Value::Type::Null: return 0;
    case Value::Type::Integer: case Value::Type::Real: return 1;
    case Value::Type::Text: return 2;
    case Value::Type::Blob: return 3;
  }
  return 4;
}

[[noreturn]] void overflow() { fail(ErrorCode::InvalidArgument, "integer overflow"); }

}  // namespace

Value textToNumber(std::string_view text, bool* exact) {
  NumericPrefix p = scanNumber(text);
  if (p.realLen == 0) {
    if (exact) *exact = false;
    return Value(int64_t{0});
  }
  std::string_view num = text.substr(p.start, p.realLen);
  if (p.intLen == p.realLen) {
    bool over = false;
    int64_t v = parseIntegerSaturating(num, &over);
    if (!over) {
      if (exact) *exact = onlySpacesAfter(text, p.start + p.realLen);
      return Value(v);
    }
  }
  if (exact) *exact = onlySpacesAfter(text, p.start + p.realLen);
  return Value(std::strtod(std::string(num).c_str(), nullptr));
}

Value castInteger(const Value& v) {
  switch (v.type()) {
    case Value::Type::Null: return v;
    case Value::Type::Integer: return v;
    case Value::Type::Real: return Value(realToIntegerSaturating(std::get<double>(v.variant())));
    case Value::Type::Text: case Value::Type::Blob: {
      std::string t = v.toText();
      NumericPrefix p = scanNumber(t);
      if (p.intLen == 0) return Value(int64_t{0});
      bool over = false;
      return Value(parseIntegerSaturating(std::string_view(t).substr(p.start, p.intLen), &over));
    }
  }
  return v;
}

Value castReal(const Value& v) {
  switch (v.type()) {
    case Value::Type::Null: return v;
    case Value::Type::Integer: return Value(static_cast<double>(std::get<int64_t>(v.variant())));
    case Value::Type::Real: return v;
    case Value::Type::Text: case Value::Type::Blob: {
      std::string t = v.toText();
      NumericPrefix p = scanNumber(t);
      if (p.realLen == 0) return Value(0.0);
      return Value(std::strtod(t.substr(p.start, p.realLen).c_str(), nullptr));
    }
  }
  return v;
}

Value castText(const Value& v) {
  if (v.isNull() || v.type() == Value::Type::Text) return v;
  return Value(v.toText());
}

Value castBlob(const Value& v) {
  if (v.isNull() || v.type() == Value::Type::Blob) return v;
  return Value(Blob{v.toText()});
}

Value toNumber(const Value& v) {
  switch (v.type()) {
    case Value::Type::Null: case Value::Type::Integer: case Value::Type::Real: return v;
    case Value::Type::Text: case Value::Type::Blob: return textToNumber(v.toText());
  }
  return v;
}

std::string realToText(double d) {
  if (std::isnan(d)) return "NaN";  // never stored by SQL, but Float fields may hold it
  if (std::isinf(d)) return d > 0 ? "Inf" : "-Inf";
  if (d == 0) return "0.0";
  char buf[40];
  std::snprintf(buf, sizeof buf, "%.15g", d);
  std::string s(buf);
  size_t e = s.find('e');
  std::string mantissa = e == std::string::npos ? s : s.substr(0, e);
  if (mantissa.find('.') == std::string::npos) mantissa += ".0";
  if (e == std::string::npos) return mantissa;
  // SQLite writes the exponent with at least two digits, as printf does.
  return mantissa + s.substr(e);
}

Value applyAffinity(const Value& v, Affinity affinity) {
  switch (affinity) {
    case Affinity::Numeric:
      if (v.type() == Value::Type::Text) {
        bool exact = false;
        Value n = textToNumber(v.text(), &exact);
        if (exact) return n;
      }
      return v;
    case Affinity::Text:
      if (v.type() == Value::Type::Integer || v.type() == Value::Type::Real) return Value(v.toText());
      return v;
    case Affinity::None: case Affinity::Blob: return v;
  }
  return v;
}

int compare(const Value& a, const Value& b) {
  int ra = storageRank(a.type()), rb = storageRank(b.type());
  if (ra != rb) return ra < rb ? -1 : 1;
  switch (a.type()) {
    case Value::Type::Null: return 0;
    case Value::Type::Integer: case Value::Type::Real: {
      bool ai = a.type() == Value::Type::Integer, bi = b.type() == Value::Type::Integer;
      if (ai && bi) {
        int64_t x = std::get<int64_t>(a.variant()), y = std::get<int64_t>(b.variant());
        return x < y ? -1 : (x > y ? 1 : 0);
      }
      if (ai) return compareIntReal(std::get<int64_t>(a.variant()), std::get<double>(b.variant()));
      if (bi) return -compareIntReal(std::get<int64_t>(b.variant()), std::get<double>(a.variant()));
      double x = std::get<double>(a.variant()), y = std::get<double>(b.variant());
      return x < y ? -1 : (x > y ? 1 : 0);
    }
    case Value::Type::Text: case Value::Type::Blob: {
      std::string_view x = a.type() == Value::Type::Text ? std::string_view(a.text()) : a.blob();
      std::string_view y = b.type() == Value::Type::Text ? std::string_view(b.text()) : b.blob();
      int c = x.compare(y);
      return c < 0 ? -1 : (c > 0 ? 1 : 0);
    }
  }
  return 0;
}

std::optional<bool> truth(const Value& v) {
  switch (v.type()) {
    case Value::Type::Null: return std::nullopt;
    case Value::Type::Integer: return std::get<int64_t>(v.variant()) != 0;
    case Value::Type::Real: return std::get<double>(v.variant()) != 0.0;
    case Value::Type::Text: case Value::Type::Blob: {
      Value n = castReal(v);
      return std::get<double>(n.variant()) != 0.0;
    }
  }
  return std::nullopt;
}

Value arithmetic(ArithOp op, const Value& a, const Value& b) {
  if (a.isNull() || b.isNull()) return Value();
  Value x = toNumber(a), y = toNumber(b);
  bool ints = x.type() == Value::Type::Integer && y.type() == Value::Type::Integer;
  if (op == ArithOp::Rem) {
    // SQLite: both operands as integers; REAL result when either was REAL.
    int64_t xi = std::get<int64_t>(castInteger(x).variant());
    int64_t yi = std::get<int64_t>(castInteger(y).variant());
    if (yi == 0) return Value();
    int64_t r = yi == -1 ? 0 : xi % yi;
    if (ints) return Value(r);
    return Value(static_cast<double>(r));
  }
  if (ints) {
    int64_t xi = std::get<int64_t>(x.variant()), yi = std::get<int64_t>(y.variant());
    int64_t r = 0;
    switch (op) {
      case ArithOp::Add: if (__builtin_add_overflow(xi, yi, &r)) overflow(); return Value(r);
      case ArithOp::Sub: if (__builtin_sub_overflow(xi, yi, &r)) overflow(); return Value(r);
      case ArithOp::Mul: if (__builtin_mul_overflow(xi, yi, &r)) overflow(); return Value(r);
      case ArithOp::Div:
        if (yi == 0) return Value();
        if (xi == INT64_MIN && yi == -1) overflow();
        return Value(xi / yi);
      case ArithOp::Rem: break;
    }
  }
  double xd = x.real(), yd = y.real(), r = 0;
  switch (op) {
    case ArithOp::Add: r = xd + yd; break;
    case ArithOp::Sub: r = xd - yd; break;
    case ArithOp::Mul: r = xd * yd; break;
    case ArithOp::Div:
      if (yd == 0.0) return Value();
      r = xd / yd;
      break;
    case ArithOp::Rem: break;
  }
  // SQLite has no NaN: Inf - Inf and the like are NULL.
  if (std::isnan(r)) return Value();
  return Value(r);
}

Value negate(const Value& v) {
  if (v.isNull()) return v;
  Value n = toNumber(v);
  if (n.type() == Value::Type::Integer) {
    int64_t i = std::get<int64_t>(n.variant());
    if (i == INT64_MIN) overflow();
    return Value(-i);
  }
  return Value(-std::get<double>(n.variant()));
}

Value concat(const Value& a, const Value& b) {
  if (a.isNull() || b.isNull()) return Value();
  return Value(a.toText() + b.toText());
}

namespace {

char foldAscii(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

bool likeAt(std::string_view t, size_t ti, std::string_view p, size_t pi) {
  while (pi < p.size()) {
    char pc = p[pi];
    if (pc == '%') {
      while (pi < p.size() && (p[pi] == '%' || p[pi] == '_')) {
        if (p[pi] == '_') {
          if (ti >= t.size()) return false;
          ti = nextChar(t, ti);
        }
        ++pi;
      }
      if (pi == p.size()) return true;
      for (size_t k = ti; k <= t.size(); k = k < t.size() ? nextChar(t, k) : k + 1) {
        if (likeAt(t, k, p, pi)) return true;
      }
      return false;
    }
    if (ti >= t.size()) return false;
    if (pc == '_') {
      ti = nextChar(t, ti);
      ++pi;
      continue;
    }
    if (foldAscii(pc) != foldAscii(t[ti])) return false;
    ++pi;
    ++ti;
  }
  return ti == t.size();
}

}  // namespace

bool likeMatch(std::string_view text, std::string_view pattern) { return likeAt(text, 0, pattern, 0); }

Value like(const Value& text, const Value& pattern) {
  if (text.isNull() || pattern.isNull()) return Value();
  return Value(likeMatch(text.toText(), pattern.toText()));
}

}  // namespace query
}  // namespace capdb
