#include "query/functions.h"

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdint>
#include <string>

#include "engine/fail.h"
#include "query/utf8.h"
#include "query/value_ops.h"

namespace capdb::query {
namespace {

using Args = std::span<const Value>;
using Type = Value::Type;

// length(), substr() and trim()'s character set walk their text as a C string: a NUL ends it.
std::string_view upToNul(std::string_view s) {
  return s.substr(0, s.find('\0'));
}

// The text a text function reads from a non-NULL argument.
std::string textOf(const Value& v) {
  return castText(v).text();
}

bool anyNull(Args args) {
  return std::any_of(args.begin(), args.end(), [](const Value& v) { return v.isNull(); });
}

Value mapAscii(const Value& v, char first, char last, int shift) {
  if (v.isNull()) return Value();
  std::string s = textOf(v);
  for (char& c : s) {
    if (c >= first && c <= last) c = static_cast<char>(c + shift);
  }
  return Value(std::move(s));
}

Value lowerFn(Args a) {
  return mapAscii(a[0], 'A', 'Z', 'a' - 'A');
}
Value upperFn(Args a) {
  return mapAscii(a[0], 'a', 'z', 'A' - 'a');
}

Value lengthFn(Args a) {
  const Value& v = a[0];
  if (v.isNull()) return Value();
  if (v.type() == Type::Blob) return Value(v.blob().size());
  if (v.type() == Type::Text) return Value(static_cast<int64_t>(charCount(upToNul(v.text()))));
  return Value(textOf(v).size());  // a number: the length of its text
}

// SQLite's algorithm, case for case: a negative start counts from the end, start 0 is the
// position before the first character (so substr(x, 0, 2) has one character), a negative count
// takes the characters before the start. Characters for text, bytes for a BLOB. Positions are
// 64-bit, as in current SQLite (3.40 truncated them, and round()'s digits, to 32 bits).
Value substrFn(Args a) {
  if (anyNull(a)) return Value();
  bool blob = a[0].type() == Type::Blob;
  // SQLite reads an empty BLOB as a null pointer and returns NULL for it.
  if (blob && a[0].blob().empty()) return Value();
  std::string s = blob ? a[0].blob() : textOf(a[0]);
  std::string_view z = blob ? std::string_view(s) : upToNul(s);
  int64_t len = static_cast<int64_t>(blob ? z.size() : charCount(z));
  int64_t p1 = castInteger(a[1]).integer();
  int64_t p2 = a.size() == 3 ? castInteger(a[2]).integer() : INT64_MAX;
  if (p1 < 0) {
    p1 += len;
    if (p1 < 0) {
      p2 = p2 < 0 ? 0 : p2 + p1;
      p1 = 0;
    }
  } else if (p1 > 0) {
    --p1;
  } else if (p2 > 0) {
    --p2;
  }
  if (p2 < 0) {
    p2 = p2 < -p1 ? p1 : -p2;
    p1 -= p2;
  }
  if (blob) {
    if (p1 >= len) return Value(Blob{});
    return Value(Blob{std::string(z.substr(p1, p2))});
  }
  size_t begin = 0;
  for (; begin < z.size() && p1 > 0; --p1) begin = nextChar(z, begin);
  size_t end = begin;
  for (; end < z.size() && p2 > 0; --p2) end = nextChar(z, end);
  return Value(z.substr(begin, end - begin));
}

// The 1-based character position of the first occurrence, 0 when none, 1 for an empty needle.
// Bytes when both arguments are BLOBs; otherwise both are read as text and positions count
// characters (a match may not start on a continuation byte). Here alone the step is not
// nextChar's: as in SQLite's instr(), a step is one byte and then past any continuation bytes, so
// in invalid text a stray continuation byte counts with the character before it
// (instr(x'618062', 'b') is 2 where length() counts 3 characters).
Value instrFn(Args a) {
  if (anyNull(a)) return Value();
  bool bytes = a[0].type() == Type::Blob && a[1].type() == Type::Blob;
  std::string hay = bytes ? a[0].blob() : textOf(a[0]);
  std::string needle = bytes ? a[1].blob() : textOf(a[1]);
  if (needle.empty()) return Value(1);
  int64_t position = 1;
  size_t i = 0;
  while (needle.size() <= hay.size() - i && hay.compare(i, needle.size(), needle) != 0) {
    ++position;
    do {
      ++i;
    } while (!bytes && i < hay.size() && isContinuationByte(hay[i]));
  }
  return Value(needle.size() <= hay.size() - i ? position : 0);
}

// Removes, from the chosen ends, any run of the set's characters (a space by default). The set
// is split into characters; each is matched as bytes against the text's ends. An empty set
// leaves the text as it is; a NULL set gives NULL.
Value trimSides(Args a, bool left, bool right) {
  if (a[0].isNull()) return Value();
  std::string set = " ";
  if (a.size() == 2) {
    if (a[1].isNull()) return Value();
    set = upToNul(textOf(a[1]));
  }
  std::vector<std::string_view> chars;
  for (size_t i = 0; i < set.size();) {
    size_t next = nextChar(set, i);
    chars.push_back(std::string_view(set).substr(i, next - i));
    i = next;
  }
  std::string s = textOf(a[0]);
  std::string_view rest = s;
  auto strip = [&](auto matches, auto remove) {
    while (!rest.empty()) {
      auto c = std::find_if(chars.begin(), chars.end(), matches);
      if (c == chars.end()) break;
      remove(c->size());
    }
  };
  if (left) {
    strip([&](std::string_view c) { return rest.starts_with(c); },
          [&](size_t n) { rest.remove_prefix(n); });
  }
  if (right) {
    strip([&](std::string_view c) { return rest.ends_with(c); },
          [&](size_t n) { rest.remove_suffix(n); });
  }
  return Value(rest);
}

Value trimFn(Args a) {
  return trimSides(a, true, true);
}
Value ltrimFn(Args a) {
  return trimSides(a, true, false);
}
Value rtrimFn(Args a) {
  return trimSides(a, false, true);
}

Value replaceFn(Args a) {
  if (a[0].isNull() || a[1].isNull()) return Value();
  std::string pattern = textOf(a[1]);
  // SQLite tests the pattern as a C string, before it looks at the replacement: a pattern that is
  // empty or starts with NUL returns X itself (a BLOB as text), even when Z is NULL.
  if (pattern.empty() || pattern[0] == '\0') {
    return a[0].type() == Type::Blob ? castText(a[0]) : a[0];
  }
  if (a[2].isNull()) return Value();
  std::string s = textOf(a[0]);
  std::string replacement = textOf(a[2]);
  std::string out;
  size_t from = 0;
  for (size_t at; (at = s.find(pattern, from)) != std::string::npos; from = at + pattern.size()) {
    out.append(s, from, at - from);
    out += replacement;
  }
  out.append(s, from);
  return Value(std::move(out));
}

// INTEGER stays INTEGER; anything else is read as a REAL (abs('-5') is 5.0, abs('x') 0.0).
Value absFn(Args a) {
  const Value& v = a[0];
  if (v.isNull()) return Value();
  if (v.type() == Type::Integer) {
    int64_t i = v.integer();
    if (i == INT64_MIN) fail(ErrorCode::InvalidArgument, "integer overflow");
    return Value(i < 0 ? -i : i);
  }
  double d = castReal(v).real();
  return Value(d < 0 ? -d : d);
}

// SQLite's atof as round() uses it on text that is [-]digits.digits: up to 19 significant digits
// into an integer, scaled by a power of ten in long double arithmetic.
double sqliteAtof(std::string_view z) {
  constexpr int64_t kDigitLimit = (INT64_MAX - 9) / 10;
  bool negative = z.front() == '-';
  int64_t s = 0;
  int e = 0;
  size_t i = negative ? 1 : 0;
  for (; i < z.size() && z[i] != '.'; ++i) {
    if (s < kDigitLimit) {
      s = s * 10 + (z[i] - '0');
    } else {
      ++e;
    }
  }
  for (++i; i < z.size(); ++i) {
    if (s < kDigitLimit) {
      s = s * 10 + (z[i] - '0');
      --e;
    }
  }
  if (s == 0) return negative ? -0.0 : 0.0;
  for (; e > 0 && s < INT64_MAX / 10; --e) s *= 10;
  for (; e < 0 && s % 10 == 0; ++e) s /= 10;
  if (negative) s = -s;
  if (e == 0) return static_cast<double>(s);
  long double scale = 1.0L;
  long double x = 10.0L;
  for (int k = std::abs(e);; x *= x) {
    if (k & 1) scale *= x;
    k >>= 1;
    if (k == 0) break;
  }
  return static_cast<double>(e < 0 ? s / scale : s * scale);
}

// round(r, digits) for 1 <= digits <= 30 and |r| <= 2^52, ported step by step from SQLite 3.40,
// which prints r with its own "%.*f" (long double arithmetic, a rounding fudge, at most 16
// significant digits) and reads the text back. Results differ from rounding the exact binary
// value: round(2.675, 2) is 2.68 (the double lies just below 2.675), round(3.14159, 30) is
// 3.141589999999999.
double roundDigits(double r, int digits) {
  static constexpr double kHalfUnits[] = {5.0e-01, 5.0e-02, 5.0e-03, 5.0e-04, 5.0e-05,
                                          5.0e-06, 5.0e-07, 5.0e-08, 5.0e-09, 5.0e-10};
  double rounder = kHalfUnits[digits % 10];
  for (int i = digits; i >= 10; i -= 10) rounder *= 1.0e-10;
  long double v = r < 0 ? -static_cast<long double>(r) : r;
  int binaryExp = static_cast<int>((std::bit_cast<uint64_t>(std::fabs(r)) >> 52) & 0x7ff) - 1023;
  if (digits + binaryExp / 3 < 15) rounder += v * 3e-16;
  v += rounder;
  int exp = 0;
  if (v > 0) {
    long double scale = 1.0;
    for (; v >= 1e10 * scale; exp += 10) scale *= 1e10;
    for (; v >= 10.0 * scale; ++exp) scale *= 10.0;
    v /= scale;
    for (; v < 1e-8; exp -= 8) v *= 1e8;
    for (; v < 1.0; --exp) v *= 10.0;
  }
  int significant = 16;
  auto digit = [&] {
    if (significant-- <= 0) return '0';
    int d = static_cast<int>(v);
    v = (v - d) * 10.0;
    return static_cast<char>('0' + d);
  };
  std::string text = r < 0 ? "-" : "";
  if (exp < 0) text += '0';
  for (int e = exp; e >= 0; --e) text += digit();
  text += '.';
  int fraction = digits;
  for (int e = exp + 1; e < 0; ++e, --fraction) text += '0';
  for (; fraction > 0; --fraction) text += digit();
  return sqliteAtof(text);
}

// Always REAL. Ties round away from zero; negative digits count as 0, more than 30 as 30.
Value roundFn(Args a) {
  int digits = 0;
  if (a.size() == 2) {
    if (a[1].isNull()) return Value();
    digits = static_cast<int>(std::clamp<int64_t>(castInteger(a[1]).integer(), 0, 30));
  }
  if (a[0].isNull()) return Value();
  double r = castReal(a[0]).real();
  // Past 2^52 a double has no fraction; NaN and infinities are left alone too.
  if (!(std::fabs(r) <= 4503599627370496.0)) return Value(r);
  if (digits == 0) {
    return Value(static_cast<double>(static_cast<int64_t>(r + (r < 0 ? -0.5 : 0.5))));
  }
  return Value(roundDigits(r, digits));
}

Value coalesceFn(Args a) {
  auto v = std::find_if(a.begin(), a.end(), [](const Value& x) { return !x.isNull(); });
  return v == a.end() ? Value() : *v;
}

Value nullifFn(Args a) {
  return compare(a[0], a[1]) == 0 ? Value() : a[0];
}

// As SQLite: among equal arguments min() returns the last and max() the first, which shows when
// they differ in type (min(1, 1.0) is 1.0, max(1, 1.0) is 1).
Value extreme(Args a, bool max) {
  if (anyNull(a)) return Value();
  size_t best = 0;
  for (size_t i = 1; i < a.size(); ++i) {
    int c = compare(a[best], a[i]);
    if (max ? c < 0 : c >= 0) best = i;
  }
  return a[best];
}

Value minFn(Args a) {
  return extreme(a, false);
}
Value maxFn(Args a) {
  return extreme(a, true);
}

Value typeofFn(Args a) {
  static constexpr const char* kNames[] = {"null", "integer", "real", "text", "blob"};  // by Type
  return Value(kNames[static_cast<size_t>(a[0].type())]);
}

constexpr FunctionInfo kFunctions[] = {
    {"abs", 1, 1, absFn},       {"coalesce", 2, -1, coalesceFn}, {"ifnull", 2, 2, coalesceFn},
    {"instr", 2, 2, instrFn},   {"length", 1, 1, lengthFn},      {"lower", 1, 1, lowerFn},
    {"ltrim", 1, 2, ltrimFn},   {"max", 2, -1, maxFn},           {"min", 2, -1, minFn},
    {"nullif", 2, 2, nullifFn}, {"replace", 3, 3, replaceFn},    {"round", 1, 2, roundFn},
    {"rtrim", 1, 2, rtrimFn},   {"substr", 2, 3, substrFn},      {"substring", 2, 3, substrFn},
    {"trim", 1, 2, trimFn},     {"typeof", 1, 1, typeofFn},      {"upper", 1, 1, upperFn},
};

bool equalsLowerAscii(std::string_view name, std::string_view lower) {
  return std::equal(name.begin(), name.end(), lower.begin(), lower.end(), [](char c, char l) {
    return (c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c) == l;
  });
}

}  // namespace

const FunctionInfo* findFunction(std::string_view name) {
  for (const FunctionInfo& f : kFunctions) {
    if (equalsLowerAscii(name, f.name)) return &f;
  }
  return nullptr;
}

std::vector<std::string_view> functionNames() {
  std::vector<std::string_view> names;
  for (const FunctionInfo& f : kFunctions) names.push_back(f.name);
  return names;
}

}  // namespace capdb::query
