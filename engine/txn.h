// Transactions and named databases.
//
// A Txn sees one consistent snapshot. Views it returns (get, Cursor::key/value) point into the
// memory map: they stay valid until the next write in the same transaction or until the
// transaction ends, whichever comes first. Copy them to keep them longer.
#pragma once

#include <lmdb.h>

#include <algorithm>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "capdb/error.h"
#include "engine/cursor.h"

namespace capdb::engine {

namespace detail {
struct EnvState;
}

// A handle to a named database (one per table, one per index). Cheap to copy; valid for the
// life of its Env unless the database is dropped.
struct Db {
  MDB_dbi dbi = 0;
  std::string name;
};

// Thrown inside a write transaction when the map is full and can still grow; Env::write catches
// it, grows the map and runs the transaction again. Code Busy: the same transaction, run again,
// succeeds.
class MapFull : public Error {
 public:
  using Error::Error;
};

class Txn {
 public:
  Txn(Txn&& other) noexcept;
  Txn& operator=(Txn&& other) noexcept;
  Txn(const Txn&) = delete;
  Txn& operator=(const Txn&) = delete;

  // The value stored under key, or nullopt. The view is valid until the next write in this
  // transaction or its end.
  std::optional<std::string_view> get(const Db& db, std::string_view key) const;
  // The same, through a raw transaction handle (stable while the Txn object moves).
  static std::optional<std::string_view> get(MDB_txn* txn, const Db& db, std::string_view key);
  // A cursor over db. It must not outlive this transaction.
  Cursor cursor(const Db& db) const;
  // Keys of db within range, in the given direction.
  Scan scan(const Db& db, KeyRange range, Direction direction = Direction::Forward) const;
  // The number of entries in db (O(1), from LMDB's B-tree statistics).
  uint64_t count(const Db& db) const;
  // db's B-tree as LMDB counts it (O(1)): its entries and pages. bytes() is the pages it takes.
  struct TreeStat {
    uint64_t entries = 0;
    uint64_t branchPages = 0, leafPages = 0, overflowPages = 0;
    uint32_t pageSize = 0;
    uint32_t depth = 0;
    uint64_t bytes() const { return (branchPages + leafPages + overflowPages) * pageSize; }
  };
  TreeStat stat(const Db& db) const;
  // Room for new pages past the last one in use: what the map may still grow by under
  // EnvOptions::maxMapSize, and what the disk has free (with the file's own slack). Pages on
  // LMDB's free list are not counted (a write transaction cannot read that list), so this is a
  // lower bound.
  struct Room {
    uint64_t mapRoom = UINT64_MAX;   // maxMapSize less the pages in use; no limit: UINT64_MAX
    uint64_t diskRoom = UINT64_MAX;  // the file system's available bytes (unknown: UINT64_MAX)
    // How many more bytes of pages can surely be written before the map or the disk is full.
    uint64_t bytes() const { return std::min(mapRoom, diskRoom); }
  };
  Room room() const;

  // A named database that exists, or nullopt.
  std::optional<Db> openDb(std::string_view name) const;

  bool active() const { return txn_ != nullptr; }
  MDB_txn* handle() const { return txn_; }
  // The id of the committed state this transaction began from: equal ids, equal data. (A write
  // transaction's own LMDB id is one past it.)
  uint64_t snapshotId() const;

 protected:
  Txn() = default;
  Txn(detail::EnvState* env, MDB_txn* txn) : env_(env), txn_(txn) {}
  void requireActive() const;
  [[noreturn]] void staleHandle(const Db& db) const;

  detail::EnvState* env_ = nullptr;
  MDB_txn* txn_ = nullptr;
  bool write_ = false;
  // Write transactions only: expires when the transaction ends, so that a Cursor destroyed
  // afterwards knows LMDB has already freed it.
  std::shared_ptr<char> alive_;
};

// A read-only snapshot. Returned to the Env's pool (mdb_txn_reset) when destroyed.
class ReadTxn : public Txn {
 public:
  ReadTxn(ReadTxn&&) noexcept = default;
  ReadTxn& operator=(ReadTxn&& other) noexcept;
  ~ReadTxn();

  // Ends the snapshot now rather than at destruction.
  void release() noexcept;

