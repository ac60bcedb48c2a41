// Runs the SQL logic tests: every *.test file in CAPDB_SQL_TEST_DIR, each as one test named after
// the file, against a fresh database holding the tables of tests/sql/schemas/sql_people.capnp
// (people and events).
//
// A .test file is a sequence of records separated by blank lines. A line starting with # where
// a record could start is a comment. Each record is a header line, then the SQL, which runs to
// the first blank line (it may span lines), then, for a query, its expected rows:
//
//   statement ok                     the statement runs without error
//   statement changes N              ... and ResultSet::changes is N
//   statement error CODE [text]      it throws capdb::Error whose errorCodeName is CODE and whose
//                                    message contains text (the rest of the line, if any); the
//                                    tables are then as they were before it
//   query nosort [colnames]          the rows, rendered, are the expected lines in that order
//   query rowsort [colnames]         ... once both are sorted as rendered lines
//   query error CODE [text]          as statement error, for a query
//
// A query's SQL ends at a line "----"; its expected rows follow, one per line, up to a blank line
// or the end of the file ("----" then a blank line: no rows). With colnames the first expected
// line is the column names (ResultSet::columns) joined by |, compared before the rows.
//
// Values render as: NULL; INTEGER in decimal; REAL as Value::toText() (SQLite's CAST(x AS TEXT),
// "2.5", "1.0", "1.0e+20"); TEXT as it is, the empty string as (empty); BLOB as x'00ff' (lower
// case hex). The columns of a row are joined by |.
//
// "Tables as they were" is checked by comparing the rendered results of
// SELECT * FROM people ORDER BY id and SELECT * FROM events ORDER BY device, seq taken before
// and after the failing statement. Every failure is reported at the .test file and line of the
// record's header; the file goes on after a failed record.
#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>
#include <cstdint>
#include <exception>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "capdb/capdb.h"
#include "sql_people.capnp.h"
#include "support/temp_dir.h"

#ifndef CAPDB_SQL_TEST_DIR
#error "CAPDB_SQL_TEST_DIR must name the directory of the .test files"
#endif

namespace capdb {
namespace {

namespace fs = std::filesystem;

// One record of a .test file.
struct Record {
  enum class Kind { Ok, Changes, Error, Rows };

  int line = 0;  // 1-based line of the header
  bool isQuery = false;
  Kind kind = Kind::Ok;
  uint64_t changes = 0;      // Kind::Changes
  std::string errorCode;     // Kind::Error: an errorCodeName
  std::string errorText;     // Kind::Error: a substring of the message, maybe empty
  bool rowSort = false;      // Kind::Rows
  bool columnNames = false;  // Kind::Rows: expected[0] is the column names
  std::string sql;
  std::vector<std::string> expected;  // Kind::Rows: rendered lines
};

std::vector<std::string> splitWords(std::string_view line) {
  std::vector<std::string> words;
  std::istringstream in{std::string(line)};
  for (std::string w; in >> w;) words.push_back(w);
  return words;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return s;
}

bool isBlank(std::string_view line) {
  return trim(line).empty();
}

// The part of `line` after its first `n` words, trimmed.
std::string afterWords(std::string_view line, int n) {
  size_t i = 0;
  for (int w = 0; w < n; ++w) {
    while (i < line.size() && std::isspace(static_cast<unsigned char>(line[i]))) ++i;
    while (i < line.size() && !std::isspace(static_cast<unsigned char>(line[i]))) ++i;
  }
  return std::string(trim(line.substr(i)));
}

// Reads the records of `path`. A malformed file is reported (at its line) and gives false.
bool parseFile(const std::string& path, std::vector<Record>& records) {
  std::ifstream in(path);
  if (!in) {
    ADD_FAILURE() << "cannot read " << path;
    return false;
  }
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line);) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    lines.push_back(std::move(line));
  }
  auto malformed = [&](size_t index, const std::string& why) {
    ADD_FAILURE_AT(path.c_str(), static_cast<int>(index + 1)) << "malformed record: " << why;
    return false;
  };

  size_t i = 0;
  while (i < lines.size()) {
    if (isBlank(lines[i]) || lines[i].front() == '#') {
      ++i;
      continue;
    }
    Record r;
    r.line = static_cast<int>(i + 1);
    std::vector<std::string> words = splitWords(lines[i]);
    const std::string& verb = words[0];
    std::string mode = words.size() > 1 ? words[1] : "";
    if (verb != "statement" && verb != "query") {
      return malformed(i, "expected 'statement' or 'query', got '" + verb + "'");
    }
    r.isQuery = verb == "query";
    if (mode == "error") {
      if (words.size() < 3) return malformed(i, "'error' needs an error code");
      r.kind = Record::Kind::Error;
      r.errorCode = words[2];
      r.errorText = afterWords(lines[i], 3);
    } else if (!r.isQuery && mode == "ok" && words.size() == 2) {
      r.kind = Record::Kind::Ok;
    } else if (!r.isQuery && mode == "changes" && words.size() == 3) {
      r.kind = Record::Kind::Changes;
      try {
        size_t used = 0;
        r.changes = std::stoull(words[2], &used);
        if (used != words[2].size()) throw std::invalid_argument(words[2]);
      } catch (const std::exception&) {
        return malformed(i, "'changes' needs a count, got '" + words[2] + "'");
      }
    } else if (r.isQuery && (mode == "nosort" || mode == "rowsort") &&
               (words.size() == 2 || (words.size() == 3 && words[2] == "colnames"))) {
      r.kind = Record::Kind::Rows;
      r.rowSort = mode == "rowsort";
      r.columnNames = words.size() == 3;
    } else {
      return malformed(i, "unknown header '" + lines[i] + "'");
    }
    ++i;

    size_t sqlStart = i;
    while (i < lines.size() && !isBlank(lines[i]) && lines[i] != "----") {
      if (!r.sql.empty()) r.sql += '\n';
      r.sql += lines[i];
      ++i;
    }
    if (i == sqlStart) return malformed(sqlStart - 1, "no SQL after the header");
    bool hasResults = i < lines.size() && lines[i] == "----";
    if (r.kind == Record::Kind::Rows) {
      if (!hasResults) return malformed(sqlStart - 1, "a query needs '----' and its rows");
      ++i;
      while (i < lines.size() && !isBlank(lines[i])) r.expected.push_back(lines[i++]);
      if (r.columnNames && r.expected.empty()) {
        return malformed(sqlStart - 1, "'colnames' needs the column names as the first line");
      }
    } else if (hasResults) {
      return malformed(i, "only 'query nosort' and 'query rowsort' records have results");
    }
    records.push_back(std::move(r));
  }
  return true;
}

