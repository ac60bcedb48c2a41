// The Person workload shared by the object-layer and query suites: 1M records of about 100
// bytes, loaded into capdb (bench/schemas/bench_person.capnp) and into SQLite (a table
// people(id INTEGER PRIMARY KEY, name TEXT, email TEXT UNIQUE, age INTEGER, city TEXT) with
// indexes on age and (city, age), as capdb's annotations declare).
#pragma once

#include <fmt/format.h>
#include <sqlite3.h>
#include <unistd.h>

#include <filesystem>
#include <memory>
#include <stdexcept>
#include <string>

#include "bench/bench_support.h"
#include "bench_person.capnp.h"
#include "capdb/admin.h"
#include "capdb/capdb.h"

namespace capdb::bench {

inline constexpr int64_t kRecords = 1'000'000;
inline const char* const kCities[] = {"London", "Paris", "Lima", "Oslo", "Tokyo", "Cairo", "Quito",
                               "Perth", "Dakar", "Seoul"};

inline std::string nameOf(int64_t i) { return fmt::format("Person Number {}", i); }
inline std::string emailOf(int64_t i) { return fmt::format("user{}@example.com", i); }
inline uint8_t ageOf(int64_t i) { return static_cast<uint8_t>(18 + i % 70); }
inline const char* cityOf(int64_t i) { return kCities[i % 10]; }

inline void check(bool ok, const char* what) {
  if (!ok) throw std::runtime_error(std::string("benchmark result is wrong: ") + what);
}

// A fresh directory for one store, under the suite's own directory (removed by its main()).
inline std::filesystem::path suiteDir() {
  return std::filesystem::temp_directory_path() / ("capdb-bench-" + std::to_string(getpid()));
}

inline std::filesystem::path freshDir(const std::string& name) {
  auto dir = suiteDir() / name;
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  return dir;
}

struct CapdbStore {
  std::unique_ptr<capdb::Database> db;
  std::unique_ptr<capdb::Table<Person>> people;
  explicit CapdbStore(const std::string& name) {
    capdb::Options options;
    options.env.mapSize = size_t{1} << 30;
    db = std::make_unique<capdb::Database>(
        capdb::Database::open(freshDir(name) / "db", capdb::Schemas{capdb::table<Person>()}, options));
    people = std::make_unique<capdb::Table<Person>>(db->table<Person>());
  }
  void load() {
    db->write([&](capdb::WriteTxn& tx) {
      for (int64_t i = 1; i <= kRecords; ++i) {
        people->insert(tx, [&](Person::Builder p) {
          p.setName(nameOf(i));
          p.setEmail(emailOf(i));
          p.setAge(ageOf(i));
          p.setCity(cityOf(i));
        });
      }
    });
  }
  uint64_t count() { return people->count(db->read()); }
  // The pages of the records and of every index, per record (capdb status's storage line).
  double bytesPerRecord() {
    capdb::TableStatus t = capdb::status(*db).tables.at(0);
    uint64_t bytes = t.recordBytes;
    for (const auto& i : t.indexes) bytes += i.bytes;
    return static_cast<double>(bytes) / static_cast<double>(kRecords);
  }
};

struct SqliteStore : SqliteDb {
  explicit SqliteStore(const std::string& name) : SqliteDb(freshDir(name) / "people.sqlite") {
    exec("CREATE TABLE people (id INTEGER PRIMARY KEY, name TEXT, email TEXT UNIQUE, "
         "age INTEGER, city TEXT)");
    exec("CREATE INDEX people_age ON people(age)");
    exec("CREATE INDEX by_city_age ON people(city, age)");
  }
  void load() {
    exec("BEGIN");
    sqlite3_stmt* st = prepare("INSERT INTO people (name, email, age, city) VALUES (?, ?, ?, ?)");
    for (int64_t i = 1; i <= kRecords; ++i) {
      std::string name = nameOf(i), email = emailOf(i);
      sqlite3_bind_text(st, 1, name.data(), static_cast<int>(name.size()), SQLITE_TRANSIENT);
      sqlite3_bind_text(st, 2, email.data(), static_cast<int>(email.size()), SQLITE_TRANSIENT);
      sqlite3_bind_int(st, 3, ageOf(i));
      sqlite3_bind_text(st, 4, cityOf(i), -1, SQLITE_STATIC);
      check(sqlite3_step(st) == SQLITE_DONE, "sqlite insert");
      sqlite3_reset(st);
    }
    sqlite3_finalize(st);
    exec("COMMIT");
  }
  uint64_t count() { return std::stoull(one("SELECT count(*) FROM people")); }
  // The database file's pages (the table and its indexes), per record, once checkpointed.
  double bytesPerRecord() {
    exec("PRAGMA wal_checkpoint(TRUNCATE)");
    double pages = std::stod(one("PRAGMA page_count")), size = std::stod(one("PRAGMA page_size"));
    return pages * size / static_cast<double>(kRecords);
  }
};

// The store of each kind loaded once per process and shared by the read benchmarks.
template <typename Store>
Store& loaded() {
  static Store store = [] {
    Store s("read");
    s.load();
    check(s.count() == kRecords, "every record loaded");
    return s;
  }();
  return store;
}

}  // namespace capdb::bench
