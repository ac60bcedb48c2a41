// The eager rewrite, which Database::migrate and Database::drain run (db/migrate.cpp). Each batch
// is one write transaction that rewrites up to a batch of old records at the newest version (or,
// once the migration has ended, fills a batch of the indexes that build: migrate/index_build.h)
// and commits the checkpoint with them, so a crash loses at most the batch in flight and the next
// run continues after the checkpoint: no record is rewritten twice or skipped. A batch runs one
// phase: check, records, or, for a new primary key, rekey; then indexes. A migration that may be
// undone writes its records into the table's other records database and swaps it in with its
// last batch (install and replace are phases of migrations an earlier format left).
#include "migrate/eager.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <exception>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <system_error>
#include <thread>

#include "capdb/capdb.h"
#include "engine/crash_point.h"
#include "engine/fail.h"
#include "engine/key_codec.h"
#include "migrate/batch_timer.h"
#include "migrate/index_build.h"
#include "migrate/kept_index_check.h"
#include "orm/disk_names.h"
#include "orm/table_core.h"

namespace capdb::migrate {
namespace {

using Clock = std::chrono::steady_clock;
using orm::checkDbName;
using orm::rekeyDbName;
using orm::rewriteDbName;

struct BatchResult {
  uint64_t rewritten = 0;  // records rewritten (or moved to their new keys) in this batch
  uint64_t written = 0;    // records written in this batch (rewritten, moved or installed)
  std::string_view phase = "records";
  bool finished = false;   // nothing left for this table
  uint64_t done = 0, total = 0;
  std::string failure;       // the check failed, the migration was undone: report this now
  std::string indexFailure;  // a unique index build met duplicates and failed: report this once
                             // the other work is done
  // The table's index states once the batch commits, for this process's view of them, and the
  // first snapshot that holds the batch (where an index it completed is ready).
  struct State {
    std::string index;
    orm::IndexState state;
    uint64_t readySince;
  };
  std::vector<State> states;
  uint64_t commitSnapshot = 0;
  // Set when the batch swapped the table's records databases: the tree that holds the records
  // from the commit on, and that commit's snapshot.
  std::optional<std::pair<uint32_t, uint64_t>> swapped;
};

// The records database an undoable migration fills: the table's other one, which holds no
// records (the records are in info.recordsTree).
engine::Db otherTree(engine::WriteTxn& etx, const orm::TableCore& core, const orm::TableInfo& info) {
  return etx.createDb(orm::tableDbName(core.schema().name, 1 - info.recordsTree));
}

// The point where an undoable migration ends: the other records database, which holds every
// record at its new version (and key), becomes the table's from this batch's commit on, in one
// step. The old one is emptied; a transaction that began before the commit keeps reading it as
// its snapshot holds it (orm::RecordTrees).
void swapTrees(engine::WriteTxn& etx, const orm::TableCore& core, orm::TableInfo& info,
               BatchResult& result) {
  engine::Db old = core.records(etx);  // this transaction's snapshot: the tree before the swap
  info.recordsTree = 1 - info.recordsTree;
  info.recordsSince = etx.snapshotId() + 1;  // this batch's commit
  etx.clearDb(old);
  result.swapped = {info.recordsTree, info.recordsSince};
}

// A migration an earlier format began filling a scratch database this one no longer uses
// ("capdb:rewrite:<table>", "capdb:rekey:<table>") starts its phase over in the table's other
// records database: nothing of the table has changed yet. Returns the range the batch reads:
// `range`, or every record when the phase starts over.
engine::KeyRange restartLegacyScratch(engine::WriteTxn& etx, orm::MigrationState& m,
                                      const std::string& name, const engine::KeyRange& range) {
  auto legacy = etx.openDb(name);
  if (!legacy) return range;
  etx.dropDb(*legacy);
  m.checkpoint.clear();
  m.done = 0;
  return engine::KeyRange::all();
}

// Undoes a migration that failed before its point of no return (its checks, rewriting records
// into the other records database, or moving records to new keys): the table's entry is back as it was (version, key, autoIncrement, indexes and their
// states, a migration pending before), the new version's schema is erased and the databases of
// indexes made for the new version are dropped. Counts and the sequence stay as they are: only
// apps at the old version may have written meanwhile.
void undoMigration(engine::WriteTxn& etx, const orm::TableCore& core, orm::TableInfo& info) {
  const orm::MigrationState& m = *info.migration;
  const std::string& name = core.schema().name;
  if (m.fromVersion != core.schema().version) {
    core.catalog().eraseSchema(etx, name, core.schema().version);
  }
  if (m.before.empty()) {
    // Begun by a build that kept no entry: back to the old version, its indexes as they are.
    info.version = m.fromVersion;
    info.migration.reset();
    return;
  }
  orm::TableInfo before = orm::Catalog::decodeEntry(m.before);
  for (const auto& ic : core.indexes()) {
    bool kept = std::any_of(before.indexes.begin(), before.indexes.end(),
                            [&](const orm::IndexInfo& ii) { return ii.name == ic.schema.name; });
    if (!kept) etx.dropDb(ic.db);
  }
  before.counts = info.counts;
  before.sequence = std::max(before.sequence, info.sequence);
  info = std::move(before);
}

// Undoes a migration that may still be undone, whatever phase it is in: the other records
// database is emptied, its scratch databases go (the unique keys being checked, and the rewritten
// or re-keyed records of an earlier format) and the table's entry is back as it was. False when the migration can no longer be undone.
bool abandon(engine::WriteTxn& etx, const orm::TableCore& core, orm::TableInfo& info) {
  if (!info.migration || info.migration->before.empty()) return false;
  const std::string& name = core.schema().name;
  std::vector<std::string> scratch{rewriteDbName(name), rekeyDbName(name)};
  for (const auto& ic : core.indexes()) scratch.push_back(checkDbName(name, ic.schema.name));
  for (const auto& db : scratch) {
    if (auto open = etx.openDb(db)) etx.dropDb(*open);
  }
  etx.clearDb(otherTree(etx, core, info));  // what it wrote of the records
  undoMigration(etx, core, info);
  return true;
}

// Whether the map's limit and the disk leave room for what an undoable rewrite writes while it
// runs: a second copy of the table's records (every record goes into its other records database,
// rewritten or as it lies), two fifths larger for the fields a new version adds and the entries
// of the indexes it adds; the old copy's pages are free only once the two swap. Empty when they
// do, or when nothing needs a rewrite (nothing is copied then); otherwise why not, for
// MigrationFailed. Pages free inside the file are not counted (engine::Txn::room), so this errs
// on the side of refusing.
std::string roomShortfall(const engine::WriteTxn& etx, const orm::TableCore& core,
                          const orm::TableInfo& info, std::string_view what) {
  if (std::min(info.migration->total, info.records()) == 0) return {};
  uint64_t copy = etx.stat(core.records(etx)).bytes();
  uint64_t needed = copy + copy * 2 / 5 + (uint64_t{256} << 10);
  engine::Txn::Room room = etx.room();
  if (room.bytes() >= needed) return {};
  auto mib = [](uint64_t bytes) { return fmt::format("{:.1f} MiB", static_cast<double>(bytes) / (1 << 20)); };
  return fmt::format(
      "table {}: {} writes a second copy of the table's records while it runs, about {}, but {} "
      "leaves room for {}: free disk space or raise EnvOptions::maxMapSize (a lazy migration "
      "rewrites records in place and needs no such room)",
      core.schema().name, what, mib(needed),
      room.mapRoom <= room.diskRoom ? "the map's limit (EnvOptions::maxMapSize)" : "the disk",
      mib(room.bytes()));
}

// Starts the builds of the indexes that kept their old entries while the migration could be
// undone (held), from emptied databases. From here on every write keeps them.
void releaseHeld(engine::WriteTxn& etx, const orm::TableCore& core, orm::TableInfo& info) {
  for (auto& ii : info.indexes) {
    if (ii.state == orm::IndexState::Building && ii.held) restartBuild(etx, core, ii);
  }
}

// The migration has ended (its records rewritten, or installed under their new keys): a build
// that has not passed any record yet starts from an emptied database, so that no entry the index
// held before the migration (an earlier format's rebuild kept them until here) outlives it. The
// build enters every record again, the ones writes gave entries meanwhile too.
void migrationEnded(engine::WriteTxn& etx, const orm::TableCore& core, orm::TableInfo& info) {
  info.migration.reset();
  for (auto& ii : info.indexes) {
    if (ii.state == orm::IndexState::Building && !ii.held && ii.checkpoint.empty()) {
      restartBuild(etx, core, ii);
    }
  }
}

// The migration can no longer be undone: the indexes the new version dropped go, the entry kept
// for an undo is let go, and the builds of the indexes it held start.
void pointOfNoReturn(engine::WriteTxn& etx, const orm::TableCore& core, orm::TableInfo& info) {
  orm::MigrationState& m = *info.migration;
  for (const auto& index : m.dropIndexes) {
    if (auto db = etx.openDb(orm::indexDbName(core.schema().name, index))) etx.dropDb(*db);
  }
  m.dropIndexes.clear();
  m.before.clear();
  releaseHeld(etx, core, info);
}

// The version a stored record was written at, its checksum checked (Corruption names the key).
uint32_t storedVersion(const orm::TableCore& core, std::string_view pk, std::string_view bytes) {
  return orm::readRecordHeader(bytes, core.schema().name, pk).version;
}

// The record `decoder` last decoded through `core` (whose newest form is `record`) as it is
// stored, read with its version's read schema: the decoder keeps it beside the upgrade.
capnp::DynamicStruct::Reader storedForm(const orm::TableCore& core,
                                        const orm::RecordDecoder& decoder,
                                        capnp::DynamicStruct::Reader record) {
  const orm::Upgrader* upgrader = core.upgrader();
  return upgrader ? decoder.root(upgrader->readSchema(decoder.version())) : record;
}

struct ScanEnd {
  std::string last;  // the last primary key visited
  bool exhausted = true;
};

// Visits up to `limit` records (at least one) from `range`, upgraded to the newest version;
// `visit` returns false to stop early.
template <typename Visit>
ScanEnd scanBatch(engine::WriteTxn& etx, const orm::TableCore& core,
                  const engine::KeyRange& range, uint64_t limit, const BatchTimer& timer,
                  Visit&& visit) {
  ScanEnd end;
  uint64_t n = 0;
  orm::RecordDecoder decoder;
  for (auto [pk, value] : etx.scan(core.records(etx), range)) {
    if (n >= std::max<uint64_t>(limit, 1) || timer.over(n)) {
      end.exhausted = false;
      break;
    }
    ++n;
    end.last.assign(pk);
    if (!visit(pk, core.decode(decoder, pk, value))) {
      end.exhausted = false;
      break;
    }
  }
  return end;
}

// "the migration from version 1 to 2"; a move without a new version (a pending migration's step
// now names a key field) has no "to".
std::string migrationName(const orm::MigrationState& m, uint32_t newest) {
  if (m.fromVersion == newest) {
    return fmt::format("the migration of version {}'s records to new keys", newest);
  }
  return fmt::format("the migration from version {} to {}", m.fromVersion, newest);
}

// Before the first batch of an undoable rewrite: without room for it (roomShortfall), the
// migration is undone and `result` says why. True when it was.
bool refusedForRoom(engine::WriteTxn& etx, const orm::TableCore& core, orm::TableInfo& info,
                    BatchResult& result) {
  const orm::MigrationState& m = *info.migration;
  if (!m.checkpoint.empty() || m.done != 0) return false;
  std::string shortfall = roomShortfall(etx, core, info, migrationName(m, core.schema().version));
  if (shortfall.empty()) return false;
  result.failure = fmt::format("{}; nothing was rewritten and the table is back at version {}",
                               shortfall, m.fromVersion);
  abandon(etx, core, info);
  result.finished = true;
  return true;
}

// The record that an earlier batch moved to `newPk`, found again by its old key (only when a
// migration fails on a duplicate key, so its cost does not matter).
std::string holderOf(engine::WriteTxn& etx, const orm::TableCore& core, std::string_view newPk,
                     std::string_view except) {
  orm::RecordDecoder decoder;
  for (auto [pk, value] : etx.scan(core.records(etx), engine::KeyRange::all())) {
    if (pk == except) continue;
    try {
      if (core.primaryKeyOf(core.decode(decoder, pk, value)) == newPk) return engine::formatKey(pk);
    } catch (const Error&) {
    }
  }
  return "?";
}

// A batch of the Rekey phase: each record, upgraded to the newest version, goes under its new
// primary key into the table's other records database; the table's own records stay as they
// are, so that a key met twice can undo the whole migration. Once every record is there, the
// two databases swap.
BatchResult rekeyBatch(WriteTxn& tx, orm::TableCore& core, const EagerOptions& options,
                       uint64_t limit, const engine::KeyRange& range, BatchResult& result) {
  orm::TableInfo& info = core.touch(tx, true);
  orm::MigrationState& m = *info.migration;
  engine::WriteTxn& etx = internal::engineWrite(tx);
  const std::string& name = core.schema().name;
  const uint32_t newest = core.schema().version;
  const engine::KeyRange scanRange = restartLegacyScratch(etx, m, rekeyDbName(name), range);
  if (refusedForRoom(etx, core, info, result)) return result;
  engine::Db moved = otherTree(etx, core, info);
  if (m.checkpoint.empty()) etx.clearDb(moved);  // what a migration that started over left
  orm::RecordDecoder decoder;
  std::string relabelled;
  uint64_t n = 0, bytes = 0;
  std::string last;
  bool exhausted = true;
  std::string what = migrationName(m, newest);
  // Nothing has changed yet but the other records database: a step that fails, a key that
  // cannot be stored or a key met twice undoes the whole migration.
  auto undo = [&](const std::string& why) {
    result.failure = fmt::format("{}; nothing was rewritten and the table is back at version {}",
                                 why, m.fromVersion);
    etx.clearDb(moved);
    undoMigration(etx, core, info);
    result.finished = true;
    return result;
  };
  // The batch's copies are gathered (old key, new key and record in one buffer), then inserted
  // in new-key order through one cursor, so that neighbouring inserts share their pages.
  struct Copy {
    size_t oldKey, oldSize, newKey, newSize, value, valueSize;
  };
  std::vector<Copy> copies;
  std::string arena;
  const BatchTimer timer(options);
  try {
    for (auto [pk, value] : etx.scan(core.records(etx), scanRange)) {
      if (n >= std::max<uint64_t>(limit, 1) || (n > 0 && bytes >= options.batchBytes) || timer.over(n)) {
        exhausted = false;
        break;
      }
      ++n;
      last.assign(pk);
      auto record = core.decode(decoder, pk, value);  // MigrationFailed names table, key, step
      std::string newPk;
      try {
        newPk = core.primaryKeyOf(record);
      } catch (const Error& e) {
        fail(ErrorCode::MigrationFailed,
             "table {}, record {}: {} gives it a primary key that cannot be stored: {}", name,
             engine::formatKey(pk), what, e.what());
      }
      // A record that reads as the newest as it lies keeps its bytes, relabelled as the newest.
      auto* upgraded = decoder.upgradedMessage();
      std::string_view encoded;
      if (upgraded != nullptr) {
        encoded = internal::writeState(tx).encoder.encode(newest, *upgraded);
      } else {
        relabelled = orm::relabelRecord(value, newest, name, pk);
        encoded = relabelled;
      }
      copies.push_back({arena.size(), pk.size(), arena.size() + pk.size(), newPk.size(),
                        arena.size() + pk.size() + newPk.size(), encoded.size()});
      arena.append(pk);
      arena.append(newPk);
      arena.append(encoded);
      bytes += encoded.size();
    }
  } catch (const Error& e) {
    if (e.code() != ErrorCode::MigrationFailed) throw;
    return undo(e.what());
  }
  std::string_view all(arena);
  auto oldKey = [&](const Copy& c) { return all.substr(c.oldKey, c.oldSize); };
  auto newKey = [&](const Copy& c) { return all.substr(c.newKey, c.newSize); };
  // Stable: of two records given one key, the one scanned first comes first.
  std::stable_sort(copies.begin(), copies.end(),
                   [&](const Copy& a, const Copy& b) { return newKey(a) < newKey(b); });
  auto twice = [&](std::string_view first, std::string_view second, std::string_view key) {
    return undo(fmt::format("table {}: {} would give records {} and {} the same primary key {}",
                            name, what, first, second, engine::formatKey(key)));
  };
  for (size_t i = 1; i < copies.size(); ++i) {
    if (newKey(copies[i]) == newKey(copies[i - 1])) {
      return twice(engine::formatKey(oldKey(copies[i - 1])), engine::formatKey(oldKey(copies[i])),
                   newKey(copies[i]));
    }
  }
  std::vector<std::pair<std::string_view, std::string_view>> inserts;
  inserts.reserve(copies.size());
  for (const Copy& c : copies) inserts.emplace_back(newKey(c), all.substr(c.value, c.valueSize));
  size_t stopped = etx.insertMany(moved, inserts);
  if (stopped < copies.size()) {  // the key of a record an earlier batch moved
    const Copy& c = copies[stopped];
    return twice(holderOf(etx, core, newKey(c), oldKey(c)), engine::formatKey(oldKey(c)),
                 newKey(c));
  }
  m.done += n;
  result.done = m.done;
  result.rewritten = result.written = n;
  result.phase = "rekey";
  if (!exhausted) {
    m.checkpoint = last;
    return result;
  }
  // Every record has its copy under its new key, at the newest version: the two databases swap.
  pointOfNoReturn(etx, core, info);
  uint64_t records = etx.count(moved);
  info.counts.clear();
  if (records > 0) info.counts[newest] = records;
  if (!info.autoIncrement.empty()) {
    info.sequence = std::max(info.sequence, core.highestAutoIncrement(etx, moved));
  }
  swapTrees(etx, core, info, result);
  m.rekey = false;  // every record is under its new key: the table opens again, indexes aside
  migrationEnded(etx, core, info);  // the builds of the indexes the steps changed go on
  result.finished = true;
  return result;
}

// The scratch database an earlier phase of the migration filled, which this phase (`doing`
// records from it) reads; Corruption when it is missing.
engine::Db earlierScratch(engine::WriteTxn& etx, const std::string& name, std::string_view doing) {
  auto db = etx.openDb(name);
  CAPDB_REQUIRE_IN(db.has_value(), ErrorCode::Corruption,
                   "a migration is {} records from {}, which is missing", doing, name);
  return *db;
}

// A batch of the Install phase, of a migration an earlier format left there: records move from
// the rekey database into the cleared table, in key order; the per-version counts follow what
// lands. (Migrations now swap the re-keyed records in instead.)
BatchResult installBatch(WriteTxn& tx, orm::TableCore& core, const EagerOptions& options,
                         uint64_t limit, const engine::KeyRange& range, BatchResult& result) {
  orm::TableInfo& info = core.touch(tx, true);
  orm::MigrationState& m = *info.migration;
  engine::WriteTxn& etx = internal::engineWrite(tx);
  engine::Db moved = earlierScratch(etx, rekeyDbName(core.schema().name), "installing");
  std::vector<std::pair<std::string_view, std::string_view>> puts;
  uint64_t bytes = 0;
  bool exhausted = true;
  const BatchTimer timer(options);
  for (auto [pk, value] : etx.scan(moved, range)) {
    if (puts.size() >= std::max<uint64_t>(limit, 1) || (!puts.empty() && bytes >= options.batchBytes) ||
        timer.over(puts.size())) {
      exhausted = false;
      break;
    }
    puts.emplace_back(pk, value);
    bytes += value.size();
    ++info.counts[core.schema().version];  // the rekey phase wrote every record at the newest
  }
  etx.putMany(core.records(etx), puts);  // ascending, after every key already there
  m.done += puts.size();
  result.written = puts.size();
  result.done = m.done;
  result.phase = "install";
  if (!exhausted) {
    m.checkpoint.assign(puts.back().first);
    return result;
  }
  etx.dropDb(moved);
  m.rekey = false;  // every record is under its new key: the table opens again, indexes aside
  if (!info.autoIncrement.empty()) {
    info.sequence = std::max(info.sequence, core.highestAutoIncrement(etx));
  }
  migrationEnded(etx, core, info);  // the builds of the indexes the steps changed go on
  result.finished = true;
  return result;
}

// The check phase: every rebuilt unique index's new keys go into a scratch database, key ->
// primary key; a key met twice fails the migration (undone) before any record was rewritten.
BatchResult checkBatch(WriteTxn& tx, const orm::TableCore& core, const EagerOptions& options,
                       orm::TableInfo& info, uint64_t limit, const engine::KeyRange& range,
                       BatchResult& result) {
  orm::MigrationState& m = *info.migration;
  engine::WriteTxn& etx = internal::engineWrite(tx);
  const uint32_t newest = core.schema().version;
  result.phase = "check";
  // The new keys of every rebuilt unique index go into a scratch database, key -> primary key;
  // a key met twice fails the migration before any record was rewritten.
  struct Checked {
    const orm::IndexCore* index;
    engine::Db scratch;
  };
  std::vector<Checked> checked;
  for (const auto& [ic, ii] : buildingIndexes(core, info, true)) {
    checked.push_back({ic, etx.createDb(checkDbName(core.schema().name, ic->schema.name))});
  }
  auto dropScratch = [&] {
    for (auto& c : checked) etx.dropDb(c.scratch);
  };
  ScanEnd end = scanBatch(etx, core, range, limit, BatchTimer(options), [&](std::string_view pk, auto record) {
    for (auto& c : checked) {
      auto [key, owner] = core.indexEntry(*c.index, record, pk);
      if (owner.empty()) continue;  // a NULL in the key: unique keys may repeat
      if (etx.insert(c.scratch, key, pk)) continue;
      auto other = etx.get(c.scratch, key);
      if (other && *other == pk) continue;
      result.failure = fmt::format(
          "table {}: {} would give records {} and {} the same key {} in unique index {}; "
          "nothing was rewritten and the table is back at version {}",
          core.schema().name, migrationName(m, newest),
          other ? engine::formatKey(*other) : std::string("?"), engine::formatKey(pk),
          engine::formatKey(key), c.index->schema.name, m.fromVersion);
      return false;
    }
    return true;
  });
  if (!result.failure.empty()) {
    dropScratch();
    undoMigration(etx, core, info);
    result.finished = true;
    return result;
  }
  bool exhausted = end.exhausted;
  std::string last = end.last;
  if (exhausted) {
    dropScratch();
    m.phase = m.rekey ? orm::MigrationState::Phase::Rekey : orm::MigrationState::Phase::Records;
    m.checkpoint.clear();
  } else {
    m.checkpoint = last;
  }
  return result;
}

// The indexes an undoable migration adds (building, and absent from the entry it may be undone
// to): their databases hold nothing but what the migration writes, and an undo drops them, so
// the records phase fills them as it rewrites the records, rather than a build reading every
// record again after the swap.
std::vector<std::pair<const orm::IndexCore*, orm::IndexInfo*>> fedIndexes(const orm::TableCore& core,
                                                                          orm::TableInfo& info) {
  std::vector<std::pair<const orm::IndexCore*, orm::IndexInfo*>> fed;
  orm::TableInfo before = orm::Catalog::decodeEntry(info.migration->before);
  for (auto& ii : info.indexes) {
    if (ii.state != orm::IndexState::Building) continue;
    bool existed = std::any_of(before.indexes.begin(), before.indexes.end(),
                               [&](const orm::IndexInfo& b) { return b.name == ii.name; });
    if (!existed) fed.emplace_back(&core.index(ii.name), &ii);
  }
  return fed;
}

// The entries an undoable records phase gathers, across its batches, for the indexes its
// migration adds (fedIndexes), by their position among the table's indexes. They are written
// sorted into those indexes (appended into empty ones, which fills their pages) when the records
// swap in, or before, once they hold kBytes. Kept in memory for one run of the migration: a run
// that resumes after a crash or an interruption feeds only indexes whose entries reach the
// records phase's checkpoint; the others' builds finish them after the swap, from their own
// checkpoints.
struct FedEntries {
  static constexpr size_t kBytes = size_t{256} << 20;
  std::optional<EntryBatch> held;
  std::string from;     // the records phase's checkpoint where the held entries start
  std::string through;  // and where they end: the last record whose entries are held
};

// Threads kept for a whole run of a migration that run a function on request, so that each chunk
// of records costs a wake-up rather than creating a thread (and its stack and memory arena).
class Helpers {
 public:
  Helpers() = default;
  Helpers(const Helpers&) = delete;
  Helpers& operator=(const Helpers&) = delete;
  ~Helpers() {
    wait();
    {
      std::lock_guard lock(mutex_);
      quit_ = true;
    }
    wake_.notify_all();
    for (auto& t : threads_) t.join();
  }

