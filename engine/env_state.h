// Shared state behind an Env, reached by its transactions. Internal to engine/.
#pragma once

#include <lmdb.h>

#include <atomic>
#include <condition_variable>
#include <filesystem>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <string>
#include <thread>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "engine/env.h"

namespace capdb::engine::detail {

struct EnvState {
  MDB_env* env = nullptr;
  std::filesystem::path path;
  EnvOptions options;

  // mdb_dbi_open must not run in two transactions at once, and a transaction that called it must
  // end before another may (lmdb.h). A write transaction holds this from its first open to its
  // end; Env::openDb holds it around a short read transaction of its own.
  std::mutex dbiMutex;
  std::atomic<std::thread::id> dbiOwner{};  // the thread whose write transaction holds dbiMutex
  // Handles of committed databases, by name.
  mutable std::shared_mutex cacheMutex;
  std::unordered_map<std::string, MDB_dbi> handles;

  // Reset read transactions, ready for mdb_txn_renew. Each holds a reader slot, so few are kept.
  static constexpr size_t kMaxIdleReaders = 16;
  std::mutex poolMutex;
  std::vector<MDB_txn*> idleReaders;

  // The resize gate. LMDB can only remap (mdb_env_set_mapsize) while no transaction of this
  // process is active: every transaction enters the gate while it is active; a resize waits
  // until none is inside, and holds new ones at the gate while it remaps.
  std::mutex gateMutex;
  std::condition_variable gateCv;
  unsigned activeTxns = 0;
  bool resizing = false;
  std::atomic<bool> growNeeded{false};  // a write found the map full

  ~EnvState();

  void enterGate();
  void leaveGate() noexcept;
  // Sets the map size to `newSize`, or adopts another process's size when 0. Throws Busy when
  // transactions stay active longer than options.growWait.
  void resize(size_t newSize);
  void growIfNeeded();
  size_t mapSize() const;
  // Corruption when data.mdb is shorter than the pages its meta page says it holds (a truncated
  // copy), which LMDB would meet as a SIGBUS.
  void requireWholeFile() const;

  // Holds the resize gate for a scope (for LMDB calls that open a transaction of their own).
  class GateGuard {
   public:
    explicit GateGuard(EnvState& s) : s_(s) { s_.enterGate(); }
    ~GateGuard() { s_.leaveGate(); }
    GateGuard(const GateGuard&) = delete;
    GateGuard& operator=(const GateGuard&) = delete;

   private:
    EnvState& s_;
  };

  std::optional<MDB_dbi> cachedHandle(std::string_view name) const;
  // The handle of a committed database, opened through a short read transaction of its own if
  // this process has not opened it yet; nullopt when there is no such database. Must not be
  // called by a thread whose write transaction holds dbiMutex.
  std::optional<MDB_dbi> openExisting(std::string_view name);
  // Opens every named database that exists, at Env::open: a handle opened after a transaction
  // began is not valid in that transaction, so handles are best opened before any.
  void openAllNamed();
  MDB_txn* beginReader();
  void endReader(MDB_txn* txn) noexcept;
};

// Throws InvalidArgument unless name is a usable database name (non-empty, no NUL).
void checkDbName(std::string_view name);

}  // namespace capdb::engine::detail
