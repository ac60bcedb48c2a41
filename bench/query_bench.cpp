// SQL against SQLite on the 1M Person records of bench/person_stores.h, both through prepared
// statements with the same indexes: a point query by primary key, an index range with ORDER BY
// and LIMIT, an aggregate over a primary-key range of 1000 records, ORDER BY served by an index,
// and the time to parse and plan a typical statement. Every benchmark checks its results.
#include <benchmark/benchmark.h>
#include <sqlite3.h>

#include <random>

#include "bench/bench_support.h"
#include "bench/person_stores.h"

namespace {

using namespace capdb::bench;

constexpr int64_t kRangeLength = 1000;
const std::string kPoint = "SELECT name, age FROM people WHERE id = ?";
const std::string kIndexRange =
    "SELECT id, name FROM people WHERE city = ? AND age > ? ORDER BY age LIMIT 10";
const std::string kAggregate =
    "SELECT count(*), avg(age), max(name) FROM people WHERE id >= ? AND id < ?";
const std::string kOrderByIndex = "SELECT name, age FROM people WHERE age >= ? ORDER BY age LIMIT 100";
const std::string kTypical =
    "SELECT id, name, email FROM people WHERE city = 'Paris' AND age BETWEEN 30 AND 40 AND name "
    "LIKE 'Person%' ORDER BY age DESC LIMIT 20";

// Runs a capdb statement per iteration with the parameters `next` makes; `ok` checks each result.
template <typename Next, typename Ok>
void runCapdb(benchmark::State& state, const std::string& sql, Next next, Ok ok) {
  auto& s = loaded<CapdbStore>();
  capdb::Statement st = s.db->prepare(sql);
  auto tx = s.db->read();
  std::mt19937_64 rng(1);
  int64_t good = 0;
  for (auto _ : state) good += ok(st.run(tx, next(rng)));
  check(good == static_cast<int64_t>(state.iterations()), "every query returns its rows");
  state.SetItemsProcessed(state.iterations());
}

// The same for SQLite: `bind` binds the parameters, `ok` reads the rows and checks them.
template <typename Bind, typename Ok>
void runSqlite(benchmark::State& state, const std::string& sql, Bind bind, Ok ok) {
  auto& s = loaded<SqliteStore>();
  sqlite3_stmt* st = s.prepare(sql);
  s.exec("BEGIN");
  std::mt19937_64 rng(1);
  int64_t good = 0;
  for (auto _ : state) {
    bind(st, rng);
    good += ok(st);
    sqlite3_reset(st);
  }
  s.exec("COMMIT");
  sqlite3_finalize(st);
  check(good == static_cast<int64_t>(state.iterations()), "every query returns its rows");
  state.SetItemsProcessed(state.iterations());
}

int64_t randomId(std::mt19937_64& rng) { return 1 + static_cast<int64_t>(rng() % kRecords); }

void Point_Capdb(benchmark::State& state) {
  int64_t id = 0;
  runCapdb(state, kPoint, [&](auto& rng) { return capdb::Params{id = randomId(rng)}; },
           [&](const capdb::ResultSet& r) { return r.size() == 1 && r.at(0, 1).integer() == ageOf(id); });
}

void Point_Sqlite(benchmark::State& state) {
  int64_t id = 0;
  runSqlite(state, kPoint, [&](sqlite3_stmt* st, auto& rng) { sqlite3_bind_int64(st, 1, id = randomId(rng)); },
            [&](sqlite3_stmt* st) {
              return sqlite3_step(st) == SQLITE_ROW && sqlite3_column_int(st, 1) == ageOf(id);
            });
}

void IndexRangeLimit_Capdb(benchmark::State& state) {
  runCapdb(state, kIndexRange,
           [](auto& rng) { return capdb::Params{kCities[rng() % 10], static_cast<int64_t>(18 + rng() % 50)}; },
           [](const capdb::ResultSet& r) { return r.size() == 10; });
}

void IndexRangeLimit_Sqlite(benchmark::State& state) {
  runSqlite(state, kIndexRange,
            [](sqlite3_stmt* st, auto& rng) {
              sqlite3_bind_text(st, 1, kCities[rng() % 10], -1, SQLITE_STATIC);
              sqlite3_bind_int64(st, 2, static_cast<int64_t>(18 + rng() % 50));
            },
            [](sqlite3_stmt* st) {
              int n = 0;
              while (sqlite3_step(st) == SQLITE_ROW) ++n;
              return n == 10;
            });
}

void AggregateRange_Capdb(benchmark::State& state) {
  runCapdb(state, kAggregate,
           [](auto& rng) {
             int64_t start = 1 + static_cast<int64_t>(rng() % (kRecords - kRangeLength));
             return capdb::Params{start, start + kRangeLength};
           },
           [](const capdb::ResultSet& r) { return r.at(0, 0).integer() == kRangeLength; });
}

void AggregateRange_Sqlite(benchmark::State& state) {
  runSqlite(state, kAggregate,
            [](sqlite3_stmt* st, auto& rng) {
              int64_t start = 1 + static_cast<int64_t>(rng() % (kRecords - kRangeLength));
              sqlite3_bind_int64(st, 1, start);
              sqlite3_bind_int64(st, 2, start + kRangeLength);
            },
            [](sqlite3_stmt* st) {
              return sqlite3_step(st) == SQLITE_ROW && sqlite3_column_int64(st, 0) == kRangeLength;
            });
}

void OrderByIndex_Capdb(benchmark::State& state) {
  runCapdb(state, kOrderByIndex, [](auto& rng) { return capdb::Params{static_cast<int64_t>(18 + rng() % 60)}; },
           [](const capdb::ResultSet& r) {
             return r.size() == 100 && r.at(0, 1).integer() <= r.at(99, 1).integer();
           });
}

void OrderByIndex_Sqlite(benchmark::State& state) {
  runSqlite(state, kOrderByIndex,
            [](sqlite3_stmt* st, auto& rng) { sqlite3_bind_int64(st, 1, static_cast<int64_t>(18 + rng() % 60)); },
            [](sqlite3_stmt* st) {
              int n = 0;
              int64_t first = -1, last = -1;
              while (sqlite3_step(st) == SQLITE_ROW) {
                last = sqlite3_column_int64(st, 1);
                if (first < 0) first = last;
                ++n;
              }
              return n == 100 && first <= last;
            });
}

void ParsePlan_Capdb(benchmark::State& state) {
  auto& s = loaded<CapdbStore>();
  int64_t good = 0;
  for (auto _ : state) {
    capdb::Statement st = s.db->prepare(kTypical);
    good += st.explain().rfind("INDEX", 0) == 0;
  }
  check(good == static_cast<int64_t>(state.iterations()), "the statement uses an index");
  state.SetItemsProcessed(state.iterations());
}

void ParsePlan_Sqlite(benchmark::State& state) {
  auto& s = loaded<SqliteStore>();
  int64_t good = 0;
  for (auto _ : state) {
    sqlite3_stmt* st = s.prepare(kTypical);
    good += st != nullptr;
    sqlite3_finalize(st);
  }
  check(good == static_cast<int64_t>(state.iterations()), "the statement prepares");
  state.SetItemsProcessed(state.iterations());
}

}  // namespace

