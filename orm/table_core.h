// TableCore: one table's records and indexes, over capnp::DynamicStruct. The typed Table<T> and
// DynamicTable of capdb.h are thin handles onto it. Internal to the library.
#pragma once

#include <capnp/dynamic.h>
#include <capnp/message.h>

#include <atomic>
#include <cstring>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "capdb/capdb.h"
#include "engine/env.h"
#include "engine/error_context.h"
#include "orm/access.h"
#include "orm/catalog.h"
#include "orm/record_codec.h"
#include "orm/table_schema.h"
#include "orm/upgrader.h"

namespace capdb::orm {

class TableCore;

// An index's state as this process knows it, which threads may read while a migration or
// another process's change (the fence) sets it; copyable so that IndexCore is. A ready index is
// complete only in the snapshots from the one its build's last batch committed in: a
// transaction that began before (a long read, another thread's) must not read it.
class IndexFlag {
 public:
  IndexFlag(IndexState s = IndexState::Ready) : value_(static_cast<uint8_t>(s)) {}
  IndexFlag(const IndexFlag& other)
      : value_(other.value_.load()), readyFrom_(other.readyFrom_.load()), stamp_(other.stamp_) {}
  IndexFlag& operator=(const IndexFlag& other) {
    readyFrom_ = other.readyFrom_.load();
    value_ = other.value_.load();
    stamp_ = other.stamp_;
    return *this;
  }
  // `readyFrom`: for Ready, the first snapshot (engine::Txn::snapshotId) that holds every entry.
  // `stamp`: a snapshot in which the catalog says `s` (the commit that set it, or a later one);
  // a change older than the one last taken is ignored, so that a thread that learns of a change
  // late never undoes a newer one. Callers serialize set() (TableCore::setIndexState).
  void set(IndexState s, uint64_t readyFrom, uint64_t stamp) {
    if (stamp < stamp_) return;
    stamp_ = stamp;
    readyFrom_.store(readyFrom, std::memory_order_release);
    value_.store(static_cast<uint8_t>(s), std::memory_order_release);
  }
  IndexState get() const { return static_cast<IndexState>(value_.load(std::memory_order_acquire)); }
  bool readyAt(uint64_t snapshot) const {
    return get() == IndexState::Ready && snapshot >= readyFrom_.load(std::memory_order_acquire);
  }

 private:
  std::atomic<uint8_t> value_;
  std::atomic<uint64_t> readyFrom_{0};
  uint64_t stamp_ = 0;
};

struct IndexCore {
  IndexSchema schema;
  engine::Db db;
  IndexFlag state;
  // Complete in the snapshot `snapshot`: queries and find() in it may read it.
  bool readyAt(uint64_t snapshot) const { return state.readyAt(snapshot); }
  // Every write keeps its entries: ready, or building.
  bool maintained() const { return state.get() != IndexState::Failed; }
};

// A table's two records databases (orm::tableDbName) and which one holds its records in which
// snapshots, as this process knows it. An undoable migration fills the tree that does not hold
// them and swaps the two in one commit (TableInfo::recordsTree, recordsSince); a transaction that
// began before the swap keeps reading the tree its snapshot holds the records in. Threads read
// it while the fence or a migration records a swap.
class RecordTrees {
 public:
  // Tree 1 may be missing (a read-only open of a database that never had it). `tree` holds the
  // records from snapshot `since` on (the catalog's), which is before every snapshot this process
  // will read.
  RecordTrees(engine::Db tree0, std::optional<engine::Db> tree1, uint32_t tree, uint64_t since);
  RecordTrees(const RecordTrees& other);

  // The tree that holds the records in `snapshot` (engine::Txn::snapshotId).
  const engine::Db& at(uint64_t snapshot) const {
    uint64_t latest = latest_.load(std::memory_order_acquire);
    if (snapshot >= (latest & kSince)) [[likely]] return *trees_[latest >> 63];
    return before(snapshot);
  }
  // The tree `tree` holds the records from snapshot `since` on (a swap committed there; earlier
  // ones are already known). False, changing nothing, when this process has no handle for it.
  bool swap(uint32_t tree, uint64_t since);
  // Tree `tree`'s database, or nullopt when this process has no handle for it.
  const std::optional<engine::Db>& tree(uint32_t tree) const { return trees_[tree & 1]; }
  // The latest swap this process knows of: its tree and the snapshot from which it holds the
  // records.
  std::pair<uint32_t, uint64_t> latest() const {
    uint64_t latest = latest_.load(std::memory_order_acquire);
    return {static_cast<uint32_t>(latest >> 63), latest & kSince};
  }

