// How the capdb tool prints result sets and values, and reads --param values.
#pragma once

#include <ostream>
#include <string>
#include <string_view>

#include "capdb/capdb.h"

namespace capdb::cli {

enum class Format { Table, Csv, Json, Jsonl };

// "table", "csv", "json" or "jsonl"; InvalidArgument otherwise.
Format parseFormat(std::string_view name);

// Writes the rows of `rs` in `format`. Table: aligned columns with a header; csv: RFC 4180 with a
// header row, NULL as an empty field; json: one array of objects; jsonl: one object per line,
// numbers as JSON numbers, NULL as null, BLOB as an array of byte values.
void printResult(const ResultSet& rs, Format format, std::ostream& out);

// A value as JSON.
std::string jsonValue(const Value& v);
// A value as one CSV field (quoted when it must be).
std::string csvField(const Value& v);
// A value as the table format shows it: NULL, text as is, BLOB as x'..'.
std::string cellText(const Value& v);

// Adds one --param NAME=VALUE to `params`: a NAME that is a number is positional (?NAME), any
// other is named (:NAME). VALUE reads as NULL, an integer, a real, a 'quoted' text, or else text.
void addParam(Params& params, std::string_view assignment);

}  // namespace capdb::cli