BENCHMARK(Point_Capdb)->Name("Point/Capdb")->Repetitions(3);
BENCHMARK(Point_Sqlite)->Name("Point/Sqlite")->Repetitions(3);
BENCHMARK(IndexRangeLimit_Capdb)->Name("IndexRangeLimit/Capdb")->Repetitions(3);
BENCHMARK(IndexRangeLimit_Sqlite)->Name("IndexRangeLimit/Sqlite")->Repetitions(3);
BENCHMARK(AggregateRange_Capdb)->Name("AggregateRange/Capdb")->Repetitions(3);
BENCHMARK(AggregateRange_Sqlite)->Name("AggregateRange/Sqlite")->Repetitions(3);
BENCHMARK(OrderByIndex_Capdb)->Name("OrderByIndex/Capdb")->Repetitions(3);
BENCHMARK(OrderByIndex_Sqlite)->Name("OrderByIndex/Sqlite")->Repetitions(3);
BENCHMARK(ParsePlan_Capdb)->Name("ParsePlan/Capdb")->Repetitions(3);
BENCHMARK(ParsePlan_Sqlite)->Name("ParsePlan/Sqlite")->Repetitions(3);

int main(int argc, char** argv) {
  int rc = capdb::bench::runWithRatios(argc, argv, "Capdb", {"Sqlite"});
  std::filesystem::remove_all(capdb::bench::suiteDir());
  return rc;
}
