// Rewriting a table's B-trees into filled pages (capdb/admin.h, compact), for the bulk loads that
// do it on their own.
#pragma once

#include <cstdint>

#include "engine/txn.h"
#include "orm/table_core.h"

namespace capdb::db {

// Rewrites the table's records and every index into filled pages, in `txn`.
void repackTable(engine::WriteTxn& txn, const orm::TableCore& core);

// After a load of `loaded` records into the table in `txn`: repacks it when the load is at least
// half of what the table now holds, so that a fresh load leaves full pages at a cost in
// proportion to it (the records tree of an ascending load is full already; its indexes, filled
// in the order of their keys' arrival, are not).
void repackAfterLoad(engine::WriteTxn& txn, const orm::TableCore& core, uint64_t loaded);

}  // namespace capdb::db
