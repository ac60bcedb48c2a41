// Crash safety of eager migrations: a child process runs the migration at full speed, every commit
// synced, and is killed with SIGKILL at random moments (most inside a commit's sync), again and
// again; the child reports each phase it enters through a pipe, so the kills are counted by phase; then the migration is resumed to the end, and every record
// must be present, at the newest version, with the expected values, and every index must equal
// the index rebuilt from the records. The same again for a migration that moves every record to a
// new primary key. CAPDB_KILL_ROUNDS raises the number of kills (make stress).
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <map>
#include <random>
#include <set>
#include <sstream>

#include "capdb/capdb.h"
#include "engine/key_codec.h"
#include "orm/disk_names.h"
#include "orm/table_core.h"
#include "support/schema_text.h"
#include "support/temp_dir.h"
#include "db/database_state.h"

namespace capdb {
namespace {

constexpr int kRecords = 3000;

std::string upper(std::string s) {
  for (char& c : s) c = static_cast<char>(toupper(static_cast<unsigned char>(c)));
  return s;
}

// Kills migrations of 3000 people from version 1 to 2; with `rekey`, version 2's primary key is
// the name instead of the id.
void killAndResume(bool rekey) {
  ::capdb::testing::TempDir dir;
  auto v1File = ::capdb::testing::parseText(
      dir, "v1.capnp",
      "struct P $Db.table(\"people\") $Db.version(1) $Db.primaryKey([\"id\"]) "
      "{ id @0 :UInt64; name @1 :Text; city @2 :Text $Db.indexed; }\n");
  auto v2File = ::capdb::testing::parseText(
      dir, "v2.capnp",
      std::string("struct P $Db.table(\"people\") $Db.version(2) $Db.primaryKey([") +
          (rekey ? "\"name\"" : "\"id\"") +
          "]) { id @0 :UInt64; name @1 :Text; city @2 :Text $Db.indexed; nameLength @3 :UInt32; }\n");
  const TableSchema& v1 = v1File.tables[0];
  const TableSchema& v2 = v2File.tables[0];
  const char* cities[] = {"paris", "lima", "oslo", "quito"};
  Migrations m;
  m.step("people", 1, 2, [](capnp::DynamicStruct::Reader old, capnp::DynamicStruct::Builder next) {
    next.set("nameLength", old.get("name").as<capnp::Text>().size());
    next.set("city", capnp::Text::Reader(upper(old.get("city").as<capnp::Text>().cStr()).c_str()));
  }, {.writes = {"nameLength", "city"}});
  Options options;
  options.migrations = &m;
  options.mode = MigrationMode::Eager;
  options.eager.batchRecords = 25;  // at full speed, with every commit synced

  auto populate = [&](const std::filesystem::path& path) {
    std::filesystem::remove_all(path);
    Database db = Database::open(path, Schemas{v1});
    db.write([&](WriteTxn& tx) {
      for (int i = 1; i <= kRecords; ++i) {
        db.table("people").insert(tx, [&](capnp::DynamicStruct::Builder b) {
          b.set("id", i);
          b.set("name", capnp::Text::Reader(("person " + std::to_string(i)).c_str()));
          b.set("city", cities[i % 4]);
        });
      }
    });
  };

  // Resumes the migration to the end and checks every record and index.
  auto verify = [&](const std::filesystem::path& path) {
    Database db = Database::open(path, Schemas{v2}, options);
    EXPECT_EQ(db.oldRecords(), 0u);
    auto people = db.table("people");
    auto tx = db.read();
    ASSERT_EQ(people.count(tx), static_cast<uint64_t>(kRecords));
    // Every id once, in key order (by id, or by name after a move to the name as the key).
    std::set<uint64_t> seen;
    std::string lastName;
    uint64_t lastId = 0;
    for (auto r : people.scan(tx)) {
      uint64_t id = r.get("id").as<uint64_t>();
      std::string name = "person " + std::to_string(id);
      ASSERT_TRUE(seen.insert(id).second) << id;
      ASSERT_EQ(r.get("name").as<capnp::Text>(), name.c_str());
      if (rekey) ASSERT_LT(lastName, name);
      else ASSERT_LT(lastId, id);
      lastName = name;
      lastId = id;
      ASSERT_EQ(r.get("nameLength").as<uint32_t>(), name.size());
      ASSERT_EQ(std::string(r.get("city").as<capnp::Text>().cStr()), upper(cities[id % 4]));
    }
    ASSERT_EQ(seen.size(), static_cast<size_t>(kRecords));
    ASSERT_EQ(*seen.rbegin(), static_cast<uint64_t>(kRecords));
    for (int id = 1; id <= kRecords; id += 97) {
      Key key = rekey ? Key{"person " + std::to_string(id)} : Key{id};
      ASSERT_EQ(people.get(tx, key)->version(), 2u);
    }
    EXPECT_FALSE(internal::engineTxn(tx).openDb(orm::rekeyDbName("people")).has_value());
    // The index equals the index rebuilt from the records.
    const orm::TableCore& core = internal::core(people);
    for (const auto& index : core.indexes()) {
      std::set<std::pair<std::string, std::string>> stored, rebuilt;
      for (auto [k, v] : internal::engineTxn(tx).scan(index.db, engine::KeyRange::all())) stored.emplace(k, v);
      orm::RecordDecoder decoder;
      for (auto [pk, bytes] : internal::engineTxn(tx).scan(core.records(tx), engine::KeyRange::all())) {
        rebuilt.insert(core.indexEntry(index, core.decode(decoder, pk, bytes), pk));
      }
      EXPECT_EQ(stored, rebuilt) << index.schema.name;
    }
    EXPECT_TRUE(people.find(tx, "people_city", Range::prefix(Key{"PARIS"})).valid());
  };

  int rounds = 20;
  if (const char* env = std::getenv("CAPDB_KILL_ROUNDS")) rounds = std::max(1, std::atoi(env));
  std::mt19937 rng(4242);
  int kills = 0, migrations = 0;
  populate(dir / "db");
  std::map<std::string, int> phases;  // the phase of the last batch a killed child finished
  while (kills < rounds) {
    int fds[2];
    ASSERT_EQ(pipe(fds), 0);
    pid_t child = fork();
    ASSERT_GE(child, 0);
    if (child == 0) {
      close(fds[0]);
      try {
        Options reporting = options;
        std::string last;
        reporting.eager.progress = [&](const MigrationProgress& p) {
          if (p.phase == last) return;
          last = p.phase;
          std::string line = p.phase + "\n";
          ssize_t ignored = write(fds[1], line.data(), line.size());
          (void)ignored;
        };
        Database db = Database::open(dir / "db", Schemas{v2}, reporting);
        _exit(db.oldRecords() == 0 ? 0 : 3);
      } catch (...) {
        _exit(2);
      }
    }
    usleep(1000 * (2 + rng() % 60));
    kill(child, SIGKILL);
    int status = 0;
    waitpid(child, &status, 0);
    close(fds[1]);
    std::string reported;
    char buf[256];
    for (ssize_t r; (r = read(fds[0], buf, sizeof buf)) > 0;) reported.append(buf, static_cast<size_t>(r));
    close(fds[0]);
    if (WIFSIGNALED(status)) {
      ++kills;
      if (reported.empty()) {
        ++phases["(none yet)"];
      } else {
        reported.pop_back();
        ++phases[reported.substr(reported.rfind('\n') + 1)];
      }
      continue;
    }
    ASSERT_TRUE(WIFEXITED(status));
    ASSERT_EQ(WEXITSTATUS(status), 0) << "the migration failed after " << kills << " kills";
    // This migration finished between kills: check it, and start another.
    verify(dir / "db");
    ++migrations;
    populate(dir / "db");
  }
  verify(dir / "db");
  ++migrations;
  for (const auto& [phase, n] : phases) std::printf("random kills, last phase the child reported: %s: %d\n", phase.c_str(), n);
  ::testing::Test::RecordProperty("kills", kills);
  ::testing::Test::RecordProperty("migrations", migrations);
}

TEST(MigrationKill, SigkillAtRandomMomentsThenResumeLosesNothing) { killAndResume(false); }

TEST(MigrationKill, SigkillWhileRecordsMoveToNewKeysThenResumeLosesNothing) { killAndResume(true); }

}  // namespace
}  // namespace capdb