  // Starts fn(i) for every i in [1, n) on helper threads, started when first needed, and returns
  // at once; wait() returns once they have. `fn` must not throw, and must outlive the wait. When
  // the system has no more threads to give, every fn(i) runs here, before start returns.
  void start(size_t n, const std::function<void(size_t)>& fn) {
    wait();
    if (n <= 1) return;
    try {
      while (threads_.size() + 1 < n) {
        size_t id = threads_.size() + 1;
        threads_.emplace_back([this, id] { loop(id); });
      }
    } catch (const std::system_error&) {
      for (size_t i = 1; i < n; ++i) fn(i);
      return;
    }
    {
      std::lock_guard lock(mutex_);
      task_ = &fn;
      parts_ = n;
      pending_ = n - 1;
      ++round_;
    }
    running_ = true;
    wake_.notify_all();
  }

  // Returns once what start() began has returned (at once if nothing runs).
  void wait() {
    if (!running_) return;
    std::unique_lock lock(mutex_);
    done_.wait(lock, [&] { return pending_ == 0; });
    task_ = nullptr;
    running_ = false;
  }

 private:
  void loop(size_t id) {
    uint64_t seen = 0;
    std::unique_lock lock(mutex_);
    for (;;) {
      wake_.wait(lock, [&] { return quit_ || round_ != seen; });
      if (quit_) return;
      seen = round_;
      if (id >= parts_) continue;  // not wanted this round
      const auto* task = task_;
      lock.unlock();
      (*task)(id);
      lock.lock();
      if (--pending_ == 0) done_.notify_one();
    }
  }