std::string render(const Value& v) {
  switch (v.type()) {
    case Value::Type::Null:
      return "NULL";
    case Value::Type::Integer:
      return std::to_string(v.integer());
    case Value::Type::Real:
      return v.toText();
    case Value::Type::Text:
      return v.text().empty() ? "(empty)" : v.text();
    case Value::Type::Blob: {
      static constexpr char kHex[] = "0123456789abcdef";
      std::string out = "x'";
      for (unsigned char c : v.blob()) {
        out += kHex[c >> 4];
        out += kHex[c & 0xf];
      }
      return out + "'";
    }
  }
  return "?";
}

std::string join(const std::vector<std::string>& parts) {
  std::string out;
  for (size_t i = 0; i < parts.size(); ++i) {
    if (i > 0) out += '|';
    out += parts[i];
  }
  return out;
}

std::vector<std::string> renderRows(const ResultSet& rs) {
  std::vector<std::string> lines;
  lines.reserve(rs.rows.size());
  for (const auto& row : rs.rows) {
    std::vector<std::string> cells;
    cells.reserve(row.size());
    for (const Value& v : row) cells.push_back(render(v));
    lines.push_back(join(cells));
  }
  return lines;
}

std::string indented(const std::vector<std::string>& lines) {
  if (lines.empty()) return "  (no rows)\n";
  std::string out;
  for (const auto& line : lines) out += "  " + line + "\n";
  return out;
}

// Every record of both tables, rendered, to tell whether a failed statement changed anything.
std::string dumpTables(Database& db) {
  std::string out;
  for (const char* sql :
       {"SELECT * FROM people ORDER BY id", "SELECT * FROM events ORDER BY device, seq"}) {
    out += std::string("-- ") + sql + "\n";
    for (const auto& line : renderRows(db.query(sql))) out += line + "\n";
  }
  return out;
}

class SqlLogicTest : public ::testing::TestWithParam<std::string> {
 protected:
  void run(Database& db, const Record& r);
  void runError(Database& db, const Record& r);

  const std::string& file() const { return GetParam(); }
};

