// SQL against SQLite on the 1M Person records of bench/person_stores.h, both through prepared
// statements with the same indexes: a point query by primary key, an index range with ORDER BY
// and LIMIT, an aggregate over a primary-key range of 1000 records, ORDER BY served by an index,
// and the time to parse and plan a typical statement; and joins over 100k customers and 1M orders
// (a selective join, a join feeding an aggregate, a LEFT JOIN counting partners), with the same
// indexes on both sides. Every benchmark checks its results.
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

// Runs a capdb statement per iteration over the loaded `Store` with the parameters `next` makes;
// `ok` checks each result.
template <typename Store = CapdbStore, typename Next, typename Ok>
void runCapdb(benchmark::State& state, const std::string& sql, Next next, Ok ok) {
  auto& s = loaded<Store>();
  capdb::Statement st = s.db->prepare(sql);
  auto tx = s.db->read();
  std::mt19937_64 rng(1);
  int64_t good = 0;
  for (auto _ : state) good += ok(st.run(tx, next(rng)));
  check(good == static_cast<int64_t>(state.iterations()), "every query returns its rows");
  state.SetItemsProcessed(state.iterations());
}

// The same for SQLite: `bind` binds the parameters, `ok` reads the rows and checks them.
template <typename Store = SqliteStore, typename Bind, typename Ok>
void runSqlite(benchmark::State& state, const std::string& sql, Bind bind, Ok ok) {
  auto& s = loaded<Store>();
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

// The join workload: customer i (1..100k) lives in kCities[i % 10]; order j (1..1M) belongs to
// customer 1 + (j * 7919) % 90000, so the last 10k customers have none, and is worth
// (j % 1000) / 4.
constexpr int64_t kCustomers = 100'000;
constexpr int64_t kOrders = 1'000'000;
constexpr int64_t kWithOrders = 90'000;
int64_t customerOf(int64_t order) { return 1 + (order * 7919) % kWithOrders; }
double amountOf(int64_t order) { return static_cast<double>(order % 1000) / 4; }

struct JoinCapdb {
  std::unique_ptr<capdb::Database> db;
  explicit JoinCapdb(const std::string& name) {
    capdb::Options options;
    options.env.mapSize = size_t{1} << 30;
    db = std::make_unique<capdb::Database>(capdb::Database::open(
        freshDir(name) / "db", capdb::Schemas{capdb::table<Customer>(), capdb::table<Order>()}, options));
  }
  void load() {
    auto customers = db->table<Customer>();
    auto orders = db->table<Order>();
    db->write([&](capdb::WriteTxn& tx) {
      for (int64_t i = 1; i <= kCustomers; ++i) {
        customers.insert(tx, [&](Customer::Builder c) {
          c.setId(i);
          c.setName(fmt::format("Customer {}", i));
          c.setCity(kCities[i % 10]);
        });
      }
      for (int64_t j = 1; j <= kOrders; ++j) {
        orders.insert(tx, [&](Order::Builder o) {
          o.setId(j);
          o.setCustomer(customerOf(j));
          o.setDay(static_cast<int32_t>(j % 1000));
          o.setAmount(amountOf(j));
        });
      }
    });
  }
  uint64_t count() { return db->table<Order>().count(db->read()); }
};

struct JoinSqlite : SqliteDb {
  explicit JoinSqlite(const std::string& name) : SqliteDb(freshDir(name) / "orders.sqlite") {
    exec("CREATE TABLE customers (id INTEGER PRIMARY KEY, name TEXT, city TEXT)");
    exec("CREATE TABLE orders (id INTEGER PRIMARY KEY, customer INTEGER, day INTEGER, amount REAL)");
    exec("CREATE INDEX by_customer_day ON orders(customer, day)");
  }
  void load() {
    exec("BEGIN");
    sqlite3_stmt* st = prepare("INSERT INTO customers VALUES (?, ?, ?)");
    for (int64_t i = 1; i <= kCustomers; ++i) {
      std::string name = fmt::format("Customer {}", i);
      sqlite3_bind_int64(st, 1, i);
      sqlite3_bind_text(st, 2, name.data(), static_cast<int>(name.size()), SQLITE_TRANSIENT);
      sqlite3_bind_text(st, 3, kCities[i % 10], -1, SQLITE_STATIC);
      check(sqlite3_step(st) == SQLITE_DONE, "sqlite insert");
      sqlite3_reset(st);
    }
    sqlite3_finalize(st);
    st = prepare("INSERT INTO orders VALUES (?, ?, ?, ?)");
    for (int64_t j = 1; j <= kOrders; ++j) {
      sqlite3_bind_int64(st, 1, j);
      sqlite3_bind_int64(st, 2, customerOf(j));
      sqlite3_bind_int64(st, 3, j % 1000);
      sqlite3_bind_double(st, 4, amountOf(j));
      check(sqlite3_step(st) == SQLITE_DONE, "sqlite insert");
      sqlite3_reset(st);
    }
    sqlite3_finalize(st);
    exec("COMMIT");
  }
  uint64_t count() { return std::stoull(one("SELECT count(*) FROM orders")); }
};

// 10 customers' orders with their names: about 110 rows, the customers read by key first.
const std::string kJoinSelective =
    "SELECT c.name, o.id, o.amount FROM customers c JOIN orders o ON o.customer = c.id "
    "WHERE c.id BETWEEN ? AND ?";
// 1000 orders' amounts summed by their customer's city.
const std::string kJoinAggregate =
    "SELECT c.city, count(*), sum(o.amount) FROM orders o JOIN customers c ON c.id = o.customer "
    "WHERE o.id BETWEEN ? AND ? GROUP BY c.city";
// 100 customers with the number of their orders, none for those without.
const std::string kLeftJoinCount =
    "SELECT c.id, count(o.id) FROM customers c LEFT JOIN orders o ON o.customer = c.id "
    "WHERE c.id BETWEEN ? AND ? GROUP BY c.id";

// The orders of customers first..last, counted once from the workload's formula.
int64_t ordersOf(int64_t first, int64_t last) {
  static const std::vector<int64_t> perCustomer = [] {
    std::vector<int64_t> n(kCustomers + 1, 0);
    for (int64_t j = 1; j <= kOrders; ++j) ++n[static_cast<size_t>(customerOf(j))];
    return n;
  }();
  int64_t n = 0;
  for (int64_t c = first; c <= last && c <= kCustomers; ++c) n += perCustomer[static_cast<size_t>(c)];
  return n;
}

bool isCustomer(std::string_view name) { return name.rfind("Customer ", 0) == 0; }

void JoinSelective_Capdb(benchmark::State& state) {
  int64_t first = 0;
  runCapdb<JoinCapdb>(state, kJoinSelective,
               [&](auto& rng) {
                 first = 1 + static_cast<int64_t>(rng() % (kWithOrders - 10));
                 return capdb::Params{first, first + 9};
               },
               [&](const capdb::ResultSet& r) {
                 bool ok = static_cast<int64_t>(r.size()) == ordersOf(first, first + 9);
                 for (const auto& row : r.rows) ok = ok && isCustomer(row[0].text()) && row[2].real() >= 0;
                 return ok;
               });
}

void JoinSelective_Sqlite(benchmark::State& state) {
  int64_t first = 0;
  runSqlite<JoinSqlite>(state, kJoinSelective,
                [&](sqlite3_stmt* st, auto& rng) {
                  first = 1 + static_cast<int64_t>(rng() % (kWithOrders - 10));
                  sqlite3_bind_int64(st, 1, first);
                  sqlite3_bind_int64(st, 2, first + 9);
                },
                [&](sqlite3_stmt* st) {
                  int64_t n = 0;
                  bool ok = true;
                  while (sqlite3_step(st) == SQLITE_ROW) {
                    ok = ok && isCustomer(text(st, 0)) && sqlite3_column_double(st, 2) >= 0;
                    ++n;
                  }
                  return ok && n == ordersOf(first, first + 9);
                });
}

void JoinAggregate_Capdb(benchmark::State& state) {
  runCapdb<JoinCapdb>(state, kJoinAggregate,
               [](auto& rng) {
                 int64_t from = 1 + static_cast<int64_t>(rng() % (kOrders - 1000));
                 return capdb::Params{from, from + 999};
               },
               [](const capdb::ResultSet& r) {
                 int64_t n = 0;
                 for (const auto& row : r.rows) n += row[1].integer();
                 return r.size() == 10 && n == 1000;
               });
}

void JoinAggregate_Sqlite(benchmark::State& state) {
  runSqlite<JoinSqlite>(state, kJoinAggregate,
                [](sqlite3_stmt* st, auto& rng) {
                  int64_t from = 1 + static_cast<int64_t>(rng() % (kOrders - 1000));
                  sqlite3_bind_int64(st, 1, from);
                  sqlite3_bind_int64(st, 2, from + 999);
                },
                [](sqlite3_stmt* st) {
                  int64_t n = 0, groups = 0;
                  while (sqlite3_step(st) == SQLITE_ROW) {
                    n += sqlite3_column_int64(st, 1);
                    ++groups;
                  }
                  return groups == 10 && n == 1000;
                });
}

// Customers first..first+99, where the last 10k have no orders: the ranges straddle that edge.
int64_t leftFirst(std::mt19937_64& rng) {
  return kWithOrders - 5000 + static_cast<int64_t>(rng() % 10000);
}

void LeftJoinCount_Capdb(benchmark::State& state) {
  int64_t first = 0;
  runCapdb<JoinCapdb>(state, kLeftJoinCount,
               [&](auto& rng) {
                 first = leftFirst(rng);
                 return capdb::Params{first, first + 99};
               },
               [&](const capdb::ResultSet& r) {
                 int64_t n = 0;
                 for (const auto& row : r.rows) n += row[1].integer();
                 return r.size() == 100 && n == ordersOf(first, first + 99);
               });
}

void LeftJoinCount_Sqlite(benchmark::State& state) {
  int64_t first = 0;
  runSqlite<JoinSqlite>(state, kLeftJoinCount,
                [&](sqlite3_stmt* st, auto& rng) {
                  first = leftFirst(rng);
                  sqlite3_bind_int64(st, 1, first);
                  sqlite3_bind_int64(st, 2, first + 99);
                },
                [&](sqlite3_stmt* st) {
                  int64_t n = 0, rows = 0;
                  while (sqlite3_step(st) == SQLITE_ROW) {
                    n += sqlite3_column_int64(st, 1);
                    ++rows;
                  }
                  return rows == 100 && n == ordersOf(first, first + 99);
                });
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
BENCHMARK(JoinSelective_Capdb)->Name("JoinSelective/Capdb")->Repetitions(3);
BENCHMARK(JoinSelective_Sqlite)->Name("JoinSelective/Sqlite")->Repetitions(3);
BENCHMARK(JoinAggregate_Capdb)->Name("JoinAggregate/Capdb")->Repetitions(3);
BENCHMARK(JoinAggregate_Sqlite)->Name("JoinAggregate/Sqlite")->Repetitions(3);
BENCHMARK(LeftJoinCount_Capdb)->Name("LeftJoinCount/Capdb")->Repetitions(3);
BENCHMARK(LeftJoinCount_Sqlite)->Name("LeftJoinCount/Sqlite")->Repetitions(3);

int main(int argc, char** argv) {
  int rc = capdb::bench::runWithRatios(argc, argv, "Capdb", {"Sqlite"});
  std::filesystem::remove_all(capdb::bench::suiteDir());
  return rc;
}