 private:
  static constexpr uint64_t kSince = ~uint64_t{0} >> 1;
  const engine::Db& before(uint64_t snapshot) const;

  std::optional<engine::Db> trees_[2];
  // The latest swap this process knows: its tree in the top bit, its snapshot below.
  std::atomic<uint64_t> latest_;
  // Every swap it knows, oldest first (snapshot, tree): for transactions older than the latest.
  mutable std::mutex mutex_;
  std::vector<std::pair<uint64_t, uint32_t>> swaps_;
};

// The entries a bulk load holds back from one table's indexes whose entries cannot collide (a
// non-unique index's (key, primary key), or a unique one's key holding a NULL): written at the
// end of the load in key order (TableCore::writeDeferred), appended into an index that is empty,
// so that the load leaves full index pages rather than the half-full ones of inserts in random
// order. Unique entries are written at once, so a duplicate is found at its own line.
struct DeferredEntries {
  const void* table = nullptr;  // the TableCore whose inserts defer their entries
  struct Run {
    std::string arena;
    std::vector<std::pair<uint32_t, uint32_t>> keys;  // offset and size in the arena
  };
  std::vector<Run> runs;  // one per index of the table, in its order
  size_t bytes = 0;
  // Past this many bytes of held entries, the load writes them out and starts again.
  static constexpr size_t kMaxBytes = size_t{256} << 20;
};

// What a write transaction gathers for the catalog: each touched table's entry, loaded from the
// transaction's own snapshot on first touch, written once at commit.
struct WriteState {
  std::map<std::string, TableInfo, std::less<>> touched;
  // Tables touched by a migration, whose shape (Catalog::sameShape) may change: only their
  // entries are compared with the stored ones at commit. An app's writes change counts and
  // sequences alone.
  std::set<std::string, std::less<>> reshaping;
  RecordEncoder encoder;
  RecordDecoder decoder;
  // Set when a write failed part-way (a unique violation found after the record was written,
  // say): the transaction may then only be aborted, as LMDB's own transactions after an error.
  std::string failure;
  bool aborted = false;  // WriteTxn::abort() inside Database::write
  bool scratchInUse = false;
  // Set by a bulk load (TableCore::deferIndexEntries) until it writes them.
  std::optional<DeferredEntries> deferred;

  // Zeroed first segment for the record an insert builds; a MallocMessageBuilder zeroes what it
  // used when destroyed, so one builder at a time can reuse it and most inserts allocate nothing.
  kj::ArrayPtr<capnp::word> scratch() {
    if (scratch_.size() == 0) {
      scratch_ = kj::heapArray<capnp::word>(512);
      std::memset(scratch_.begin(), 0, scratch_.size() * sizeof(capnp::word));
    }
    return scratch_;
  }

 private:
  kj::Array<capnp::word> scratch_;
};

// Reads records in key order from a primary-key or index range (RecordCursor's engine).
class RecordScan {
 public:
  // Each record is decoded and verified (TableCore::decode), or with `decode` false left
  // undecoded: record() is then not available, and the caller reads value() itself.
  RecordScan(const TableCore& table, const engine::Txn& txn, engine::Scan scan,
             const IndexCore* index, bool decode = true);
  bool valid() const { return valid_; }
  capnp::DynamicStruct::Reader record() const {
    KJ_IREQUIRE(decode_, "a RecordScan made with decode false has no decoded record");
    return record_;
  }
  std::string_view primaryKey() const { return pk_; }
  // The record's stored bytes, valid until next() or the end of the transaction.
  std::string_view value() const { return value_; }
  void next();
  // The records of another range of the same tree, through the same cursors.
  void restart(engine::KeyRange range);

 private:
  void load();

  const TableCore& table_;
  engine::Scan scan_;
  const IndexCore* index_;
  // Index scans: the records are read through one cursor, which LMDB moves without a descent
  // from the root when the next key is on the page it rests on (index order is often near key
  // order).
  std::optional<engine::Cursor> records_;
  bool decode_;
  RecordDecoder decoder_;
  bool valid_ = false;
  std::string_view pk_;
  std::string_view value_;
  capnp::DynamicStruct::Reader record_;
};

class TableCore : public detail::TableHandle {
 public:
  using Edit = DynamicTable::Edit;

