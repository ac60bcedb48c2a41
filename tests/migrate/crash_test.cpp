// Kills aimed at every phase, counted. A child process runs a migration (or an index build, a
// drain, plain writes) with a crash point armed (engine/crash_point.h): it dies of SIGKILL at the
// n-th batch of a phase before its commit, right after its n-th commit, or inside its n-th commit
// (between the data pages' sync and the meta page's write). The parent resumes and checks every
// record, its version, its values and every index entry. The step counts its own applications
// (counter = counter + 1), so a record stepped twice shows. CAPDB_KILLS_PER_PHASE (default 10)
// sets the kills per phase; make stress raises it.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <map>

#include "capdb/admin.h"
#include "capdb/capdb.h"
#include "engine/crash_point.h"
#include "support/schema_text.h"
#include "support/temp_dir.h"

// Kills inside a commit: LMDB syncs the data pages it wrote, then writes the meta page that makes
// them the committed state. A kill armed here lands between the two. The executable's definitions
// take the place of the C library's for LMDB too; unarmed, they are the system calls.
namespace {
std::atomic<int64_t> syncsLeft{-1};
int syncReportFd = -1;
void maybeDieInCommit() {
  if (syncsLeft.load() < 0 || --syncsLeft != 0) return;
  if (syncReportFd >= 0) {
    const char line[] = "commit.sync\n";
    ssize_t ignored = write(syncReportFd, line, sizeof line - 1);
    (void)ignored;
  }
  kill(getpid(), SIGKILL);
}
}  // namespace
extern "C" int fdatasync(int fd) {
  maybeDieInCommit();
  return static_cast<int>(syscall(SYS_fdatasync, fd));
}
extern "C" int fsync(int fd) {
  maybeDieInCommit();
  return static_cast<int>(syscall(SYS_fsync, fd));
}

namespace capdb {
namespace {

constexpr int kRecords = 600;

int killsPerPhase() {
  const char* env = std::getenv("CAPDB_KILLS_PER_PHASE");
  return env ? std::max(1, std::atoi(env)) : 10;
}

class CrashTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const char* v1 =
        "struct P $Db.table(\"people\") $Db.version(1) $Db.primaryKey([\"id\"]) "
        "{ id @0 :UInt64; name @1 :Text; email @2 :Text $Db.unique; city @3 :Text $Db.indexed; "
        "counter @4 :UInt32; }\n";
    // Version 2 adds nameLength, with an index over it that an eager migration fills as it
    // rewrites the records.
    std::string v2Fields =
        "{ id @0 :UInt64; name @1 :Text; email @2 :Text $Db.unique; city @3 :Text $Db.indexed; "
        "counter @4 :UInt32; nameLength @5 :UInt32 $Db.indexed; }\n";
    v1_ = parse("v1", v1);
    v2_ = parse("v2", "struct P $Db.table(\"people\") $Db.version(2) $Db.primaryKey([\"id\"]) " + v2Fields);
    v2Keyed_ = parse("v2keyed", "struct P $Db.table(\"people\") $Db.version(2) $Db.primaryKey([\"name\"]) " + v2Fields);
    v1Indexed_ = parse("v1indexed",
                       "struct P $Db.table(\"people\") $Db.version(1) $Db.primaryKey([\"id\"]) "
                       "{ id @0 :UInt64; name @1 :Text $Db.indexed; email @2 :Text $Db.unique; "
                       "city @3 :Text $Db.indexed; counter @4 :UInt32; }\n");
    // Lower-cases the email (a unique index: the migration checks it first, then rebuilds it) and
    // counts its applications.
    withEmail_.step("people", 1, 2, [](StepRecord old, StepBuilder next) {
      std::string e = old.get("email").as<capnp::Text>().cStr();
      for (char& c : e) c = static_cast<char>(tolower(static_cast<unsigned char>(c)));
      next.set("email", capnp::Text::Reader(e.c_str()));
      next.set("counter", old.get("counter").as<uint32_t>() + 1);
      next.set("nameLength", old.get("name").as<capnp::Text>().size());
    }, {.writes = {"email", "counter", "nameLength"}});
    // Touches no indexed field: lazy and hybrid opens take it.
    plain_.step("people", 1, 2, [](StepRecord old, StepBuilder next) {
      next.set("counter", old.get("counter").as<uint32_t>() + 1);
      next.set("nameLength", old.get("name").as<capnp::Text>().size());
    }, {.writes = {"counter", "nameLength"}});
    populate(dir_ / "seed");
  }

