// Migration throughput on 1M Person records (~100 bytes), with the peers on the same data in the
// same run:
// - eager rewrites for six changes: add a computed field, split a text field in two, change a
//   field's type through a converter, a chain of three steps, a new primary key (every record
//   moves), and a rename (which must rewrite nothing);
// - raw LMDB rewriting every value in place (copy, change one byte, put back, in the same
//   batches): the physical limit;
// - SQLite doing the same migration in one transaction (ALTER TABLE ADD COLUMN + UPDATE, and the
//   12-step table rebuild for the type change and the new key);
// - lazy: opening after a schema change at 100k and at 1M records, reading an old-version record
//   against a newest-version one, and hybrid drain throughput;
// - index builds: opening after a change that adds an index over a computed field (at 100k and
//   1M: the open reads no record), the build of a new index by drain against SQLite's CREATE
//   INDEX (WAL, synchronous=FULL, timed through its COMMIT), and the whole change (computed
//   field and its index) by drain against SQLite's ALTER + UPDATE + CREATE INDEX.
// CAPDB_BENCH_RECORDS overrides the record count (default 1,000,000).
#include <benchmark/benchmark.h>
#include <fmt/format.h>
#include <lmdb.h>
#include <sqlite3.h>
#include <fcntl.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <optional>
#include <random>
#include <stdexcept>

#include "bench/bench_support.h"
#include "capdb/capdb.h"
#include "migration_person.capnp.h"
#include "engine/lmdb_error.h"
#include "orm/schema_file.h"
#include "orm/table_reader.h"
#include "db/database_state.h"

