// The engine's floor: point get, sequential insert (MDB_APPEND), random insert and range scan over
// 1M records of 16-byte keys and 100-byte values, for capdb's engine layer, raw LMDB (the C API
// with no wrapper) and SQLite (a WITHOUT ROWID table), each on the same workload in this binary.
// Every benchmark checks its own result. After the runs, a table gives the engine's throughput
// as a ratio against raw LMDB and against SQLite (medians over repetitions).
#include <benchmark/benchmark.h>
#include <fmt/format.h>
#include <lmdb.h>
#include <sqlite3.h>

#include <algorithm>
#include <filesystem>
#include <numeric>
#include <random>
#include <stdexcept>

#include "bench/bench_support.h"
#include "engine/env.h"
#include "engine/lmdb_error.h"

namespace {

using namespace capdb::engine;

constexpr int64_t kRecords = 1'000'000;
constexpr size_t kValueSize = 100;
constexpr int64_t kScanLength = 1000;

std::string keyFor(int64_t i) {
  std::string k(16, '\0');
  for (int b = 0; b < 8; ++b) k[15 - b] = static_cast<char>((i >> (8 * b)) & 0xFF);
  k[0] = 'k';
  return k;
}

std::string valueFor(int64_t i) {
  std::string v(kValueSize, static_cast<char>('a' + i % 26));
  std::copy_n(keyFor(i).data(), 16, v.data());
  return v;
}

const std::vector<int64_t>& shuffled() {
  static const std::vector<int64_t> order = [] {
    std::vector<int64_t> v(kRecords);
    std::iota(v.begin(), v.end(), 0);
    std::shuffle(v.begin(), v.end(), std::mt19937_64(42));
    return v;
  }();
  return order;
}

std::filesystem::path freshDir(const std::string& name) {
  auto dir = std::filesystem::temp_directory_path() / ("capdb-bench-" + std::to_string(getpid())) / name;
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  return dir;
}

void check(bool ok, const char* what) {
  if (!ok) throw std::runtime_error(std::string("benchmark result is wrong: ") + what);
}

// ---- The three stores, each with the same five operations. ----

struct EngineStore {
  std::unique_ptr<Env> env;
  Db db;
  explicit EngineStore(const std::string& name) {
    env = std::make_unique<Env>(Env::open(freshDir(name), EnvOptions{.mapSize = size_t{1} << 30}));
    db = env->write([](WriteTxn& tx) { return tx.createDb("kv"); });
  }
  void load(bool sequential) {
    env->write([&](WriteTxn& tx) {
      for (int64_t j = 0; j < kRecords; ++j) {
        int64_t i = sequential ? j : shuffled()[j];
        if (sequential) tx.append(db, keyFor(i), valueFor(i));
        else tx.put(db, keyFor(i), valueFor(i));
      }
    });
  }
  uint64_t count() { return env->read().count(db); }
};

struct LmdbStore {
  MDB_env* env = nullptr;
  MDB_dbi dbi = 0;
  explicit LmdbStore(const std::string& name) {
    auto dir = freshDir(name);
    checkLmdb(mdb_env_create(&env), "create");
    mdb_env_set_mapsize(env, size_t{1} << 30);
    mdb_env_set_maxdbs(env, 4);
    checkLmdb(mdb_env_open(env, dir.c_str(), MDB_NOTLS, 0644), "open");
    MDB_txn* txn;
    checkLmdb(mdb_txn_begin(env, nullptr, 0, &txn), "begin");
    checkLmdb(mdb_dbi_open(txn, "kv", MDB_CREATE, &dbi), "dbi");
    checkLmdb(mdb_txn_commit(txn), "commit");
  }
  ~LmdbStore() { mdb_env_close(env); }
  void load(bool sequential) {
    MDB_txn* txn;
    checkLmdb(mdb_txn_begin(env, nullptr, 0, &txn), "begin");
    for (int64_t j = 0; j < kRecords; ++j) {
      int64_t i = sequential ? j : shuffled()[j];
      std::string k = keyFor(i), v = valueFor(i);
      MDB_val kv{k.size(), k.data()}, vv{v.size(), v.data()};
      checkLmdb(mdb_put(txn, dbi, &kv, &vv, sequential ? MDB_APPEND : 0), "put");
    }
    checkLmdb(mdb_txn_commit(txn), "commit");
  }
  uint64_t count() {
    MDB_txn* txn;
    mdb_txn_begin(env, nullptr, MDB_RDONLY, &txn);
    MDB_stat st;
    mdb_stat(txn, dbi, &st);
    mdb_txn_abort(txn);
    return st.ms_entries;
  }
};

struct SqliteStore : capdb::bench::SqliteDb {
  explicit SqliteStore(const std::string& name) : SqliteDb(freshDir(name) / "kv.sqlite") {
    exec("CREATE TABLE kv (k BLOB PRIMARY KEY, v BLOB) WITHOUT ROWID");
  }
  void load(bool sequential) {
    exec("BEGIN");
    sqlite3_stmt* st = prepare("INSERT INTO kv (k, v) VALUES (?, ?)");
    for (int64_t j = 0; j < kRecords; ++j) {
      int64_t i = sequential ? j : shuffled()[j];
      std::string k = keyFor(i), v = valueFor(i);
      sqlite3_bind_blob(st, 1, k.data(), static_cast<int>(k.size()), SQLITE_TRANSIENT);
      sqlite3_bind_blob(st, 2, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT);
      check(sqlite3_step(st) == SQLITE_DONE, "sqlite insert");
      sqlite3_reset(st);
    }
    sqlite3_finalize(st);
    exec("COMMIT");
  }
  uint64_t count() { return std::stoull(one("SELECT count(*) FROM kv")); }
};

// Loaded once per process and shared by the read benchmarks.
template <typename Store>
Store& loaded() {
  static Store store = [] {
    Store s("read-" + std::to_string(typeid(Store).hash_code()));
    s.load(true);
    check(s.count() == kRecords, "loaded store holds every record");
    return s;
  }();
  return store;
}

// ---- Inserts: one iteration loads 1M records into a fresh store in one transaction. ----

template <typename Store>
void insertBench(benchmark::State& state, bool sequential) {
  int round = 0;
  for (auto _ : state) {
    state.PauseTiming();
    auto store = std::make_unique<Store>("insert-" + std::to_string(round++));
    state.ResumeTiming();
    store->load(sequential);
    state.PauseTiming();
    check(store->count() == kRecords, "every inserted record is there");
    store.reset();
    state.ResumeTiming();
  }
  state.SetItemsProcessed(state.iterations() * kRecords);
}

// ---- Point gets at random keys. ----

void BM_Get_Engine(benchmark::State& state) {
  auto& s = loaded<EngineStore>();
  ReadTxn tx = s.env->read();
  std::mt19937_64 rng(1);
  int64_t found = 0;
  for (auto _ : state) {
    auto v = tx.get(s.db, keyFor(static_cast<int64_t>(rng() % kRecords)));
    found += v && v->size() == kValueSize;
  }
  check(found == static_cast<int64_t>(state.iterations()), "every get finds its record");
  state.SetItemsProcessed(state.iterations());
}

void BM_Get_Lmdb(benchmark::State& state) {
  auto& s = loaded<LmdbStore>();
  MDB_txn* txn;
  mdb_txn_begin(s.env, nullptr, MDB_RDONLY, &txn);
  std::mt19937_64 rng(1);
  int64_t found = 0;
  for (auto _ : state) {
    std::string k = keyFor(static_cast<int64_t>(rng() % kRecords));
    MDB_val kv{k.size(), k.data()}, vv;
    found += mdb_get(txn, s.dbi, &kv, &vv) == 0 && vv.mv_size == kValueSize;
  }
  mdb_txn_abort(txn);
  check(found == static_cast<int64_t>(state.iterations()), "every get finds its record");
  state.SetItemsProcessed(state.iterations());
}

void BM_Get_Sqlite(benchmark::State& state) {
  auto& s = loaded<SqliteStore>();
  sqlite3_stmt* st = s.prepare("SELECT v FROM kv WHERE k = ?");
  s.exec("BEGIN");
  std::mt19937_64 rng(1);
  int64_t found = 0;
  for (auto _ : state) {
    std::string k = keyFor(static_cast<int64_t>(rng() % kRecords));
    sqlite3_bind_blob(st, 1, k.data(), static_cast<int>(k.size()), SQLITE_STATIC);
    found += sqlite3_step(st) == SQLITE_ROW && sqlite3_column_bytes(st, 0) == kValueSize;
    sqlite3_reset(st);
  }
  s.exec("COMMIT");
  sqlite3_finalize(st);
  check(found == static_cast<int64_t>(state.iterations()), "every get finds its record");
  state.SetItemsProcessed(state.iterations());
}

// ---- Range scans of 1000 consecutive records from random starts. ----

void BM_Scan_Engine(benchmark::State& state) {
  auto& s = loaded<EngineStore>();
  ReadTxn tx = s.env->read();
  std::mt19937_64 rng(2);
  for (auto _ : state) {
    int64_t start = static_cast<int64_t>(rng() % (kRecords - kScanLength));
    int64_t n = 0;
    size_t bytes = 0;
    for (auto [key, value] : tx.scan(s.db, KeyRange::between(keyFor(start), true,
                                                             keyFor(start + kScanLength), false))) {
      bytes += value.size();
      ++n;
    }
    check(n == kScanLength && bytes == kScanLength * kValueSize, "scan sees every record");
  }
  state.SetItemsProcessed(state.iterations() * kScanLength);
}

void BM_Scan_Lmdb(benchmark::State& state) {
  auto& s = loaded<LmdbStore>();
  MDB_txn* txn;
  mdb_txn_begin(s.env, nullptr, MDB_RDONLY, &txn);
  MDB_cursor* c;
  mdb_cursor_open(txn, s.dbi, &c);
  std::mt19937_64 rng(2);
  for (auto _ : state) {
    int64_t start = static_cast<int64_t>(rng() % (kRecords - kScanLength));
    std::string lo = keyFor(start), hi = keyFor(start + kScanLength);
    MDB_val kv{lo.size(), lo.data()}, vv;
    int64_t n = 0;
    size_t bytes = 0;
    for (int rc = mdb_cursor_get(c, &kv, &vv, MDB_SET_RANGE); rc == 0;
         rc = mdb_cursor_get(c, &kv, &vv, MDB_NEXT)) {
      if (std::string_view(static_cast<char*>(kv.mv_data), kv.mv_size) >= hi) break;
      bytes += vv.mv_size;
      ++n;
    }
    check(n == kScanLength && bytes == kScanLength * kValueSize, "scan sees every record");
  }
  mdb_cursor_close(c);
  mdb_txn_abort(txn);
  state.SetItemsProcessed(state.iterations() * kScanLength);
}

void BM_Scan_Sqlite(benchmark::State& state) {
  auto& s = loaded<SqliteStore>();
  sqlite3_stmt* st = s.prepare("SELECT k, v FROM kv WHERE k >= ? AND k < ? ORDER BY k");
  s.exec("BEGIN");
  std::mt19937_64 rng(2);
  for (auto _ : state) {
    int64_t start = static_cast<int64_t>(rng() % (kRecords - kScanLength));
    std::string lo = keyFor(start), hi = keyFor(start + kScanLength);
    sqlite3_bind_blob(st, 1, lo.data(), 16, SQLITE_STATIC);
    sqlite3_bind_blob(st, 2, hi.data(), 16, SQLITE_STATIC);
    int64_t n = 0;
    size_t bytes = 0;
    while (sqlite3_step(st) == SQLITE_ROW) {
      bytes += sqlite3_column_bytes(st, 1);
      ++n;
    }
    sqlite3_reset(st);
    check(n == kScanLength && bytes == kScanLength * kValueSize, "scan sees every record");
  }
  s.exec("COMMIT");
  sqlite3_finalize(st);
  state.SetItemsProcessed(state.iterations() * kScanLength);
}

void registerAll() {
  auto insert = [](const char* name, auto fn) {
    benchmark::RegisterBenchmark(name, fn)->Iterations(1)->Repetitions(3)->Unit(benchmark::kMillisecond)->UseRealTime();
  };
  insert("SeqInsert/Engine", [](benchmark::State& s) { insertBench<EngineStore>(s, true); });
  insert("SeqInsert/Lmdb", [](benchmark::State& s) { insertBench<LmdbStore>(s, true); });
  insert("SeqInsert/Sqlite", [](benchmark::State& s) { insertBench<SqliteStore>(s, true); });
  insert("RandInsert/Engine", [](benchmark::State& s) { insertBench<EngineStore>(s, false); });
  insert("RandInsert/Lmdb", [](benchmark::State& s) { insertBench<LmdbStore>(s, false); });
  insert("RandInsert/Sqlite", [](benchmark::State& s) { insertBench<SqliteStore>(s, false); });
  auto read = [](const char* name, void (*fn)(benchmark::State&)) {
    benchmark::RegisterBenchmark(name, fn)->Repetitions(3);
  };
  read("Get/Engine", BM_Get_Engine);
  read("Get/Lmdb", BM_Get_Lmdb);
  read("Get/Sqlite", BM_Get_Sqlite);
  read("Scan/Engine", BM_Scan_Engine);
  read("Scan/Lmdb", BM_Scan_Lmdb);
  read("Scan/Sqlite", BM_Scan_Sqlite);
}

}  // namespace

int main(int argc, char** argv) {
  registerAll();
  int rc = capdb::bench::runWithRatios(argc, argv, "Engine", {"Lmdb", "Sqlite"});
  std::filesystem::remove_all(std::filesystem::temp_directory_path() /
                              ("capdb-bench-" + std::to_string(getpid())));
  return rc;
}
