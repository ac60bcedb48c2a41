// The small real database the SQL and import fuzz targets run against: the SQL tests' tables
// (tests/sql/schemas/sql_people.capnp: people, with a unique, a one-field and a composite index;
// events, with a composite primary key) holding a few records, in a temporary directory removed
// at exit. One per process, opened on first use.
#pragma once

#include "capdb/capdb.h"

namespace capdb::fuzz {

// The database, opened and filled on first use. It keeps those records as long as every
// input's writes are aborted; a target whose writes commit calls resetFuzzDatabase.
Database& fuzzDatabase();

// Removes the database and opens a fresh one with the same few records.
void resetFuzzDatabase();

}  // namespace capdb::fuzz