  std::mutex mutex_;
  std::condition_variable wake_, done_;
  std::vector<std::thread> threads_;
  const std::function<void(size_t)>* task_ = nullptr;
  size_t parts_ = 0, pending_ = 0;
  uint64_t round_ = 0;
  bool quit_ = false;
  bool running_ = false;  // a start() not yet waited for (read and written by the caller only)
};

// A record a records batch scanned: its stored bytes (a view into the table's tree) and version,
// whether it needs the steps, and, once upgraded, its new bytes and whether a kept index's entry
// must be looked up (KeptIndexCheck::needsLookup).
struct Scanned {
  std::string_view pk, value;
  uint32_t version;
  bool rewrite;
  bool lookup = false;
  std::string_view encoded;  // in the buffer of the Upgrading that upgraded it
};

// Threads that upgrade a batch's records, at most (EagerOptions::threads).
constexpr size_t kMaxThreads = 16;

// A chunk of records being upgraded: each thread upgrading it takes the next `piece` records not
// yet taken, until none are left, so that threads that are slower or start later (the batch's own
// thread scans and writes between chunks) take fewer. The first failure in key order is kept.
struct Chunk {
  static constexpr size_t kPiece = 64;  // records a thread takes at a time, at most

  std::vector<Scanned> records;
  std::exception_ptr unreadable;  // met scanning, after the last of `records`
  size_t piece = kPiece;          // records a thread takes at a time from this chunk
  std::atomic<size_t> next{0};    // the first record not yet taken
  std::atomic<size_t> failedAt{SIZE_MAX};
  std::mutex mutex;               // guards `failure`
  std::exception_ptr failure;     // of the record at failedAt