void SqlLogicTest::run(Database& db, const Record& r) {
  const char* path = file().c_str();
  if (r.kind == Record::Kind::Error) {
    runError(db, r);
    return;
  }
  ResultSet rs;
  try {
    rs = db.query(r.sql);
  } catch (const Error& e) {
    ADD_FAILURE_AT(path, r.line) << "unexpected error " << errorCodeName(e.code()) << ": "
                                 << e.what() << "\n  in: " << r.sql;
    return;
  } catch (const std::exception& e) {
    ADD_FAILURE_AT(path, r.line) << "unexpected exception (not a capdb::Error): " << e.what()
                                 << "\n  in: " << r.sql;
    return;
  }
  if (r.kind == Record::Kind::Changes) {
    if (rs.changes != r.changes) {
      ADD_FAILURE_AT(path, r.line)
          << "changed " << rs.changes << " records, expected " << r.changes << "\n  in: " << r.sql;
    }
    return;
  }
  if (r.kind != Record::Kind::Rows) return;

  std::vector<std::string> expected = r.expected;
  if (r.columnNames) {
    std::string names = join(rs.columns);
    if (names != expected.front()) {
      ADD_FAILURE_AT(path, r.line) << "column names\n  got:      " << names
                                   << "\n  expected: " << expected.front() << "\n  in: " << r.sql;
    }
    expected.erase(expected.begin());
  }
  std::vector<std::string> got = renderRows(rs);
  if (r.rowSort) {
    std::sort(got.begin(), got.end());
    std::sort(expected.begin(), expected.end());
  }
  if (got != expected) {
    ADD_FAILURE_AT(path, r.line) << "wrong rows" << (r.rowSort ? " (sorted)" : "")
                                 << "\n  in: " << r.sql << "\ngot:\n"
                                 << indented(got) << "expected:\n"
                                 << indented(expected);
  }
}

void SqlLogicTest::runError(Database& db, const Record& r) {
  const char* path = file().c_str();
  std::string before;
  try {
    before = dumpTables(db);
  } catch (const std::exception& e) {
    ADD_FAILURE_AT(path, r.line) << "cannot dump the tables before the statement: " << e.what();
    return;
  }
  try {
    db.query(r.sql);
    ADD_FAILURE_AT(path, r.line) << "expected " << r.errorCode
                                 << (r.errorText.empty() ? ""
                                                         : " containing \"" + r.errorText + "\"")
                                 << ", but it succeeded\n  in: " << r.sql;
  } catch (const Error& e) {
    std::string code(errorCodeName(e.code()));
    std::string message = e.what();
    if (code != r.errorCode || message.find(r.errorText) == std::string::npos) {
      ADD_FAILURE_AT(path, r.line) << "wrong error\n  got:      " << code << ": " << message
                                   << "\n  expected: " << r.errorCode << " containing \""
                                   << r.errorText << "\"\n  in: " << r.sql;
    }
  } catch (const std::exception& e) {
    ADD_FAILURE_AT(path, r.line) << "expected " << r.errorCode
                                 << ", got an exception that is not a capdb::Error: " << e.what()
                                 << "\n  in: " << r.sql;
  }
  std::string after;
  try {
    after = dumpTables(db);
  } catch (const std::exception& e) {
    ADD_FAILURE_AT(path, r.line) << "cannot dump the tables after the statement: " << e.what();
    return;
  }
  if (after != before) {
    ADD_FAILURE_AT(path, r.line) << "the failed statement changed the tables\n  in: " << r.sql
                                 << "\nbefore:\n"
                                 << before << "after:\n"
                                 << after;
  }
}

TEST_P(SqlLogicTest, Passes) {
  std::vector<Record> records;
  ASSERT_TRUE(parseFile(file(), records)) << "in " << file();
  testing::TempDir dir;
  Database db =
      Database::open(dir / "db", Schemas{table<sqltest::Person>(), table<sqltest::Event>(),
                                         table<sqltest::Customer>(), table<sqltest::Order>(),
                                         table<sqltest::Line>()});
  for (const Record& r : records) run(db, r);
}

std::vector<std::string> testFiles() {
  std::vector<std::string> files;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(CAPDB_SQL_TEST_DIR, ec)) {
    if (entry.is_regular_file() && entry.path().extension() == ".test") {
      files.push_back(entry.path().string());
    }
  }
  std::sort(files.begin(), files.end());
  return files;
}

std::string testName(const ::testing::TestParamInfo<std::string>& info) {
  std::string name = fs::path(info.param).stem().string();
  for (char& c : name) {
    if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
  }
  return name;
}

INSTANTIATE_TEST_SUITE_P(Files, SqlLogicTest, ::testing::ValuesIn(testFiles()), testName);

// Guards against a wrong CAPDB_SQL_TEST_DIR, which would otherwise run no file at all.
TEST(SqlLogicTestFiles, AreFound) {
  EXPECT_FALSE(testFiles().empty()) << "no *.test files in " << CAPDB_SQL_TEST_DIR;
}

}  // namespace
}  // namespace capdb
