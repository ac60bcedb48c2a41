// SQL against SQLite on the 1M Person records of bench/person_stores.h, both through prepared
// statements with the same indexes: a point query by primary key, an index range with ORDER BY
// and LIMIT, an aggregate over a primary-key range of 1000 records, ORDER BY served by an index,
// and the time to parse and plan a typical statement. Every benchmark checks its results.
#include <benchmark/benchmark.h>
#include <sqlite3.h>

#include <random>
#include <string_view>

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

// Both sides read every column they select and check it the same way: capdb's rows are values
// the app keeps, SQLite's are read through sqlite3_column_* (text without a copy).
bool isName(std::string_view name) { return name.rfind("Person Number ", 0) == 0; }
// A column's text, not copied ("" for NULL).
std::string_view text(sqlite3_stmt* st, int column) {
  auto* text = reinterpret_cast<const char*>(sqlite3_column_text(st, column));
  return text ? std::string_view(text, static_cast<size_t>(sqlite3_column_bytes(st, column))) : std::string_view();
}
bool isName(sqlite3_stmt* st, int column) { return isName(text(st, column)); }

void Point_Capdb(benchmark::State& state) {
  int64_t id = 0;
  runCapdb(state, kPoint, [&](auto& rng) { return capdb::Params{id = randomId(rng)}; },
           [&](const capdb::ResultSet& r) {
             return r.size() == 1 && isName(r.at(0, 0).text()) && r.at(0, 1).integer() == ageOf(id);
           });
}

void Point_Sqlite(benchmark::State& state) {
  int64_t id = 0;
  runSqlite(state, kPoint, [&](sqlite3_stmt* st, auto& rng) { sqlite3_bind_int64(st, 1, id = randomId(rng)); },
            [&](sqlite3_stmt* st) {
              return sqlite3_step(st) == SQLITE_ROW && isName(st, 0) &&
                     sqlite3_column_int(st, 1) == ageOf(id) && sqlite3_step(st) == SQLITE_DONE;
            });
}

// The rows of city kCities[city] are the ids i with i % 10 == city.
void IndexRangeLimit_Capdb(benchmark::State& state) {
  size_t city = 0;
  runCapdb(state, kIndexRange,
           [&](auto& rng) {
             city = rng() % 10;
             return capdb::Params{kCities[city], static_cast<int64_t>(18 + rng() % 50)};
           },
           [&](const capdb::ResultSet& r) {
             bool ok = r.size() == 10;
             for (const auto& row : r.rows) {
               ok = ok && static_cast<size_t>(row[0].integer() % 10) == city && isName(row[1].text());
             }
             return ok;
           });
}

void IndexRangeLimit_Sqlite(benchmark::State& state) {
  size_t city = 0;
  runSqlite(state, kIndexRange,
            [&](sqlite3_stmt* st, auto& rng) {
              city = rng() % 10;
              sqlite3_bind_text(st, 1, kCities[city], -1, SQLITE_STATIC);
              sqlite3_bind_int64(st, 2, static_cast<int64_t>(18 + rng() % 50));
            },
            [&](sqlite3_stmt* st) {
              int n = 0;
              bool ok = true;
              while (sqlite3_step(st) == SQLITE_ROW) {
                ok = ok && static_cast<size_t>(sqlite3_column_int64(st, 0) % 10) == city && isName(st, 1);
                ++n;
              }
              return ok && n == 10;
            });
}

bool aggregateOk(int64_t count, double avg, std::string_view maxName) {
  return count == kRangeLength && avg >= 18 && avg <= 87 && isName(maxName);
}

void AggregateRange_Capdb(benchmark::State& state) {
  runCapdb(state, kAggregate,
           [](auto& rng) {
             int64_t start = 1 + static_cast<int64_t>(rng() % (kRecords - kRangeLength));
             return capdb::Params{start, start + kRangeLength};
           },
           [](const capdb::ResultSet& r) {
             return aggregateOk(r.at(0, 0).integer(), r.at(0, 1).real(), r.at(0, 2).text());
           });
}

void AggregateRange_Sqlite(benchmark::State& state) {
  runSqlite(state, kAggregate,
            [](sqlite3_stmt* st, auto& rng) {
              int64_t start = 1 + static_cast<int64_t>(rng() % (kRecords - kRangeLength));
              sqlite3_bind_int64(st, 1, start);
              sqlite3_bind_int64(st, 2, start + kRangeLength);
            },
            [](sqlite3_stmt* st) {
              return sqlite3_step(st) == SQLITE_ROW &&
                     aggregateOk(sqlite3_column_int64(st, 0), sqlite3_column_double(st, 1), text(st, 2)) &&
                     sqlite3_step(st) == SQLITE_DONE;
            });
}

void OrderByIndex_Capdb(benchmark::State& state) {
  int64_t from = 0;
  runCapdb(state, kOrderByIndex,
           [&](auto& rng) { return capdb::Params{from = static_cast<int64_t>(18 + rng() % 60)}; },
           [&](const capdb::ResultSet& r) {
             bool ok = r.size() == 100;
             int64_t last = from;
             for (const auto& row : r.rows) {
               ok = ok && isName(row[0].text()) && row[1].integer() >= last;
               last = row[1].integer();
             }
             return ok;
           });
}

void OrderByIndex_Sqlite(benchmark::State& state) {
  int64_t from = 0;
  runSqlite(state, kOrderByIndex,
            [&](sqlite3_stmt* st, auto& rng) { sqlite3_bind_int64(st, 1, from = static_cast<int64_t>(18 + rng() % 60)); },
            [&](sqlite3_stmt* st) {
              int n = 0;
              bool ok = true;
              int64_t last = from;
              while (sqlite3_step(st) == SQLITE_ROW) {
                ok = ok && isName(st, 0) && sqlite3_column_int64(st, 1) >= last;
                last = sqlite3_column_int64(st, 1);
                ++n;
              }
              return ok && n == 100;
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