  // Sizes the pieces for `takers` threads: a few each, so that a slower one takes fewer.
  void share(size_t takers) {
    piece = std::clamp<size_t>(records.size() / (4 * takers), 1, kPiece);
  }
  void clear() {
    records.clear();
    unreadable = nullptr;
    piece = kPiece;
    next = 0;
    failedAt = SIZE_MAX;
    failure = nullptr;
  }
  void failed(size_t at, std::exception_ptr error) {
    std::lock_guard lock(mutex);
    if (at < failedAt) {
      failedAt = at;
      failure = std::move(error);
    }
  }
};

// One thread's share of upgrading the chunks of a records batch: it decodes each record through
// the steps, encodes it at the newest version into its own buffer (kept until the batch is
// written; the next batch reuses it), asks whether a kept index needs a lookup, and gathers the
// added indexes' entries (FedEntries) into its own EntryBatch. Kept for a run of the migration,
// so that a thread reuses its memory rather than allocating and returning it every batch.
class Upgrading {
 public:
  static constexpr size_t kChunk = 4096;     // records scanned, then upgraded together, at most
  static constexpr size_t kFirstChunk = 64;  // and at first, before the pace is known

  explicit Upgrading(const orm::TableCore& core)
      : entries(core.indexes().size()), core_(core) {}

  // Starts a batch in which the table's entry is `info`, records are encoded packed or not, and
  // `fed` are the indexes whose entries are gathered; what the last batch kept is let go.
  void startBatch(const orm::TableInfo& info, bool packed,
                  const std::vector<const orm::IndexCore*>& fed) {
    kept_.emplace(core_, info);
    fed_ = fed;
    encoder_.setPacked(packed);
    // The last batch's encodings stay where they are until the batch after this one starts: its
    // last chunk may still be taken while the next batch's first one is upgraded.
    generation_ ^= 1;
    block_ = 0;
    blockUsed_ = 0;
    entries = EntryBatch(core_.indexes().size());  // what a failed attempt gathered
  }

  // Upgrades pieces of `chunk` until none is left, or none before a failure.
  void work(Chunk& chunk) noexcept {
    const size_t n = chunk.records.size();
    for (;;) {
      size_t from = chunk.next.fetch_add(chunk.piece);
      if (from >= n || from > chunk.failedAt.load()) return;
      size_t to = std::min(n, from + chunk.piece);
      upgrade(chunk, from, to);
    }
  }

  EntryBatch entries;  // the added indexes' entries it gathered, taken by the batch at its end

 private:
  void upgrade(Chunk& chunk, size_t from, size_t to) noexcept {
    ErrorContext scope = core_.context();
    const uint32_t newest = core_.schema().version;
    size_t at = from;
    try {
      for (; at < to; ++at) {
        Scanned& r = chunk.records[at];
        if (!r.rewrite) {  // copied as it lies: checked, and only its entries are wanted
          if (!fed_.empty()) {
            feed(core_.decode(decoder_, r.pk, r.value), r.pk);
          } else {
            orm::readRecordHeader(r.value, core_.schema().name, r.pk);
          }
          continue;
        }
        auto record = core_.decode(decoder_, r.pk, r.value);  // MigrationFailed names the step
        if (kept_->keepsAny()) {
          r.lookup = kept_->needsLookup(storedForm(core_, decoder_, record), record);
        }
        auto* upgraded = decoder_.upgradedMessage();
        std::string_view encoded =
            upgraded ? encoder_.encode(newest, *upgraded) : encoder_.encode(newest, record);
        r.encoded = keep(encoded);
        feed(record, r.pk);
      }
    } catch (...) {
      chunk.failed(at, std::current_exception());
    }
  }

  void feed(capnp::DynamicStruct::Reader record, std::string_view pk) {
    for (const orm::IndexCore* ic : fed_) {
      entries.add(static_cast<size_t>(ic - core_.indexes().data()), core_, *ic, record, pk);
    }
  }

  // A copy of `bytes` that stays where it is until the batch after the next starts.
  std::string_view keep(std::string_view bytes) {
    constexpr size_t kBlock = size_t{1} << 20;
    auto& blocks = blocks_[generation_];
    while (block_ < blocks.size() && blocks[block_].second - blockUsed_ < bytes.size()) {
      ++block_;
      blockUsed_ = 0;
    }
    if (block_ == blocks.size()) {
      size_t size = std::max(kBlock, bytes.size());
      blocks.emplace_back(std::make_unique<char[]>(size), size);
    }
    char* at = blocks[block_].first.get() + blockUsed_;
    std::memcpy(at, bytes.data(), bytes.size());
    blockUsed_ += bytes.size();
    return {at, bytes.size()};
  }

