// SQL scalar functions, with SQLite's semantics (as built without ICU): lower, upper, length,
// substr (and its alias substring), instr, trim, ltrim, rtrim, replace, abs, round, coalesce,
// ifnull, nullif, min, max, typeof. Internal to the query layer.
//
// Aggregates (count, sum, avg, and min/max with one argument) are not here: the binder treats a
// one-argument min or max as the aggregate and only looks here for two or more arguments.
#pragma once

#include <span>
#include <string_view>
#include <vector>

#include "capdb/query.h"

namespace capdb::query {

// Computes a function's value from its evaluated arguments. The caller has checked the number of
// arguments against the function's FunctionInfo. Text functions read a non-text argument as
// castText() renders it. Throws capdb::Error(InvalidArgument) where SQLite raises an error
// (abs(-9223372036854775808): "integer overflow"), never anything else.
using ScalarFn = Value (*)(std::span<const Value> args);

struct FunctionInfo {
  std::string_view name;  // lower case
  int minArgs;
  int maxArgs;  // -1: any number
  ScalarFn fn;
};

// The scalar function of that name, matched case-insensitively (ASCII), or nullptr. The returned
// entry is a constant that lives as long as the program.
const FunctionInfo* findFunction(std::string_view name);

// Every scalar function name, lower case, for "did you mean" suggestions. The views point at
// constants that live as long as the program.
std::vector<std::string_view> functionNames();

}  // namespace capdb::query
