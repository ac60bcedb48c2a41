// CSV export for `capdb export` (import is Database::importCsv) (RFC 4180: a header row of column
// names, quoted fields with "" for a quote, line breaks inside quotes).
#pragma once

#include <istream>
#include <ostream>
#include <string>

#include "capdb/capdb.h"

namespace capdb::cli {

// Writes `table`'s rows (those `where` selects, when not empty) as CSV, in primary-key order.
uint64_t exportCsv(Database& db, const std::string& table, const std::string& where,
                   std::ostream& out);

}  // namespace capdb::cli
