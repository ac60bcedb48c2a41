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

#include "engine/txn.h"

namespace capdb::engine {

// The default initial map: 64 GiB on 64-bit systems, where address space is plentiful, so that a
// transaction almost never fills the map (a full map aborts the transaction, which must then run
// again in a bigger one); 256 MiB where address space is scarce.
inline constexpr size_t kDefaultMapSize =
    sizeof(void*) >= 8 ? size_t{64} << 30 : size_t{256} << 20;

struct EnvOptions {
  // Initial size of the memory map in bytes. It costs address space, not disk: the file grows
  // only as pages are written. The map grows on demand, so this is only a start; an existing
  // environment keeps its larger size. Default kDefaultMapSize (64 GiB on 64-bit systems), or
  // maxMapSize when that is set and smaller.
  size_t mapSize = kDefaultMapSize;
  // Upper bound for map growth in bytes; 0 means no bound but the disk and the address space.
  // A write that needs more is refused with ErrorCode::Full. Default 0.
  size_t maxMapSize = 0;
  // Named databases the environment can hold: one per table, one per index, and the catalog.
  // Default 1024, so schemas never meet the limit in practice.
  unsigned maxDbs = 1024;
  // Read transactions that may be open at once, across all processes sharing the environment.
  // Default 126, LMDB's own default.
  unsigned maxReaders = 126;
  // Do not fsync on commit. A system crash may lose the last transactions (the file stays
  // consistent). Default false: every commit is durable.
  bool noSync = false;
  // Open read-only: write transactions fail with ErrorCode::Unsupported. Default false.
  bool readOnly = false;
  // How long a write that must grow the map waits for this process's open read transactions to
  // end (LMDB can only remap with none active). Past it the write fails with ErrorCode::Busy.
  // Default 10 s.
  std::chrono::milliseconds growWait{10'000};
};

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
  const EnvOptions& options() const;

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
