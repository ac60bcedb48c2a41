// The eager rewrite: batches that carry a table's old records to its newest version, refill the
// indexes a migration rebuilds, or move records to a new primary key, each batch one write
// transaction with its checkpoint (migrate/eager.cpp).
#pragma once

#include <cstdint>
#include <functional>
#include <utility>
#include <vector>

#include "capdb/capdb.h"
#include "orm/table_core.h"

namespace capdb::migrate {

// Runs `body` in a write transaction and commits it (the Database's write(), which runs it again
// when the map must grow).
using RunWrite = std::function<void(const std::function<void(WriteTxn&)>& body)>;

// Runs batches over `tables`, in order, until no migration or index build is pending,
// `keepGoing(rewritten)` says stop, or `recordBudget` records (0: no limit) were written:
// rewritten, moved to new keys, installed, or entered into building indexes. Progress goes to
// options.progress after each batch. Returns the records rewritten and whether every table is
// finished. A step that fails is MigrationFailed naming the table, the key and the step, and its
// batch leaves nothing behind. An index build that fails (a unique key met twice, a key that
// cannot be stored) leaves the index failed and the rest going on: MigrationFailed lists them
// once the rest is done (or the budget spent).
std::pair<uint64_t, bool> runEager(const std::vector<orm::TableCore*>& tables, const RunWrite& write,
                                   const EagerOptions& options,
                                   const std::function<bool(uint64_t)>& keepGoing,
                                   uint64_t recordBudget);

}  // namespace capdb::migrate