  TableCore(TableSchema schema, RecordTrees records, std::vector<IndexCore> indexes,
            const Catalog& catalog);

  const TableSchema& schema() const { return schema_; }
  // The error context of an operation on this table, at the record `pk` (encoded) when given:
  // errors raised through failIn while it lives name them (engine/error_context.h).
  [[nodiscard]] ErrorContext context(std::string_view pk = {}) const { return ErrorContext(schema_.name, pk); }
  // Throws when the table is unavailable (setUnavailable): Busy, or SchemaMismatch once another
  // process changed the table under this one (setStale).
  void requireAvailable() const {
    if (unavailable_.load(std::memory_order_acquire) != nullptr) [[unlikely]] failUnavailable();
  }
  const std::vector<IndexCore>& indexes() const { return indexes_; }
  // The index called `name`, whatever its state; InvalidArgument naming the table's indexes when
  // it has none of that name.
  const IndexCore& index(std::string_view name) const;
  // The records database that holds the table's records in `txn`'s snapshot.
  const engine::Db& records(const engine::Txn& txn) const { return trees_.at(txn.snapshotId()); }
  const engine::Db& records(const Txn& tx) const;
  const RecordTrees& recordTrees() const { return trees_; }
  // This process learned that the table's records are in tree `tree` from snapshot `since` on
  // (the fence, or the migration that swapped them); false when it has no handle for that tree.
  bool swapRecords(uint32_t tree, uint64_t since) const { return trees_.swap(tree, since); }

  uint64_t insert(WriteTxn& tx, const Edit& fill) const;
  uint64_t insert(WriteTxn& tx, capnp::DynamicStruct::Reader record) const;
  bool update(WriteTxn& tx, capnp::DynamicStruct::Reader record) const;
  bool update(WriteTxn& tx, const Key& key, const Edit& edit) const;
  bool upsert(WriteTxn& tx, capnp::DynamicStruct::Reader record) const;
  bool remove(WriteTxn& tx, const Key& key) const;

  std::optional<DynamicRow> get(const Txn& tx, const Key& key) const;
  RecordCursor scan(const Txn& tx, const Range& range, Direction direction) const;
  RecordCursor find(const Txn& tx, std::string_view index, const Range& range,
                    Direction direction) const;
  uint64_t count(const Txn& tx) const;

  // The encoded primary key of a record / of key values (which must be the whole key).
  std::string primaryKeyOf(capnp::DynamicStruct::Reader record) const;
  std::string encodePrimaryKey(const Key& key) const;
  // The index entry (key, value) for a record with primary key pk.
  std::pair<std::string, std::string> indexEntry(const IndexCore& index,
                                                 capnp::DynamicStruct::Reader record,
                                                 std::string_view pk) const;
  // Writes one index entry for the record with primary key pk. A unique key that another record
  // already holds is `code` (ConstraintViolation for writes, MigrationFailed for a migration's
  // rebuild) naming the table, the index, the key and both records.
  void putIndexEntry(engine::WriteTxn& txn, const IndexCore& index,
                     const std::pair<std::string, std::string>& entry, std::string_view pk,
                     ErrorCode code) const;
  // Runs `load` (inserts into this table in `tx`, and nothing else that touches it) with the
  // entries it makes in indexes where they cannot collide held back (DeferredEntries), then
  // writes them in key order. If `load` throws, nothing held is written and the transaction is
  // marked failed (it can only be aborted), except for MapFull, after which the write runs again.
  template <typename Load>
  auto bulkLoad(WriteTxn& tx, Load&& load) const -> decltype(load()) {
    deferIndexEntries(tx);
    try {
      auto result = load();
      writeDeferred(tx);
      return result;
    } catch (...) {
      abandonDeferred(tx, std::current_exception());
      throw;
    }
  }
  void deferIndexEntries(WriteTxn& tx) const;
  // Writes the held entries in key order (appended into an index that is empty) and stops
  // holding them back.
  void writeDeferred(WriteTxn& tx) const;
  void abandonDeferred(WriteTxn& tx, std::exception_ptr why) const;
  // Removes the record's own entry: a unique key only when it points to this record.
  void eraseIndexEntry(engine::WriteTxn& txn, const IndexCore& index,
                       const std::pair<std::string, std::string>& entry) const;
  // The values of `index`'s key in `record` (DynamicTable::indexKey).
  Key indexKey(std::string_view index, capnp::DynamicStruct::Reader record) const;
  // The primary key an index entry points to.
  std::string_view primaryKeyOfEntry(const IndexCore& index, std::string_view key,
                                     std::string_view value) const;
  // Decodes a stored record at the table's version into `decoder`; Corruption or SchemaMismatch
  // (a record at another version) naming the table and key. With `verify` false, a record at the
  // newest version is not checked pointer by pointer first: its reads are still bounds-checked by
  // Cap'n Proto, but a damaged one then throws kj::Exception when a field is read, which the
  // caller must turn into Corruption (the SQL executor, which reads a few fields of many records).
  capnp::DynamicStruct::Reader decode(RecordDecoder& decoder, std::string_view pk,
                                      std::string_view bytes, bool verify = true) const;
  // Converts a Range of key values into a range of encoded keys.
  static engine::KeyRange toKeyRange(const Range& range);
  // The same from encoded bounds (nullopt: unbounded); a bound may be a prefix of whole keys.
  static engine::KeyRange toKeyRange(std::optional<std::string> lower, bool lowerInclusive,
                                     std::optional<std::string> upper, bool upperInclusive);