  TableSchema parse(const std::string& name, const std::string& text) {
    files_.push_back(testing::parseText(dir_, name + ".capnp", text));
    return files_.back().tables[0];
  }

  static std::string nameOf(int i) { return "person " + std::to_string(i); }

  void populate(const std::filesystem::path& path) {
    Options o;
    o.env.noSync = true;
    Database db = Database::open(path, Schemas{v1_}, o);
    db.write([&](WriteTxn& tx) {
      for (int i = 1; i <= kRecords; ++i) {
        db.table("people").insert(tx, [&](capnp::DynamicStruct::Builder b) {
          b.set("id", i);
          b.set("name", capnp::Text::Reader(nameOf(i).c_str()));
          b.set("email", capnp::Text::Reader(("User" + std::to_string(i) + "@Example.org").c_str()));
          b.set("city", i % 3 == 0 ? "paris" : "lima");
        });
      }
    });
  }

  // A fresh copy of the populated database.
  std::filesystem::path fresh() {
    auto path = dir_ / ("round" + std::to_string(++rounds_));
    std::filesystem::remove_all(path);
    std::filesystem::create_directories(path);
    std::filesystem::copy_file(dir_ / "seed" / "data.mdb", path / "data.mdb");
    return path;
  }

  // Runs `work` in a child process with `point` armed at its n-th call (or, for "commit.sync",
  // the n-th sync); true when the child died of SIGKILL there, as it reported through a pipe.
  bool killAt(const std::string& point, uint64_t n, const std::function<void()>& work) {
    int fds[2];
    EXPECT_EQ(pipe(fds), 0);
    pid_t pid = fork();
    if (pid == 0) {
      close(fds[0]);
      if (point == "commit.sync") {
        syncReportFd = fds[1];
        syncsLeft = static_cast<int64_t>(n);
      } else {
        engine::armCrash(point, n, fds[1]);
      }
      try {
        work();
      } catch (...) {
        _exit(3);
      }
      _exit(0);
    }
    close(fds[1]);
    std::string reported;
    char buf[256];
    for (ssize_t r; (r = read(fds[0], buf, sizeof buf)) > 0;) reported.append(buf, static_cast<size_t>(r));
    close(fds[0]);
    int status = 0;
    waitpid(pid, &status, 0);
    bool killed = WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL;
    EXPECT_TRUE(killed || (WIFEXITED(status) && WEXITSTATUS(status) == 0))
        << point << ":" << n << " ended with status " << status;
    if (!killed) return false;
    std::string expected = point == "commit.sync" ? "commit.sync\n" : point + ":" + std::to_string(n) + "\n";
    EXPECT_EQ(reported, expected);
    return reported == expected;
  }

  // Every record once, at version 2, stepped exactly once, and every index entry right.
  void expectUpgraded(Database& db, bool lowerEmail) {
    EXPECT_EQ(db.oldRecords(), 0u);
    auto people = db.table("people");
    auto tx = db.read();
    ASSERT_EQ(people.count(tx), static_cast<uint64_t>(kRecords));
    int seen = 0;
    for (auto c = people.scan(tx); c.valid(); c.next()) {
      ++seen;
      auto r = c.record();
      uint64_t id = r.get("id").as<uint64_t>();
      std::string email = r.get("email").as<capnp::Text>().cStr();
      std::string expected = "User" + std::to_string(id) + "@Example.org";
      if (lowerEmail) {
        for (char& ch : expected) ch = static_cast<char>(tolower(static_cast<unsigned char>(ch)));
      }
      EXPECT_EQ(email, expected);
      EXPECT_EQ(r.get("counter").as<uint32_t>(), 1u) << "record " << id << " stepped more than once";
      EXPECT_EQ(r.get("nameLength").as<uint32_t>(), nameOf(static_cast<int>(id)).size());
    }
    EXPECT_EQ(seen, kRecords);
    VerifyReport v = verify(db);
    EXPECT_TRUE(v.ok()) << (v.problems.empty() ? "" : v.problems[0]);
  }

  Options eager(const Migrations& m, bool sync = false) {
    Options o;
    o.migrations = &m;
    o.mode = MigrationMode::Eager;
    o.eager.batchRecords = 10;
    o.env.noSync = !sync;
    return o;
  }

