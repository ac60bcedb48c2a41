// The object layer against SQLite on 1M Person records (~100 bytes): bulk insert in one
// transaction (with the same three indexes on both sides), point get by primary key, equality
// lookup on the unique email index, and primary-key range scans of 1000 records. SQLite uses
// prepared statements and a table people(id INTEGER PRIMARY KEY, ...) with a UNIQUE email and
// indexes on age and (city, age). Every benchmark checks its results. BulkInsert also reports
// what each side takes on disk per record (bytes/rec: the records and their three indexes).
#include <benchmark/benchmark.h>
#include <fmt/format.h>
#include <sqlite3.h>
#include <unistd.h>

#include <filesystem>
#include <memory>
#include <random>
#include <stdexcept>

#include "bench/bench_support.h"
#include "bench/person_stores.h"

namespace {

using namespace capdb::bench;

constexpr int64_t kScanLength = 1000;

template <typename Store>
void BulkInsert(benchmark::State& state) {
  int round = 0;
  double bytes = 0;
  for (auto _ : state) {
    state.PauseTiming();
    auto store = std::make_unique<Store>("insert-" + std::to_string(round++));
    state.ResumeTiming();
    store->load();
    state.PauseTiming();
    check(store->count() == kRecords, "every record inserted");
    bytes = store->bytesPerRecord();
    store.reset();
    state.ResumeTiming();
  }
  state.SetItemsProcessed(state.iterations() * kRecords);
  // What the records and their three indexes take on disk, per record.
  state.counters["bytes/rec"] = bytes;
}

void Get_Capdb(benchmark::State& state) {
  auto& s = loaded<CapdbStore>();
  auto tx = s.db->read();
  std::mt19937_64 rng(1);
  int64_t ok = 0;
  for (auto _ : state) {
    int64_t id = 1 + static_cast<int64_t>(rng() % kRecords);
    auto row = s.people->get(tx, capdb::Key{id});
    ok += row && row->get().getAge() == ageOf(id);
  }
  check(ok == static_cast<int64_t>(state.iterations()), "every get finds its record");
  state.SetItemsProcessed(state.iterations());
}

void Get_Sqlite(benchmark::State& state) {
  auto& s = loaded<SqliteStore>();
  sqlite3_stmt* st = s.prepare("SELECT id, name, email, age, city FROM people WHERE id = ?");
  s.exec("BEGIN");
  std::mt19937_64 rng(1);
  int64_t ok = 0;
  for (auto _ : state) {
    int64_t id = 1 + static_cast<int64_t>(rng() % kRecords);
    sqlite3_bind_int64(st, 1, id);
    ok += sqlite3_step(st) == SQLITE_ROW && sqlite3_column_int(st, 3) == ageOf(id);
    sqlite3_reset(st);
  }
  s.exec("COMMIT");
  sqlite3_finalize(st);
  check(ok == static_cast<int64_t>(state.iterations()), "every get finds its record");
  state.SetItemsProcessed(state.iterations());
}

void IndexLookup_Capdb(benchmark::State& state) {
  auto& s = loaded<CapdbStore>();
  auto tx = s.db->read();
  std::mt19937_64 rng(3);
  int64_t ok = 0;
  for (auto _ : state) {
    int64_t id = 1 + static_cast<int64_t>(rng() % kRecords);
    auto c = s.people->find(tx, "people_email", capdb::Range::prefix(capdb::Key{emailOf(id)}));
    ok += c.valid() && c.record().getId() == static_cast<uint64_t>(id);
  }
  check(ok == static_cast<int64_t>(state.iterations()), "every lookup finds its record");
  state.SetItemsProcessed(state.iterations());
}

void IndexLookup_Sqlite(benchmark::State& state) {
  auto& s = loaded<SqliteStore>();
  sqlite3_stmt* st = s.prepare("SELECT id, name, email, age, city FROM people WHERE email = ?");
  s.exec("BEGIN");
  std::mt19937_64 rng(3);
  int64_t ok = 0;
  for (auto _ : state) {
    int64_t id = 1 + static_cast<int64_t>(rng() % kRecords);
    std::string email = emailOf(id);
    sqlite3_bind_text(st, 1, email.data(), static_cast<int>(email.size()), SQLITE_STATIC);
    ok += sqlite3_step(st) == SQLITE_ROW && sqlite3_column_int64(st, 0) == id;
    sqlite3_reset(st);
  }
  s.exec("COMMIT");
  sqlite3_finalize(st);
  check(ok == static_cast<int64_t>(state.iterations()), "every lookup finds its record");
  state.SetItemsProcessed(state.iterations());
}

void Scan_Capdb(benchmark::State& state) {
  auto& s = loaded<CapdbStore>();
  auto tx = s.db->read();
  std::mt19937_64 rng(2);
  for (auto _ : state) {
    int64_t start = 1 + static_cast<int64_t>(rng() % (kRecords - kScanLength));
    int64_t n = 0, ages = 0;
    for (auto p : s.people->scan(tx, capdb::Range::between(capdb::Key{start},
                                                            capdb::Key{start + kScanLength}, true, false))) {
      ages += p.getAge();
      ++n;
    }
    check(n == kScanLength && ages > 0, "scan sees every record");
  }
  state.SetItemsProcessed(state.iterations() * kScanLength);
}

void Scan_Sqlite(benchmark::State& state) {
  auto& s = loaded<SqliteStore>();
  sqlite3_stmt* st = s.prepare(
      "SELECT id, name, email, age, city FROM people WHERE id >= ? AND id < ? ORDER BY id");
  s.exec("BEGIN");
  std::mt19937_64 rng(2);
  for (auto _ : state) {
    int64_t start = 1 + static_cast<int64_t>(rng() % (kRecords - kScanLength));
    sqlite3_bind_int64(st, 1, start);
    sqlite3_bind_int64(st, 2, start + kScanLength);
    int64_t n = 0, ages = 0;
    while (sqlite3_step(st) == SQLITE_ROW) {
      ages += sqlite3_column_int(st, 3);
      ++n;
    }
    sqlite3_reset(st);
    check(n == kScanLength && ages > 0, "scan sees every record");
  }
  s.exec("COMMIT");
  sqlite3_finalize(st);
  state.SetItemsProcessed(state.iterations() * kScanLength);
}

}  // namespace

BENCHMARK(BulkInsert<CapdbStore>)->Name("BulkInsert/Capdb")->Iterations(1)->Repetitions(3)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BulkInsert<SqliteStore>)->Name("BulkInsert/Sqlite")->Iterations(1)->Repetitions(3)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(Get_Capdb)->Name("Get/Capdb")->Repetitions(3);
BENCHMARK(Get_Sqlite)->Name("Get/Sqlite")->Repetitions(3);
BENCHMARK(IndexLookup_Capdb)->Name("IndexLookup/Capdb")->Repetitions(3);
BENCHMARK(IndexLookup_Sqlite)->Name("IndexLookup/Sqlite")->Repetitions(3);
BENCHMARK(Scan_Capdb)->Name("Scan/Capdb")->Repetitions(3);
BENCHMARK(Scan_Sqlite)->Name("Scan/Sqlite")->Repetitions(3);

int main(int argc, char** argv) {
  int rc = capdb::bench::runWithRatios(argc, argv, "Capdb", {"Sqlite"});
  std::filesystem::remove_all(capdb::bench::suiteDir());
  return rc;
}