  const orm::TableCore& core_;
  std::optional<KeptIndexCheck> kept_;
  std::vector<const orm::IndexCore*> fed_;  // the indexes whose entries it gathers
  orm::RecordDecoder decoder_;
  orm::RecordEncoder encoder_;
  // Blocks of encoded records and their sizes, two generations: this batch's and the last's.
  std::vector<std::pair<std::unique_ptr<char[]>, size_t>> blocks_[2];
  size_t generation_ = 0;
  size_t block_ = 0, blockUsed_ = 0;  // where the next copy goes
};

// The chunk of records that follows a batch of an undoable migration, upgraded by the helper
// threads while the batch commits, and taken as the next batch's first chunk if that batch starts
// where this one ended. Its keys and values are copies (the pages of the records database may be
// mapped anew, when the map grows, before the next batch reads them).
struct Carry {
  // Two slots: a batch that takes the carried chunk in one scans the next carried chunk into the
  // other.
  struct Slot {
    Chunk chunk;
    std::unique_ptr<char[]> storage;  // the copies its records' keys and values view
    size_t capacity = 0;
  };
  Slot slots[2];
  size_t at = 0;  // the slot of the carried chunk
  bool inFlight = false;
  std::string after;                // the checkpoint it follows: the last key of its batch
  std::string last;                 // its own last key
  uint64_t rewritten = 0, bytes = 0;
  std::vector<const orm::IndexCore*> fed;  // the indexes its records feed
  uint64_t generation = 0;  // the catalog's, when it was scanned: an undo or a restart raises it
  std::chrono::steady_clock::time_point started;
  std::function<void(size_t)> work;  // what the helpers run

  Chunk& chunk() { return slots[at].chunk; }
  // The other slot's chunk, cleared, which becomes the carried one.
  Chunk& flip() {
    at ^= 1;
    chunk().clear();
    return chunk();
  }