  void report(const std::map<std::string, int>& kills, int wanted) {
    for (const auto& [phase, n] : kills) {
      std::printf("kills in phase %s: %d\n", phase.c_str(), n);
      EXPECT_GE(n, wanted) << "phase " << phase;
    }
  }

  testing::TempDir dir_;
  std::vector<orm::SchemaFile> files_;
  TableSchema v1_, v2_, v2Keyed_, v1Indexed_;
  Migrations withEmail_, plain_;
  int rounds_ = 0;
};

TEST_F(CrashTest, KillsInTheCheckRecordsAndIndexPhasesOfAnEagerMigration) {
  int k = killsPerPhase();
  std::map<std::string, int> kills;
  // Batches of 10 records: 60 checking, 60 rewriting into the table's other records database
  // (the last one swaps the two); an index build's batch reads ten times as many, so 6 building.
  // Kill points go round each phase's batches from its last one.
  const std::map<std::string, int> batches = {{"check", 60}, {"records", 60}, {"indexes", 6}};
  for (const char* phase : {"check", "records", "indexes"}) {
    kills[phase] = 0;  // a phase that no kill reached fails the report
    for (int i = 0; i < k; ++i) {
      // Half before a batch commits, half right after one.
      std::string point = std::string("migrate.") + phase + (i % 2 ? ".commit" : ".batch");
      auto path = fresh();
      uint64_t n = static_cast<uint64_t>(batches.at(phase) - i / 2 % batches.at(phase));
      bool killed = killAt(point, n, [&] { Database::open(path, Schemas{v2_}, eager(withEmail_)); });
      if (killed) ++kills[phase];
      Database db = Database::open(path, Schemas{v2_}, eager(withEmail_));
      expectUpgraded(db, true);
    }
  }
  report(kills, k);
}

TEST_F(CrashTest, KillsInTheRekeyPhaseOfAMoveToNewKeys) {
  int k = killsPerPhase();
  std::map<std::string, int> kills;
  // 6 batches of 10 records move the records into the other records database; the last one
  // swaps the two. Kill points go round them from the last.
  for (const char* phase : {"rekey"}) {
    kills[phase] = 0;  // a phase that no kill reached fails the report
    for (int i = 0; i < k; ++i) {
      std::string point = std::string("migrate.") + phase + (i % 2 ? ".commit" : ".batch");
      auto path = fresh();
      uint64_t n = static_cast<uint64_t>(6 - i / 2 % 6);
      bool killed = killAt(point, n, [&] { Database::open(path, Schemas{v2Keyed_}, eager(plain_)); });
      if (killed) ++kills[phase];
      Database db = Database::open(path, Schemas{v2Keyed_}, eager(plain_));
      expectUpgraded(db, false);
      // Keyed by name now.
      EXPECT_TRUE(db.table("people").get(db.read(), Key{nameOf(7)}).has_value());
    }
  }
  report(kills, k);
}

TEST_F(CrashTest, KillsInsideCommitsOfAnEagerMigration) {
  int k = killsPerPhase();
  std::map<std::string, int> kills;
  for (int i = 0; i < k; ++i) {
    auto path = fresh();
    // Syncs: every batch's commit (60 checking, 60 rewriting, 6 building: an index build's batch
    // reads ten times the records); spread the kills over the three phases.
    uint64_t n = 1 + static_cast<uint64_t>(i) * 17 % 125;
    if (killAt("commit.sync", n, [&] { Database::open(path, Schemas{v2_}, eager(withEmail_, true)); })) {
      ++kills["inside a commit"];
    }
    Database db = Database::open(path, Schemas{v2_}, eager(withEmail_, true));
    expectUpgraded(db, true);
  }
  report(kills, k);
}

