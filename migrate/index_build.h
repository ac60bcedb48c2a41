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
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <capnp/dynamic.h>

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

// A batch of index entries, gathered record by record for some of a table's indexes (by
// position), and written sorted by key, index by index. Each entry's key, value and primary key
// lie together in blocks that never move (no copy as the batch grows); each entry keeps its
// key's first eight bytes (big-endian, so that most comparisons of the sort are one integer
// comparison).
class EntryBatch {
 public:
  explicit EntryBatch(size_t indexes)
      : entries_(indexes), runs_(indexes), entered_(indexes, 0), unstorable_(indexes),
        unstorablePk_(indexes) {}
  // Adds the entry of `index` (position i) for `record` (at the newest version) stored under
  // `pk`. A key that cannot be stored (past the size limit) is kept as the index's problem, and
  // the index takes no more entries. Corruption names a record whose indexed fields cannot be
  // read.
  void add(size_t i, const orm::TableCore& core, const orm::IndexCore& index,
           capnp::DynamicStruct::Reader record, std::string_view pk);
  // Writes index i's entries into `index` in key order (appended when it is empty), merging the
  // runs sort() made and sorting the rest. Returns the problems met, one line each: the
  // unstorable key, or keys of a unique index that another record holds (then what was written
  // must be dropped: failIndex).
  std::vector<std::string> write(engine::WriteTxn& etx, size_t i, const orm::IndexCore& index);
  // Sorts the entries added since the last sort into a run of their own, which absorb() then
  // moves rather than copies: a thread that gathered entries sorts them itself, beside the
  // others, and what is left at write() is a merge. Fewer than kRun entries are left as they
  // are (absorb copies them; write sorts them), so that runs stay few.
  void sort();
  // Takes `other`'s entries (gathered for the same indexes, by another thread, say): its runs
  // move here whole.
  void absorb(EntryBatch&& other);
  uint64_t entered(size_t i) const { return entered_[i]; }
  bool unstorable(size_t i) const { return !unstorable_[i].empty(); }
  // The memory it holds: its blocks (used or not) and its entries' bookkeeping.
  size_t bytes() const { return reserved_ + count_ * sizeof(Entry); }

 private:
  struct Entry {
    uint64_t prefix;
    const char* bytes;  // the key, then the value, then the primary key
    uint16_t keySize, valueSize, pkSize;
    std::string_view key() const { return {bytes, keySize}; }
    std::string_view value() const { return {bytes + keySize, valueSize}; }
    std::string_view pk() const { return {bytes + keySize + valueSize, pkSize}; }
  };
  // The order entries are written in: by key, then primary key, so that duplicates list in order.
  static bool before(const Entry& x, const Entry& y);
  // Index i's entries added since the last run, sorted into a run of their own.
  void sortIntoRun(size_t i);
  // Room for `n` bytes in the last block.
  char* room(size_t n);

  std::vector<std::vector<Entry>> entries_;             // by index: added since the last sort
  std::vector<std::vector<std::vector<Entry>>> runs_;  // by index: runs sorted already
  static constexpr size_t kRun = 1024;                 // entries a run holds at least
  std::vector<uint64_t> entered_;
  std::vector<std::string> unstorable_;
  std::vector<std::string> unstorablePk_;  // the primary key of the record unstorable_ names
  std::vector<std::unique_ptr<char[]>> blocks_;
  size_t blockUsed_ = 0, blockSize_ = 0;
  size_t reserved_ = 0;  // the blocks' sizes
  size_t count_ = 0;     // entries, over every index
};

// The index failed: its entries go (its database emptied), it is marked failed with the
// offending keys (`unstorable`: a record whose key cannot be stored, rather than keys that
// repeat). Returns the line MigrationFailed reports.
std::string failIndex(engine::WriteTxn& etx, const orm::TableCore& core, const orm::IndexCore& ic,
                      orm::IndexInfo& ii, std::vector<std::string> problems, bool unstorable);

// One batch of the builds of the table's building indexes, in `txn`, reading up to `limit`
// records (at least one) and `options.batchBytes` of entries, and updating their entries in
// `info` (checkpoint and done; ready once the last record is entered; failed, with the entries
// gone and the first offending keys kept, when a unique key repeats or a key cannot be stored).
// The records and the other indexes are untouched by a failure. Corruption names a record whose
// indexed fields cannot be read.
BuildResult buildBatch(engine::WriteTxn& txn, const orm::TableCore& core, orm::TableInfo& info,
                       const EagerOptions& options, uint64_t limit);

}  // namespace capdb::migrate
