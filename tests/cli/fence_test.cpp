// Writers fenced across processes. This process holds a database open, as an app does, while
// another process (the capdb command) changes a table under it: an eager or lazy upgrade, an index
// built at open, a move to a new primary key, or the rest of a lazy migration rewritten. Whenever
// the change leaves this process's view of the table stale, every read and write of it is refused
// with SchemaMismatch naming the table and what changed, and nothing it did reaches the file;
// when the view still fits (a migration finished elsewhere), it carries on.
#include <gtest/gtest.h>
#include <fcntl.h>
#include <fmt/format.h>
#include <poll.h>
#include <pty.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <functional>

#include <sstream>
#include <string>

#include "capdb/capdb.h"
#include "orm/catalog.h"
#include "orm/table_core.h"
#include "support/command.h"
#include "support/errors.h"
#include "support/schema_text.h"
#include "support/temp_dir.h"
#include "db/database_state.h"

namespace capdb {
namespace {

using testing::errorOf;
using testing::Outcome;

const std::string kCapdb = CAPDB_CLI;
constexpr int kOrders = 500;

bool has(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

class Fence : public ::testing::Test {
 protected:
  static constexpr const char* kFileId = "0xc3d5e7f9a1b2c4d6";
  static constexpr const char* kV1 =
      "struct Order $Db.table(\"orders\") $Db.version(1) $Db.primaryKey([\"id\"]) "
      "{ id @0 :UInt64; customer @1 :Text $Db.indexed; amount @2 :Float64; }\n";
  // Version 2 adds cents, computed from the amount by kStep, and an index over it.
  static constexpr const char* kV2 =
      "struct Order $Db.table(\"orders\") $Db.version(2) $Db.primaryKey([\"id\"]) "
      "{ id @0 :UInt64; customer @1 :Text $Db.indexed; amount @2 :Float64; "
      "cents @3 :Int64 $Db.indexed; }\n";
  // The same without the index: a lazy migration can feed it.
  static constexpr const char* kV2Plain =
      "struct Order $Db.table(\"orders\") $Db.version(2) $Db.primaryKey([\"id\"]) "
      "{ id @0 :UInt64; customer @1 :Text $Db.indexed; amount @2 :Float64; cents @3 :Int64; }\n";
  // Version 1 with an index over the amount added.
  static constexpr const char* kV1Indexed =
      "struct Order $Db.table(\"orders\") $Db.version(1) $Db.primaryKey([\"id\"]) "
      "{ id @0 :UInt64; customer @1 :Text $Db.indexed; amount @2 :Float64 $Db.indexed; }\n";
  // Version 2 keyed by (customer, id).
  static constexpr const char* kV2Keyed =
      "struct Order $Db.table(\"orders\") $Db.version(2) $Db.primaryKey([\"customer\", \"id\"]) "
      "{ id @0 :UInt64; customer @1 :Text $Db.indexed; amount @2 :Float64; }\n";
  static constexpr const char* kStep =
      "MIGRATE orders FROM 1 TO 2 SET cents = CAST(round(amount * 100) AS INTEGER);\n";

  void SetUp() override {
    for (auto [name, text] : {std::pair{"v1", kV1}, {"v2", kV2}, {"v2plain", kV2Plain},
                              {"v1indexed", kV1Indexed}, {"v2keyed", kV2Keyed}}) {
      std::string file = std::string(name) + ".capnp";
      files_.emplace(name, testing::parseText(dir_, file, text, kFileId));
    }
    testing::writeFile(dir_, "step.sql", kStep);
    // kOrders orders at version 1.
    Database db = Database::open(path(), Schemas{schema("v1")});
    db.write([&](WriteTxn& tx) {
      for (int i = 1; i <= kOrders; ++i) insert(db, tx, i);
    });
  }

  const TableSchema& schema(const std::string& name) { return files_.at(name).tables[0]; }
  std::string path() const { return (dir_ / "db").string(); }
  std::string file(const std::string& name) const { return (dir_ / name).string(); }

  static void insert(Database& db, WriteTxn& tx, int id) {
    db.table("orders").insert(tx, [&](capnp::DynamicStruct::Builder b) {
      b.set("id", id);
      b.set("customer", capnp::Text::Reader(("customer " + std::to_string(id % 7)).c_str()));
      b.set("amount", id * 1.25);
    });
  }

  // The other process: the capdb command.
  Outcome capdb(std::vector<std::string> args) {
    return testing::runCommand(kCapdb, std::move(args), dir_.path());
  }

  // Checks that db's view of orders is stale: a write, a read and a query are each refused with
  // SchemaMismatch naming the table and `expected`, and the write changed nothing.
  void expectStale(Database& db, const std::string& expected) {
    std::string write = errorOf([&] { db.write([&](WriteTxn& tx) { insert(db, tx, 100000); }); });
    EXPECT_TRUE(has(write, "SchemaMismatch: table orders: ") && has(write, expected)) << write;
    std::string read = errorOf([&] { db.table("orders").get(db.read(), Key{1}); });
    EXPECT_TRUE(has(read, "SchemaMismatch: table orders: ") && has(read, expected)) << read;
    std::string sql = errorOf([&] { db.query("INSERT INTO orders (id, amount) VALUES (100001, 2.5)"); });
    EXPECT_TRUE(has(sql, "SchemaMismatch") && has(sql, expected)) << sql;
    std::string select = errorOf([&] { db.query("SELECT count(*) FROM orders"); });
    EXPECT_TRUE(has(select, "SchemaMismatch")) << select;
  }

  // After this process let go: the other process's change is whole and nothing of ours is in.
  void expectIntact(const std::string& verifyCount) {
    Outcome v = capdb({"verify", path()});
    EXPECT_EQ(v.code, 0) << v.out << v.err;
    EXPECT_TRUE(has(v.out, verifyCount)) << v.out;
    Outcome n = capdb({"sql", path(), "SELECT count(*), max(id) FROM orders", "--format", "csv"});
    EXPECT_EQ(n.out, "count(*),max(id)\n" + std::to_string(kOrders) + "," + std::to_string(kOrders) + "\n")
        << n.err;
  }

  testing::TempDir dir_;
  std::map<std::string, orm::SchemaFile> files_;
};

TEST_F(Fence, AnEagerUpgradeElsewhereStopsThisProcessFromWritingAtTheOldVersion) {
  Database app = Database::open(path(), Schemas{schema("v1")});
  EXPECT_EQ(app.table("orders").count(app.read()), static_cast<uint64_t>(kOrders));
  Outcome up = capdb({"upgrade", path(), "--schema", file("v2.capnp"), "--migrations",
                      file("step.sql"), "--mode", "eager"});
  ASSERT_EQ(up.code, 0) << up.err;
  expectStale(app, "from schema version 1 to 2");
  // The message says what to do.
  std::string write = errorOf([&] { app.write([&](WriteTxn& tx) { insert(app, tx, 100000); }); });
  EXPECT_TRUE(has(write, "reopen the database with the app's schema at version 2")) << write;
  expectIntact(std::to_string(kOrders) + " records, " + std::to_string(2 * kOrders) +
               " index entries checked: ok");
  // Reopened at version 2, the app writes again, and the new record gets its computed field and
  // its index entry.
  Migrations steps;
  steps.sql(kStep);
  Options options;
  options.migrations = &steps;
  Database again = Database::open(path(), Schemas{schema("v2")}, options);
  again.query("INSERT INTO orders (id, customer, amount, cents) VALUES (900001, 'x', 2.5, -250)");
  EXPECT_EQ(again.query("SELECT id FROM orders WHERE cents = -250").at(0, 0).integer(), 900001);
  EXPECT_EQ(capdb({"verify", path()}).code, 0);
}

TEST_F(Fence, WritesDuringAnUpgradeElsewhereAreKeptAndUpgradedOrRefused) {
  // This process writes without pause while the other process upgrades the table eagerly. Every
  // write that committed before the upgrade began is upgraded with the rest; once it began, every
  // write is refused. None is lost or left at the old version.
  Database app = Database::open(path(), Schemas{schema("v1")});
  for (int i = 1; i <= 20000; ++i) {  // enough records that the upgrade takes a while
    if (i % 1000 == 1) app.write([&](WriteTxn& tx) {
      for (int j = i; j < i + 1000; ++j) insert(app, tx, 10000 + j);
    });
  }
  std::vector<std::string> args{kCapdb, "upgrade", path(), "--schema", file("v2.capnp"),
                                "--migrations", file("step.sql"), "--mode", "eager", "--batch", "500"};
  pid_t pid = fork();
  if (pid == 0) {
    int null = open("/dev/null", O_WRONLY);
    dup2(null, 1);
    dup2(null, 2);
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    execv(kCapdb.c_str(), argv.data());
    _exit(127);
  }
  int committed = 0, refused = 0, status = 0;
  std::string firstRefusal;
  for (int id = 100000; waitpid(pid, &status, WNOHANG) == 0; ++id) {
    try {
      app.write([&](WriteTxn& tx) { insert(app, tx, id); });
      ++committed;
    } catch (const Error& e) {
      if (firstRefusal.empty()) firstRefusal = e.what();
      EXPECT_EQ(e.code(), ErrorCode::SchemaMismatch) << e.what();
      ++refused;
    }
  }
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  EXPECT_GT(refused, 0);
  EXPECT_TRUE(has(firstRefusal, "from schema version 1 to 2")) << firstRefusal;
  // Every committed write is there, at version 2, with its cents computed and its index entry.
  Outcome n = capdb({"sql", path(),
                     "SELECT count(*), min(id), max(id), sum(cents = CAST(round(amount * 100) AS "
                     "INTEGER)) FROM orders WHERE id >= 100000",
                     "--format", "csv"});
  std::string expected = committed == 0 ? "0,,,\n"
                                        : fmt::format("{},100000,{},{}\n", committed,
                                                      100000 + committed - 1, committed);
  EXPECT_EQ(n.out, "count(*),min(id),max(id),sum(cents = CAST(round(amount * 100) AS INTEGER))\n" +
                       expected)
      << n.err;
  Outcome v = capdb({"verify", path()});
  EXPECT_EQ(v.code, 0) << v.out;
  EXPECT_TRUE(has(v.out, std::to_string(kOrders + 20000 + committed) + " records")) << v.out;
}

// Runs `change` on the database's catalog entry of orders in a child process, as another process
// part-way through a migration leaves it.
void changeInAnotherProcess(const std::string& path,
                            const std::function<void(orm::TableInfo&)>& change) {
  pid_t pid = fork();
  if (pid == 0) {
    int code = 1;
    try {
      Database other = Database::open(path);
      const auto& catalog = internal::core(other.table("orders")).catalog();
      internal::env(other).write([&](engine::WriteTxn& t) {
        auto info = catalog.readTable(t, "orders");
        change(*info);
        catalog.writeTable(t, *info);
      });
      code = 0;
    } catch (...) {
    }
    _exit(code);
  }
  int status = 0;
  waitpid(pid, &status, 0);
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

TEST_F(Fence, WritesKeepAnIndexThatAnotherProcessRebuilds) {
  Database app = Database::open(path(), Schemas{schema("v1")});
  Statement byCustomer = app.prepare("SELECT id FROM orders WHERE customer = 'customer 3'");
  EXPECT_TRUE(has(byCustomer.explain(), "orders_customer")) << byCustomer.explain();
  changeInAnotherProcess(path(), [](orm::TableInfo& info) {
    info.indexes[0].state = orm::IndexState::Building;
  });
  // Writes go on, and keep the building index as they keep a ready one.
  app.write([&](WriteTxn& tx) { insert(app, tx, 100005); });  // customer 3
  // Reads go on, past the index being built.
  EXPECT_EQ(app.query("SELECT count(*) FROM orders WHERE customer = 'customer 3'").at(0, 0).integer(),
            73);
  EXPECT_FALSE(has(app.prepare("SELECT id FROM orders WHERE customer = 'customer 3'").explain(),
                   "orders_customer"));
  // A statement prepared before plans again, past the index, and stays right.
  EXPECT_EQ(byCustomer.run().size(), 73u);
  EXPECT_FALSE(has(byCustomer.explain(), "orders_customer")) << byCustomer.explain();
  // Ready again: the index holds the entry written meanwhile.
  changeInAnotherProcess(path(), [](orm::TableInfo& info) {
    info.indexes[0].state = orm::IndexState::Ready;
  });
  app.write([&](WriteTxn& tx) { insert(app, tx, 100012); });  // customer 3 too
  EXPECT_EQ(app.query("SELECT count(*) FROM orders WHERE customer = 'customer 3'").at(0, 0).integer(),
            74);
  EXPECT_EQ(byCustomer.run().size(), 74u);
  EXPECT_TRUE(has(byCustomer.explain(), "orders_customer")) << byCustomer.explain();
  EXPECT_FALSE(app.changedElsewhere());
}

TEST_F(Fence, AnIndexThatFailedElsewhereIsNeitherKeptNorRead) {
  Database app = Database::open(path(), Schemas{schema("v1")});
  changeInAnotherProcess(path(), [](orm::TableInfo& info) {
    info.indexes[0].state = orm::IndexState::Failed;
    info.indexes[0].duplicates = {"key ('x') of records (1) and (2)"};
  });
  app.write([&](WriteTxn& tx) { insert(app, tx, 100005); });  // customer 3
  EXPECT_EQ(app.query("SELECT count(*) FROM orders WHERE customer = 'customer 3'").at(0, 0).integer(),
            73);
  std::string find = errorOf([&] { app.table("orders").find(app.read(), "orders_customer", Range::all()); });
  EXPECT_TRUE(has(find, "SchemaMismatch: table orders: index orders_customer failed its build")) << find;
}

TEST_F(Fence, AMoveToNewKeysBegunElsewhereAtTheSameVersionIsFenced) {
  Database app = Database::open(path(), Schemas{schema("v1")});
  changeInAnotherProcess(path(), [](orm::TableInfo& info) {
    info.migration.emplace();
    info.migration->phase = orm::MigrationState::Phase::Rekey;
    info.migration->rekey = true;
    info.migration->fromVersion = info.version;
  });
  std::string read = errorOf([&] { app.table("orders").get(app.read(), Key{1}); });
  EXPECT_TRUE(has(read, "SchemaMismatch: table orders: another process began moving its records to "
                        "new primary keys"))
      << read;
  EXPECT_TRUE(app.changedElsewhere());
}

TEST_F(Fence, ALazyUpgradeElsewhereIsFencedToo) {
  Database app = Database::open(path(), Schemas{schema("v1")});
  Outcome up = capdb({"upgrade", path(), "--schema", file("v2plain.capnp"), "--migrations",
                      file("step.sql"), "--mode", "lazy"});
  ASSERT_EQ(up.code, 0) << up.err;
  expectStale(app, "from schema version 1 to 2");
}

TEST_F(Fence, AnIndexBuiltAtOpenElsewhereIsAnIndexThisProcessCannotKeep) {
  Database app = Database::open(path(), Schemas{schema("v1")});
  Outcome up = capdb({"upgrade", path(), "--schema", file("v1indexed.capnp")});
  ASSERT_EQ(up.code, 0) << up.err;
  expectStale(app, "changed its indexes");
  expectIntact(std::to_string(kOrders) + " records, " + std::to_string(2 * kOrders) +
               " index entries checked: ok");
}

TEST_F(Fence, AMoveToANewPrimaryKeyElsewhereIsFenced) {
  Database app = Database::open(path(), Schemas{schema("v1")});
  Outcome up = capdb({"upgrade", path(), "--schema", file("v2keyed.capnp"), "--mode", "eager"});
  ASSERT_EQ(up.code, 0) << up.err;
  expectStale(app, "from schema version 1 to 2");
  Outcome v = capdb({"verify", path()});
  EXPECT_EQ(v.code, 0) << v.out;
}

TEST_F(Fence, AMigrationFinishedElsewhereLetsThisProcessCarryOn) {
  // This process reads version 1 records lazily through the step; the other process rewrites
  // them all. Nothing this process knows changed shape, so it goes on reading and writing.
  Migrations steps;
  steps.sql(kStep);
  Options options;
  options.migrations = &steps;
  Database app = Database::open(path(), Schemas{schema("v2plain")}, options);
  EXPECT_EQ(app.oldRecords(), static_cast<uint64_t>(kOrders));
  Outcome up = capdb({"upgrade", path(), "--schema", file("v2plain.capnp"), "--migrations",
                      file("step.sql"), "--mode", "eager"});
  ASSERT_EQ(up.code, 0) << up.err;
  app.write([&](WriteTxn& tx) { insert(app, tx, kOrders + 1); });
  // The records the other process rewrote carry their cents; the new one was written without.
  EXPECT_EQ(app.query("SELECT count(*) FROM orders WHERE cents > 0").at(0, 0).integer(), kOrders);
  EXPECT_EQ(app.table("orders").count(app.read()), static_cast<uint64_t>(kOrders + 1));
  auto row = app.table("orders").get(app.read(), Key{7});
  ASSERT_TRUE(row.has_value());
  EXPECT_EQ(row->version(), 2u);
  EXPECT_EQ(row->get().get("cents").as<int64_t>(), 875);
  EXPECT_EQ(app.oldRecords(), 0u);
  Outcome v = capdb({"verify", path()});
  EXPECT_EQ(v.code, 0) << v.out;
}

TEST_F(Fence, AReadThatBeganBeforeARecordsSwapElsewhereKeepsReadingItsSnapshot) {
  // An eager upgrade stopped after its first batch: records part-way into the table's other
  // records database, the table's own untouched.
  {
    Migrations steps;
    steps.sql(kStep);
    Options o;
    o.migrations = &steps;
    o.mode = MigrationMode::Eager;
    o.eager.batchRecords = 100;
    o.eager.progress = [](const MigrationProgress&) { throw std::runtime_error("stopped"); };
    EXPECT_THROW(Database::open(path(), Schemas{schema("v2plain")}, o), std::runtime_error);
  }
  // This process reads the table as stored: version 2, the old records through the step.
  Database tool = Database::open(path());
  auto orders = tool.table("orders");
  auto read = [&](const Txn& tx) {
    std::pair<uint64_t, int64_t> countAndCents{0, 0};
    for (auto r : orders.scan(tx)) {
      ++countAndCents.first;
      countAndCents.second += r.get("cents").as<int64_t>();
    }
    return countAndCents;
  };
  auto before = tool.read();
  const auto expected = read(before);
  EXPECT_EQ(expected.first, static_cast<uint64_t>(kOrders));
  // The other process finishes it: every record rewritten, the two databases swapped.
  Outcome up = capdb({"upgrade", path(), "--schema", file("v2plain.capnp"), "--migrations",
                      file("step.sql"), "--mode", "eager"});
  ASSERT_EQ(up.code, 0) << up.err;
  // A read that begins after the swap (this process learns of it then) reads the rewritten
  // records; the read that began before it still reads the records its snapshot holds, through
  // the step.
  auto after = tool.read();
  EXPECT_EQ(read(before), expected);
  EXPECT_EQ(orders.get(before, Key{7})->version(), 1u);
  EXPECT_EQ(read(after), expected);
  EXPECT_EQ(orders.get(after, Key{7})->version(), 2u);
  EXPECT_EQ(orders.get(after, Key{7})->get().get("cents").as<int64_t>(), 875);
  EXPECT_EQ(tool.oldRecords(), 0u);
}

TEST_F(Fence, ASessionWithoutTheAppsSchemaIsFencedLikeAnApp) {
  // A tool's view: the tables as stored, no app schema (what `capdb sql` opens).
  Database tool = Database::open(path());
  Outcome up = capdb({"upgrade", path(), "--schema", file("v2.capnp"), "--migrations",
                      file("step.sql"), "--mode", "eager"});
  ASSERT_EQ(up.code, 0) << up.err;
  expectStale(tool, "from schema version 1 to 2");
}

// Reads from `fd` until `marker` has appeared in `output` (true) or 20 s passed or the other end
// closed (false).
bool readUntil(int fd, std::string& output, const std::string& marker) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  char buf[4096];
  while (!has(output, marker)) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    pollfd p{fd, POLLIN, 0};
    if (poll(&p, 1, 100) <= 0) continue;
    ssize_t n = read(fd, buf, sizeof buf);
    if (n <= 0) return has(output, marker);
    output.append(buf, static_cast<size_t>(n));
  }
  return true;
}

TEST_F(Fence, AnInteractiveSessionOpensTheDatabaseAgainAfterAnUpgradeElsewhere) {
  int master = -1;
  pid_t pid = forkpty(&master, nullptr, nullptr, nullptr);
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    setenv("HOME", dir_.path().c_str(), 1);
    execl(kCapdb.c_str(), kCapdb.c_str(), "sql", path().c_str(), nullptr);
    _exit(127);
  }
  std::string output;
  std::string first = "SELECT count(*) AS n FROM orders;\n";
  ASSERT_EQ(::write(master, first.data(), first.size()), static_cast<ssize_t>(first.size()));
  ASSERT_TRUE(readUntil(master, output, "500")) << output;
  // The session is open at version 1; another process upgrades the table to version 2.
  Outcome up = capdb({"upgrade", path(), "--schema", file("v2.capnp"), "--migrations",
                      file("step.sql"), "--mode", "eager"});
  ASSERT_EQ(up.code, 0) << up.err;
  std::string next =
      "INSERT INTO orders (id, customer, amount, cents) VALUES (900001, 'x', 2.5, -250);\n"
      "SELECT cents FROM orders WHERE id = 7;\n.quit\n";
  ASSERT_EQ(::write(master, next.data(), next.size()), static_cast<ssize_t>(next.size()));
  readUntil(master, output, "\x04never");  // to the end of the session
  int status = 0;
  waitpid(pid, &status, 0);
  close(master);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << output;
  EXPECT_TRUE(has(output, "note: another process changed the database since it was opened; "
                          "opened it again")) << output;
  EXPECT_TRUE(has(output, "1 record changed")) << output;
  EXPECT_TRUE(has(output, "875")) << output;
  EXPECT_FALSE(has(output, "error:")) << output;
  // The record went in at version 2, with its entry in the new index.
  Outcome v = capdb({"verify", path()});
  EXPECT_EQ(v.code, 0) << v.out;
  EXPECT_TRUE(has(v.out, "501 records")) << v.out;
  EXPECT_EQ(capdb({"sql", path(), "SELECT id FROM orders WHERE cents = -250", "--format", "csv"}).out,
            "id\n900001\n");
}

}  // namespace
}  // namespace capdb
