#include "cli/shell.h"

#include <fmt/format.h>
#include <readline/history.h>
#include <readline/readline.h>

#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <iterator>
#include <sstream>

#include "capdb/admin.h"
#include "cli/fail.h"

namespace capdb::cli {
namespace {

std::string trim(std::string_view s) {
  size_t b = s.find_first_not_of(" \t\r\n"), e = s.find_last_not_of(" \t\r\n");
  return b == std::string_view::npos ? std::string() : std::string(s.substr(b, e - b + 1));
}

void printTables(Database& db, std::ostream& out) {
  for (const auto& t : status(db).tables) {
    out << fmt::format("{} ({} records, version {})\n", t.name, t.records, t.version);
  }
}

void printSchema(Database& db, const std::string& name, std::ostream& out) {
  std::string table = trim(name);
  require(!table.empty(), ErrorCode::InvalidArgument, ".schema needs a table name");
  auto columns = db.query("SELECT * FROM " + quoteName(table) + " LIMIT 0").columns;
  for (const auto& t : status(db).tables) {
    if (t.name != table) continue;
    std::string pk;
    for (const auto& f : t.primaryKey) pk += (pk.empty() ? "" : ", ") + f;
    out << fmt::format("table {} (version {}), primary key ({})\n", t.name, t.version, pk);
    out << "  columns: ";
    for (size_t i = 0; i < columns.size(); ++i) out << (i ? ", " : "") << columns[i];
    out << '\n';
    for (const auto& i : t.indexes) {
      std::string fields;
      for (const auto& f : i.fields) fields += (fields.empty() ? "" : ", ") + f;
      out << fmt::format("  index {} ({}){}{}\n", i.name, fields, i.unique ? " unique" : "",
                         i.ready ? "" : " (" + i.state + ")");
    }
    return;
  }
  db.table(table);  // no such table: the error names the closest one
}

}  // namespace

namespace {

void runOnce(Database& db, const std::string& sql, const ShellOptions& options, std::ostream& out) {
  ResultSet rs;
  if (options.explain) {
    Statement statement = db.prepare(sql);  // errors point into the statement as written
    out << "plan: " << statement.explain() << '\n';
    rs = statement.run(options.params);
  } else {
    rs = db.query(sql, options.params);
  }
  if (!rs.columns.empty()) {
    printResult(rs, options.format, out);
  } else if (options.format == Format::Table) {
    out << rs.changes << (rs.changes == 1 ? " record changed\n" : " records changed\n");
  }
}

}  // namespace

void runStatement(Database& db, const std::string& sql, const ShellOptions& options,
                  std::ostream& out) {
  try {
    runOnce(db, sql, options, out);
    return;
  } catch (const Error& e) {
    if (e.code() != ErrorCode::SchemaMismatch || !db.changedElsewhere()) throw;
  }
  std::filesystem::path path = db.path();
  { Database old = std::move(db); }  // one Database per path per process: close it first
  try {
    db = Database::open(path, {}, options.open);
  } catch (const Error& e) {
    // The session has no database left to go on with.
    std::cerr << "capdb: error: opening " << path.string() << " again: " << e.what() << '\n';
    std::exit(1);
  }
  std::cerr << "note: another process changed the database since it was opened; opened it again\n";
  runOnce(db, sql, options, out);
}

void runScript(Database& db, std::istream& in, const ShellOptions& options, std::ostream& out) {
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  auto statements = splitStatements(text);
  for (size_t i = 0; i < statements.size(); ++i) {
    try {
      runStatement(db, statements[i], options, out);
    } catch (const Error& e) {
      throw Error(e.code(), fmt::format("statement {}: {}", i + 1, e.what()));
    }
  }
}

void interactive(Database& db, ShellOptions options) {
  std::filesystem::path history;
  if (const char* home = std::getenv("HOME")) history = std::filesystem::path(home) / ".capdb_history";
  if (!history.empty()) read_history(history.c_str());
  std::cout << "capdb " << db.path().string() << ": statements end with ';', .help for commands\n";
  std::string buffer;
  for (;;) {
    char* raw = readline(buffer.empty() ? "capdb> " : "   ...> ");
    if (raw == nullptr) break;
    std::string line(raw);
    std::free(raw);
    std::string t = trim(line);
    if (t.empty()) continue;
    add_history(line.c_str());
    try {
      if (buffer.empty() && t[0] == '.') {
        std::istringstream words(t);
        std::string command, argument;
        words >> command;
        std::getline(words, argument);
        argument = trim(argument);
        if (command == ".quit" || command == ".exit") break;
        if (command == ".tables") {
          printTables(db, std::cout);
        } else if (command == ".schema") {
          printSchema(db, argument, std::cout);
        } else if (command == ".explain") {
          require(argument == "on" || argument == "off", ErrorCode::InvalidArgument,
                        ".explain takes on or off");
          options.explain = argument == "on";
        } else if (command == ".help") {
          std::cout << ".help              this list\n"
                       ".tables            the tables, their records and versions\n"
                       ".schema TABLE      a table's columns, primary key and indexes\n"
                       ".explain on|off    print each statement's plan before its result\n"
                       ".quit, .exit       leave\n";
        } else {
          fail(ErrorCode::InvalidArgument, "unknown command {} (.help lists them)", command);
        }
        continue;
      }
      buffer += (buffer.empty() ? "" : "\n") + line;
      if (trim(buffer).back() != ';') continue;
      std::string text = buffer;
      buffer.clear();
      for (const auto& statement : splitStatements(text)) runStatement(db, statement, options, std::cout);
    } catch (const Error& e) {
      buffer.clear();
      std::cout << "error: " << e.what() << '\n';
    }
    std::cout.flush();
  }
  if (!history.empty()) write_history(history.c_str());
}

}  // namespace capdb::cli
