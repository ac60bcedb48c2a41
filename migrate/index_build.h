// Index builds: the batches that fill an index that builds (added, changed, or over a field a
// migration step sets), after the table's migration has ended. Each batch reads the records after
// the lowest checkpoint of the table's building indexes, sorts each index's entries by key,
// writes them in key order through one cursor (appending into an index nothing has written to
// yet), and commits the checkpoints with them. Entries are idempotent (the one entry of the
// record as it is now) and every write keeps a building index as it keeps a ready one, so each
// record ends with exactly its one current entry, whether a write reached it before the build or
// after (docs/migrations.md, Index builds).
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "capdb/options.h"
#include "engine/txn.h"
#include "orm/catalog.h"
#include "orm/table_core.h"

namespace capdb::migrate {

// The table's building indexes with their catalog entries in `info`: with `held`, the unique ones
// an eager migration that may still be undone keeps for its check; without, the ones whose
// builds run.
std::vector<std::pair<const orm::IndexCore*, orm::IndexInfo*>> buildingIndexes(
    const orm::TableCore& core, orm::TableInfo& info, bool held);

// Starts the build of `ii` (one of core's indexes) again from nothing, in `txn`: its database
// emptied, its checkpoint, progress, hold and failure cleared, its state building.
void restartBuild(engine::WriteTxn& txn, const orm::TableCore& core, orm::IndexInfo& ii);

struct BuildResult {
  uint64_t scanned = 0;  // records read
  uint64_t done = 0;     // records the furthest build has entered (the table's, once finished)
  // Set when an index failed (a unique key met twice, a key that cannot be stored): what
  // MigrationFailed reports once the rest of the work is done.
  std::string failure;
};

// One batch of the builds of the table's building indexes, in `txn`, reading up to `limit`
// records (at least one) and `options.batchBytes` of entries, and updating their entries in
// `info` (checkpoint and done; ready once the last record is entered; failed, with the entries
// gone and the first offending keys kept, when a unique key repeats or a key cannot be stored).
// The records and the other indexes are untouched by a failure. Corruption names a record whose
// indexed fields cannot be read.
BuildResult buildBatch(engine::WriteTxn& txn, const orm::TableCore& core, orm::TableInfo& info,
                       const EagerOptions& options, uint64_t limit);

}  // namespace capdb::migrate
