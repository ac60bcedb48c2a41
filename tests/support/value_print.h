// Lets GoogleTest print capdb::Value (as its SQL literal) in failure messages.
#pragma once

#include <ostream>

#include "capdb/query.h"

namespace capdb {

inline void PrintTo(const Value& v, std::ostream* os) { *os << v.toSql(); }

}  // namespace capdb