TEST_F(CrashTest, KillsDuringAnIndexBuildAndDuringADrain) {
  int k = killsPerPhase();
  std::map<std::string, int> kills;
  for (int i = 0; i < k; ++i) {
    // An index added at the same version: the open empties it, drains fill it.
    auto path = fresh();
    Options o;
    o.env.noSync = true;
    o.eager.batchRecords = 1;  // index batches of 10 records: 60 to build
    std::string point = i % 2 ? "migrate.indexes.commit" : "migrate.indexes.batch";
    bool killed = killAt(point, 1 + static_cast<uint64_t>(i) * 7 % 50, [&] {
      Database db = Database::open(path, Schemas{v1Indexed_}, o);
      while (!db.drain(DrainBudget{.records = 25})) {
      }
    });
    if (killed) ++kills["index build"];
    Database db = Database::open(path, Schemas{v1Indexed_}, o);
    while (!db.drain(DrainBudget{.records = 1000})) {
    }
    EXPECT_EQ(db.table("people").count(db.read()), static_cast<uint64_t>(kRecords));
    VerifyReport v = verify(db);
    EXPECT_TRUE(v.ok()) << (v.problems.empty() ? "" : v.problems[0]);
    EXPECT_EQ(v.indexEntries, 3u * kRecords);
  }
  // A lazy (hybrid) open whose step writes an indexed field: the drain rewrites the records, then
  // builds the index the step feeds; kills in both.
  for (const char* phase : {"records", "indexes"}) {
    for (int i = 0; i < k; ++i) {
      auto path = fresh();
      Options o;
      o.env.noSync = true;
      o.migrations = &withEmail_;
      o.mode = MigrationMode::Hybrid;
      o.eager.batchRecords = 10;
      std::string point = std::string("migrate.") + phase + (i % 2 ? ".commit" : ".batch");
      // 60 batches rewrite the records, 6 build the index (ten times the records a batch).
      int batches = std::string(phase) == "records" ? 60 : 6;
      uint64_t n = 1 + static_cast<uint64_t>((i / 2) * 5 % batches);
      bool killed = killAt(point, n, [&] {
        Database db = Database::open(path, Schemas{v2_}, o);
        while (!db.drain(DrainBudget{.records = 25})) {
        }
      });
      if (killed) ++kills[std::string("lazy, ") + phase];
      Database db = Database::open(path, Schemas{v2_}, o);
      while (!db.drain(DrainBudget{.records = 1000})) {
      }
      expectUpgraded(db, true);
    }
  }
  for (int i = 0; i < k; ++i) {
    auto path = fresh();
    Options o;
    o.env.noSync = true;
    o.migrations = &plain_;
    o.mode = MigrationMode::Hybrid;
    o.eager.batchRecords = 10;
    std::string point = i % 2 ? "migrate.records.commit" : "migrate.records.batch";
    bool killed = killAt(point, 1 + static_cast<uint64_t>(i / 2), [&] {
      Database db = Database::open(path, Schemas{v2_}, o);
      while (!db.drain(DrainBudget{.records = 25})) {
      }
    });
    if (killed) ++kills["drain"];
    Database db = Database::open(path, Schemas{v2_}, o);
    while (!db.drain(DrainBudget{.records = 1000})) {
    }
    expectUpgraded(db, false);
  }
  report(kills, k);
}

TEST_F(CrashTest, KillsBeforeTheCommitOfPlainWritesLoseOnlyThatTransaction) {
  int k = killsPerPhase();
  std::map<std::string, int> kills;
  for (int i = 0; i < k; ++i) {
    auto path = fresh();
    uint64_t n = 1 + static_cast<uint64_t>(i) % 7;
    Options o;
    o.env.noSync = true;
    bool killed = killAt("write.commit", n, [&] {
      Database db = Database::open(path, Schemas{v1_}, o);
      for (int t = 0; t < 20; ++t) {
        db.write([&](WriteTxn& tx) {
          for (int j = 0; j < 10; ++j) {
            int id = 10000 + t * 10 + j;
            db.table("people").insert(tx, [&](capnp::DynamicStruct::Builder b) {
              b.set("id", id);
              b.set("email", capnp::Text::Reader(("w" + std::to_string(id)).c_str()));
              b.set("city", "oslo");
            });
          }
        });
      }
    });
    if (killed) ++kills["plain writes"];
    Database db = Database::open(path, Schemas{v1_}, o);
    // The n-1 transactions before the kill, whole; nothing of the n-th.
    EXPECT_EQ(db.table("people").count(db.read()), kRecords + 10 * (n - 1));
    EXPECT_EQ(db.query("SELECT count(*) FROM people WHERE city = 'oslo'").at(0, 0).integer(),
              static_cast<int64_t>(10 * (n - 1)));
    VerifyReport v = verify(db);
    EXPECT_TRUE(v.ok()) << (v.problems.empty() ? "" : v.problems[0]);
  }
  report(kills, k);
}

}  // namespace
}  // namespace capdb
