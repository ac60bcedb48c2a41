// Lets GoogleTest print capdb::Value (as its SQL literal) in failure messages.
#pragma once

#include <ostream>

#include "capdb/query.h"

namespace capdb {

inline void PrintTo(const Value& v, std::ostream* os) { *os << v.toSql(); }

inline void PrintTo(const Rows& rows, std::ostream* os) {
  for (auto row : rows) {
    *os << "(";
    for (size_t c = 0; c < row.size(); ++c) *os << (c ? ", " : "") << row[c].toSql();
    *os << ")";
  }
}

}  // namespace capdb