  // Records stored at older versions are read through `upgrader` (lazy migration). Set before the
  // table is shared between threads; `versions` are the old versions the table may hold.
  // With `keysMove` (a migration that moves records to new primary keys is pending), an upgraded
  // record's key is not checked against its stored key.
  void setUpgrader(std::shared_ptr<const Upgrader> upgrader, const std::set<uint32_t>& versions,
                   bool keysMove = false);
  bool hasUpgrader() const { return upgrader_ != nullptr; }
  // The upgrader set by setUpgrader, or nullptr.
  const Upgrader* upgrader() const { return upgrader_.get(); }
  // Whether records stored at `version` still need rewriting: they are older and go through a
  // step (a version that reads as the newest as it is never needs it).
  bool needsRewrite(uint32_t version) const {
    return needsRewrite(version, schema_.version, upgrader_.get());
  }
  // Records of the table that still need rewriting, by the catalog's per-version counts.
  uint64_t pendingRecords(const TableInfo& info) const {
    return pendingRecords(info, schema_.version, upgrader_.get());
  }
  // The same for a table at version `newest` whose old records read through `upgrader` (nullptr:
  // none), before its TableCore exists (Database::open deciding).
  static bool needsRewrite(uint32_t version, uint32_t newest, const Upgrader* upgrader) {
    return version != newest && (upgrader == nullptr || upgrader->needsSteps(version));
  }
  static uint64_t pendingRecords(const TableInfo& info, uint32_t newest, const Upgrader* upgrader) {
    uint64_t n = 0;
    for (const auto& [v, c] : info.counts) {
      if (needsRewrite(v, newest, upgrader)) n += c;
    }
    return n;
  }
  // Sets an index's state as this process knows it (a build finished or failed, here or in
  // another process), as of snapshot `stamp` (ignored when an index's state was set as of a
  // later one); a ready one is read by the transactions from snapshot `readyFrom` on.
  void setIndexState(std::string_view name, IndexState state, uint64_t readyFrom,
                     uint64_t stamp) const;
  // The table's catalog entry as this write transaction sees it, loaded on first touch and
  // written at commit. An app's write (not `migrating`) is refused while a migration moves the
  // records to new primary keys (Busy), and after one finished when this table's key is the old
  // one (SchemaMismatch): its records would land under keys the table no longer uses.
  TableInfo& touch(WriteTxn& tx, bool migrating = false) const;
  // Makes every read and write of the table fail with Busy and `why` (a tool opened a table whose
  // records are half-way to new primary keys).
  void setUnavailable(std::string why) const { setUnavailable(ErrorCode::Busy, std::move(why)); }
  // Makes every later read and write of the table fail with SchemaMismatch and `why`: another
  // process changed its version, key or indexes, so this process's view of it is stale. Threads
  // may call it while others use the table; the first reason given stays.
  void setStale(std::string why) const { setUnavailable(ErrorCode::SchemaMismatch, std::move(why)); }
  // The highest value of the primary key's autoIncrement field among the records (0 if none).
  uint64_t highestAutoIncrement(const engine::Txn& txn) const;
  // The same among the records in `tree` (a migration's, before it swaps them in).
  uint64_t highestAutoIncrement(const engine::Txn& txn, const engine::Db& tree) const;
  const Catalog& catalog() const { return *catalog_; }