  // Points the carried chunk's keys and values at copies of their own.
  void copyOut() {
    Slot& slot = slots[at];
    Chunk& chunk = slot.chunk;
    size_t total = 0;
    for (const auto& r : chunk.records) total += r.pk.size() + r.value.size();
    if (total > slot.capacity) {
      slot.capacity = std::max(total, 2 * slot.capacity);
      slot.storage = std::make_unique<char[]>(slot.capacity);
    }
    char* to = slot.storage.get();
    auto copy = [&](std::string_view& v) {
      if (!v.empty()) std::memcpy(to, v.data(), v.size());
      v = std::string_view(to, v.size());
      to += v.size();
    };
    for (auto& r : chunk.records) {
      copy(r.pk);
      copy(r.value);
    }
    last.assign(chunk.records.back().pk);
  }
};

// What one run of a table's migration keeps from batch to batch: the added indexes' entries, the
// helper threads that upgrade records, each thread's Upgrading (whose buffers are reused), and
// the carried chunk.
struct RunState {
  RunState() = default;
  ~RunState() { settle(); }  // the helpers use what follows: they stop before it goes
  // Waits for a carried chunk, and lets it go.
  void settle() {
    helpers.wait();
    carry.inFlight = false;
  }
  FedEntries feeding;
  Helpers helpers;
  std::vector<std::unique_ptr<Upgrading>> upgrading;
  Carry carry;
  // Records to carry: what the helpers upgrade while a batch commits.
  size_t carrySize = Upgrading::kChunk;
  double perRecord = 0;    // seconds a record took to scan, upgrade and write, at the last chunk
};

// The records phase: rewrites a batch of old records at the newest version, in key order. A
// migration that can be undone (an eager open began it) writes every record, rewritten or as it
// lies, into the table's other records database, leaving the table's records as they are: a step
// that fails, or a record that cannot be stored, undoes the whole migration, and once every
// record is there the two databases swap. The indexes it adds are filled from the records it
// rewrites (FedEntries), ready at the swap. Otherwise records are rewritten in place.
// `recordLimit` is what the run may still rewrite (a drain's budget), which also bounds the chunk
// an undoable batch carries to the next (Carry).
BatchResult recordsBatch(WriteTxn& tx, const orm::TableCore& core, const EagerOptions& options,
                         orm::TableInfo& info, uint64_t limit, const engine::KeyRange& range,
                         RunState& run, uint64_t recordLimit, BatchResult& result) {
  FedEntries& feeding = run.feeding;
  orm::MigrationState& m = *info.migration;
  engine::WriteTxn& etx = internal::engineWrite(tx);
  const uint32_t newest = core.schema().version;
  const bool undoable = !m.before.empty();
  if (undoable && m.checkpoint.empty() && core.pendingRecords(info) == 0) {
    // Nothing to rewrite (a new version that only changes indexes, say): nothing to copy or
    // swap; the indexes it holds build from here.
    pointOfNoReturn(etx, core, info);
    migrationEnded(etx, core, info);
    result.finished = true;
    return result;
  }
  const engine::KeyRange scanRange =
      undoable ? restartLegacyScratch(etx, m, rewriteDbName(core.schema().name), range) : range;
  if (undoable && refusedForRoom(etx, core, info, result)) return result;
  std::optional<engine::Db> target;
  std::vector<std::pair<const orm::IndexCore*, orm::IndexInfo*>> fed;
  std::vector<const orm::IndexCore*> fedCores;  // fed's indexes (its IndexInfo are this batch's)
  if (undoable) {
    target = otherTree(etx, core, info);
    auto added = fedIndexes(core, info);
    if (m.checkpoint.empty()) {  // what a migration that started over left
      etx.clearDb(*target);
      for (auto& [ic, ii] : added) {
        etx.clearDb(ic->db);
        ii->checkpoint.clear();
        ii->done = 0;
      }
      feeding.held.reset();
    }
    if (!feeding.held || feeding.through != m.checkpoint) {
      feeding.held.emplace(core.indexes().size());
      feeding.from = feeding.through = m.checkpoint;
    }
    // Fed in this batch: the added indexes whose entries reach where the held ones start.
    for (auto& entry : added) {
      if (entry.second->checkpoint == feeding.from) {
        fed.push_back(entry);
        fedCores.push_back(entry.first);
      }
    }
  }
  // The chunk the helpers upgraded while the last batch committed is this batch's first if this
  // batch starts where that one ended, feeding the same indexes, and no transaction has changed
  // the table's shape since (another process that undid the migration and began it again, say);
  // otherwise it is let go.
  Carry& carry = run.carry;
  const uint64_t generation = core.catalog().generation(etx);
  const bool carried = carry.inFlight && undoable && !m.checkpoint.empty() &&
                       carry.after == m.checkpoint && carry.fed == fedCores &&
                       carry.generation == generation;
  Chunk* const carriedChunk = carried ? &carry.chunk() : nullptr;
  if (carry.inFlight && !carried) run.settle();
  const engine::KeyRange scanFrom =
      carried ? engine::KeyRange::atLeast(carry.last, false) : scanRange;
  // Records are scanned in chunks, and each chunk is upgraded by up to options.threads threads,
  // each with its own decoder, encoder and buffer (Upgrading), while this thread scans the next
  // chunk and writes the one before: its results are taken in key order.
  //
  // Where they are written: a migration that can be undone appends each chunk to the other
  // records database as it is taken. Neither that nor the records views into the table's tree
  // nor the scan's cursor on it are disturbed by it, since the tree being read is not written in
  // this transaction. A migration in place writes the batch's records after its scan (a put
  // while the cursor walks the same tree could move it, and the views stay valid until the first
  // write).
  std::vector<std::pair<std::string_view, std::string_view>> puts;  // in key order
  std::vector<uint32_t> fromVersions;                               // of each rewritten record
  uint64_t rewritten = carried ? carry.rewritten : 0;
  uint64_t bytes = carried ? carry.bytes : 0;
  std::string last = carried ? carry.last : std::string();
  bool exhausted = true;
  // A batch rewrites at least one record, and scans a bounded number of records that need no
  // rewrite, so that writers never wait long between batches.
  uint64_t scanned = carried ? carriedChunk->records.size() : 0;
  uint64_t scanLimit = std::max<uint64_t>(limit, 1) * 4;
  const BatchTimer timer(options);
  const bool packed = internal::writeState(tx).encoder.packed();
  std::vector<std::unique_ptr<Upgrading>>& threads = run.upgrading;
  const size_t wanted = std::clamp<size_t>(options.threads, 1, kMaxThreads);
  while (threads.size() < wanted) threads.push_back(std::make_unique<Upgrading>(core));
  if (!carried) {  // a carried chunk's threads started this batch, before it began
    for (auto& t : threads) t->startBatch(info, packed, fedCores);
  }
  KeptIndexCheck keptIndexes(core, info);  // this thread's: lookups in the transaction
  orm::RecordDecoder decoder;
  // The entries this batch gathers for the added indexes: taken into `feeding` once its records
  // are written, so that a batch the engine runs again (the map grew) does not enter them twice.
  EntryBatch gathered(core.indexes().size());
  // In-place: the keys, copied out of the tree the batch then writes to (stable addresses).
  std::deque<std::string> keys;
  // Records scanned at a time: as many as the time left allows at the last chunk's pace, so that
  // a batch of slow steps ends near its time (batchTime), at least one. The first chunk of a
  // batch is small, so that the other threads start soon: a few records when the pace is not
  // known yet, at most kSmallChunk when it is.
  constexpr size_t kSmallChunk = 512;
  const double batchSeconds = std::chrono::duration<double>(options.batchTime).count();
  auto fits = [&](double seconds, size_t most) {
    if (batchSeconds <= 0) return most;
    if (run.perRecord <= 0) return std::min(most, Upgrading::kFirstChunk);
    return static_cast<size_t>(
        std::clamp<double>(std::max(0.0, seconds) / run.perRecord, 1.0, static_cast<double>(most)));
  };
  size_t chunkSize = fits(batchSeconds, kSmallChunk);
  bool timeUp = false;  // the batch's time is spent, by the pace of its chunks
  const auto batchStart = std::chrono::steady_clock::now();
  auto paceFrom = batchStart;
  if (carried && run.perRecord > 0) {
    // Carry next time what the helpers upgrade in the time the last commit gave them: a thread
    // takes `threads` times the pace per record, and the helpers are all but this thread.
    double gap = std::chrono::duration<double>(batchStart - carry.started).count();
    double helpersCan = gap / (run.perRecord * static_cast<double>(threads.size())) *
                        static_cast<double>(threads.size() - 1);
    run.carrySize = static_cast<size_t>(std::clamp<double>(
        helpersCan * 1.25, 1.0, Upgrading::kChunk));
  }
  Chunk chunks[2];
  Helpers& helpers = run.helpers;
  std::function<void(size_t)> work;  // what the helpers run: the chunk being upgraded, say
  // Helpers never outlive the chunk they work on, whatever this batch throws, except a carried
  // chunk's (`keep`), which lives in `run`.
  struct Join {
    Helpers& helpers;
    bool keep = false;
    ~Join() {
      if (!keep) helpers.wait();
    }
  } join{helpers};
  bool carrying = false;  // scanning the chunk to carry: the batch's time does not bound it
  try {
    engine::Scan scan = etx.scan(core.records(etx), scanFrom);
    bool more = true;
    // Scans the next chunk into `c`; `more` turns false at the batch's or the range's end.
    // An error met scanning (a bad header or checksum, or the cursor's) is reported once the
    // records before it are upgraded: an earlier failure comes first.
    auto scanChunk = [&](Chunk& c) {
      c.clear();
      try {
      for (; more; scan.next()) {
        if (!scan.valid()) {
          more = false;
          break;
        }
        if (rewritten > 0 && (rewritten >= limit || bytes >= options.batchBytes ||
                              scanned >= scanLimit ||
                              (!carrying && (timeUp || timer.over(scanned))))) {
          exhausted = more = false;
          break;
        }
        if (rewritten == 0 && scanned >= scanLimit) {
          exhausted = more = false;
          break;
        }
        if (c.records.size() >= chunkSize) break;
        std::string_view pk = scan.key(), value = scan.value();
        uint32_t version = 0;
        // Undoable: every record goes to the upgrading threads, which check its checksum; this
        // thread reads the version only (a damaged one still fails there, in key order).
        if (!undoable || !orm::peekRecordVersion(value, version)) {
          version = storedVersion(core, pk, value);
        }
        ++scanned;
        last.assign(pk);
        bool rewrite = core.needsRewrite(version);  // not newest, nor read as the newest as it is
        if (!rewrite && !undoable) continue;
        c.records.push_back(Scanned{pk, value, version, rewrite, false, {}});
        rewritten += rewrite;
        bytes += value.size();  // until upgraded: its new size is known after the chunk
      }
      } catch (const Error&) {
        c.unreadable = std::current_exception();
        more = false;
      }
    };
    // Starts the upgrade of `c` on the helpers, in pieces of up to Chunk::kPiece records, a few
    // for each thread (this thread joins it in finish). Whether it started: a chunk of one
    // record, or one thread, is this thread's alone.
    auto start = [&](Chunk& c) {
      if (c.records.size() < 2 || threads.size() == 1) return false;
      c.share(threads.size());
      work = [&threads, &c](size_t t) { threads[t]->work(c); };
      helpers.start(threads.size(), work);
      return true;
    };
    auto finish = [&](Chunk& c) {
      threads[0]->work(c);
      helpers.wait();
    };
    // Takes the upgraded records of `c` in key order: a kept-index lookup of an earlier record
    // fails before a later step.
    auto take = [&](Chunk& c) {
      size_t failedAt = c.failedAt.load();
      for (size_t i = 0; i < c.records.size(); ++i) {
        if (i == failedAt) std::rethrow_exception(c.failure);
        Scanned& r = c.records[i];
        if (r.lookup) {  // a kept index's key changed: this thread looks its entry up
          auto record = core.decode(decoder, r.pk, r.value);
          // Nothing of the table's own is written yet (earlier chunks of an undoable batch went to
          // the other records database, which an undo clears).
          keptIndexes.check(etx, storedForm(core, decoder, record), record, r.pk, r.value);
        }
        std::string_view pk = r.pk;
        if (!undoable) pk = keys.emplace_back(r.pk);
        if (r.rewrite) {
          bytes += r.encoded.size() - r.value.size();
          puts.emplace_back(pk, r.encoded);
          fromVersions.push_back(r.version);
        } else {
          puts.emplace_back(pk, r.value);  // copied as it lies
        }
      }
      if (c.unreadable) std::rethrow_exception(c.unreadable);
      if (undoable) {
        etx.appendMany(*target, puts);  // after every key an earlier chunk or batch wrote there
        puts.clear();
      }
    };
    // The pace: the time per record of the chunk just taken.
    auto pace = [&](size_t done) {
      auto now = std::chrono::steady_clock::now();
      if (done > 0) {
        run.perRecord = std::max(1e-9, std::chrono::duration<double>(now - paceFrom).count() / done);
      }
      paceFrom = now;
    };
    // The size of the chunk scanned next, `pending` records scanned before it still to upgrade:
    // what the time left holds after them.
    auto resize = [&](size_t pending) {
      auto now = std::chrono::steady_clock::now();
      double left = batchSeconds - std::chrono::duration<double>(now - batchStart).count() -
                    static_cast<double>(pending) * run.perRecord;
      chunkSize = fits(left, Upgrading::kChunk);
      // No time left for another record: the batch ends with what it scanned (the timer reads
      // the clock only every 64 records).
      timeUp = batchSeconds > 0 && run.perRecord > 0 && left < run.perRecord;
    };
    // Each thread sorts the entries it gathered, at once; what is left at the write is a merge.
    bool sorted = fed.empty();
    auto sortEntries = [&] {
      if (sorted) return;
      sorted = true;
      std::vector<std::exception_ptr> sortFailed(threads.size());
      work = [&threads, &sortFailed](size_t t) {
        try {
          threads[t]->entries.sort();
        } catch (...) {  // memory: reported on this thread
          sortFailed[t] = std::current_exception();
        }
      };
      helpers.start(threads.size(), work);
      work(0);
      helpers.wait();
      for (auto& failed : sortFailed) {
        if (failed) std::rethrow_exception(failed);
      }
      for (auto& t : threads) gathered.absorb(std::move(t->entries));
    };
    // The next batch's first chunk (carried), scanned once this batch's last is known, and
    // upgraded by the helpers while this thread takes that last chunk and commits.
    bool carryTried = false, carryScanned = false;
    auto scanCarry = [&] {
      if (carryTried || exhausted || !undoable || threads.size() < 2) return;
      carryTried = true;
      // The next batch's limit, within what a budget (recordLimit, a drain's) leaves it.
      if (recordLimit <= rewritten) return;
      const uint64_t batchLimit = limit, batchScanLimit = scanLimit;
      limit = std::min<uint64_t>(options.batchRecords, recordLimit - rewritten);
      scanLimit = std::max<uint64_t>(limit, 1) * 4;
      const uint64_t batchRewritten = rewritten, batchBytes = bytes, batchScanned = scanned;
      std::string batchLast = std::move(last);
      rewritten = bytes = scanned = 0;
      more = carrying = true;
      chunkSize = std::min(run.carrySize, fits(batchSeconds, Upgrading::kChunk));  // one batch's time
      Chunk& c = carry.flip();  // the other slot: the carried one may be this batch's `now`
      scanChunk(c);
      carrying = false;
      if (!c.records.empty() && !c.unreadable) {
        carry.copyOut();
        carry.rewritten = rewritten;
        carry.bytes = bytes;
        carry.after = batchLast;
        carryScanned = true;
      } else {
        c.clear();  // a record it cannot read is the next batch's to report
      }
      rewritten = batchRewritten;
      bytes = batchBytes;
      scanned = batchScanned;
      last = std::move(batchLast);
      limit = batchLimit;
      scanLimit = batchScanLimit;
    };
    // Starts the carried chunk on the helpers, once every record of this batch is upgraded: the
    // threads start their next batch (the encodings of this one stay until the one after).
    auto startCarry = [&] {
      if (!carryScanned || carry.inFlight) return;
      sortEntries();
      Chunk& c = carry.chunk();
      carry.fed = fedCores;
      carry.generation = generation;
      for (auto& t : threads) t->startBatch(info, packed, fedCores);
      c.share(threads.size() - 1);  // the helpers: this thread takes the last chunk and commits
      carry.work = [&upgrading = run.upgrading, &c](size_t t) { upgrading[t]->work(c); };
      carry.started = std::chrono::steady_clock::now();
      carry.inFlight = true;
      helpers.start(threads.size(), carry.work);
    };
    // A carried chunk is the first, its upgrade under way since before the batch began. While the
    // helpers upgrade `*cur`, this thread scans the other chunk (only then: alone, it scans each
    // chunk after taking the last, so that a batch of slow steps can stop in time).
    Chunk* cur = &chunks[0];
    bool shared = false;
    if (carried) {
      cur = carriedChunk;
      carry.inFlight = false;  // taken: from here this batch waits for it
      shared = true;
    } else {
      scanChunk(*cur);
      shared = start(*cur);
    }
    while (!cur->records.empty() || cur->unreadable) {
      Chunk& now = *cur;
      Chunk& next = cur == &chunks[0] ? chunks[1] : chunks[0];
      next.clear();
      const bool ahead = shared && !now.unreadable;
      if (ahead) {
        resize(now.records.size());
        scanChunk(next);
        if (next.records.empty() && !next.unreadable) scanCarry();  // `now` ends the batch
      }
      finish(now);
      shared = ahead && now.failedAt.load() == SIZE_MAX && start(next);
      if (now.failedAt.load() == SIZE_MAX) startCarry();
      take(now);
      // A carried chunk's time began before the batch: it gives no pace.
      pace(&now == carriedChunk ? 0 : now.records.size());
      if (!ahead && !now.unreadable) {
        resize(0);
        scanChunk(next);
        shared = start(next);
      }
      cur = &next;
    }
    sortEntries();
    scanCarry();  // unless scanned already: a batch whose last chunk this thread upgraded alone
    startCarry();
  } catch (const Error& e) {
    helpers.wait();
    if (!undoable || e.code() != ErrorCode::MigrationFailed) throw;
    // Nothing has changed but the other records database: the migration is undone.
    result.failure = fmt::format("{}; nothing was rewritten and the table is back at version {}",
                                 e.what(), m.fromVersion);
    etx.clearDb(*target);
    undoMigration(etx, core, info);
    result.finished = true;
    return result;
  }
  if (!undoable) {
    for (uint32_t v : fromVersions) {
      --info.counts[v];
      ++info.counts[newest];
    }
  }
  if (undoable) {
    // From here a batch that runs again finds `feeding` past the checkpoint it starts from, and
    // starts it over (its added indexes then lag, and build after the swap).
    feeding.held->absorb(std::move(gathered));
    feeding.through = last;
    if (exhausted || feeding.held->bytes() >= FedEntries::kBytes) {
      for (auto& [ic, ii] : fed) {
        size_t at = static_cast<size_t>(ic - core.indexes().data());
        std::vector<std::string> problems = feeding.held->write(etx, at, *ic);
        if (!problems.empty()) {  // as a build after the migration would: the index fails
          result.indexFailure += (result.indexFailure.empty() ? "" : "\n") +
                                 failIndex(etx, core, *ic, *ii, std::move(problems),
                                           feeding.held->unstorable(at));
          continue;
        }
        ii->done += feeding.held->entered(at);
        ii->checkpoint = last;
      }
      feeding.held.emplace(core.indexes().size());
      feeding.from = last;
    }
  } else {
    etx.putMany(core.records(etx), puts);  // in key order, as scanned
  }
  m.done += rewritten;
  result.done = m.done;
  result.rewritten = result.written = rewritten;
  if (!exhausted) {
    m.checkpoint = last;
    join.keep = carry.inFlight;  // the helpers upgrade the carried chunk while this batch commits
    return result;
  }
  if (undoable) {
    // Every record is in the other database at its new version: the two swap, and from here the
    // migration goes forward only. No write has changed the table meanwhile (writes wait while
    // a migration may be undone): what needed a rewrite is now at the newest version.
    // An added index whose entries reach the last record is ready; one that lags (this run
    // resumed the migration) builds on from its checkpoint, over the swapped-in records.
    for (auto& [ic, ii] : fedIndexes(core, info)) {
      ii->held = false;
      if (ii->checkpoint != last) continue;
      ii->state = orm::IndexState::Ready;
      ii->checkpoint.clear();
      ii->done = 0;
      ii->readySince = etx.snapshotId() + 1;  // this batch's commit
    }
    pointOfNoReturn(etx, core, info);
    std::map<uint32_t, uint64_t> counts;
    for (const auto& [v, c] : info.counts) {
      if (c > 0) counts[core.needsRewrite(v) ? newest : v] += c;
    }
    info.counts = std::move(counts);
    swapTrees(etx, core, info, result);
  }
  migrationEnded(etx, core, info);  // the builds of the indexes the steps changed go on
  result.finished = true;
  return result;
}

// A batch of the Replace phase, of a migration an earlier format left there (migrations now swap
// the rewritten records in instead): the records rewritten into the scratch database go over
// their old versions, in key order. A record the app has written since (at the newest version) or
// deleted keeps what the app did; the per-version counts follow what is replaced.
BatchResult replaceBatch(WriteTxn& tx, const orm::TableCore& core, const EagerOptions& options,
                         orm::TableInfo& info, uint64_t limit, const engine::KeyRange& range,
                         BatchResult& result) {
  orm::MigrationState& m = *info.migration;
  engine::WriteTxn& etx = internal::engineWrite(tx);
  const uint32_t newest = core.schema().version;
  engine::Db scratch = earlierScratch(etx, rewriteDbName(core.schema().name), "replacing");
  std::vector<std::pair<std::string_view, std::string_view>> puts;
  uint64_t bytes = 0, n = 0;
  std::string last;
  bool exhausted = true;
  // Both trees are walked in key order together: the table's cursor only moves forward.
  engine::Scan stored = etx.scan(core.records(etx), range);
  const BatchTimer timer(options);
  for (auto [pk, value] : etx.scan(scratch, range)) {
    if (n >= std::max<uint64_t>(limit, 1) || (n > 0 && bytes >= options.batchBytes) || timer.over(n)) {
      exhausted = false;
      break;
    }
    ++n;
    last.assign(pk);
    while (stored.valid() && stored.key() < pk) stored.next();
    if (!stored.valid() || stored.key() != pk) continue;  // deleted since
    uint32_t version = storedVersion(core, pk, stored.value());
    if (!core.needsRewrite(version)) continue;  // written since, at the newest version
    puts.emplace_back(pk, value);
    bytes += value.size();
    --info.counts[version];
    ++info.counts[newest];
  }
  etx.putMany(core.records(etx), puts);  // in key order, over keys that are there
  m.done += n;
  result.done = m.done;
  result.total = m.total;
  result.written = puts.size();
  result.phase = "replace";
  if (!exhausted) {
    m.checkpoint = last;
    return result;
  }
  etx.dropDb(scratch);
  migrationEnded(etx, core, info);  // the builds of the indexes the steps changed go on
  result.finished = true;
  return result;
}

// One batch of the table's pending migration, in the caller's write transaction.
BatchResult runBatch(WriteTxn& tx, orm::TableCore& core, const EagerOptions& options,
                     uint64_t recordLimit, RunState& run) {
  ErrorContext scope = core.context();
  BatchResult result;
  orm::TableInfo& info = core.touch(tx, true);
  // Another process may have undone the migration (the table is back at an older version or
  // key), or finished it and begun a newer one.
  std::vector<std::string> key;
  for (const auto& f : core.schema().primaryKey) key.push_back(f.dotted);
  bool behind = info.version < core.schema().version || info.primaryKey != key;
  CAPDB_REQUIRE_IN(
      !behind && !(info.migration && info.version != core.schema().version),
      ErrorCode::SchemaMismatch,
      "the database is now at version {} with primary key ({}), not this "
      "table's version {}: another process undid or replaced the migration; reopen the "
      "database",
      info.version, fmt::join(info.primaryKey, ", "), core.schema().version);
  auto states = [&] {
    for (const auto& ii : info.indexes) result.states.push_back({ii.name, ii.state, ii.readySince});
    result.commitSnapshot = internal::engineTxn(tx).snapshotId() + 1;
  };
  // A chunk carried from the last batch is only ever a records batch's.
  if (!info.migration || info.migration->phase != orm::MigrationState::Phase::Records) run.settle();
  if (!info.migration) {
    // A record gives an index a small entry: a build's batch reads ten times the records a
    // rewrite's does, for about the same time holding the write lock.
    uint64_t limit = std::min<uint64_t>(options.batchRecords * 10, recordLimit);
    if (!buildingIndexes(core, info, false).empty()) {
      BuildResult b = buildBatch(internal::engineWrite(tx), core, info, options, limit);
      result.phase = "indexes";
      result.total = info.records();
      result.done = b.done;
      result.written = b.scanned;
      result.indexFailure = std::move(b.failure);
    }
    result.finished = buildingIndexes(core, info, false).empty();
    states();
    return result;
  }
  orm::MigrationState& m = *info.migration;
  result.total = m.total;
  uint64_t limit = std::min<uint64_t>(options.batchRecords, recordLimit);
  engine::KeyRange range = m.checkpoint.empty()
                               ? engine::KeyRange::all()
                               : engine::KeyRange::atLeast(m.checkpoint, false);

  // While the migration may be undone, every index that builds keeps its database as it is
  // (held; an earlier format did not mark them) until the point of no return.
  if (!m.before.empty()) {
    for (auto& ii : info.indexes) ii.held = ii.held || ii.state == orm::IndexState::Building;
  }
  switch (m.phase) {
    case orm::MigrationState::Phase::Check:
      checkBatch(tx, core, options, info, limit, range, result);
      break;
    case orm::MigrationState::Phase::Rekey:
      rekeyBatch(tx, core, options, limit, range, result);
      break;
    case orm::MigrationState::Phase::Install:
      installBatch(tx, core, options, limit, range, result);
      break;
    case orm::MigrationState::Phase::Records:
      recordsBatch(tx, core, options, info, limit, range, run, recordLimit, result);
      break;
    case orm::MigrationState::Phase::Replace:
      replaceBatch(tx, core, options, info, limit, range, result);
      break;
    case orm::MigrationState::Phase::Indexes:
      // A phase of earlier builds, which rebuilt indexes after the records: their builds now
      // run on their own, from the start.
      for (auto& ii : info.indexes) {
        if (ii.state == orm::IndexState::Building) restartBuild(internal::engineWrite(tx), core, ii);
      }
      info.migration.reset();
      break;
  }
  // The migration finished (or was undone): the table is done once no index builds.
  result.finished = result.finished && buildingIndexes(core, info, false).empty();
  states();
  return result;
}

}  // namespace

std::pair<uint64_t, bool> runEager(const std::vector<orm::TableCore*>& tables,
                                   const RunWrite& write, const EagerOptions& options,
                                   const std::function<bool(uint64_t)>& keepGoing,
                                   uint64_t recordBudget) {
  uint64_t rewritten = 0;
  uint64_t written = 0;  // what the rate counts: a record moved to a new key is written twice
  auto start = Clock::now();
  // Index builds that failed: reported once the rest of the work (or the budget) is done.
  std::string failedIndexes;
  auto stop = [&](bool finished) -> std::pair<uint64_t, bool> {
    if (!failedIndexes.empty()) throw Error(ErrorCode::MigrationFailed, failedIndexes);
    return {rewritten, finished};
  };
  for (orm::TableCore* table : tables) {
    orm::TableCore& core = *table;
    const std::string& name = core.schema().name;
    RunState run;
    for (;;) {
      if (!keepGoing(rewritten)) return stop(false);
      if (options.stop != nullptr && options.stop->load()) {
        throw Error(ErrorCode::Interrupted,
                    fmt::format("table {}: the migration stopped on request after the batch in "
                                "flight; what it did is kept, and the next eager open (capdb "
                                "upgrade --mode eager) resumes it",
                                name));
      }
      uint64_t left = recordBudget ? recordBudget - std::min(recordBudget, written) : UINT64_MAX;
      if (left == 0) return stop(false);
      BatchResult r;
      try {
        write([&](WriteTxn& tx) {
          r = runBatch(tx, core, options, left, run);
          engine::crashPoint(fmt::format("migrate.{}.batch", r.phase));
        });
      } catch (const Error& e) {
        // The map or the disk filled: a migration that may still be undone is, in a
        // transaction of its own (emptying what it wrote frees its pages).
        if (e.code() != ErrorCode::Full) throw;
        std::string failure;
        try {
          write([&](WriteTxn& tx) {
            orm::TableInfo& info = core.touch(tx, true);
            uint32_t from = info.migration ? info.migration->fromVersion : 0;
            std::string what = info.migration ? migrationName(*info.migration, core.schema().version) : "";
            if (abandon(internal::engineWrite(tx), core, info)) {
              failure = fmt::format("table {}: {} ran out of room: {}; nothing was rewritten and the "
                                    "table is back at version {}", name, what, e.what(), from);
            }
          });
        } catch (const Error&) {
          failure.clear();  // the undo found no room either: the migration resumes next time
        }
        if (failure.empty()) throw;
        throw Error(ErrorCode::MigrationFailed, failure);
      }
      engine::crashPoint(fmt::format("migrate.{}.commit", r.phase));
      // Before anything else here reads the table: its records are in the other database now.
      if (r.swapped) core.swapRecords(r.swapped->first, r.swapped->second);
      for (const auto& s : r.states) {
        core.setIndexState(s.index, s.state, s.readySince, r.commitSnapshot);
      }
      if (!r.failure.empty()) throw Error(ErrorCode::MigrationFailed, r.failure);
      if (!r.indexFailure.empty()) {
        failedIndexes += (failedIndexes.empty() ? "" : "\n") + r.indexFailure;
      }
      rewritten += r.rewritten;
      written += r.written;
      double seconds = std::chrono::duration<double>(Clock::now() - start).count();
      if (options.progress && (r.written > 0 || (r.finished && r.total > 0))) {
        MigrationProgress p;
        p.table = name;
        p.phase = std::string(r.phase);
        p.done = r.finished ? r.total : r.done;
        p.total = r.total;
        p.recordsPerSecond = seconds > 0 ? written / seconds : 0;
        p.etaSeconds = p.recordsPerSecond > 0 && p.total > p.done
                           ? (p.total - p.done) / p.recordsPerSecond
                           : 0;
        options.progress(p);
      }
      if (options.maxRecordsPerSecond > 0) {
        auto due = start + std::chrono::duration_cast<Clock::duration>(
                               std::chrono::duration<double>(written / options.maxRecordsPerSecond));
        std::this_thread::sleep_until(due);
      }
      if (r.finished) break;
    }
  }
  return stop(true);
}

}  // namespace capdb::migrate
