// Env: one LMDB environment (a directory holding data.mdb and lock.mdb).
//
// Thread safety: an Env may be shared by any number of threads. Read transactions are not tied
// to a thread (MDB_NOTLS) and never block each other or the writer. Write transactions are
// serialised by LMDB: a second writer waits for the first to end.
#pragma once

#include <lmdb.h>

#include <chrono>
#include <cstddef>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>

#include "capdb/options.h"
#include "engine/txn.h"

namespace capdb::engine {

// The options an app sets (map size and growth, readers, sync) are public: capdb/options.h.
using capdb::EnvOptions;
using capdb::kDefaultMapSize;

// Map usage, from mdb_env_info and mdb_env_stat.
struct EnvInfo {
  size_t mapSize = 0;    // current size of the map in bytes
  size_t usedBytes = 0;  // pages in use (last page number + 1) times the page size
  size_t pageSize = 0;
  unsigned maxReaders = 0;
  unsigned readersUsed = 0;
};

namespace detail {
struct EnvState;
}

class Env {
 public:
  // Opens (creating the directory and files if missing) the environment in `dir`.
  // Throws IoError when the directory cannot be created or opened, InvalidArgument for bad
  // options.
  static Env open(const std::filesystem::path& dir, const EnvOptions& options = {});

  Env(Env&&) noexcept;
  Env& operator=(Env&&) noexcept;
  ~Env();

  // A read transaction: a consistent snapshot until it is destroyed. Taken from a pool of reset
  // transactions (mdb_txn_renew), so beginning one is cheap. Keep it short: while it lives, the
  // pages it sees cannot be reused and the map cannot grow.
  ReadTxn read() const;

  // A write transaction, aborted unless committed. Throws Busy when all LMDB's write lock is
  // not available within LMDB's own wait (it blocks), Unsupported on a read-only environment.
  // A write that fills the map fails with Busy (the map grows before the next write) or, at
  // maxMapSize, Full; prefer write(), which grows the map and retries.
  WriteTxn beginWrite();

  // Runs `body(WriteTxn&)` in a write transaction and commits it; returns what body returns.
  // If body throws, the transaction is aborted and the exception propagates: nothing is left
  // behind. If the map fills, it grows and body runs again in a fresh transaction, so body must
  // not have effects outside the transaction that cannot be repeated. Past maxMapSize: Full.
  template <typename Body>
  auto write(Body&& body) -> std::invoke_result_t<Body&, WriteTxn&>;

  // A named database that exists, or nullopt. Handles are cached for the Env's life. Do not call
  // while this thread holds a write transaction that created or opened a database; use
  // WriteTxn::openDb there.
  std::optional<Db> openDb(std::string_view name) const;

  EnvInfo info() const;
  const std::filesystem::path& path() const;

  // While `deferred`, this process's commits do not sync (MDB_NOSYNC); turning it off syncs
  // what they wrote, once. An env opened with EnvOptions::noSync stays unsynced either way.
  void deferSync(bool deferred);
  // Whether this process's commits skip the sync now (deferSync, or EnvOptions::noSync).
  bool syncDeferred() const;

  // Writes a consistent copy of the environment into directory `dest` (which must exist and
  // be empty). With compact, free pages are omitted and the copy is renumbered.
  void copyTo(const std::filesystem::path& dest, bool compact) const;

 private:
  explicit Env(std::unique_ptr<detail::EnvState> state);
  std::unique_ptr<detail::EnvState> state_;
};

template <typename Body>
auto Env::write(Body&& body) -> std::invoke_result_t<Body&, WriteTxn&> {
  using Result = std::invoke_result_t<Body&, WriteTxn&>;
  for (;;) {
    WriteTxn txn = beginWrite();
    try {
      if constexpr (std::is_void_v<Result>) {
        body(txn);
        txn.commit();
        return;
      } else {
        Result result = body(txn);
        txn.commit();
        return result;
      }
    } catch (const MapFull&) {
      // The transaction is aborted on leaving this scope; beginWrite grows the map.
    }
  }
}

}  // namespace capdb::engine
