#include "engine/env.h"

#include <algorithm>
#include <system_error>

#include "engine/env_state.h"
#include "engine/fail.h"
#include "engine/lmdb_error.h"

namespace capdb::engine {
namespace {
constexpr size_t kMiB = size_t{1} << 20;
size_t roundUpToMiB(size_t n) { return (n + kMiB - 1) / kMiB * kMiB; }
// The map starts at a multiple of 64 KiB (every page size LMDB runs with divides it), so that
// tests can start from a map far smaller than a MiB.
constexpr size_t k64KiB = size_t{64} << 10;
size_t roundUpTo64KiB(size_t n) { return (n + k64KiB - 1) / k64KiB * k64KiB; }
}  // namespace

namespace detail {

EnvState::~EnvState() {
  for (MDB_txn* txn : idleReaders) mdb_txn_abort(txn);
  if (env != nullptr) mdb_env_close(env);
}

void EnvState::enterGate() {
  std::unique_lock lock(gateMutex);
  gateCv.wait(lock, [this] { return !resizing; });
  ++activeTxns;
}

void EnvState::leaveGate() noexcept {
  std::lock_guard lock(gateMutex);
  if (--activeTxns == 0) gateCv.notify_all();
}

void EnvState::resize(size_t newSize) {
  std::unique_lock lock(gateMutex);
  if (resizing) {
    // Another thread is remapping; its result serves this caller too.
    gateCv.wait(lock, [this] { return !resizing; });
    return;
  }
  resizing = true;
  bool quiet = gateCv.wait_for(lock, options.growWait, [this] { return activeTxns == 0; });
  int rc = quiet ? mdb_env_set_mapsize(env, newSize) : 0;
  resizing = false;
  gateCv.notify_all();
  lock.unlock();
  if (!quiet) {
    fail(ErrorCode::Busy,
         "{}: the map must grow to {} bytes, but read transactions of this process stayed open "
         "for longer than EnvOptions::growWait ({} ms); end them (including any held by the "
         "thread that writes) and retry",
         path.string(), newSize, options.growWait.count());
  }
  checkLmdb(rc, fmt::format("{}: resizing the map to {} bytes", path.string(), newSize));
}

void EnvState::growIfNeeded() {
  if (!growNeeded.exchange(false)) return;
  size_t current = mapSize();
  size_t target = roundUpToMiB(current * 2);
  if (options.maxMapSize != 0 && target > options.maxMapSize) target = options.maxMapSize;
  if (target <= current) return;
  try {
    resize(target);
  } catch (...) {
    growNeeded = true;
    throw;
  }
}

size_t EnvState::mapSize() const {
  MDB_envinfo info;
  mdb_env_info(env, &info);
  return info.me_mapsize;
}

std::optional<MDB_dbi> EnvState::cachedHandle(std::string_view name) const {
  std::shared_lock lock(cacheMutex);
  auto it = handles.find(std::string(name));
  if (it == handles.end()) return std::nullopt;
  return it->second;
}

MDB_txn* EnvState::beginReader() {
  for (;;) {
    enterGate();
    MDB_txn* txn = nullptr;
    {
      std::lock_guard lock(poolMutex);
      if (!idleReaders.empty()) {
        txn = idleReaders.back();
        idleReaders.pop_back();
      }
    }
    int rc = 0;
    if (txn != nullptr) {
      rc = mdb_txn_renew(txn);
      if (rc != 0) mdb_txn_abort(txn);
    } else {
      rc = mdb_txn_begin(env, nullptr, MDB_RDONLY, &txn);
    }
    if (rc == 0) return txn;
    leaveGate();
    if (rc == MDB_MAP_RESIZED) {
      resize(0);  // another process grew the map: adopt its size and try again
      continue;
    }
    if (rc == MDB_READERS_FULL) {
      fail(ErrorCode::Busy,
           "{}: all {} reader slots are in use (EnvOptions::maxReaders); end some read "
           "transactions or raise the limit",
           path.string(), options.maxReaders);
    }
    throwLmdb(rc, fmt::format("{}: beginning a read transaction", path.string()));
  }
}

void checkDbName(std::string_view name) {
  CAPDB_REQUIRE(!name.empty() && name.find('\0') == std::string_view::npos, ErrorCode::InvalidArgument,
          "database name '{}' is empty or holds a NUL byte", name);
}

std::optional<MDB_dbi> EnvState::openExisting(std::string_view name) {
  if (auto dbi = cachedHandle(name)) return dbi;
  checkDbName(name);
  CAPDB_REQUIRE(dbiOwner.load() != std::this_thread::get_id(), ErrorCode::Internal,
          "opening database {} outside the write transaction this thread holds; open it with "
          "WriteTxn::openDb",
          name);
  std::lock_guard dbiLock(dbiMutex);
  GateGuard gate(*this);
  if (auto dbi = cachedHandle(name)) return dbi;
  std::string what = fmt::format("{}: opening database {}", path.string(), name);
  MDB_txn* txn = nullptr;
  checkLmdb(mdb_txn_begin(env, nullptr, MDB_RDONLY, &txn), what);
  std::string cname(name);
  MDB_dbi dbi = 0;
  int rc = openDbi(txn, cname.c_str(), 0, &dbi);
  if (rc != 0) {
    mdb_txn_abort(txn);
    if (rc == MDB_NOTFOUND) return std::nullopt;
    throwLmdb(rc, what);
  }
  // Committing a read transaction keeps the handle it opened for the whole environment.
  checkLmdb(mdb_txn_commit(txn), what);
  std::unique_lock cacheLock(cacheMutex);
  handles.emplace(std::move(cname), dbi);
  return dbi;
}

void EnvState::openAllNamed() {
  std::lock_guard dbiLock(dbiMutex);
  std::string what = fmt::format("{}: opening the named databases", path.string());
  MDB_txn* txn = nullptr;
  checkLmdb(mdb_txn_begin(env, nullptr, MDB_RDONLY, &txn), what);
  MDB_dbi main = 0;
  MDB_cursor* cursor = nullptr;
  int rc = mdb_dbi_open(txn, nullptr, 0, &main);
  if (rc == 0) rc = mdb_cursor_open(txn, main, &cursor);
  std::vector<std::string> names;
  if (rc == 0) {
    MDB_val k, v;
    for (int r = mdb_cursor_get(cursor, &k, &v, MDB_FIRST); r == 0;
         r = mdb_cursor_get(cursor, &k, &v, MDB_NEXT)) {
      names.emplace_back(static_cast<const char*>(k.mv_data), k.mv_size);
    }
    mdb_cursor_close(cursor);
  }
  for (const std::string& name : names) {
    MDB_dbi dbi = 0;
    if (name.find('\0') != std::string::npos) continue;
    int r = openDbi(txn, name.c_str(), 0, &dbi);
    if (r == MDB_INCOMPATIBLE) continue;  // a plain key in the main database, not a database
    if (r != 0) {
      mdb_txn_abort(txn);
      throwLmdb(r, what);
    }
    handles.emplace(name, dbi);
  }
  if (rc != 0) {
    mdb_txn_abort(txn);
    throwLmdb(rc, what);
  }
  checkLmdb(mdb_txn_commit(txn), what);
}

void EnvState::requireWholeFile() const {
  // LMDB maps the file and reads its pages in place: a page past the end of a truncated file is
  // a SIGBUS at the first read, not an error. The meta page says where the last page lies.
  MDB_envinfo info;
  MDB_stat stat;
  checkLmdb(mdb_env_info(env, &info), path.string() + ": reading environment info");
  checkLmdb(mdb_env_stat(env, &stat), path.string() + ": reading environment statistics");
  std::filesystem::path file = path / "data.mdb";
  std::error_code ec;
  uint64_t size = std::filesystem::file_size(file, ec);
  CAPDB_REQUIRE(!ec, ErrorCode::IoError, "{}: cannot read its size: {}", file.string(), ec.message());
  uint64_t needed = (static_cast<uint64_t>(info.me_last_pgno) + 1) * stat.ms_psize;
  CAPDB_REQUIRE(size >= needed, ErrorCode::Corruption,
                "{} is truncated: it is {} bytes, but its last page ({}) ends at byte {}; restore "
                "it from a backup",
                file.string(), size, info.me_last_pgno, needed);
}

void EnvState::endReader(MDB_txn* txn) noexcept {
  mdb_txn_reset(txn);
  {
    std::lock_guard lock(poolMutex);
    if (idleReaders.size() < kMaxIdleReaders) {
      idleReaders.push_back(txn);
      txn = nullptr;
    }
  }
  if (txn != nullptr) mdb_txn_abort(txn);
  leaveGate();
}

}  // namespace detail

Env::Env(std::unique_ptr<detail::EnvState> state) : state_(std::move(state)) {}
Env::Env(Env&&) noexcept = default;
Env& Env::operator=(Env&&) noexcept = default;
Env::~Env() = default;

Env Env::open(const std::filesystem::path& dir, const EnvOptions& requested) {
  EnvOptions options = requested;
  if (options.maxMapSize != 0 && options.mapSize == kDefaultMapSize) {
    options.mapSize = std::min(options.mapSize, options.maxMapSize);
  }
  CAPDB_REQUIRE(options.mapSize > 0, ErrorCode::InvalidArgument, "EnvOptions::mapSize must be positive");
  CAPDB_REQUIRE(options.maxMapSize == 0 || options.maxMapSize >= options.mapSize,
          ErrorCode::InvalidArgument,
          "EnvOptions::maxMapSize ({}) is smaller than EnvOptions::mapSize ({})",
          options.maxMapSize, options.mapSize);
  CAPDB_REQUIRE(options.maxReaders > 0, ErrorCode::InvalidArgument,
          "EnvOptions::maxReaders must be positive");
  if (!options.readOnly) {
    std::error_code ec;
    std::filesystem::create_directories(dir, ec);
    CAPDB_REQUIRE(!ec, ErrorCode::IoError, "{}: cannot create the directory: {}", dir.string(),
            ec.message());
  }

  auto state = std::make_unique<detail::EnvState>();
  state->path = dir;
  state->options = options;
  checkLmdb(mdb_env_create(&state->env), "creating an LMDB environment");
  std::string where = dir.string();
  checkLmdb(mdb_env_set_maxdbs(state->env, options.maxDbs), where + ": setting maxDbs");
  checkLmdb(mdb_env_set_maxreaders(state->env, options.maxReaders), where + ": setting maxReaders");
  checkLmdb(mdb_env_set_mapsize(state->env, roundUpTo64KiB(options.mapSize)),
            where + ": setting the map size");
  unsigned flags = MDB_NOTLS;
  if (options.noSync) flags |= MDB_NOSYNC;
  if (options.readOnly) flags |= MDB_RDONLY;
  int rc = mdb_env_open(state->env, where.c_str(), flags, 0644);
  if (rc == ENOENT) {
    fail(ErrorCode::IoError, "{}: no such database directory", where);
  }
  checkLmdb(rc, where + ": opening the LMDB environment");
  state->requireWholeFile();
  state->openAllNamed();
  return Env(std::move(state));
}

ReadTxn Env::read() const { return ReadTxn(state_.get(), state_->beginReader()); }

WriteTxn Env::beginWrite() {
  detail::EnvState& s = *state_;
  CAPDB_REQUIRE(!s.options.readOnly, ErrorCode::Unsupported,
          "{}: the database was opened read-only; writes are not allowed", s.path.string());
  for (;;) {
    s.growIfNeeded();
    s.enterGate();
    MDB_txn* txn = nullptr;
    int rc = mdb_txn_begin(s.env, nullptr, 0, &txn);
    if (rc == 0) return WriteTxn(&s, txn);
    s.leaveGate();
    if (rc != MDB_MAP_RESIZED) {
      throwLmdb(rc, fmt::format("{}: beginning a write transaction", s.path.string()));
    }
    s.resize(0);
  }
}

std::optional<Db> Env::openDb(std::string_view name) const {
  if (auto dbi = state_->openExisting(name)) return Db{*dbi, std::string(name)};
  return std::nullopt;
}

EnvInfo Env::info() const {
  MDB_envinfo info;
  MDB_stat stat;
  checkLmdb(mdb_env_info(state_->env, &info), "reading environment info");
  checkLmdb(mdb_env_stat(state_->env, &stat), "reading environment statistics");
  return EnvInfo{
      .mapSize = info.me_mapsize,
      .usedBytes = (info.me_last_pgno + 1) * stat.ms_psize,
      .pageSize = stat.ms_psize,
      .maxReaders = info.me_maxreaders,
      .readersUsed = info.me_numreaders,
  };
}

const std::filesystem::path& Env::path() const { return state_->path; }

bool Env::syncDeferred() const {
  unsigned flags = 0;
  checkLmdb(mdb_env_get_flags(state_->env, &flags), "reading the environment's flags");
  return (flags & MDB_NOSYNC) != 0;
}

void Env::deferSync(bool deferred) {
  if (state_->options.noSync) return;
  checkLmdb(mdb_env_set_flags(state_->env, MDB_NOSYNC, deferred ? 1 : 0), "setting MDB_NOSYNC");
  if (!deferred) checkLmdb(mdb_env_sync(state_->env, 1), fmt::format("{}: syncing", state_->path.string()));
}

void Env::copyTo(const std::filesystem::path& dest, bool compact) const {
  detail::EnvState::GateGuard gate(*state_);
  checkLmdb(mdb_env_copy2(state_->env, dest.c_str(), compact ? MDB_CP_COMPACT : 0),
            fmt::format("{}: copying to {}", state_->path.string(), dest.string()));
}

}  // namespace capdb::engine
