// CSV import and export for `capdb import` and `capdb export` (RFC 4180: a header row of column
// names, quoted fields with "" for a quote, line breaks inside quotes).
#pragma once

#include <istream>
#include <ostream>
#include <string>

#include "capdb/capdb.h"

namespace capdb::cli {

// Inserts every row of `in` into `table` in one write transaction: all or nothing. An empty
// unquoted field is NULL; an unquoted x'..' is a BLOB; anything else is text, converted to the
// column's type by SQL's rules (docs/sql.md, Writes). A bad row is InvalidArgument (or
// ConstraintViolation) naming its line. Returns the rows inserted.
uint64_t importCsv(Database& db, const std::string& table, std::istream& in);

// Writes `table`'s rows (those `where` selects, when not empty) as CSV, in primary-key order.
uint64_t exportCsv(Database& db, const std::string& table, const std::string& where,
                   std::ostream& out);

}  // namespace capdb::cli
