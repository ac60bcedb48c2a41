#include "engine/txn.h"

#include <algorithm>
#include <filesystem>

#include "engine/env_state.h"
#include "engine/fail.h"
#include "engine/key_codec.h"
#include "engine/key_compare.h"
#include "engine/lmdb_error.h"

namespace capdb::engine {
namespace {

MDB_val toVal(std::string_view s) { return MDB_val{s.size(), const_cast<char*>(s.data())}; }

void checkKey(std::string_view key, const Db& db) {
  if (key.empty() || key.size() > kMaxKeySize) [[unlikely]] {
    fail(ErrorCode::InvalidArgument,
         "key for {} is {} bytes; LMDB keys must be 1 to {} bytes", db.name, key.size(),
         kMaxKeySize);
  }
}

}  // namespace

// ---- Txn ----

Txn::Txn(Txn&& other) noexcept
    : env_(std::exchange(other.env_, nullptr)),
      txn_(std::exchange(other.txn_, nullptr)),
      write_(other.write_),
      alive_(std::move(other.alive_)) {}

Txn& Txn::operator=(Txn&& other) noexcept {
  env_ = std::exchange(other.env_, nullptr);
  txn_ = std::exchange(other.txn_, nullptr);
  write_ = other.write_;
  alive_ = std::move(other.alive_);
  return *this;
}

void Txn::requireActive() const {
  CAPDB_REQUIRE(txn_ != nullptr, ErrorCode::InvalidArgument,
          "transaction used after it was committed, aborted or released");
}

std::optional<std::string_view> Txn::get(const Db& db, std::string_view key) const {
  requireActive();
  return get(txn_, db, key);
}

uint64_t Txn::snapshotId() const {
  requireActive();
  uint64_t id = mdb_txn_id(txn_);
  return write_ ? id - 1 : id;
}

std::optional<std::string_view> Txn::get(MDB_txn* txn, const Db& db, std::string_view key) {
  checkKey(key, db);
  MDB_val k = toVal(key);
  MDB_val v{0, nullptr};
  int rc = mdb_get(txn, db.dbi, &k, &v);
  if (rc == MDB_NOTFOUND) return std::nullopt;
  if (rc == EINVAL) {
    fail(ErrorCode::Busy,
         "database {} is not known to this transaction: it was opened or created after the "
         "transaction began; begin a new transaction to use it",
         db.name);
  }
  if (rc != 0) throwLmdb(rc, fmt::format("reading {} from {}", formatKey(key), db.name));
  return std::string_view(static_cast<const char*>(v.mv_data), v.mv_size);
}

Cursor Txn::cursor(const Db& db) const {
  requireActive();
  try {
    return Cursor(txn_, db.dbi, alive_, alive_ != nullptr);
  } catch (const Error& e) {
    if (e.code() == ErrorCode::InvalidArgument) staleHandle(db);  // LMDB's EINVAL: unknown dbi
    throw;
  }
}

void Txn::staleHandle(const Db& db) const {
  fail(ErrorCode::Busy,
       "database {} is not known to this transaction: it was opened or created after the "
       "transaction began; begin a new transaction to use it",
       db.name);
}

Scan Txn::scan(const Db& db, KeyRange range, Direction direction) const {
  return Scan(cursor(db), std::move(range), direction);
}

uint64_t Txn::count(const Db& db) const {
  requireActive();
  MDB_stat stat;
  int rc = mdb_stat(txn_, db.dbi, &stat);
  if (rc == EINVAL) staleHandle(db);
  if (rc != 0) throwLmdb(rc, fmt::format("counting {}", db.name));
  return stat.ms_entries;
}

Txn::Room Txn::room() const {
  requireActive();
  MDB_envinfo info;
  MDB_stat stat;
  checkLmdb(mdb_env_info(env_->env, &info), "reading environment info");
  checkLmdb(mdb_env_stat(env_->env, &stat), "reading environment statistics");
  Room room;
  uint64_t used = (info.me_last_pgno + 1) * stat.ms_psize;
  if (env_->options.maxMapSize > 0) {
    room.mapRoom = env_->options.maxMapSize > used ? env_->options.maxMapSize - used : 0;
  }
  std::error_code ec;
  auto space = std::filesystem::space(env_->path, ec);
  if (!ec) {
    // The file already holds pages up to its size beyond the last one in use.
    std::error_code sizeError;
    auto fileSize = std::filesystem::file_size(env_->path / "data.mdb", sizeError);
    uint64_t slack = !sizeError && fileSize > used ? fileSize - used : 0;
    room.diskRoom = space.available + slack;
  }
  return room;
}

Txn::TreeStat Txn::stat(const Db& db) const {
  requireActive();
  MDB_stat s;
  int rc = mdb_stat(txn_, db.dbi, &s);
  if (rc == EINVAL) staleHandle(db);
  if (rc != 0) throwLmdb(rc, fmt::format("reading the statistics of {}", db.name));
  TreeStat t;
  t.entries = s.ms_entries;
  t.branchPages = s.ms_branch_pages;
  t.leafPages = s.ms_leaf_pages;
  t.overflowPages = s.ms_overflow_pages;
  t.pageSize = s.ms_psize;
  t.depth = s.ms_depth;
  return t;
}

std::optional<Db> Txn::openDb(std::string_view name) const {
  requireActive();
  if (auto dbi = env_->openExisting(name)) return Db{*dbi, std::string(name)};
  return std::nullopt;
}

// ---- ReadTxn ----

ReadTxn& ReadTxn::operator=(ReadTxn&& other) noexcept {
  if (this != &other) {
    release();
    Txn::operator=(std::move(other));
  }
  return *this;
}

ReadTxn::~ReadTxn() { release(); }

void ReadTxn::release() noexcept {
  if (txn_ == nullptr) return;
  env_->endReader(std::exchange(txn_, nullptr));
}

// ---- WriteTxn ----

WriteTxn::WriteTxn(WriteTxn&& other) noexcept
    : Txn(std::move(other)),
      dbiLock_(std::move(other.dbiLock_)),
      opened_(std::move(other.opened_)) {}

WriteTxn& WriteTxn::operator=(WriteTxn&& other) noexcept {
  if (this != &other) {
    abort();
    Txn::operator=(std::move(other));
    dbiLock_ = std::move(other.dbiLock_);
    opened_ = std::move(other.opened_);
  }
  return *this;
}

WriteTxn::~WriteTxn() { abort(); }

void WriteTxn::writeFailed(int rc, std::string_view what, const Db& db) {
  if (rc == MDB_MAP_FULL) {
    size_t size = env_->mapSize();
    size_t limit = env_->options.maxMapSize;
    if (limit != 0 && size >= limit) {
      fail(ErrorCode::Full,
           "{} in {}: the map is full at {} bytes, the limit set by EnvOptions::maxMapSize; "
           "the transaction was aborted",
           what, db.name, size);
    }
    env_->growNeeded = true;
    throw MapFull(ErrorCode::Busy,
                  fmt::format("{} in {}: the map is full at {} bytes; it grows before the next "
                              "write transaction: run this one again (Env::write does)",
                              what, db.name, size));
  }
  throwLmdb(rc, fmt::format("{} in {}", what, db.name));
}

void WriteTxn::put(const Db& db, std::string_view key, std::string_view value) {
  requireActive();
  checkKey(key, db);
  MDB_val k = toVal(key), v = toVal(value);
  int rc = mdb_put(txn_, db.dbi, &k, &v, 0);
  if (rc != 0) writeFailed(rc, fmt::format("writing {}", formatKey(key)), db);
}

size_t WriteTxn::writeMany(const Db& db,
                          std::span<const std::pair<std::string_view, std::string_view>> entries,
                          unsigned flags, std::string_view verb) {
  requireActive();
  for (const auto& [key, value] : entries) checkKey(key, db);
  MDB_cursor* cursor = nullptr;
  int rc = mdb_cursor_open(txn_, db.dbi, &cursor);
  if (rc == EINVAL) staleHandle(db);
  if (rc != 0) writeFailed(rc, "opening a cursor to write", db);
  for (size_t i = 0; i < entries.size(); ++i) {
    MDB_val k = toVal(entries[i].first), v = toVal(entries[i].second);
    rc = mdb_cursor_put(cursor, &k, &v, flags);
    if (rc == MDB_KEYEXIST && (flags & MDB_NOOVERWRITE)) {
      mdb_cursor_close(cursor);
      return i;
    }
    if (rc == MDB_KEYEXIST && (flags & MDB_APPEND)) {  // LMDB compared it with the last key
      mdb_cursor_close(cursor);
      fail(ErrorCode::InvalidArgument, "appending {} to {}: the key does not follow {}",
           formatKey(entries[i].first), db.name,
           i > 0 ? formatKey(entries[i - 1].first) : std::string("the last key there"));
    }
    if (rc != 0) {
      mdb_cursor_close(cursor);
      writeFailed(rc, fmt::format("{} {}", verb, formatKey(entries[i].first)), db);
    }
  }
  mdb_cursor_close(cursor);
  return entries.size();
}

void WriteTxn::appendMany(const Db& db,
                          std::span<const std::pair<std::string_view, std::string_view>> entries) {
  writeMany(db, entries, MDB_APPEND, "appending");
}

void WriteTxn::putMany(const Db& db,
                       std::span<const std::pair<std::string_view, std::string_view>> entries) {
  writeMany(db, entries, 0, "writing");
}

size_t WriteTxn::insertMany(const Db& db,
                            std::span<const std::pair<std::string_view, std::string_view>> entries) {
  return writeMany(db, entries, MDB_NOOVERWRITE, "inserting");
}

bool WriteTxn::insert(const Db& db, std::string_view key, std::string_view value) {
  requireActive();
  checkKey(key, db);
  MDB_val k = toVal(key), v = toVal(value);
  int rc = mdb_put(txn_, db.dbi, &k, &v, MDB_NOOVERWRITE);
  if (rc == MDB_KEYEXIST) return false;
  if (rc != 0) writeFailed(rc, fmt::format("inserting {}", formatKey(key)), db);
  return true;
}

void WriteTxn::append(const Db& db, std::string_view key, std::string_view value) {
  requireActive();
  checkKey(key, db);
  MDB_val k = toVal(key), v = toVal(value);
  int rc = mdb_put(txn_, db.dbi, &k, &v, MDB_APPEND);
  if (rc == MDB_KEYEXIST) {
    fail(ErrorCode::InvalidArgument, "appending {} to {}: the key is not greater than the last key",
         formatKey(key), db.name);
  }
  if (rc != 0) writeFailed(rc, fmt::format("appending {}", formatKey(key)), db);
}

std::span<char> WriteTxn::reserve(const Db& db, std::string_view key, size_t size) {
  requireActive();
  checkKey(key, db);
  MDB_val k = toVal(key);
  MDB_val v{size, nullptr};
  int rc = mdb_put(txn_, db.dbi, &k, &v, MDB_RESERVE);
  if (rc != 0) writeFailed(rc, fmt::format("writing {}", formatKey(key)), db);
  return {static_cast<char*>(v.mv_data), size};
}

bool WriteTxn::erase(const Db& db, std::string_view key) {
  requireActive();
  checkKey(key, db);
  MDB_val k = toVal(key);
  int rc = mdb_del(txn_, db.dbi, &k, nullptr);
  if (rc == MDB_NOTFOUND) return false;
  if (rc != 0) writeFailed(rc, fmt::format("deleting {}", formatKey(key)), db);
  return true;
}

MDB_dbi WriteTxn::openDbi(std::string_view name, unsigned flags, bool* found) {
  requireActive();
  detail::checkDbName(name);
  if (!dbiLock_.owns_lock()) {
    dbiLock_ = std::unique_lock(env_->dbiMutex);
    env_->dbiOwner = std::this_thread::get_id();
  }
  std::string cname(name);
  MDB_dbi dbi = 0;
  int rc = engine::openDbi(txn_, cname.c_str(), flags, &dbi);
  if (rc == MDB_NOTFOUND) {
    *found = false;
    return 0;
  }
  if (rc != 0) {
    Db db{0, cname};
    if (rc == MDB_DBS_FULL) {
      fail(ErrorCode::Full,
           "creating database {}: all {} named databases are in use (EnvOptions::maxDbs)", name,
           env_->options.maxDbs);
    }
    writeFailed(rc, "opening database", db);
  }
  *found = true;
  opened_.push_back(Db{dbi, std::move(cname)});
  return dbi;
}

Db WriteTxn::createDb(std::string_view name) {
  if (auto dbi = env_->cachedHandle(name)) return Db{*dbi, std::string(name)};
  bool found = false;
  MDB_dbi dbi = openDbi(name, MDB_CREATE, &found);
  return Db{dbi, std::string(name)};
}

std::optional<Db> WriteTxn::openDb(std::string_view name) {
  if (auto dbi = env_->cachedHandle(name)) return Db{*dbi, std::string(name)};
  bool found = false;
  MDB_dbi dbi = openDbi(name, 0, &found);
  if (!found) return std::nullopt;
  return Db{dbi, std::string(name)};
}

namespace {

// A tree's entries, copied out in key order from `after` (or the start), up to about `limit`
// bytes: what is copied stays valid while the transaction writes.
struct Chunk {
  std::string arena;
  std::vector<std::pair<std::string_view, std::string_view>> entries;
  bool more = false;