 private:
  friend class Env;
  ReadTxn(detail::EnvState* env, MDB_txn* txn) : Txn(env, txn) {}
};

// The one write transaction of the environment. Aborted on destruction unless committed.
// Write operations throw MapFull (see above) when the map is full; after any failed write the
// transaction can only be aborted.
class WriteTxn : public Txn {
 public:
  WriteTxn(WriteTxn&& other) noexcept;
  WriteTxn& operator=(WriteTxn&& other) noexcept;
  ~WriteTxn();

  // Stores value under key, replacing any value there.
  void put(const Db& db, std::string_view key, std::string_view value);
  // put() for each (key, value) in turn, through one cursor: when the keys ascend, each put
  // starts from the leaf page the previous one left rather than descending from the root.
  void putMany(const Db& db, std::span<const std::pair<std::string_view, std::string_view>> entries);
  // insert() for each (key, value) in turn, through one cursor; stops at the first key already
  // there and returns its position (entries.size() when every entry went in).
  size_t insertMany(const Db& db,
                    std::span<const std::pair<std::string_view, std::string_view>> entries);
  // append() for each (key, value) in turn, through one cursor: the keys must ascend, the first
  // above every key in db. Pages fill as they are written, and no key is searched for. A key out
  // of order is InvalidArgument naming it and the key it should follow, with the entries before it
  // written: the caller ends the transaction without committing.
  void appendMany(const Db& db, std::span<const std::pair<std::string_view, std::string_view>> entries);
  // Stores value under key if the key is absent; returns false (and changes nothing) if present.
  bool insert(const Db& db, std::string_view key, std::string_view value);
  // Stores value under a key greater than every key in db (MDB_APPEND: fast bulk loading).
  // Throws InvalidArgument if key is not greater than the last key.
  void append(const Db& db, std::string_view key, std::string_view value);
  // Reserves `size` bytes under key for the caller to fill (MDB_RESERVE). The span is valid until
  // the next write in this transaction or its end.
  std::span<char> reserve(const Db& db, std::string_view key, size_t size);
  // Removes key; returns whether it was there.
  bool erase(const Db& db, std::string_view key);

  // Opens db `name`, creating it if missing. A created database exists for other transactions
  // once this one commits; if it aborts, the database was never there.
  Db createDb(std::string_view name);
  std::optional<Db> openDb(std::string_view name);
  // Deletes every entry of db, keeping the database.
  void clearDb(const Db& db);
  // Rewrites db's entries into pages filled as they are written (MDB_APPEND). Random inserts leave
  // LMDB's pages half to two-thirds full (a full page splits in the middle); after this every
  // leaf but the last is full. A tree whose pages and 48 bytes an entry come to at most 256 MiB is
  // copied into memory, emptied and
  // appended back: the file needs room for the new pages until commit frees the old ones. A
  // larger one is copied in key order into `scratch` (a database of that name, created, emptied
  // and at the end dropped here) in chunks of about 4 MiB, and back: room for two copies.
  // `inMemoryBytes` moves the threshold (tests take the other way with 0).
  void repack(const Db& db, std::string_view scratch, size_t inMemoryBytes = size_t{256} << 20);
  // Deletes db and its name. LMDB closes the handle at once, for every transaction of the
  // process: no other transaction may use it afterwards, and if this one aborts the database is
  // still there but must be opened again.
  void dropDb(const Db& db);

  // Makes the transaction's writes durable and visible. Throws (and aborts) on failure.
  void commit();
  void abort() noexcept;

 private:
  friend class Env;
  WriteTxn(detail::EnvState* env, MDB_txn* txn) : Txn(env, txn) {
    write_ = true;
    alive_ = std::make_shared<char>();
  }
  MDB_dbi openDbi(std::string_view name, unsigned flags, bool* found);
  // putMany and insertMany: each entry through one cursor with `flags`; the position of the first
  // key already there (MDB_NOOVERWRITE), else entries.size().
  size_t writeMany(const Db& db, std::span<const std::pair<std::string_view, std::string_view>> entries,
                   unsigned flags, std::string_view verb);
  [[noreturn]] void writeFailed(int rc, std::string_view what, const Db& db);
  void end() noexcept;

  std::unique_lock<std::mutex> dbiLock_;  // held from the first mdb_dbi_open to the end
  std::vector<Db> opened_;                // cached by the Env on commit
};

}  // namespace capdb::engine
