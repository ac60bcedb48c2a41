// Each scalar function called directly, against results taken from SQLite 3.40.1
// (python3's sqlite3 module): every expected value below is what `SELECT <the call>` returns there.
#include "query/functions.h"

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <ostream>
#include <string>
#include <vector>

#include "query/value_ops.h"
#include "support/errors.h"

namespace capdb {

// Failure messages show the type and, for REAL, every digit (toSql rounds to 15).
static void PrintTo(const Value& v, std::ostream* os) {
  if (v.type() == Value::Type::Real) {
    *os << fmt::format("REAL {}", v.real());
  } else {
    *os << typeName(v.type()) << " " << v.toSql();
  }
}

namespace query {
namespace {

using namespace std::string_literals;
using ::capdb::testing::errorOf;

// Calls the function as the executor does, after checking the argument count fits it.
Value call(std::string_view name, std::vector<Value> args) {
  const FunctionInfo* f = findFunction(name);
  if (f == nullptr) {
    ADD_FAILURE() << "no function " << name;
    return Value();
  }
  EXPECT_GE(static_cast<int>(args.size()), f->minArgs) << name;
  if (f->maxArgs >= 0) {
    EXPECT_LE(static_cast<int>(args.size()), f->maxArgs) << name;
  }
  return f->fn(args);
}

Value blob(std::string bytes) {
  return Value(Blob{std::move(bytes)});
}

const Value kNull;

TEST(Functions, LookupIgnoresCaseAndListsEveryName) {
  ASSERT_NE(findFunction("SubStr"), nullptr);
  EXPECT_EQ(findFunction("SubStr")->name, "substr");
  EXPECT_EQ(findFunction("substring")->fn, findFunction("substr")->fn);
  EXPECT_EQ(findFunction("count"), nullptr);  // aggregates live in the binder
  EXPECT_EQ(findFunction("nosuch"), nullptr);
  EXPECT_EQ(findFunction(""), nullptr);
  EXPECT_EQ(findFunction("MIN")->minArgs, 2);  // one argument is the aggregate
  EXPECT_EQ(findFunction("max")->maxArgs, -1);
  EXPECT_EQ(findFunction("coalesce")->minArgs, 2);
  EXPECT_EQ(findFunction("round")->maxArgs, 2);

  std::vector<std::string_view> names = functionNames();
  for (std::string_view n :
       {"lower", "upper", "length", "substr", "instr", "trim", "ltrim", "rtrim", "replace", "abs",
        "round", "coalesce", "ifnull", "nullif", "min", "max", "typeof"}) {
    EXPECT_NE(std::find(names.begin(), names.end(), n), names.end()) << n;
    EXPECT_NE(findFunction(n), nullptr) << n;
  }
}

TEST(Functions, LowerUpperAreAsciiOnly) {
  EXPECT_EQ(call("lower", {"HeLLo ÀÉ"}), Value("hello ÀÉ"));
  EXPECT_EQ(call("upper", {"héllo"}), Value("HéLLO"));
  EXPECT_EQ(call("lower", {42}), Value("42"));
  EXPECT_EQ(call("upper", {1.5}), Value("1.5"));
  EXPECT_EQ(call("upper", {blob("abc")}), Value("ABC"));  // TEXT, not BLOB
  EXPECT_EQ(call("lower", {kNull}), kNull);
}

TEST(Functions, LengthCountsCharactersOrBytes) {
  EXPECT_EQ(call("length", {"héllo"}), Value(5));
  EXPECT_EQ(call("length", {""}), Value(0));
  EXPECT_EQ(call("length", {blob("\x00\xff\x00"s)}), Value(3));
  EXPECT_EQ(call("length", {blob("")}), Value(0));
  EXPECT_EQ(call("length", {-12}), Value(3));
  EXPECT_EQ(call("length", {1.0}), Value(3));  // "1.0"
  EXPECT_EQ(call("length", {0.1}), Value(3));
  EXPECT_EQ(call("length", {kNull}), kNull);
  // Text ends at a NUL; a stray continuation byte is a character of its own.
  EXPECT_EQ(call("length", {"a\0b"s}), Value(1));
  EXPECT_EQ(call("length", {"a\x80\x80"s}), Value(3));
}

TEST(Functions, SubstrPositions) {
  EXPECT_EQ(call("substr", {"hello", 2}), Value("ello"));
  EXPECT_EQ(call("substr", {"hello", 2, 3}), Value("ell"));
  EXPECT_EQ(call("substr", {"hello", 2, 0}), Value(""));
  EXPECT_EQ(call("substr", {"hello", 10}), Value(""));
  // Position 0 is the one before the first character.
  EXPECT_EQ(call("substr", {"hello", 0}), Value("hello"));
  EXPECT_EQ(call("substr", {"hello", 0, 2}), Value("h"));
  EXPECT_EQ(call("substr", {"hello", 0, -1}), Value(""));
  // A negative position counts from the end.
  EXPECT_EQ(call("substr", {"hello", -3}), Value("llo"));
  EXPECT_EQ(call("substr", {"hello", -3, 2}), Value("ll"));
  EXPECT_EQ(call("substr", {"hello", -7, 3}), Value("h"));
  EXPECT_EQ(call("substr", {"hello", -7, -3}), Value(""));
  // A negative length takes the characters before the position.
  EXPECT_EQ(call("substr", {"hello", 3, -2}), Value("he"));
  EXPECT_EQ(call("substr", {"hello", 3, -5}), Value("he"));
  EXPECT_EQ(call("substr", {"hello", -2, -2}), Value("el"));
  EXPECT_EQ(call("substr", {"hello", 6, -3}), Value("llo"));
  EXPECT_EQ(call("substr", {"hello", 10, -3}), Value(""));
}

TEST(Functions, SubstrTypesAndNulls) {
  EXPECT_EQ(call("substr", {"héllo", 2, 2}), Value("él"));
  EXPECT_EQ(call("substr", {"héllo", -4, 2}), Value("él"));
  EXPECT_EQ(call("substr", {12345, 2, 2}), Value("23"));
  EXPECT_EQ(call("substr", {1.5, 2}), Value(".5"));
  EXPECT_EQ(call("substr", {"hello", "2", 2.9}), Value("el"));
  EXPECT_EQ(call("substr", {"a\0bcd"s, 1}), Value("a"));
  EXPECT_EQ(call("substr", {blob("\x01\x02\x03\x04\x05"), 2, 2}), blob("\x02\x03"));
  EXPECT_EQ(call("substr", {blob("\x01\x02\x03\x04\x05"), -7, 3}), blob("\x01"));
  EXPECT_EQ(call("substr", {blob("\x01\x02\x03\x04\x05"), 7, -3}), blob("\x04\x05"));
  EXPECT_EQ(call("substr", {blob("\x01\x02\x03\x04\x05"), 10}), blob(""));
  EXPECT_EQ(call("substr", {blob(""), 1}), kNull);  // SQLite sees no bytes at all
  EXPECT_EQ(call("substr", {"", 1}), Value(""));
  EXPECT_EQ(call("substr", {kNull, 1}), kNull);
  EXPECT_EQ(call("substr", {"hello", kNull}), kNull);
  EXPECT_EQ(call("substr", {"hello", 1, kNull}), kNull);
}

TEST(Functions, Instr) {
  EXPECT_EQ(call("instr", {"hello", "l"}), Value(3));
  EXPECT_EQ(call("instr", {"héllo", "l"}), Value(3));
  EXPECT_EQ(call("instr", {"héllo", "é"}), Value(2));
  EXPECT_EQ(call("instr", {"hello", "z"}), Value(0));
  EXPECT_EQ(call("instr", {"hello", ""}), Value(1));
  EXPECT_EQ(call("instr", {"", ""}), Value(1));
  EXPECT_EQ(call("instr", {"", "a"}), Value(0));
  EXPECT_EQ(call("instr", {"abc", "abcd"}), Value(0));
  EXPECT_EQ(call("instr", {12345, 34}), Value(3));
  // Bytes when both are BLOBs, characters when either is text.
  EXPECT_EQ(call("instr", {blob("h\xc3\xa9llo"), blob("l")}), Value(4));
  EXPECT_EQ(call("instr", {"héllo", blob("l")}), Value(3));
  EXPECT_EQ(call("instr", {"aé", blob("\xa9")}), Value(0));  // never inside a character
  EXPECT_EQ(call("instr", {blob("\x01\x02"), blob("")}), Value(1));
  EXPECT_EQ(call("instr", {kNull, "a"}), kNull);
  EXPECT_EQ(call("instr", {"a", kNull}), kNull);
}

TEST(Functions, Trim) {
  EXPECT_EQ(call("trim", {"  ab  "}), Value("ab"));
  EXPECT_EQ(call("ltrim", {"  ab  "}), Value("ab  "));
  EXPECT_EQ(call("rtrim", {"  ab  "}), Value("  ab"));
  EXPECT_EQ(call("trim", {"\t ab"}), Value("\t ab"));  // only spaces by default
  EXPECT_EQ(call("trim", {"xxabyx", "xy"}), Value("ab"));
  EXPECT_EQ(call("ltrim", {"xxabyx", "xy"}), Value("abyx"));
  EXPECT_EQ(call("rtrim", {"xxabyx", "xy"}), Value("xxab"));
  EXPECT_EQ(call("trim", {"aaa", "a"}), Value(""));
  EXPECT_EQ(call("trim", {"éaé", "é"}), Value("a"));
  EXPECT_EQ(call("trim", {"abc", ""}), Value("abc"));
  EXPECT_EQ(call("trim", {123, "1"}), Value("23"));
  EXPECT_EQ(call("trim", {12.0, "0"}), Value("12."));
  EXPECT_EQ(call("trim", {"  ab  ", 1}), Value("  ab  "));
  EXPECT_EQ(call("trim", {blob(" A"), " "}), Value("A"));
  EXPECT_EQ(call("trim", {"abc", kNull}), kNull);
  EXPECT_EQ(call("trim", {kNull}), kNull);
}

TEST(Functions, Replace) {
  EXPECT_EQ(call("replace", {"hello", "l", "L"}), Value("heLLo"));
  EXPECT_EQ(call("replace", {"aaaa", "aa", "b"}), Value("bb"));
  EXPECT_EQ(call("replace", {"héllo", "é", "e"}), Value("hello"));
  EXPECT_EQ(call("replace", {"abc", "abcd", "x"}), Value("abc"));
  EXPECT_EQ(call("replace", {1.5, ".", ","}), Value("1,5"));
  EXPECT_EQ(call("replace", {blob("abc"), "b", "z"}), Value("azc"));
  // An empty pattern (or one starting with NUL) returns X itself, before Z is looked at.
  EXPECT_EQ(call("replace", {"abc", "", "x"}), Value("abc"));
  EXPECT_EQ(call("replace", {123, "", "x"}), Value(123));
  EXPECT_EQ(call("replace", {1.5, "", "x"}), Value(1.5));
  EXPECT_EQ(call("replace", {blob("A"), "", "x"}), Value("A"));
  EXPECT_EQ(call("replace", {"abc", "", kNull}), Value("abc"));
  EXPECT_EQ(call("replace", {"abc", blob("\0"s), "z"}), Value("abc"));
  EXPECT_EQ(call("replace", {"abc", "b", kNull}), kNull);
  EXPECT_EQ(call("replace", {"abc", kNull, "x"}), kNull);
  EXPECT_EQ(call("replace", {kNull, "a", "x"}), kNull);
}

TEST(Functions, Abs) {
  EXPECT_EQ(call("abs", {-5}), Value(5));
  EXPECT_EQ(call("abs", {5}), Value(5));
  EXPECT_EQ(call("abs", {0}), Value(0));
  EXPECT_EQ(call("abs", {INT64_MIN + 1}), Value(INT64_MAX));
  EXPECT_EQ(call("abs", {-2.5}), Value(2.5));
  // Anything not INTEGER is read as a REAL.
  EXPECT_EQ(call("abs", {"-5"}), Value(5.0));
  EXPECT_EQ(call("abs", {" -3 "}), Value(3.0));
  EXPECT_EQ(call("abs", {"abc"}), Value(0.0));
  EXPECT_EQ(call("abs", {blob("-5")}), Value(5.0));
  EXPECT_EQ(call("abs", {kNull}), kNull);
  EXPECT_TRUE(std::signbit(call("abs", {-0.0}).real()));
  EXPECT_EQ(errorOf([] { call("abs", {INT64_MIN}); }), "InvalidArgument: integer overflow");
}

TEST(Functions, RoundToInteger) {
  EXPECT_EQ(call("round", {2.5}), Value(3.0));
  EXPECT_EQ(call("round", {-2.5}), Value(-3.0));
  EXPECT_EQ(call("round", {0.5}), Value(1.0));
  EXPECT_EQ(call("round", {-0.5}), Value(-1.0));
  EXPECT_EQ(call("round", {1.5}), Value(2.0));
  EXPECT_EQ(call("round", {-3.7}), Value(-4.0));
  EXPECT_EQ(call("round", {0.49999999999999994}), Value(1.0));  // x + 0.5, truncated
  Value nearZero = call("round", {-0.4});
  EXPECT_EQ(nearZero, Value(0.0));
  EXPECT_FALSE(std::signbit(nearZero.real()));
  EXPECT_EQ(call("round", {5}), Value(5.0));  // always REAL
  EXPECT_EQ(call("round", {"2.5"}), Value(3.0));
  EXPECT_EQ(call("round", {"abc"}), Value(0.0));
  EXPECT_EQ(call("round", {1e300}), Value(1e300));
  EXPECT_EQ(call("round", {4503599627370497.0}), Value(4503599627370497.0));
  EXPECT_EQ(call("round", {int64_t{9007199254740993}}), Value(9007199254740992.0));
  EXPECT_EQ(call("round", {kNull}), kNull);
}

TEST(Functions, RoundToDigits) {
  EXPECT_EQ(call("round", {3.14159, 3}), Value(3.142));
  EXPECT_EQ(call("round", {1.25, 1}), Value(1.3));
  EXPECT_EQ(call("round", {-1.25, 1}), Value(-1.3));
  EXPECT_EQ(call("round", {0.125, 2}), Value(0.13));
  // The binary values lie just below the tie; SQLite's printf rounds them up all the same.
  EXPECT_EQ(call("round", {2.675, 2}), Value(2.68));
  EXPECT_EQ(call("round", {1.005, 2}), Value(1.01));
  // SQLite keeps 16 significant digits; digits above 30 count as 30.
  EXPECT_EQ(call("round", {0.1 + 0.2, 17}), Value(0.3));
  EXPECT_EQ(call("round", {3.14159, 30}), Value(3.141589999999999));
  EXPECT_EQ(call("round", {3.14159, 50}), Value(3.141589999999999));
  // Negative digits count as 0.
  EXPECT_EQ(call("round", {1234.5, -2}), Value(1235.0));
  EXPECT_EQ(call("round", {1.2345, -1}), Value(1.0));
  EXPECT_EQ(call("round", {12345.678, "1"}), Value(12345.7));
  EXPECT_EQ(call("round", {1.5, 0.9}), Value(2.0));
  Value minusZero = call("round", {-0.001, 1});
  EXPECT_EQ(minusZero, Value(0.0));
  EXPECT_TRUE(std::signbit(minusZero.real()));
  EXPECT_EQ(call("round", {1.5, kNull}), kNull);
  EXPECT_EQ(call("round", {kNull, 1}), kNull);
}

TEST(Functions, CoalesceIfnullNullif) {
  EXPECT_EQ(call("coalesce", {kNull, kNull, 3, 4}), Value(3));
  EXPECT_EQ(call("coalesce", {1, kNull}), Value(1));
  EXPECT_EQ(call("coalesce", {kNull, kNull}), kNull);
  EXPECT_EQ(call("ifnull", {kNull, "x"}), Value("x"));
  EXPECT_EQ(call("ifnull", {2, "x"}), Value(2));
  EXPECT_EQ(call("ifnull", {kNull, kNull}), kNull);
  // nullif compares as '=' does with no affinity: 1 = 1.0, 1 <> '1', x'61' <> 'a'.
  EXPECT_EQ(call("nullif", {1, 1}), kNull);
  EXPECT_EQ(call("nullif", {1, 1.0}), kNull);
  EXPECT_EQ(call("nullif", {1, "1"}), Value(1));
  EXPECT_EQ(call("nullif", {"a", "a"}), kNull);
  EXPECT_EQ(call("nullif", {"a", "A"}), Value("a"));
  EXPECT_EQ(call("nullif", {blob("\x01"), blob("\x01")}), kNull);
  EXPECT_EQ(call("nullif", {blob("a"), "a"}), blob("a"));
  EXPECT_EQ(call("nullif", {kNull, 1}), kNull);
  EXPECT_EQ(call("nullif", {1, kNull}), Value(1));
}

TEST(Functions, ScalarMinMax) {
  EXPECT_EQ(call("min", {3, 1, 2}), Value(1));
  EXPECT_EQ(call("max", {3, 1, 2}), Value(3));
  EXPECT_EQ(call("min", {2.5, 3}), Value(2.5));
  EXPECT_EQ(call("min", {"b", "a", "c"}), Value("a"));
  // Storage classes order NULL < numbers < TEXT < BLOB.
  EXPECT_EQ(call("min", {3, "a", blob("\0"s)}), Value(3));
  EXPECT_EQ(call("max", {3, "a", blob("\0"s)}), blob("\0"s));
  EXPECT_EQ(call("max", {2, 2.5, "1"}), Value("1"));
  // Among equal values min takes the last, max the first.
  EXPECT_EQ(call("min", {1, 1.0}), Value(1.0));
  EXPECT_EQ(call("min", {1.0, 1}), Value(1));
  EXPECT_EQ(call("max", {1, 1.0}), Value(1));
  EXPECT_EQ(call("max", {1.0, 1}), Value(1.0));
  EXPECT_EQ(call("min", {kNull, 1}), kNull);
  EXPECT_EQ(call("max", {3, kNull, 5}), kNull);
}

TEST(Functions, Typeof) {
  EXPECT_EQ(call("typeof", {1}), Value("integer"));
  EXPECT_EQ(call("typeof", {1.5}), Value("real"));
  EXPECT_EQ(call("typeof", {"a"}), Value("text"));
  EXPECT_EQ(call("typeof", {blob("")}), Value("blob"));
  EXPECT_EQ(call("typeof", {kNull}), Value("null"));
}

}  // namespace
}  // namespace query
}  // namespace capdb