  void read(const Txn& txn, const Db& from, const std::string* after, size_t limit) {
    arena.clear();
    entries.clear();
    more = false;
    std::vector<std::pair<size_t, size_t>> sizes;
    KeyRange range = after ? KeyRange::atLeast(*after, false) : KeyRange::all();
    for (auto [key, value] : txn.scan(from, range)) {
      if (arena.size() >= limit) {
        more = true;
        break;
      }
      arena.append(key);
      arena.append(value);
      sizes.emplace_back(key.size(), value.size());
    }
    size_t at = 0;
    for (auto [k, v] : sizes) {
      entries.emplace_back(std::string_view(arena).substr(at, k),
                           std::string_view(arena).substr(at + k, v));
      at += k + v;
    }
  }
};

// Appends `from`'s entries to `to` (empty, or below them all) in key order, a chunk at a time.
void appendAll(WriteTxn& txn, const Db& from, const Db& to) {
  constexpr size_t kChunkBytes = size_t{4} << 20;
  Chunk chunk;
  std::string last;
  bool first = true;
  do {
    chunk.read(txn, from, first ? nullptr : &last, kChunkBytes);
    if (!chunk.entries.empty()) {
      txn.appendMany(to, chunk.entries);
      last.assign(chunk.entries.back().first);
    }
    first = false;
  } while (chunk.more);
}

}  // namespace

void WriteTxn::repack(const Db& db, std::string_view scratch, size_t inMemoryBytes) {
  // A tree whose entries fit in `inMemoryBytes` (their bytes, at most the pages', and 48 bytes of
  // bookkeeping each) is copied out whole: its new pages are the only ones the rewrite adds to the
  // file (the old ones are free once it commits). A larger one goes through `scratch`, which adds
  // its pages too.
  TreeStat tree = stat(db);
  if (tree.bytes() + 48 * tree.entries <= inMemoryBytes) {
    Chunk all;
    all.read(*this, db, nullptr, SIZE_MAX);
    clearDb(db);
    if (!all.entries.empty()) appendMany(db, all.entries);
    return;
  }
  Db copy = createDb(scratch);
  clearDb(copy);
  appendAll(*this, db, copy);
  clearDb(db);
  appendAll(*this, copy, db);
  dropDb(copy);
}

void WriteTxn::clearDb(const Db& db) {
  requireActive();
  int rc = mdb_drop(txn_, db.dbi, 0);
  if (rc != 0) writeFailed(rc, "clearing", db);
}

void WriteTxn::dropDb(const Db& db) {
  requireActive();
  int rc = mdb_drop(txn_, db.dbi, 1);
  if (rc != 0) writeFailed(rc, "dropping", db);
  // LMDB closes the handle for the whole environment at once (commit or not), so the cache must
  // forget it now: a later open in this or another transaction opens the name afresh.
  std::unique_lock cacheLock(env_->cacheMutex);
  env_->handles.erase(db.name);
  opened_.erase(std::remove_if(opened_.begin(), opened_.end(),
                               [&](const Db& d) { return d.name == db.name; }),
                opened_.end());
}

void WriteTxn::commit() {
  requireActive();
  int rc = mdb_txn_commit(std::exchange(txn_, nullptr));  // frees the transaction either way
  if (rc == 0) {
    std::unique_lock cacheLock(env_->cacheMutex);
    for (Db& db : opened_) env_->handles.emplace(std::move(db.name), db.dbi);
  }
  end();
  if (rc != 0) writeFailed(rc, "committing", Db{0, env_->path.string()});
}

void WriteTxn::abort() noexcept {
  if (txn_ == nullptr) return;
  mdb_txn_abort(std::exchange(txn_, nullptr));
  end();
}

void WriteTxn::end() noexcept {
  alive_.reset();
  opened_.clear();
  if (dbiLock_.owns_lock()) {
    env_->dbiOwner = std::thread::id();
    dbiLock_.unlock();
  }
  env_->leaveGate();
}

}  // namespace capdb::engine
