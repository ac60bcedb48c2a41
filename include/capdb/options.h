// Options: what an app sets when it opens a database (Database::open), each with its default
// and the reason for it.
#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>

namespace capdb {

class Migrations;

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

// How records at old versions reach the newest one.
enum class MigrationMode {
  // Open returns at once; old records are upgraded in memory when read, and stored at the newest
  // version when written. Database::drain() can rewrite them in the background.
  Lazy,
  // Open rewrites every old record (in batches, resumable) before it returns.
  Eager,
  // Lazy, and the app calls Database::drain(budget) when idle to rewrite old records in batches.
  Hybrid,
};

// A step's progress through a table, reported after every batch of an eager rewrite.
struct MigrationProgress {
  std::string table;
  // "check" (the new keys of a rebuilt unique index checked first), then "records" (old records
  // rewritten: by an eager open into the table's other records database, which then swaps in; by
  // a drain in place), or, for a migration that changes primary keys, "rekey" (each record copied
  // under its new key into the other records database); then "indexes" (the indexes the steps
  // change built). done counts from 0 to total in each phase.
  std::string phase;
  uint64_t done = 0;   // records rewritten so far, in this run and earlier ones
  uint64_t total = 0;  // records that were at an old version when the migration began
  double recordsPerSecond = 0;
  double etaSeconds = 0;
};

struct EagerOptions {
  // A batch ends after this many records, this many bytes written or this much time, whichever
  // comes first; each batch is one write transaction that also commits the checkpoint (and, unless
  // deferSync, syncs it). Defaults: 100,000 records, 16 MiB, 250 ms: few syncs, and short enough
  // that the app's writers wait little between batches. A batch of an index build reads ten times
  // batchRecords (an entry is a fraction of a record, and is only read). batchTime 0: no limit.
  uint64_t batchRecords = 100'000;
  uint64_t batchBytes = uint64_t{16} << 20;
  std::chrono::milliseconds batchTime{250};
  // Called after every batch. Default: none.
  std::function<void(const MigrationProgress&)> progress;
  // Records per second at most; 0 (the default) for no limit.
  double maxRecordsPerSecond = 0;
  // An eager open's (or migrate()'s) rewrite commits its batches without syncing each, and syncs
  // once when it ends (also when it fails or is stopped): for an offline upgrade, faster on a
  // disk whose syncs are slow. It is the whole environment's setting while it runs: no other
  // thread of the process may write meanwhile (drain() ignores it). A crash of the process loses
  // nothing committed. A power loss or an OS crash while it runs may lose the batches since it
  // began, or damage the file (LMDB's MDB_NOSYNC): take a backup first (capdb upgrade --backup).
  // Default false: every batch is durable when it commits.
  bool deferSync = false;
  // When set, read before every batch: once true, the rewrite stops after the batch in flight
  // and throws ErrorCode::Interrupted (the open or migrate() fails with it); what it did is
  // kept, and the next eager open resumes it. A signal handler may set it. Default: none.
  const std::atomic<bool>* stop = nullptr;
  // Threads that upgrade a batch's records (read, step, encode, gather index entries) at once,
  // taking up to 64 records at a time from each chunk of records scanned; the batch's own
  // thread, between scanning the next chunk and writing the last one (an eager open's migration;
  // one rewritten in place writes the batch after its scan), takes its share too. Records are
  // written in key order. Steps then run on several threads at once,
  // as they do when several threads read old records lazily: they must not share unguarded
  // state. Default 2; 1: the batch's thread alone.
  unsigned threads = 2;
};

// What drain() may spend; either limit ends it (0 = no limit on that side). `records` counts the
// records its batches write: rewritten at the newest version, moved to new keys, or read into
// the indexes that build.
struct DrainBudget {
  std::chrono::milliseconds time{0};
  uint64_t records = 0;
};

struct Options {
  // The storage: map size and growth, readers, sync (EnvOptions above).
  EnvOptions env;
  // The app's migration steps (capdb/migrations.h); must outlive the Database. Default: none,
  // so a table whose version the app raised opens only if it is empty or every change since is
  // wire-compatible.
  const Migrations* migrations = nullptr;
  // How old records reach the newest version. Default Lazy: open returns at once.
  MigrationMode mode = MigrationMode::Lazy;
  // Batching, progress and rate of eager rewrites (open in Eager mode, migrate(), drain()).
  EagerOptions eager;
  // Whether records this Database writes are packed (Cap'n Proto's packing: docs/format.md,
  // Records): about a third smaller on disk and in the page cache, and about a third slower to
  // read in range scans, which unpack every record (docs/benchmarks.md). Default false: records
  // are read in place. Either way each record carries its checksum, and every reader reads
  // both kinds, so the choice may change from one open to the next.
  bool packRecords = false;
  // How much memory a SQL join's hash join may hold: the rows of the table it reads into memory
  // when no index serves the join's equality (docs/sql.md, Joins). A join that needs more fails
  // with InvalidArgument naming this option; nothing spills to disk. Default 256 MiB.
  uint64_t joinMemoryBytes = uint64_t{256} << 20;
};

}  // namespace capdb
