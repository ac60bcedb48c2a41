// `capdb sql`: one statement, a script from standard input, or an interactive shell.
#pragma once

#include <istream>
#include <ostream>
#include <string>

#include "capdb/capdb.h"
#include "cli/output.h"

namespace capdb::cli {

struct ShellOptions {
  Options open;  // how the database is opened again when another process changed it
  Format format = Format::Table;
  Params params;
  bool explain = false;  // print each statement's plan before its result
};

// Runs one statement and prints its result (for INSERT, UPDATE and DELETE in table format, the
// number of records changed). When another process changed a table under `db` (an upgrade, say)
// the statement was refused and changed nothing: `db` is opened again, with a note on standard
// error, and the statement runs once more, against the tables as they now are.
void runStatement(Database& db, const std::string& sql, const ShellOptions& options,
                  std::ostream& out);

// Runs the ';'-separated statements of `in` in order, stopping at the first that fails (whose
// error is thrown, naming the statement's number).
void runScript(Database& db, std::istream& in, const ShellOptions& options, std::ostream& out);

// The interactive shell on a terminal: line editing and history (readline), statements ended by
// ';', and the commands .tables, .schema TABLE, .explain on|off, .help, .quit. Errors are printed
// and the shell goes on. Returns when the user quits or at end of input.
void interactive(Database& db, ShellOptions options);

}  // namespace capdb::cli