  // A value a higher layer derives from the schema once and keeps for the table's life (the SQL
  // layer's column list): made by `make` on first use, under a lock.
  std::shared_ptr<const void> derived(const std::function<std::shared_ptr<const void>()>& make) const {
    std::lock_guard<std::mutex> lock(derivedMutex_);
    if (!derived_) derived_ = make();
    return derived_;
  }

 private:
  uint64_t insertBuilt(WriteTxn& tx, capnp::MessageBuilder& message) const;
  void addIndexEntries(WriteTxn& tx, capnp::DynamicStruct::Reader record, std::string_view pk) const;
  // Stores the message's record under pk in place of `old`, fixing the changed index entries.
  void replace(WriteTxn& tx, std::string_view pk, capnp::DynamicStruct::Reader old,
               uint32_t oldVersion, capnp::MessageBuilder& message) const;
  // The index `name`, ready in `snapshot`: Busy while it builds, SchemaMismatch once it failed.
  const IndexCore& requireIndex(std::string_view name, uint64_t snapshot) const;
  // InvalidArgument naming the table's indexes: it has none called `name`.
  [[noreturn]] void failNoIndex(std::string_view name) const;
  [[noreturn]] void failUnavailable() const;
  void requireOwnStruct(capnp::DynamicStruct::Reader record) const;

  TableSchema schema_;
  mutable RecordTrees trees_;
  mutable std::vector<IndexCore> indexes_;  // only their states change after open
  const Catalog* catalog_;
  RecordCheck check_;
  StructLayout layout_;  // schema_.schema's section sizes
  std::shared_ptr<const Upgrader> upgrader_;
  // What reading a record stored at an older version takes: a few versions, searched in turn
  // (a lazy read looks its version up, which a map would make a larger share of its cost).
  struct OldVersion {
    uint32_t version;
    capnp::StructSchema readAs;  // Upgrader::readSchema
    RecordCheck check;           // of readAs
    bool keyCheck;               // its steps may change the primary key
  };
  std::vector<OldVersion> oldVersions_;
  struct Unavailable {
    ErrorCode code;
    std::string why;
  };
  void setUnavailable(ErrorCode code, std::string why) const;
  // Set once (never freed before the table): every access fails with its code and reason.
  mutable std::atomic<const Unavailable*> unavailable_{nullptr};
  mutable std::unique_ptr<Unavailable> unavailableOwned_;
  mutable std::mutex unavailableMutex_;
  mutable std::mutex derivedMutex_;
  mutable std::mutex indexStateMutex_;  // serializes setIndexState
  mutable std::shared_ptr<const void> derived_;
};

}  // namespace capdb::orm

namespace capdb::detail {

// DynamicRow's decoder and RecordCursor's scan (capdb.h keeps them opaque).
struct RowDecoder : orm::RecordDecoder {};
class CursorImpl : public orm::RecordScan {
 public:
  using RecordScan::RecordScan;
};

}  // namespace capdb::detail

namespace capdb::orm {
// A decoder for a DynamicRow: from this thread's small pool, returned to it when the row dies, so
// that a get allocates nothing.
std::unique_ptr<detail::RowDecoder, detail::Access::RowRecycle> takeRowDecoder();
}  // namespace capdb::orm

namespace capdb::internal {

// The table a handle or a query points to.
inline orm::TableCore& core(const DynamicTable& t) {
  return static_cast<orm::TableCore&>(*detail::Access::handle(t));
}
inline const orm::TableCore& core(const Query& q) {
  return static_cast<const orm::TableCore&>(*detail::Access::handle(q));
}
// The public handle of a table.
inline DynamicTable handleOf(const orm::TableCore& core) {
  return detail::Access::table(const_cast<orm::TableCore*>(&core));
}

}  // namespace capdb::internal