namespace {

namespace fs = std::filesystem;
using capnp::DynamicStruct;

int64_t records() {
  static int64_t n = [] {
    const char* env = std::getenv("CAPDB_BENCH_RECORDS");
    return env ? std::max<int64_t>(1000, std::atoll(env)) : 1'000'000;
  }();
  return n;
}
constexpr uint64_t kBatch = 10'000;

void check(bool ok, const std::string& what) {
  if (!ok) throw std::runtime_error("benchmark result is wrong: " + what);
}

fs::path root() {
  static fs::path dir = [] {
    auto d = fs::temp_directory_path() / ("capdb-migration-bench-" + std::to_string(getpid()));
    fs::create_directories(d);
    return d;
  }();
  return dir;
}

// Schemas, parsed at run time: version 1 and what each workload changes it into.
struct Schemas {
  capdb::orm::SchemaFile v1, added, addedIndexed, emailIndexed, split, typed, renamed, chain2,
      chain3, chain4, byEmail;
  static capdb::orm::SchemaFile parse(const std::string& name, uint32_t version,
                                      const std::string& fields, const std::string& key = "id") {
    fs::path p = root() / (name + ".capnp");
    std::ofstream(p) << "@0xd4c3b2a1f0e9d8c7;\nusing Db = import \"/capdb/annotations.capnp\";\n"
                     << "struct Person $Db.table(\"people\") $Db.version(" << version
                     << ") $Db.primaryKey([\"" << key << "\"]) { " << fields << " }\n";
    return capdb::orm::parseSchemaFile(p);
  }
  Schemas() {
    const std::string base =
        "id @0 :UInt64; name @1 :Text; email @2 :Text; age @3 :UInt8; city @4 :Text; "
        "score @5 :Float64;";
    v1 = parse("v1", 1, base);
    added = parse("added", 2, base + " nameLength @6 :UInt32;");
    addedIndexed = parse("addedIndexed", 2, base + " nameLength @6 :UInt32 $Db.indexed;");
    emailIndexed = parse("emailIndexed", 1,
                         "id @0 :UInt64; name @1 :Text; email @2 :Text $Db.unique; age @3 :UInt8; "
                         "city @4 :Text; score @5 :Float64;");
    split = parse("split", 2,
                  "id @0 :UInt64; firstName @1 :Text; email @2 :Text; age @3 :UInt8; "
                  "city @4 :Text; score @5 :Float64; lastName @6 :Text;");
    typed = parse("typed", 2,
                  "id @0 :UInt64; name @1 :Text; email @2 :Text; age @3 :UInt8; city @4 :Text; "
                  "score @5 :Int64;");
    renamed = parse("renamed", 2,
                    "id @0 :UInt64; fullName @1 :Text; email @2 :Text; age @3 :UInt8; "
                    "city @4 :Text; score @5 :Float64;");
    chain2 = parse("chain2", 2, base + " nameLength @6 :UInt32;");
    chain3 = parse("chain3", 3, base + " nameLength @6 :UInt32; band @7 :UInt8;");
    chain4 = parse("chain4", 4, base + " nameLength @6 :UInt32; band @7 :UInt8; tag @8 :Text;");
    byEmail = parse("byEmail", 2, base, "email");
  }
};

Schemas& schemas() {
  static Schemas s;
  return s;
}

std::string nameOf(int64_t i) { return fmt::format("Person{} Number{}", i, i * 7); }

// The version-1 database, built once and copied for each run.
const fs::path& capdbSource(int64_t n) {
  static std::map<int64_t, fs::path> built;
  auto it = built.find(n);
  if (it != built.end()) return it->second;
  fs::path dir = root() / fmt::format("source-{}", n);
  capdb::Options options;
  options.env.mapSize = size_t{1} << 30;
  capdb::Database db =
      capdb::Database::open(dir, capdb::Schemas{schemas().v1.tables[0]}, options);
  auto people = db.table("people");
  db.write([&](capdb::WriteTxn& tx) {
    for (int64_t i = 1; i <= n; ++i) {
      people.insert(tx, [&](DynamicStruct::Builder b) {
        b.set("id", i);
        b.set("name", capnp::Text::Reader(nameOf(i).c_str()));
        b.set("email", capnp::Text::Reader(fmt::format("user{}@example.com", i).c_str()));
        b.set("age", static_cast<uint8_t>(18 + i % 70));
        b.set("city", "London");
        b.set("score", static_cast<double>(i % 1000) / 8);
      });
    }
  });
  return built.emplace(n, dir).first->second;
}

// A copy of a database, flushed to disk, so that the first commit in it does not pay for
// writing back the copy.
fs::path copyOf(const fs::path& source, const std::string& name) {
  fs::path dest = root() / name;
  fs::remove_all(dest);
  fs::copy(source, dest, fs::copy_options::recursive);
  for (const auto& entry : fs::directory_iterator(dest)) {
    int fd = ::open(entry.path().c_str(), O_RDONLY);
    if (fd >= 0) {
      ::fsync(fd);
      ::close(fd);
    }
  }
  return dest;
}

capdb::Options eagerOptions(const capdb::Migrations* m) {
  capdb::Options o;
  o.env.mapSize = size_t{1} << 30;
  o.migrations = m;
  o.mode = capdb::MigrationMode::Eager;
  o.eager.batchRecords = kBatch;
  return o;
}

// ---- capdb eager workloads ----

// The add-a-computed-field step, by field name: the one the lazy and drain workloads use too.
void addNameLength(capdb::Migrations& m) {
  m.step("people", 1, 2, [](capdb::StepRecord old, capdb::StepBuilder next) {
    next.set("nameLength", old.get("name").as<capnp::Text>().size());
  }, {.writes = {"nameLength"}});
}

void runEager(benchmark::State& state, const capdb::orm::SchemaFile& target,
              const capdb::Migrations& m, bool expectRewrite,
              const std::function<void(capdb::Database&)>& verify) {
  const fs::path& source = capdbSource(records());
  uint64_t bytes = 0;
  for (auto _ : state) {
    state.PauseTiming();
    fs::path dir = copyOf(source, "eager");
    state.ResumeTiming();
    capdb::Options o = eagerOptions(&m);
    std::optional<capdb::Database> db;
    db.emplace(capdb::Database::open(dir, capdb::Schemas{target.tables[0]}, o));
    state.PauseTiming();
    check(db->oldRecords() == 0, "every record migrated");
    auto info = capdb::internal::env(*db).info();
    bytes += info.usedBytes;
    verify(*db);
    db.reset();  // closing is not the migration's work, here or for the peers
    state.ResumeTiming();
  }
  state.SetItemsProcessed(state.iterations() * records());
  state.counters["MB/s"] = benchmark::Counter(static_cast<double>(bytes) / 1e6,
                                              benchmark::Counter::kIsRate);
  (void)expectRewrite;
}

void verifyOne(capdb::Database& db, int64_t id, const char* field, const std::string& expected) {
  auto tx = db.read();
  auto row = db.table("people").get(tx, capdb::Key{id});
  check(row.has_value(), "record present");
  auto value = row->get().get(field);
  std::string got = value.getType() == capnp::DynamicValue::TEXT
                        ? std::string(value.as<capnp::Text>().cStr())
                        : std::to_string(value.as<int64_t>());
  check(got == expected, fmt::format("{} of {} is {}, expected {}", field, id, got, expected));
}

void AddField_Capdb(benchmark::State& state) {
  capdb::Migrations m;
  addNameLength(m);
  runEager(state, schemas().added, m, true, [](capdb::Database& db) {
    verifyOne(db, 7, "nameLength", std::to_string(nameOf(7).size()));
  });
}

// The same step with Cap'n Proto's own types, whose by-name lookups read the schema each time.
void AddFieldDynamic_Capdb(benchmark::State& state) {
  capdb::Migrations m;
  m.step("people", 1, 2, [](DynamicStruct::Reader old, DynamicStruct::Builder next) {
    next.set("nameLength", old.get("name").as<capnp::Text>().size());
  }, {.writes = {"nameLength"}});
  runEager(state, schemas().added, m, true, [](capdb::Database& db) {
    verifyOne(db, 7, "nameLength", std::to_string(nameOf(7).size()));
  });
}

void AddFieldTyped_Capdb(benchmark::State& state) {
  capdb::Migrations m;
  m.typedStep<capdb::bench::PersonV1, capdb::bench::PersonAdded>(
      "people", 1, 2,
      [](capdb::bench::PersonV1::Reader old, capdb::bench::PersonAdded::Builder next) {
        next.setNameLength(old.getName().size());
      },
      {.writes = {"nameLength"}});
  runEager(state, schemas().added, m, true, [](capdb::Database& db) {
    verifyOne(db, 7, "nameLength", std::to_string(nameOf(7).size()));
  });
}

void Split_Capdb(benchmark::State& state) {
  capdb::Migrations m;
  m.step("people", 1, 2, [](capdb::StepRecord old, capdb::StepBuilder next) {
    auto name = old.get("name").as<capnp::Text>();
    std::string_view s(name.cStr(), name.size());
    auto space = s.find(' ');
    next.set("firstName", capnp::Text::Reader(s.data(), space));
    next.set("lastName", capnp::Text::Reader(std::string(s.substr(space + 1)).c_str()));
  }, {.writes = {"firstName", "lastName"}});
  runEager(state, schemas().split, m, true, [](capdb::Database& db) {
    verifyOne(db, 7, "lastName", "Number49");
  });
}

void TypeChange_Capdb(benchmark::State& state) {
  capdb::Migrations m;
  m.step("people", 1, 2, [](capdb::StepRecord old, capdb::StepBuilder next) {
    next.set("score", static_cast<int64_t>(old.get("score").as<double>() * 100));
  }, {.writes = {"score"}});
  runEager(state, schemas().typed, m, true, [](capdb::Database& db) {
    verifyOne(db, 7, "score", std::to_string(static_cast<int64_t>(7.0 / 8 * 100)));
  });
}

void Chain_Capdb(benchmark::State& state) {
  capdb::Migrations m;
  m.step("people", 1, 2, [](capdb::StepRecord old, capdb::StepBuilder next) {
    next.set("nameLength", old.get("name").as<capnp::Text>().size());
  }, {.writes = {"nameLength"}, .target = schemas().chain2.tables[0].schema});
  m.step("people", 2, 3, [](capdb::StepRecord old, capdb::StepBuilder next) {
    next.set("band", static_cast<uint8_t>(old.get("age").as<uint8_t>() / 10));
  }, {.writes = {"band"}, .target = schemas().chain3.tables[0].schema});
  m.step("people", 3, 4, [](capdb::StepRecord old, capdb::StepBuilder next) {
    next.set("tag", old.get("band").as<uint8_t>() >= 5 ? "senior" : "junior");
  }, {.writes = {"tag"}});
  runEager(state, schemas().chain4, m, true, [](capdb::Database& db) {
    verifyOne(db, 7, "tag", (18 + 7 % 70) / 10 >= 5 ? "senior" : "junior");
  });
}

void Rename_Capdb(benchmark::State& state) {
  capdb::Migrations none;
  runEager(state, schemas().renamed, none, false, [](capdb::Database& db) {
    verifyOne(db, 7, "fullName", nameOf(7));
    auto tx = db.read();
    check(db.table("people").get(tx, capdb::Key{7})->version() == 1, "a rename rewrites nothing");
  });
}

// A new primary key (the email instead of the id), no step: every record moves to its new key,
// through the scratch database and back.
void ChangeKey_Capdb(benchmark::State& state) {
  capdb::Migrations none;
  runEager(state, schemas().byEmail, none, true, [](capdb::Database& db) {
    auto tx = db.read();
    auto row = db.table("people").get(tx, capdb::Key{"user7@example.com"});
    check(row.has_value() && row->get().get("id").as<uint64_t>() == 7, "record 7 under its email");
    check(db.table("people").count(tx) == static_cast<uint64_t>(records()), "every record moved");
  });
}

// ---- raw LMDB: rewrite every value in place, in the same batches ----

// `cursorPuts`: the batch is written back through one cursor (mdb_cursor_put), as capdb's eager
// rewrite does, rather than by mdb_put; ascending keys then skip most of each descent.
void rawRewrite(benchmark::State& state, bool cursorPuts) {
  const fs::path& source = capdbSource(records());
  for (auto _ : state) {
    state.PauseTiming();
    fs::path dir = copyOf(source, "raw");
    MDB_env* env;
    capdb::engine::checkLmdb(mdb_env_create(&env), "create");
    mdb_env_set_mapsize(env, size_t{1} << 30);
    mdb_env_set_maxdbs(env, 64);
    capdb::engine::checkLmdb(mdb_env_open(env, dir.c_str(), MDB_NOTLS, 0644), "open");
    state.ResumeTiming();
    std::string lastKey;
    int64_t done = 0;
    for (bool more = true; more;) {
      MDB_txn* txn;
      capdb::engine::checkLmdb(mdb_txn_begin(env, nullptr, 0, &txn), "begin");
      MDB_dbi dbi;
      capdb::engine::checkLmdb(mdb_dbi_open(txn, "table:people", 0, &dbi), "dbi");
      MDB_cursor* c;
      mdb_cursor_open(txn, dbi, &c);
      MDB_val k{lastKey.size(), lastKey.data()}, v;
      int rc = lastKey.empty() ? mdb_cursor_get(c, &k, &v, MDB_FIRST)
                               : mdb_cursor_get(c, &k, &v, MDB_SET_RANGE);
      if (rc == 0 && !lastKey.empty()) rc = mdb_cursor_get(c, &k, &v, MDB_NEXT);
      std::vector<std::pair<std::string, std::string>> batch;
      while (rc == 0 && batch.size() < kBatch) {
        std::string value(static_cast<char*>(v.mv_data), v.mv_size);
        value[value.size() - 1] ^= 1;  // change one byte
        batch.emplace_back(std::string(static_cast<char*>(k.mv_data), k.mv_size), std::move(value));
        rc = mdb_cursor_get(c, &k, &v, MDB_NEXT);
      }
      mdb_cursor_close(c);
      MDB_cursor* w = nullptr;
      if (cursorPuts) mdb_cursor_open(txn, dbi, &w);
      for (auto& [key, value] : batch) {
        MDB_val kk{key.size(), key.data()}, vv{value.size(), value.data()};
        capdb::engine::checkLmdb(cursorPuts ? mdb_cursor_put(w, &kk, &vv, 0) : mdb_put(txn, dbi, &kk, &vv, 0),
                                 "put");
      }
      if (w != nullptr) mdb_cursor_close(w);
      capdb::engine::checkLmdb(mdb_txn_commit(txn), "commit");
      done += static_cast<int64_t>(batch.size());
      more = !batch.empty() && rc == 0;
      if (!batch.empty()) lastKey = batch.back().first;
    }
    state.PauseTiming();
    mdb_env_close(env);
    check(done == records(), "raw rewrite saw every record");
    state.ResumeTiming();
  }
  state.SetItemsProcessed(state.iterations() * records());
}

void rawRewrite(benchmark::State& state) { rawRewrite(state, false); }
void rawRewriteByCursor(benchmark::State& state) { rawRewrite(state, true); }

// ---- SQLite: the same migrations in one transaction ----

using Sqlite = capdb::bench::SqliteDb;

const fs::path& sqliteSource() {
  static fs::path path = [] {
    fs::path p = root() / "source.sqlite";
    Sqlite s(p);
    s.exec("CREATE TABLE people (id INTEGER PRIMARY KEY, name TEXT, email TEXT, age INTEGER, "
           "city TEXT, score REAL)");
    s.exec("BEGIN");
    sqlite3_stmt* st;
    sqlite3_prepare_v2(s.db, "INSERT INTO people VALUES (?, ?, ?, ?, ?, ?)", -1, &st, nullptr);
    for (int64_t i = 1; i <= records(); ++i) {
      std::string name = nameOf(i), email = fmt::format("user{}@example.com", i);
      sqlite3_bind_int64(st, 1, i);
      sqlite3_bind_text(st, 2, name.c_str(), -1, SQLITE_TRANSIENT);
      sqlite3_bind_text(st, 3, email.c_str(), -1, SQLITE_TRANSIENT);
      sqlite3_bind_int(st, 4, static_cast<int>(18 + i % 70));
      sqlite3_bind_text(st, 5, "London", -1, SQLITE_STATIC);
      sqlite3_bind_double(st, 6, static_cast<double>(i % 1000) / 8);
      sqlite3_step(st);
      sqlite3_reset(st);
    }
    sqlite3_finalize(st);
    s.exec("COMMIT");
    s.exec("PRAGMA wal_checkpoint(TRUNCATE)");
    return p;
  }();
  return path;
}

void runSqlite(benchmark::State& state, const std::vector<std::string>& statements,
               const std::string& probe, const std::string& expected) {
  const fs::path& source = sqliteSource();
  for (auto _ : state) {
    state.PauseTiming();
    fs::path p = root() / "migrating.sqlite";
    fs::remove(p);
    fs::copy_file(source, p);
    std::optional<Sqlite> s;
    s.emplace(p);
    state.ResumeTiming();
    s->exec("BEGIN");
    for (const auto& sql : statements) s->exec(sql);
    s->exec("COMMIT");
    state.PauseTiming();
    std::string got = s->one(probe);
    check(got == expected, "sqlite: " + probe + " gave " + got + ", expected " + expected);
    s.reset();  // closing is not the migration's work, as for capdb and raw LMDB
    state.ResumeTiming();
  }
  state.SetItemsProcessed(state.iterations() * records());
}

void AddField_Sqlite(benchmark::State& state) {
  runSqlite(state,
            {"ALTER TABLE people ADD COLUMN nameLength INTEGER",
             "UPDATE people SET nameLength = length(name)"},
            "SELECT nameLength FROM people WHERE id = 7", std::to_string(nameOf(7).size()));
}

void Split_Sqlite(benchmark::State& state) {
  runSqlite(state,
            {"ALTER TABLE people ADD COLUMN lastName TEXT",
             "UPDATE people SET lastName = substr(name, instr(name, ' ') + 1), "
             "name = substr(name, 1, instr(name, ' ') - 1)"},
            "SELECT lastName FROM people WHERE id = 7", "Number49");
}

void TypeChange_Sqlite(benchmark::State& state) {
  // The 12-step rebuild (https://sqlite.org/lang_altertable.html#otheralter), in one transaction.
  runSqlite(state,
            {"CREATE TABLE people_new (id INTEGER PRIMARY KEY, name TEXT, email TEXT, "
             "age INTEGER, city TEXT, score INTEGER)",
             "INSERT INTO people_new SELECT id, name, email, age, city, "
             "CAST(score * 100 AS INTEGER) FROM people",
             "DROP TABLE people", "ALTER TABLE people_new RENAME TO people"},
            "SELECT score FROM people WHERE id = 7",
            std::to_string(static_cast<int64_t>(7.0 / 8 * 100)));
}

void Chain_Sqlite(benchmark::State& state) {
  runSqlite(state,
            {"ALTER TABLE people ADD COLUMN nameLength INTEGER",
             "UPDATE people SET nameLength = length(name)",
             "ALTER TABLE people ADD COLUMN band INTEGER", "UPDATE people SET band = age / 10",
             "ALTER TABLE people ADD COLUMN tag TEXT",
             "UPDATE people SET tag = CASE WHEN band >= 5 THEN 'senior' ELSE 'junior' END"},
            "SELECT tag FROM people WHERE id = 7",
            (18 + 7 % 70) / 10 >= 5 ? "senior" : "junior");
}

void ChangeKey_Sqlite(benchmark::State& state) {
  // The 12-step rebuild into a table keyed by the email (WITHOUT ROWID: stored in key order, as
  // capdb stores it), in one transaction.
  runSqlite(state,
            {"CREATE TABLE people_new (id INTEGER, name TEXT, email TEXT PRIMARY KEY, age INTEGER, "
             "city TEXT, score REAL) WITHOUT ROWID",
             "INSERT INTO people_new SELECT id, name, email, age, city, score FROM people",
             "DROP TABLE people", "ALTER TABLE people_new RENAME TO people"},
            "SELECT id FROM people WHERE email = 'user7@example.com'", "7");
}

void Rename_Sqlite(benchmark::State& state) {
  runSqlite(state, {"ALTER TABLE people RENAME COLUMN name TO fullName"},
            "SELECT fullName FROM people WHERE id = 7", nameOf(7));
}

// ---- lazy ----

// Opening after a schema change that needs a step: O(tables), whatever the record count. With
// `indexed`, the change also adds an index over the computed field, which must be left building.
void openAfterChange(benchmark::State& state, int64_t n, bool indexed = false) {
  const fs::path& source = capdbSource(n);
  const capdb::TableSchema& target =
      (indexed ? schemas().addedIndexed : schemas().added).tables[0];
  capdb::Migrations m;
  addNameLength(m);
  for (auto _ : state) {
    state.PauseTiming();
    fs::path dir = copyOf(source, "lazy-open");
    capdb::Options o = eagerOptions(&m);
    o.mode = capdb::MigrationMode::Lazy;
    state.ResumeTiming();
    std::optional<capdb::Database> db;
    db.emplace(capdb::Database::open(dir, capdb::Schemas{target}, o));
    state.PauseTiming();
    check(db->oldRecords() == static_cast<uint64_t>(n), "lazy open rewrote nothing");
    if (indexed) check(!db->drain(capdb::DrainBudget{.records = 1}), "the index is building");
    db.reset();
    state.ResumeTiming();
  }
  state.SetItemsProcessed(state.iterations());
}
void Open_Capdb(benchmark::State& state) { openAfterChange(state, records()); }
void Open_At100k(benchmark::State& state) { openAfterChange(state, std::min<int64_t>(100'000, records())); }

struct LazyDb {
  capdb::Migrations m;
  std::unique_ptr<capdb::Database> db;
  LazyDb() {
    addNameLength(m);
    fs::path dir = copyOf(capdbSource(records()), "lazy-read");
    capdb::Options o = eagerOptions(&m);
    o.mode = capdb::MigrationMode::Hybrid;
    db = std::make_unique<capdb::Database>(
        capdb::Database::open(dir, capdb::Schemas{schemas().added.tables[0]}, o));
    // Records 1..n/2 rewritten at the newest version; the rest stay at version 1.
    db->drain(capdb::DrainBudget{.records = static_cast<uint64_t>(records() / 2)});
  }
};
LazyDb& lazyDb() {
  static LazyDb l;
  return l;
}

void lazyRead(benchmark::State& state, bool old) {
  auto& l = lazyDb();
  auto people = l.db->table("people");
  auto tx = l.db->read();
  std::mt19937_64 rng(5);
  int64_t half = records() / 2;
  int64_t ok = 0;
  for (auto _ : state) {
    int64_t id = old ? half + 1 + static_cast<int64_t>(rng() % (records() - half))
                     : 1 + static_cast<int64_t>(rng() % half);
    auto row = people.get(tx, capdb::Key{id});
    ok += row && row->version() == (old ? 1u : 2u) &&
          row->get().get("nameLength").as<uint32_t>() == nameOf(id).size();
  }
  check(ok == static_cast<int64_t>(state.iterations()), "lazy reads give the newest version");
  state.SetItemsProcessed(state.iterations());
}
void LazyRead_Capdb(benchmark::State& state) { lazyRead(state, true); }
void LazyRead_Current(benchmark::State& state) { lazyRead(state, false); }

// ---- index builds ----

// The version-2 database with nameLength computed (no index yet), built once.
const fs::path& capdbAddedSource() {
  static fs::path dir = [] {
    capdb::Migrations m;
    addNameLength(m);
    fs::path d = copyOf(capdbSource(records()), "source-added");
    capdb::Database::open(d, capdb::Schemas{schemas().added.tables[0]}, eagerOptions(&m));
    return d;
  }();
  return dir;
}

// Opening after a change that adds nameLength, computed by a step, and an index over it: the
// open reads no record, whatever the record count.
void OpenIndexed_Capdb(benchmark::State& state) { openAfterChange(state, records(), true); }
void OpenIndexed_At100k(benchmark::State& state) {
  openAfterChange(state, std::min<int64_t>(100'000, records()), true);
}

void checkIndexed(capdb::Database& db) {
  auto tx = db.read();
  int64_t id = 7;
  uint32_t length = static_cast<uint32_t>(nameOf(id).size());
  bool found = false;
  for (auto c = db.table("people").find(tx, "people_nameLength", capdb::Range::prefix(capdb::Key{length}));
       c.valid() && !found; c.next()) {
    found = c.record().get("id").as<uint64_t>() == static_cast<uint64_t>(id);
  }
  check(found, "the built index finds record 7");
}

// The index alone: records at version 2 already, the index added at the same version; the open
// returns at once and drains build it, each batch durable (synced) as it commits.
void IndexBuild_Capdb(benchmark::State& state) {
  for (auto _ : state) {
    state.PauseTiming();
    fs::path dir = copyOf(capdbAddedSource(), "index-build");
    capdb::Options o = eagerOptions(nullptr);
    o.mode = capdb::MigrationMode::Hybrid;
    std::optional<capdb::Database> db;
    db.emplace(capdb::Database::open(dir, capdb::Schemas{schemas().addedIndexed.tables[0]}, o));
    state.ResumeTiming();
    while (!db->drain(capdb::DrainBudget{})) {
    }
    state.PauseTiming();
    checkIndexed(*db);
    db.reset();
    state.ResumeTiming();
  }
  state.SetItemsProcessed(state.iterations() * records());
}

// A unique index over the email, whose order is not the records' (user10 sorts before user2):
// each batch's entries land all over the index, as a random key's do.
void IndexBuildSpread_Capdb(benchmark::State& state) {
  for (auto _ : state) {
    state.PauseTiming();
    fs::path dir = copyOf(capdbSource(records()), "index-build-spread");
    capdb::Options o = eagerOptions(nullptr);
    o.mode = capdb::MigrationMode::Hybrid;
    std::optional<capdb::Database> db;
    db.emplace(capdb::Database::open(dir, capdb::Schemas{schemas().emailIndexed.tables[0]}, o));
    state.ResumeTiming();
    while (!db->drain(capdb::DrainBudget{})) {
    }
    state.PauseTiming();
    auto tx = db->read();
    auto c = db->table("people").find(tx, "people_email", capdb::Range::prefix(capdb::Key{"user7@example.com"}));
    check(c.valid() && c.record().get("id").as<uint64_t>() == 7, "the built index finds record 7");
    tx.release();
    db.reset();
    state.ResumeTiming();
  }
  state.SetItemsProcessed(state.iterations() * records());
}

// The whole change: a lazy open, then drains rewrite the records and build the index.
void IndexedChange_Capdb(benchmark::State& state) {
  capdb::Migrations m;
  addNameLength(m);
  for (auto _ : state) {
    state.PauseTiming();
    fs::path dir = copyOf(capdbSource(records()), "indexed-change");
    capdb::Options o = eagerOptions(&m);
    o.mode = capdb::MigrationMode::Hybrid;
    std::optional<capdb::Database> db;
    db.emplace(capdb::Database::open(dir, capdb::Schemas{schemas().addedIndexed.tables[0]}, o));
    state.ResumeTiming();
    while (!db->drain(capdb::DrainBudget{})) {
    }
    state.PauseTiming();
    check(db->oldRecords() == 0, "every record migrated");
    checkIndexed(*db);
    db.reset();
    state.ResumeTiming();
  }
  state.SetItemsProcessed(state.iterations() * records());
}

// SQLite at full durability: WAL with synchronous=FULL, timed through COMMIT (which syncs, and
// runs the auto-checkpoint when the WAL has grown past its limit).
void runSqliteFull(benchmark::State& state, const fs::path& source,
                   const std::vector<std::string>& statements, const std::string& probe,
                   const std::string& expected) {
  for (auto _ : state) {
    state.PauseTiming();
    fs::path p = root() / "indexing.sqlite";
    fs::remove(p);
    fs::copy_file(source, p);
    std::optional<Sqlite> s;
    s.emplace(p);
    s->exec("PRAGMA synchronous=FULL");
    state.ResumeTiming();
    s->exec("BEGIN");
    for (const auto& sql : statements) s->exec(sql);
    s->exec("COMMIT");
    state.PauseTiming();
    std::string got = s->one(probe);
    check(got == expected, "sqlite: " + probe + " gave " + got + ", expected " + expected);
    s.reset();
    state.ResumeTiming();
  }
  state.SetItemsProcessed(state.iterations() * records());
}

const fs::path& sqliteAddedSource() {
  static fs::path path = [] {
    fs::path p = root() / "source-added.sqlite";
    fs::copy_file(sqliteSource(), p, fs::copy_options::overwrite_existing);
    Sqlite s(p);
    s.exec("ALTER TABLE people ADD COLUMN nameLength INTEGER");
    s.exec("UPDATE people SET nameLength = length(name)");
    s.exec("PRAGMA wal_checkpoint(TRUNCATE)");
    return p;
  }();
  return path;
}

const std::string kIndexProbe = "SELECT count(*) FROM people INDEXED BY people_nameLength "
                                "WHERE nameLength = " + std::to_string(nameOf(7).size());

void IndexBuild_Sqlite(benchmark::State& state) {
  capdb::bench::SqliteDb probe(sqliteAddedSource());
  std::string expected = probe.one("SELECT count(*) FROM people WHERE nameLength = " +
                                   std::to_string(nameOf(7).size()));
  runSqliteFull(state, sqliteAddedSource(),
                {"CREATE INDEX people_nameLength ON people(nameLength)"}, kIndexProbe, expected);
}

void IndexBuildSpread_Sqlite(benchmark::State& state) {
  runSqliteFull(state, sqliteSource(), {"CREATE UNIQUE INDEX people_email ON people(email)"},
                "SELECT id FROM people INDEXED BY people_email WHERE email = 'user7@example.com'",
                "7");
}

void IndexedChange_Sqlite(benchmark::State& state) {
  capdb::bench::SqliteDb probe(sqliteAddedSource());
  std::string expected = probe.one("SELECT count(*) FROM people WHERE nameLength = " +
                                   std::to_string(nameOf(7).size()));
  runSqliteFull(state, sqliteSource(),
                {"ALTER TABLE people ADD COLUMN nameLength INTEGER",
                 "UPDATE people SET nameLength = length(name)",
                 "CREATE INDEX people_nameLength ON people(nameLength)"},
                kIndexProbe, expected);
}

void Drain_Capdb(benchmark::State& state) {
  capdb::Migrations m;
  addNameLength(m);
  for (auto _ : state) {
    state.PauseTiming();
    fs::path dir = copyOf(capdbSource(records()), "drain");
    capdb::Options o = eagerOptions(&m);
    o.mode = capdb::MigrationMode::Hybrid;
    std::optional<capdb::Database> db;
    db.emplace(capdb::Database::open(dir, capdb::Schemas{schemas().added.tables[0]}, o));
    state.ResumeTiming();
    // Drained in slices of 100 ms, as an app would when idle.
    while (!db->drain(capdb::DrainBudget{.time = std::chrono::milliseconds(100)})) {
    }
    state.PauseTiming();
    check(db->oldRecords() == 0, "drain finished");
    db.reset();
    state.ResumeTiming();
  }
  state.SetItemsProcessed(state.iterations() * records());
}

}  // namespace

#define EAGER(fn, name) \
  BENCHMARK(fn)->Name(name)->Iterations(1)->Repetitions(3)->Unit(benchmark::kMillisecond)->UseRealTime()
EAGER(AddField_Capdb, "AddField/Capdb");
EAGER(rawRewrite, "AddField/Lmdb");
EAGER(rawRewriteByCursor, "AddField/LmdbCursor");
EAGER(AddField_Sqlite, "AddField/Sqlite");
EAGER(AddFieldDynamic_Capdb, "AddFieldDynamic/Capdb");
EAGER(AddFieldTyped_Capdb, "AddFieldTyped/Capdb");
EAGER(rawRewrite, "AddFieldTyped/Lmdb");
EAGER(rawRewriteByCursor, "AddFieldTyped/LmdbCursor");
EAGER(AddField_Sqlite, "AddFieldTyped/Sqlite");
EAGER(Split_Capdb, "Split/Capdb");
EAGER(Split_Sqlite, "Split/Sqlite");
EAGER(TypeChange_Capdb, "TypeChange/Capdb");
EAGER(TypeChange_Sqlite, "TypeChange/Sqlite");
EAGER(Chain_Capdb, "Chain3/Capdb");
EAGER(Chain_Sqlite, "Chain3/Sqlite");
EAGER(ChangeKey_Capdb, "ChangeKey/Capdb");
EAGER(ChangeKey_Sqlite, "ChangeKey/Sqlite");
EAGER(Rename_Capdb, "Rename/Capdb");
EAGER(Rename_Sqlite, "Rename/Sqlite");
EAGER(Drain_Capdb, "Drain/Capdb");
EAGER(rawRewrite, "Drain/Lmdb");
EAGER(IndexBuild_Capdb, "IndexBuild/Capdb");
EAGER(IndexBuild_Sqlite, "IndexBuild/Sqlite");
EAGER(IndexBuildSpread_Capdb, "IndexBuildSpread/Capdb");
EAGER(IndexBuildSpread_Sqlite, "IndexBuildSpread/Sqlite");
EAGER(IndexedChange_Capdb, "IndexedChange/Capdb");
EAGER(IndexedChange_Sqlite, "IndexedChange/Sqlite");
BENCHMARK(OpenIndexed_Capdb)->Name("OpenIndexed/Capdb")->Iterations(3)->Repetitions(3)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(OpenIndexed_At100k)->Name("OpenIndexed/At100k")->Iterations(3)->Repetitions(3)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(Open_Capdb)->Name("Open/Capdb")->Iterations(3)->Repetitions(3)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(Open_At100k)->Name("Open/At100k")->Iterations(3)->Repetitions(3)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(LazyRead_Capdb)->Name("LazyRead/Capdb")->Repetitions(3);
BENCHMARK(LazyRead_Current)->Name("LazyRead/Current")->Repetitions(3);

int main(int argc, char** argv) {
  int rc = capdb::bench::runWithRatios(argc, argv, "Capdb", {"Lmdb", "LmdbCursor", "Sqlite", "Current", "At100k"});
  fs::remove_all(root());
  return rc;
}
