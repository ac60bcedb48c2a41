// CSV import (Database::importCsv): RFC 4180 rows inserted through a prepared INSERT, in one
// write transaction that reads its input again from the start when the map must grow.
#include <fmt/format.h>

#include <cctype>
#include <cstdio>
#include <optional>

#include "capdb/capdb.h"
#include "engine/crash_point.h"
#include "engine/fail.h"
#include "db/database_state.h"
#include "engine/txn.h"
#include "orm/rewindable_input.h"
#include "query/columns.h"

namespace capdb {
namespace {

struct Field {
  std::string text;
  bool quoted = false;
};

// Reads one CSV record; false at end of input. `line` counts the lines read so far.
bool readRecord(std::istream& in, std::vector<Field>& fields, uint64_t& line) {
  fields.clear();
  int c = in.peek();
  if (c == EOF) return false;
  ++line;
  uint64_t start = line;
  Field f;
  bool inQuotes = false;
  for (;;) {
    c = in.get();
    if (c == EOF) {
      CAPDB_REQUIRE(!inQuotes, ErrorCode::InvalidArgument, "line {}: a quoted field never ends", start);
      fields.push_back(std::move(f));
      return true;
    }
    char ch = static_cast<char>(c);
    if (inQuotes) {
      if (ch == '"') {
        if (in.peek() == '"') {
          in.get();
          f.text += '"';
        } else {
          inQuotes = false;
        }
      } else {
        if (ch == '\n') ++line;
        f.text += ch;
      }
      continue;
    }
    if (ch == '"' && f.text.empty() && !f.quoted) {
      inQuotes = true;
      f.quoted = true;
    } else if (ch == ',') {
      fields.push_back(std::move(f));
      f = Field{};
    } else if (ch == '\n') {
      fields.push_back(std::move(f));
      return true;
    } else if (ch != '\r') {
      f.text += ch;
    }
  }
}

Value fieldValue(const Field& f) {
  if (!f.quoted && f.text.empty()) return Value();
  const std::string& t = f.text;
  if (!f.quoted && t.size() >= 3 && (t[0] == 'x' || t[0] == 'X') && t[1] == '\'' && t.back() == '\'' &&
      (t.size() - 3) % 2 == 0) {
    std::string hex = t.substr(2, t.size() - 3), bytes;
    for (size_t i = 0; i < hex.size(); i += 2) {
      unsigned v = 0;
      if (hex.find_first_not_of("0123456789abcdefABCDEF") != std::string::npos ||
          std::sscanf(hex.substr(i, 2).c_str(), "%2x", &v) != 1) {
        return Value(t);
      }
      bytes += static_cast<char>(v);
    }
    return Value(Blob{std::move(bytes)});
  }
  return Value(t);
}

// Whether the column a header names (a field, or a dotted path into groups and structs; in any
// case, as SQL names columns) is Bool.
bool isBoolField(capnp::StructSchema schema, std::string_view dotted) {
  for (;;) {
    size_t dot = dotted.find('.');
    std::string_view name = dotted.substr(0, dot);
    std::optional<capnp::StructSchema::Field> found;
    for (auto field : schema.getFields()) {
      auto fieldName = field.getProto().getName();
      if (query::equalsIgnoreCase(name, std::string_view(fieldName.begin(), fieldName.size()))) found = field;
    }
    if (!found) return false;
    capnp::Type type = found->getType();
    if (dot == std::string_view::npos) return type.isBool();
    if (!type.isStruct()) return false;
    schema = type.asStruct();
    dotted.remove_prefix(dot + 1);
  }
}

// A Bool column's field: true/false (any case), t/f, yes/no, or 1/0, as other tools export them;
// empty is NULL (which the column refuses, naming itself).
Value boolValue(const Field& f, const std::string& column, uint64_t line) {
  if (!f.quoted && f.text.empty()) return Value();
  std::string t;
  for (char c : f.text) t += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (t == "true" || t == "t" || t == "yes" || t == "1") return Value(int64_t{1});
  if (t == "false" || t == "f" || t == "no" || t == "0") return Value(int64_t{0});
  fail(ErrorCode::InvalidArgument,
       "line {}, column {}: '{}' is not a Bool (write true or false, 1 or 0)", line, column,
       f.text);
}

}  // namespace

uint64_t Database::importCsv(std::string_view table, std::istream& source) {
  Database& db = *this;
  const TableSchema& schema = db.table(table).schema();
  orm::RewindableInput input(source);
  std::vector<Field> header, row;
  uint64_t line = 0;
  CAPDB_REQUIRE(readRecord(input.rewind(), header, line), ErrorCode::InvalidArgument,
                "the CSV input is empty: it needs a header row of column names");
  std::string columns, marks;
  std::vector<bool> boolColumns;
  for (size_t i = 0; i < header.size(); ++i) {
    columns += (i ? ", " : "") + quoteName(header[i].text);
    marks += i ? ", ?" : "?";
    boolColumns.push_back(isBoolField(schema.schema, header[i].text));
  }
  std::string sql = fmt::format("INSERT INTO {} ({}) VALUES ({})", quoteName(table), columns, marks);
  Statement insert = [&] {
    try {
      return db.prepare(sql);
    } catch (const Error& e) {
      throw Error(e.code(), fmt::format("line 1 (the header): {}", e.what()));
    }
  }();
  // Database::write runs the body again from its start when the map grows: it reads the input
  // from its start each time, so no row is skipped or repeated and lines are numbered right.
  const orm::TableCore& core = internal::core(db.table(table));
  return db.write([&](WriteTxn& tx) { return core.bulkLoad(tx, [&] {
    std::istream& in = input.rewind();
    line = 0;
    readRecord(in, header, line);
    uint64_t n = 0;
    while (readRecord(in, row, line)) {
      if (row.size() == 1 && !row[0].quoted && row[0].text.empty()) continue;  // a blank line
      CAPDB_REQUIRE(row.size() == header.size(), ErrorCode::InvalidArgument,
                    "line {}: {} field{}, the header has {}", line, row.size(),
                    row.size() == 1 ? "" : "s", header.size());
      Params params;
      for (size_t i = 0; i < row.size(); ++i) {
        params.positional.push_back(boolColumns[i] ? boolValue(row[i], header[i].text, line)
                                                   : fieldValue(row[i]));
      }
      engine::crashPoint("import.record");
      try {
        insert.run(tx, params);
      } catch (const engine::MapFull&) {
        throw;  // Database::write grows the map and runs the import again from its start
      } catch (const Error& e) {
        throw Error(e.code(), fmt::format("line {}: {}", line, e.what()));
      }
      ++n;
    }
    return n;
  }); });
}

}  // namespace capdb
