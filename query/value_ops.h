// Operations on SQL values with SQLite's semantics: conversions, comparison, arithmetic,
// truth. Internal to the query layer.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "capdb/query.h"

namespace capdb::query {

// SQLite's column affinities, as far as capdb has them: a column of a numeric or Bool field has
// Numeric, a Text or enum field Text, a Data field Blob; an expression that is not a column
// (or a CAST) has None.
enum class Affinity : uint8_t { None, Numeric, Text, Blob };

// Reads text as a number the way SQLite's CAST does: the longest numeric prefix, 0 when there is
// none. `exact` (when given) tells whether the whole text, less surrounding spaces, was a number.
Value textToNumber(std::string_view text, bool* exact = nullptr);
// CAST(v AS INTEGER) / CAST(v AS REAL) / CAST(v AS TEXT) / CAST(v AS BLOB); NULL stays NULL.
Value castInteger(const Value& v);
Value castReal(const Value& v);
Value castText(const Value& v);
Value castBlob(const Value& v);
// A number for arithmetic: INTEGER and REAL as they are, TEXT and BLOB through textToNumber.
Value toNumber(const Value& v);
// A REAL rendered as SQLite renders it ("1.0", "0.1", "1.0e+20").
std::string realToText(double d);

// Applies an affinity to a value as SQLite does before comparing: Numeric turns TEXT that is
// wholly a number into that number; Text turns numbers into their text.
Value applyAffinity(const Value& v, Affinity affinity);

// Orders two values as ORDER BY does: NULL < INTEGER and REAL (by number) < TEXT (bytewise) <
// BLOB (bytewise). Returns <0, 0 or >0.
int compare(const Value& a, const Value& b);

// Three-valued truth: nullopt for NULL, else whether the value is non-zero as a number.
std::optional<bool> truth(const Value& v);

// Arithmetic with SQLite's rules: NULL in, NULL out; INTEGER op INTEGER is INTEGER (division
// truncates; an overflow is InvalidArgument "integer overflow"); a REAL operand makes REAL;
// division or remainder by zero is NULL.
enum class ArithOp : uint8_t { Add, Sub, Mul, Div, Rem };
Value arithmetic(ArithOp op, const Value& a, const Value& b);
Value negate(const Value& v);
// a || b: NULL if either is NULL, else the concatenated text renderings.
Value concat(const Value& a, const Value& b);
// SQLite's LIKE: % and _ wildcards (_ is one character, as query/utf8.h walks them),
// case-insensitive for ASCII letters. NULL if either is NULL.
Value like(const Value& text, const Value& pattern);
bool likeMatch(std::string_view text, std::string_view pattern);


}  // namespace capdb::query
