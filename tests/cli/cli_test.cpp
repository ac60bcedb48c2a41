// The capdb command end to end: every subcommand against real database files, the interactive
// shell through a pseudo-terminal, bad input for each, and an upgrade killed and resumed.
#include <gtest/gtest.h>
#include <pty.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <fcntl.h>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "capdb/capdb.h"
#include "orm/table_core.h"
#include "support/command.h"
#include "support/temp_dir.h"
#include "db/database_state.h"

namespace capdb {
namespace {

const std::string kCapdb = CAPDB_CLI;
const std::string kExample = std::string(CAPDB_SOURCE_DIR) + "/examples/people";

using testing::Outcome;
using testing::slurp;

bool has(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

class Cli : public ::testing::Test {
 protected:
  // Runs capdb with `args`, `input` on standard input; output goes through files, so any size.
  Outcome run(std::vector<std::string> args, const std::string& input = "") {
    return testing::runCommand(kCapdb, std::move(args), dir_.path(), input);
  }

  std::string db() { return (dir_ / "db").string(); }

  // A database from the example's schema with its 200 people.
  void loadPeople() {
    ASSERT_EQ(run({"init", db(), "--schema", kExample + "/people.capnp"}).code, 0);
    Outcome r = run({"import", db(), "people", kExample + "/people.jsonl"});
    ASSERT_EQ(r.code, 0) << r.err;
    ASSERT_TRUE(has(r.out, "imported 200 records")) << r.out;
  }

  // A database from the example's schema with `n` people named "First<i> Last", for upgrades
  // long enough to stop part-way.
  void loadManyPeople(int n) {
    ASSERT_EQ(run({"init", db(), "--schema", kExample + "/people.capnp"}).code, 0);
    std::string lines;
    for (int i = 1; i <= n; ++i) {
      lines += "{\"name\":\"First" + std::to_string(i) + " Last\",\"email\":\"p" + std::to_string(i) +
               "@x\",\"age\":" + std::to_string(18 + i % 60) + ",\"city\":\"C" + std::to_string(i % 9) +
               "\"}\n";
    }
    ASSERT_EQ(run({"import", db(), "people", write("many.jsonl", lines)}).code, 0);
  }

  // After an upgrade of loadManyPeople's `n` people to the example's version 2: every record at
  // version 2 with its name split, and verify finds nothing wrong.
  void expectManyPeopleUpgraded(int n) {
    Outcome status = run({"status", db()});
    EXPECT_TRUE(has(status.out, "version 2: " + std::to_string(n) + " records")) << status.out;
    EXPECT_EQ(run({"sql", db(), "SELECT count(*) FROM people WHERE lastName = 'Last' AND firstName LIKE 'First%'",
                   "--format", "csv"}).out,
              "count(*)\n" + std::to_string(n) + "\n");
    Outcome v = run({"verify", db()});
    EXPECT_EQ(v.code, 0) << v.out;
  }

  std::string write(const std::string& name, const std::string& text) {
    auto p = dir_ / name;
    std::ofstream(p, std::ios::binary) << text;
    return p.string();
  }

  testing::TempDir dir_;
};

TEST_F(Cli, InitImportQueryInEveryFormat) {
  loadPeople();
  Outcome r = run({"sql", db(), "SELECT id, name, age FROM people WHERE id <= 2 ORDER BY id"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_TRUE(has(r.out, "id | name         | age")) << r.out;
  EXPECT_TRUE(has(r.out, "(2 rows)")) << r.out;
  r = run({"sql", db(), "SELECT id, name, age FROM people WHERE id = 1", "--format", "jsonl"});
  EXPECT_EQ(r.out, "{\"id\":1,\"name\":\"Ada Thompson\",\"age\":31}\n");
  r = run({"sql", db(), "SELECT id, name FROM people WHERE id <= 2 ORDER BY id", "--format", "csv"});
  EXPECT_EQ(r.out, "id,name\n1,Ada Thompson\n2,Alan Wilson\n");
  r = run({"sql", db(), "SELECT id FROM people WHERE id < 3 ORDER BY id", "--format", "json"});
  EXPECT_EQ(r.out, "[{\"id\":1},\n {\"id\":2}]\n");
  r = run({"sql", db(), "SELECT name FROM people WHERE city = :city AND age > ?1 ORDER BY id LIMIT 1",
           "--param", "city=Paris", "--param", "1=60", "--format", "csv"});
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out, "name\nTim Perlman\n");
  r = run({"sql", db(), "UPDATE people SET age = age + 1 WHERE city = 'Oslo'"});
  EXPECT_EQ(r.out, "25 records changed\n");
}

TEST_F(Cli, StatementsFromStandardInputStopAtTheFirstError) {
  loadPeople();
  Outcome r = run({"sql", db(), "--format", "csv"},
              "SELECT count(*) FROM people;\n-- a comment; not a statement\n"
              "DELETE FROM people WHERE id = 1; SELECT count(*) FROM people;");
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out, "count(*)\n200\ncount(*)\n199\n");
  r = run({"sql", db()}, "DELETE FROM people WHERE id = 2; SELECT nmae FROM people; DELETE FROM people;");
  EXPECT_EQ(r.code, 1);
  EXPECT_EQ(r.err, "capdb: error: statement 2: table people has no column 'nmae' (did you mean "
                   "'name'?)\n");
  EXPECT_TRUE(has(run({"sql", db(), "SELECT count(*) FROM people"}).out, "198"));
}

TEST_F(Cli, ExportsReimportAndFilter) {
  loadPeople();
  Outcome all = run({"export", db(), "people"});
  ASSERT_EQ(all.code, 0) << all.err;
  EXPECT_EQ(std::count(all.out.begin(), all.out.end(), '\n'), 200);
  std::string copy = (dir_ / "copy").string();
  ASSERT_EQ(run({"init", copy, "--schema", kExample + "/people.capnp"}).code, 0);
  ASSERT_EQ(run({"import", copy, "people", write("all.jsonl", all.out)}).code, 0);
  EXPECT_EQ(run({"export", copy, "people"}).out, all.out);

  Outcome paris = run({"export", db(), "people", "--where", "city = 'Paris' AND age > 60"});
  EXPECT_EQ(std::count(paris.out.begin(), paris.out.end(), '\n'), 7) << paris.out;
  EXPECT_EQ(paris.out.rfind("{\"id\":\"13\"", 0), 0u) << paris.out;  // primary-key order
  Outcome csv = run({"export", db(), "people", "--format", "csv", "--where", "id <= 3"});
  EXPECT_TRUE(has(csv.out, "id,name,email,age,city\n1,Ada Thompson,ada.thompson1@example.com,31,Oslo\n"))
      << csv.out;
  std::string csvCopy = (dir_ / "csvcopy").string();
  ASSERT_EQ(run({"init", csvCopy, "--schema", kExample + "/people.capnp"}).code, 0);
  Outcome in = run({"import", csvCopy, "people", write("p.csv", csv.out), "--format", "csv"});
  ASSERT_EQ(in.code, 0) << in.err;
  EXPECT_EQ(run({"export", csvCopy, "people", "--format", "csv"}).out, csv.out);
}

TEST_F(Cli, ImportsAreAllOrNothingAndNameTheBadLine) {
  loadPeople();
  std::string before = run({"export", db(), "people"}).out;
  Outcome r = run({"import", db(), "people",
               write("bad.jsonl", "{\"name\":\"Ok\",\"email\":\"new@x\"}\n{\"name\": 3, \"age\": 300}\n")});
  EXPECT_EQ(r.code, 1);
  EXPECT_TRUE(has(r.err, "capdb: error:") && has(r.err, "line 2")) << r.err;
  r = run({"import", db(), "people",
           write("bad.csv", "name,age\nOk,30\n\"Two\nLines\",31\nBad,300\n"), "--format", "csv"});
  EXPECT_EQ(r.code, 1);
  EXPECT_EQ(r.err, "capdb: error: line 5: people.age: '300' does not fit UInt8\n");
  r = run({"import", db(), "people", write("dup.csv", "email\nada.thompson1@example.com\n"),
           "--format", "csv"});
  EXPECT_EQ(r.code, 1);
  EXPECT_TRUE(has(r.err, "line 2") && has(r.err, "people_email")) << r.err;
  r = run({"import", db(), "peple", write("x.jsonl", "{}\n")});
  EXPECT_EQ(r.err, "capdb: error: no table named peple; did you mean people?\n");
  EXPECT_EQ(run({"export", db(), "people"}).out, before);
}

// A large import through the command, with a map far smaller than the file: the map grows
// mid-import and the import starts over from the file's first line, so every record is kept.
TEST_F(Cli, LargeImportsKeepEveryRecordWhileTheMapGrows) {
  setenv("CAPDB_MAP_SIZE", "262144", 1);
  struct Unset {
    ~Unset() { unsetenv("CAPDB_MAP_SIZE"); }
  } unset;
  std::string schema = write("orders.capnp",
                             "@0xd7a1c3e5f7091b2d;\nusing Db = import \"/capdb/annotations.capnp\";\n"
                             "struct Order $Db.table(\"orders\") $Db.version(1) $Db.primaryKey([\"id\"]) "
                             "{ id @0 :UInt64; customer @1 :Text $Db.indexed; amount @2 :Float64; "
                             "paid @3 :Bool; }\n");
  constexpr int kLines = 20000;
  std::string jsonl, csv = "id,customer,amount,paid\n";
  const char* truths[] = {"true", "false", "1", "0", "TRUE", "False"};
  for (int i = 1; i <= kLines; ++i) {
    std::string customer = "customer " + std::to_string(i % 500) + std::string(30, 'c');
    jsonl += "{\"id\":\"" + std::to_string(i) + "\",\"customer\":\"" + customer +
             "\",\"amount\":" + std::to_string(i) + ",\"paid\":" + (i % 2 ? "true" : "false") + "}\n";
    csv += std::to_string(i) + "," + customer + "," + std::to_string(i) + "," + truths[i % 6] + "\n";
  }
  for (const char* format : {"jsonl", "csv"}) {
    SCOPED_TRACE(format);
    std::string path = (dir_ / format).string();
    ASSERT_EQ(run({"init", path, "--schema", schema}).code, 0);
    std::string file = write(std::string("orders.") + format, format == std::string("csv") ? csv : jsonl);
    Outcome r = run({"import", path, "orders", file, "--format", format});
    ASSERT_EQ(r.code, 0) << r.err;
    EXPECT_EQ(r.out, "imported 20000 records into orders\n");
    r = run({"sql", path, "SELECT count(*), sum(id), min(id), max(id), sum(paid) FROM orders",
             "--format", "csv"});
    // sum(paid): the JSON marks odd ids paid; the CSV's true, 1 and TRUE fall on the even ids.
    int paid = kLines / 2;
    EXPECT_EQ(r.out, "count(*),sum(id),min(id),max(id),sum(paid)\n20000," +
                         std::to_string(int64_t{kLines} * (kLines + 1) / 2) + ",1,20000," +
                         std::to_string(paid) + "\n");
    EXPECT_EQ(run({"verify", path}).code, 0);
  }
  // A bad line at the end is named by its real line number, after the map grew, and nothing is
  // imported.
  std::string fresh = (dir_ / "fresh").string();
  ASSERT_EQ(run({"init", fresh, "--schema", schema}).code, 0);
  Outcome r = run({"import", fresh, "orders",
                   write("bad.csv", csv + "20001,someone,1.5,maybe\n"), "--format", "csv"});
  EXPECT_EQ(r.code, 1);
  EXPECT_EQ(r.err, "capdb: error: line 20002, column paid: 'maybe' is not a Bool (write true or "
                   "false, 1 or 0)\n");
  r = run({"import", fresh, "orders",
           write("bad.jsonl", jsonl + "{\"id\":\"20001\",\"amount\":\"\"}\n")});
  EXPECT_EQ(r.code, 1);
  EXPECT_TRUE(has(r.err, "line 20001")) << r.err;
  EXPECT_TRUE(has(r.err, "amount")) << r.err;
  EXPECT_FALSE(has(r.err, "endPtr")) << r.err;
  EXPECT_EQ(run({"sql", fresh, "SELECT count(*) FROM orders", "--format", "csv"}).out,
            "count(*)\n0\n");
  // Header names in any case, as SQL names columns; a Bool column still takes true and false.
  r = run({"import", fresh, "orders", write("case.csv", "ID,Customer,Amount,PAID\n1,x,2.5,TRUE\n"),
           "--format", "csv"});
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(run({"sql", fresh, "SELECT id, paid FROM orders", "--format", "csv"}).out,
            "id,paid\n1,1\n");
}

// Damaged files through the command: a truncated file is an error, not a SIGBUS, and verify
// reports a zeroed page by number instead of LMDB aborting the process.
TEST_F(Cli, DamagedFilesAreErrorsNamingTheDamage) {
  loadPeople();
  std::string data = db() + "/data.mdb";
  std::string bytes = slurp(data);
  {
    std::ofstream(data, std::ios::binary | std::ios::trunc) << bytes.substr(0, bytes.size() / 2);
    for (auto args : {std::vector<std::string>{"sql", db(), "SELECT count(*) FROM people"},
                      std::vector<std::string>{"export", db(), "people"},
                      std::vector<std::string>{"verify", db()}}) {
      Outcome r = run(args);
      EXPECT_EQ(r.code, 1) << args[0] << ": " << r.err << r.out;
      EXPECT_TRUE(has(r.err + r.out, "data.mdb is truncated")) << r.err << r.out;
    }
  }
  // Zero each page in turn until one in use is hit: verify names it and exits 1.
  size_t page = 4096;
  bool found = false;
  for (size_t p = 2; p * page < bytes.size() && !found; ++p) {
    std::string damaged = bytes;
    std::fill(damaged.begin() + static_cast<std::ptrdiff_t>(p * page),
              damaged.begin() + static_cast<std::ptrdiff_t>((p + 1) * page), '\0');
    std::ofstream(data, std::ios::binary | std::ios::trunc) << damaged;
    Outcome r = run({"verify", db()});
    if (r.code == 0) continue;  // a free page
    found = true;
    EXPECT_EQ(r.code, 1) << r.err;
    EXPECT_TRUE(has(r.out, "problem: page damage: database ") && has(r.out, std::to_string(p)))
        << r.out;
    EXPECT_TRUE(has(r.out, "the file is damaged")) << r.out;
  }
  EXPECT_TRUE(found);
}

// One byte changed inside a stored Text (the name of a record, in every copy of its page the file
// holds): the record's checksum fails, so verify reports it and a query is Corruption naming the
// table and key, never the changed name.
TEST_F(Cli, AByteFlippedInARecordIsCorruption) {
  loadPeople();
  std::string data = db() + "/data.mdb";
  std::string bytes = slurp(data);
  size_t flipped = 0;
  for (size_t at = bytes.find("Ada Thom"); at != std::string::npos;
       at = bytes.find("Ada Thom", at + 1)) {
    bytes[at + 4] = 'S';  // "Ada Shompson"
    ++flipped;
  }
  ASSERT_GE(flipped, 1u);
  std::ofstream(data, std::ios::binary | std::ios::trunc) << bytes;
  Outcome v = run({"verify", db()});
  EXPECT_EQ(v.code, 1) << v.out << v.err;
  EXPECT_TRUE(has(v.out, "table people, record (1): checksum mismatch")) << v.out;
  for (auto args : {std::vector<std::string>{"sql", db(), "SELECT name FROM people WHERE id = 1"},
                    std::vector<std::string>{"sql", db(), "SELECT count(*) FROM people WHERE name LIKE 'Ada%'"},
                    std::vector<std::string>{"export", db(), "people"}}) {
    Outcome r = run(args);
    EXPECT_EQ(r.code, 1) << args[2] << ": " << r.out;
    EXPECT_TRUE(has(r.err, "table people, record (1): checksum mismatch")) << r.err;
    EXPECT_FALSE(has(r.out, "Shompson")) << r.out;
  }
  // The other records still read.
  Outcome other = run({"sql", db(), "SELECT name FROM people WHERE id = 2"});
  EXPECT_EQ(other.code, 0) << other.err;
  EXPECT_TRUE(has(other.out, "Alan Wilson")) << other.out;
}

// --pack-records: the records an import writes are packed, a quarter smaller here, and read the
// same; a later command without the flag reads them and writes its own unpacked.
TEST_F(Cli, PackedRecordsTakeFewerPagesAndReadTheSame) {
  std::string plain = db() + "-plain";
  ASSERT_EQ(run({"init", plain, "--schema", kExample + "/people.capnp"}).code, 0);
  ASSERT_EQ(run({"import", plain, "people", kExample + "/people.jsonl"}).code, 0);
  ASSERT_EQ(run({"init", db(), "--schema", kExample + "/people.capnp"}).code, 0);
  Outcome r = run({"--pack-records", "import", db(), "people", kExample + "/people.jsonl"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_TRUE(has(run({"status", db()}).out, "storage: records 24.0 KiB (123 bytes each)"));
  EXPECT_TRUE(has(run({"status", plain}).out, "storage: records 32.0 KiB (164 bytes each)"));
  std::string query = "SELECT * FROM people ORDER BY id";
  EXPECT_EQ(run({"sql", db(), query}).out, run({"sql", plain, query}).out);
  ASSERT_EQ(run({"sql", db(), "UPDATE people SET age = age + 1 WHERE id < 10"}).code, 0);
  ASSERT_EQ(run({"sql", plain, "UPDATE people SET age = age + 1 WHERE id < 10"}).code, 0);
  EXPECT_EQ(run({"sql", db(), query}).out, run({"sql", plain, query}).out);
  Outcome v = run({"verify", db()});
  EXPECT_EQ(v.code, 0) << v.out;
}

// Updates that move index entries about leave pages part full; capdb compact fills them again and
// changes no answer.
TEST_F(Cli, CompactFillsThePagesAndChangesNothingElse) {
  loadPeople();
  for (int round = 0; round < 5; ++round) {
    ASSERT_EQ(run({"sql", db(), "UPDATE people SET age = (age * 7 + 3) % 90, email = email || 'x'"}).code, 0);
  }
  std::string query = "SELECT id, name, email, age, city FROM people ORDER BY id";
  std::string before = run({"sql", db(), query}).out;
  auto emailBytes = [&] {
    Outcome s = run({"status", db(), "--json"});
    size_t at = s.out.find("\"name\":\"people_email\"");
    size_t bytes = s.out.find("\"bytes\":", at);
    return std::stoull(s.out.substr(bytes + 8));
  };
  uint64_t sparse = emailBytes();
  Outcome c = run({"compact", db()});
  ASSERT_EQ(c.code, 0) << c.err;
  EXPECT_TRUE(has(c.out, "table people, records: ")) << c.out;
  EXPECT_TRUE(has(c.out, "table people, index people_email: ")) << c.out;
  EXPECT_TRUE(has(c.out, "compacted " + db() + ": ")) << c.out;
  EXPECT_EQ(run({"sql", db(), query}).out, before);
  Outcome v = run({"verify", db()});
  EXPECT_EQ(v.code, 0) << v.out;
  // The email index's entries moved five times; compacted, it takes fewer pages.
  EXPECT_LT(emailBytes(), sparse) << c.out;
}

// capdb import killed (SIGKILL, through a crash point armed in its environment) at ten points
// of an import: each time nothing of it is in the database, which verifies clean, and the import
// run again keeps every record.
TEST_F(Cli, AnImportKilledPartWayLeavesNothingBehind) {
  ASSERT_EQ(run({"init", db(), "--schema", kExample + "/people.capnp"}).code, 0);
  const char* kills = std::getenv("CAPDB_KILLS_PER_PHASE");
  int rounds = kills ? std::max(1, std::atoi(kills)) : 10;
  int killed = 0;
  for (int i = 0; i < rounds; ++i) {
    int n = 1 + i * 19 % 200;
    int fds[2];
    ASSERT_EQ(pipe(fds), 0);
    setenv("CAPDB_CRASH_AT", ("import.record:" + std::to_string(n)).c_str(), 1);
    setenv("CAPDB_CRASH_REPORT_FD", std::to_string(fds[1]).c_str(), 1);
    Outcome r = run({"import", db(), "people", kExample + "/people.jsonl"});
    unsetenv("CAPDB_CRASH_AT");
    unsetenv("CAPDB_CRASH_REPORT_FD");
    close(fds[1]);
    std::string reported(64, '\0');
    reported.resize(static_cast<size_t>(std::max<ssize_t>(0, read(fds[0], reported.data(), reported.size()))));
    close(fds[0]);
    EXPECT_EQ(r.code, 128 + SIGKILL) << r.err;
    EXPECT_EQ(reported, "import.record:" + std::to_string(n) + "\n");
    killed += r.code == 128 + SIGKILL;
    EXPECT_EQ(run({"sql", db(), "SELECT count(*) FROM people", "--format", "csv"}).out, "count(*)\n0\n");
    EXPECT_EQ(run({"verify", db()}).code, 0);
  }
  EXPECT_GE(killed, rounds);
  Outcome r = run({"import", db(), "people", kExample + "/people.jsonl"});
  EXPECT_EQ(r.out, "imported 200 records into people\n") << r.err;
}

TEST_F(Cli, BadInputIsOneErrorLineAndExitCodeOne) {
  EXPECT_EQ(run({"sql", db(), "SELECT 1"}).err,
            "capdb: error: no database at " + db() + " (capdb init creates one)\n");
  Outcome r = run({"init", db(), "--schema", write("bad.capnp", "@0xd61050620913875d;\nstruct {")});
  EXPECT_EQ(r.code, 1);
  EXPECT_TRUE(has(r.err, "capdb: error:") && has(r.err, "bad.capnp:2")) << r.err;
  r = run({"init", db(), "--schema", (dir_ / "missing.capnp").string()});
  EXPECT_EQ(r.code, 1);
  EXPECT_TRUE(has(r.err, "capdb: error:") && has(r.err, "missing.capnp")) << r.err;
  loadPeople();
  r = run({"sql", db(), "SELEC 1"});
  EXPECT_EQ(r.code, 1);
  EXPECT_EQ(r.err, "capdb: error: line 1, column 1: near \"SELEC\": expected SELECT, INSERT, UPDATE, "
                   "DELETE, EXPLAIN or MIGRATE\n");
  r = run({"sql", db(), "SELECT * FROM peple"});
  EXPECT_TRUE(has(r.err, "no table 'peple' (did you mean 'people'?)")) << r.err;
  EXPECT_EQ(run({"sql", db(), "SELECT ?1 FROM people"}).code, 1);
  EXPECT_EQ(run({"sql", db(), "SELECT 1 FROM people", "--param", "oops"}).code, 1);
  r = run({"export", db(), "people", "--where", "age > "});
  EXPECT_EQ(r.code, 1);
  EXPECT_TRUE(has(r.err, "capdb: error: --where age > : ")) << r.err;
}

TEST_F(Cli, BadUsageIsExitCodeTwoAndHelpIsZero) {
  EXPECT_EQ(run({}).code, 2);
  EXPECT_EQ(run({"frobnicate"}).code, 2);
  EXPECT_EQ(run({"init", db()}).code, 2);  // --schema is required
  EXPECT_EQ(run({"sql", db(), "SELECT 1", "--format", "xml"}).code, 2);
  Outcome help = run({"--help"});
  EXPECT_EQ(help.code, 0);
  for (const char* sub : {"init", "sql", "import", "export", "status", "diff", "upgrade", "verify", "backup"}) {
    EXPECT_TRUE(has(help.out, sub)) << sub;
    Outcome subHelp = run({sub, "--help"});
    EXPECT_EQ(subHelp.code, 0) << sub;
    EXPECT_TRUE(has(subHelp.out, "DB")) << sub;
  }
}

TEST_F(Cli, StatusVerifyAndBackup) {
  loadPeople();
  Outcome s = run({"status", db()});
  EXPECT_TRUE(has(s.out, "table people: version 1, 200 records, primary key (id)")) << s.out;
  EXPECT_TRUE(has(s.out, "index by_city_age (city, age): ready")) << s.out;
  // Each B-tree's pages (4 KiB each at this size), and per record or entry.
  EXPECT_TRUE(has(s.out, "  storage: records 32.0 KiB (164 bytes each); people_email 20.0 KiB (102 bytes "
                         "each); people_age 4.0 KiB (20 bytes each); by_city_age 12.0 KiB (61 bytes each)\n"))
      << s.out;
  Outcome j = run({"status", db(), "--json"});
  EXPECT_TRUE(has(j.out, "\"name\":\"people\",\"version\":1,\"records\":200,\"recordBytes\":32768,"
                         "\"recordsByVersion\":{\"1\":200}"))
      << j.out;
  EXPECT_TRUE(has(j.out, "\"name\":\"people_age\",\"fields\":[\"age\"],\"unique\":false,\"state\":\"ready\","
                         "\"entries\":200,\"bytes\":4096}"))
      << j.out;
  Outcome v = run({"verify", db()});
  EXPECT_EQ(v.code, 0);
  EXPECT_EQ(v.out, "200 records, 600 index entries checked: ok\n");
  {
    // An index entry lost behind the library's back: verify reports it and exits 1.
    Database d = Database::open(db());
    const auto& core = internal::core(d.table("people"));
    const auto& ageIndex = core.indexes()[1];
    internal::env(d).write([&](engine::WriteTxn& t) {
      auto scan = t.scan(ageIndex.db, engine::KeyRange::all());
      std::string first(scan.key());
      t.erase(ageIndex.db, first);
    });
  }
  Outcome broken = run({"verify", db()});
  EXPECT_EQ(broken.code, 1);
  EXPECT_TRUE(has(broken.out, "problem: table people: record") && has(broken.out, "has no entry") &&
              has(broken.out, "1 problems"))
      << broken.out;
  std::string copy = (dir_ / "backup").string();
  Outcome b = run({"backup", db(), copy, "--compact"});
  ASSERT_EQ(b.code, 0) << b.err;
  EXPECT_EQ(run({"export", copy, "people"}).out, run({"export", db(), "people"}).out);
  EXPECT_EQ(run({"backup", db(), copy}).code, 1);  // not empty
}

TEST_F(Cli, DiffShowsEachChangeAndASkeleton) {
  loadPeople();
  Outcome d = run({"diff", db(), "--schema", kExample + "/people_v2.capnp"});
  ASSERT_EQ(d.code, 0) << d.err;
  EXPECT_TRUE(has(d.out, "table people: version 1 -> 2")) << d.out;
  EXPECT_TRUE(has(d.out, "people.firstName: field renamed from name (wire-compatible)")) << d.out;
  std::string changed = slurp(kExample + "/people.capnp");
  changed.replace(changed.find("age @3 :UInt8"), 13, "age @3 :Float32");
  changed.replace(changed.find("$Db.version(1)"), 14, "$Db.version(2)");
  changed.replace(changed.find(" $Db.indexed"), 12, "");
  d = run({"diff", db(), "--schema", write("v2.capnp", changed), "-I", kExample});
  ASSERT_EQ(d.code, 0) << d.err;
  EXPECT_TRUE(has(d.out, "people.age: type changed UInt8 -> Float32 (needs a step)")) << d.out;
  EXPECT_TRUE(has(d.out, "MIGRATE people FROM 1 TO 2\n  -- age: type changed: UInt8 -> Float32\n  SET age = age;"))
      << d.out;
  Outcome noSteps = run({"upgrade", db(), "--schema", (dir_ / "v2.capnp").string(), "-I", kExample});
  EXPECT_EQ(noSteps.code, 1);
  EXPECT_TRUE(has(noSteps.err, "[with capdb: give the steps as MIGRATE statements in capdb upgrade "
                               "--migrations FILE.sql; capdb diff prints a skeleton]"))
      << noSteps.err;
}

TEST_F(Cli, UpgradeLazilyThenEagerlyWithADryRunAndABackupFirst) {
  loadPeople();
  std::string v2 = kExample + "/people_v2.capnp", steps = kExample + "/migrate_v2.sql";
  std::string before = run({"export", db(), "people"}).out;
  Outcome dry = run({"upgrade", db(), "--schema", v2, "--migrations", steps, "--dry-run"});
  ASSERT_EQ(dry.code, 0) << dry.err;
  EXPECT_TRUE(has(dry.out, "dry run: 200 records migrated")) << dry.out;
  EXPECT_TRUE(has(dry.out, "\"firstName\":\"Ada\"") && has(dry.out, "\"lastName\":\"Thompson\"")) << dry.out;
  EXPECT_EQ(run({"export", db(), "people"}).out, before);
  Outcome sample = run({"upgrade", db(), "--schema", v2, "--migrations", steps, "--dry-run", "--sample", "20"});
  ASSERT_EQ(sample.code, 0) << sample.err;
  EXPECT_TRUE(has(sample.out, "dry run over the first 20 records of each table")) << sample.out;
  EXPECT_TRUE(has(sample.out, "dry run: 20 records migrated")) << sample.out;
  EXPECT_EQ(run({"upgrade", db(), "--schema", v2, "--sample", "20"}).code, 1);
  EXPECT_EQ(run({"export", db(), "people"}).out, before);

  Outcome lazy = run({"upgrade", db(), "--schema", v2, "--migrations", steps, "--mode", "lazy"});
  ASSERT_EQ(lazy.code, 0) << lazy.err;
  EXPECT_TRUE(has(lazy.out, "200 records will be upgraded")) << lazy.out;
  EXPECT_TRUE(has(run({"status", db()}).out, "version 1: 200 records (old)"));
  // The steps are declarative, so the migration keeps them: the tool reads old records through
  // them, and a write stores the record as the steps make it.
  EXPECT_EQ(run({"sql", db(), "SELECT firstName, lastName FROM people WHERE id = 1", "--format", "csv"}).out,
            "firstName,lastName\nAda,Thompson\n");
  EXPECT_EQ(run({"sql", db(), "UPDATE people SET city = 'Rome' WHERE id = 1"}).code, 0);
  EXPECT_EQ(run({"sql", db(), "SELECT firstName, lastName, city FROM people WHERE id = 1", "--format", "csv"}).out,
            "firstName,lastName,city\nAda,Thompson,Rome\n");
  EXPECT_TRUE(has(run({"status", db()}).out, "version 1: 199 records (old)"));
  std::string saved = (dir_ / "saved").string();
  // Finished without --migrations: the kept steps do it.
  Outcome eager = run({"upgrade", db(), "--schema", v2, "--batch", "30", "--backup", saved});
  ASSERT_EQ(eager.code, 0) << eager.err;
  EXPECT_TRUE(has(eager.out, "records migrated")) << eager.out;
  EXPECT_TRUE(has(eager.err, "records (100.0%)")) << eager.err;
  EXPECT_TRUE(has(run({"status", db()}).out, "version 2: 200 records"));
  EXPECT_EQ(run({"sql", db(), "SELECT firstName, lastName FROM people WHERE id = 1", "--format", "csv"}).out,
            "firstName,lastName\nAda,Thompson\n");
  EXPECT_EQ(run({"verify", db()}).code, 0);
  EXPECT_TRUE(has(run({"status", saved}).out, "version 1: 199 records (old)"));

  Outcome badSteps = run({"upgrade", saved, "--schema", v2, "--migrations",
                      write("bad.sql", "MIGRATE people FROM 1 TO 2 SET lastName = nme")});
  EXPECT_EQ(badSteps.code, 1);
  EXPECT_TRUE(has(badSteps.err, "no column 'nme' (did you mean 'name'?)")) << badSteps.err;
}

// The change most apps make: a field computed from the others, and an index over it.
TEST_F(Cli, ALazyUpgradeFeedsANewIndexThatAnEagerOneFills) {
  const std::string header = "@0xd1a2b3c4d5e6f70a;\nusing Db = import \"/capdb/annotations.capnp\";\n";
  std::string v1 = write("v1.capnp", header +
      "struct Order $Db.table(\"orders\") $Db.version(1) $Db.primaryKey([\"id\"]) "
      "{ id @0 :UInt64; customer @1 :Text; amount @2 :Float64; }\n");
  auto v2Of = [&](const std::string& name, const char* annotation) {
    return write(name, header +
        "struct Order $Db.table(\"orders\") $Db.version(2) $Db.primaryKey([\"id\"]) "
        "{ id @0 :UInt64; customer @1 :Text; amount @2 :Float64; cents @3 :Int64 " + annotation + "; }\n");
  };
  std::string v2 = v2Of("v2.capnp", "$Db.indexed"), v2Unique = v2Of("v2u.capnp", "$Db.unique");
  std::string steps = write("steps.sql",
                            "MIGRATE orders FROM 1 TO 2 SET cents = CAST(round(amount * 100) AS INTEGER);\n");
  std::string lines;
  for (int i = 1; i <= 300; ++i) {
    lines += "{\"id\":\"" + std::to_string(i) + "\",\"customer\":\"c" + std::to_string(i % 7) +
             "\",\"amount\":" + std::to_string(i % 150) + ".25}\n";
  }
  std::string data = write("orders.jsonl", lines);
  ASSERT_EQ(run({"init", db(), "--schema", v1}).code, 0);
  ASSERT_EQ(run({"import", db(), "orders", data}).code, 0);
  std::string copy = (dir_ / "unique").string();
  ASSERT_EQ(run({"backup", db(), copy}).code, 0);

  Outcome lazy = run({"upgrade", db(), "--schema", v2, "--migrations", steps, "--mode", "lazy"});
  ASSERT_EQ(lazy.code, 0) << lazy.err;
  EXPECT_TRUE(has(lazy.out, "index orders_cents of orders is building")) << lazy.out;
  Outcome st = run({"status", db()});
  EXPECT_TRUE(has(st.out, "index orders_cents (cents): building: 0 of 300 records")) << st.out;
  EXPECT_TRUE(has(run({"status", db(), "--json"}).out,
                  "\"state\":\"building\",\"entries\":0,\"bytes\":0,\"done\":0,\"total\":300"));
  // Until it is ready, queries take another path and see every record at version 2.
  const std::string query = "SELECT id FROM orders WHERE cents = 1025 ORDER BY id";
  EXPECT_FALSE(has(run({"sql", db(), "EXPLAIN " + query}).out, "orders_cents"));
  EXPECT_EQ(run({"sql", db(), query, "--format", "csv"}).out, "id\n10\n160\n");
  // A write meanwhile: kept in the index, which the eager upgrade then fills.
  ASSERT_EQ(run({"sql", db(), "INSERT INTO orders (id, customer, amount, cents) VALUES (301, 'c1', 10.25, 1025)"}).code, 0);
  Outcome eager = run({"upgrade", db(), "--schema", v2, "--migrations", steps});
  ASSERT_EQ(eager.code, 0) << eager.err;
  EXPECT_TRUE(has(eager.err, "orders (index build): 301/301 records (100.0%)")) << eager.err;
  EXPECT_TRUE(has(run({"status", db()}).out, "index orders_cents (cents): ready"));
  EXPECT_TRUE(has(run({"sql", db(), "EXPLAIN " + query}).out, "orders_cents"));
  EXPECT_EQ(run({"sql", db(), query, "--format", "csv"}).out, "id\n10\n160\n301\n");
  EXPECT_EQ(run({"verify", db()}).code, 0);

  // Unique, over keys that repeat: the build fails the index, lists the keys, exits 1.
  ASSERT_EQ(run({"upgrade", copy, "--schema", v2Unique, "--migrations", steps, "--mode", "lazy"}).code, 0);
  Outcome failed = run({"upgrade", copy, "--schema", v2Unique, "--migrations", steps});
  EXPECT_EQ(failed.code, 1);
  EXPECT_TRUE(has(failed.err, "unique index orders_cents cannot be built, its keys repeat: key (25) of "
                              "records (150) and (300)")) << failed.err;
  st = run({"status", copy});
  EXPECT_TRUE(has(st.out, "index orders_cents (cents) unique: failed, its keys repeat (key (25) of "
                          "records (150) and (300);")) << st.out;
  EXPECT_EQ(run({"verify", copy}).code, 0);
  EXPECT_EQ(run({"sql", copy, "SELECT count(*) FROM orders", "--format", "csv"}).out, "count(*)\n300\n");
  // Opening with the index still declared is refused until the duplicates go and it rebuilds.
  Outcome again = run({"upgrade", copy, "--schema", v2Unique});
  EXPECT_EQ(again.code, 1);
  EXPECT_TRUE(has(again.err, "index orders_cents failed its build (key (25) of records (150) and (300)")) << again.err;
  ASSERT_EQ(run({"sql", copy, "DELETE FROM orders WHERE id > 150"}).code, 0);
  Outcome rebuild = run({"rebuild-index", copy, "orders", "orders_cents"});
  ASSERT_EQ(rebuild.code, 0) << rebuild.err;
  EXPECT_TRUE(has(rebuild.out, "index orders_cents of orders is building")) << rebuild.out;
  Outcome fixed = run({"upgrade", copy, "--schema", v2Unique});
  ASSERT_EQ(fixed.code, 0) << fixed.err;
  EXPECT_TRUE(has(run({"status", copy}).out, "index orders_cents (cents) unique: ready"));
  EXPECT_EQ(run({"verify", copy}).code, 0);
  EXPECT_EQ(run({"rebuild-index", copy, "orders", "by_nothing"}).code, 1);
}

TEST_F(Cli, AKilledUpgradeResumesWhereItStopped) {
  loadManyPeople(6000);
  std::string v2 = kExample + "/people_v2.capnp", steps = kExample + "/migrate_v2.sql";
  // Slowed to about a second, then killed part-way.
  pid_t pid = fork();
  if (pid == 0) {
    int null = open("/dev/null", O_WRONLY);
    dup2(null, 1);
    dup2(null, 2);
    execl(kCapdb.c_str(), kCapdb.c_str(), "upgrade", db().c_str(), "--schema", v2.c_str(),
          "--migrations", steps.c_str(), "--batch", "100", "--max-rate", "6000", nullptr);
    _exit(127);
  }
  // Killed once some batches are committed (the status shows the checkpoint moving).
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (std::chrono::steady_clock::now() < deadline) {
    std::string now = run({"status", db()}).out;
    if (has(now, "(records phase)") && !has(now, ": 0 of 6000")) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  kill(pid, SIGKILL);
  int status = 0;
  waitpid(pid, &status, 0);
  ASSERT_TRUE(WIFSIGNALED(status)) << "the upgrade finished before it was killed";
  Outcome mid = run({"status", db()});
  EXPECT_TRUE(has(mid.out, "migration from version 1 (records phase)")) << mid.out;

  Outcome resumed = run({"upgrade", db(), "--schema", v2, "--migrations", steps, "--batch", "500"});
  ASSERT_EQ(resumed.code, 0) << resumed.err;
  // The summary counts this run's records only.
  EXPECT_FALSE(has(resumed.out, "6000 records migrated")) << resumed.out;
  expectManyPeopleUpgraded(6000);
}

// SIGINT or SIGTERM stops an eager upgrade after the batch in flight: exit 130, the batches
// before it kept, and the same command resumes it. The database stays consistent either way.
TEST_F(Cli, AnInterruptedUpgradeStopsCleanlyAndResumes) {
  loadManyPeople(6000);
  std::string v2 = kExample + "/people_v2.capnp", steps = kExample + "/migrate_v2.sql";
  for (int sig : {SIGINT, SIGTERM}) {
    const std::string before = run({"status", db()}).out;
    auto err = dir_.path() / "upgrade.err";
    pid_t pid = fork();
    if (pid == 0) {
      int null = open("/dev/null", O_WRONLY), e = open(err.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
      dup2(null, 1);
      dup2(e, 2);
      execl(kCapdb.c_str(), kCapdb.c_str(), "upgrade", db().c_str(), "--schema", v2.c_str(),
            "--migrations", steps.c_str(), "--batch", "100", "--max-rate", "3000",
            sig == SIGTERM ? "--defer-sync" : nullptr, nullptr);
      _exit(127);
    }
    // Stopped once this run has committed some batches (the status shows the checkpoint move).
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    while (std::chrono::steady_clock::now() < deadline) {
      std::string now = run({"status", db()}).out;
      if (has(now, "phase)") && !has(now, ": 0 of 6000") && now != before) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    kill(pid, sig);
    int status = 0;
    waitpid(pid, &status, 0);
    ASSERT_TRUE(WIFEXITED(status)) << "ended by signal " << WTERMSIG(status);
    EXPECT_EQ(WEXITSTATUS(status), 130);
    std::string said = slurp(err);
    EXPECT_TRUE(has(said, "capdb: interrupted: table people: the migration stopped on request"))
        << said;
    EXPECT_TRUE(has(said, "resumes it")) << said;
    Outcome mid = run({"status", db()});
    EXPECT_TRUE(has(mid.out, "migration from version 1 (")) << mid.out;
    Outcome v = run({"verify", db()});
    EXPECT_EQ(v.code, 0) << v.out;
  }
  Outcome resumed = run({"upgrade", db(), "--schema", v2, "--migrations", steps, "--batch", "500"});
  ASSERT_EQ(resumed.code, 0) << resumed.err;
  expectManyPeopleUpgraded(6000);
}

TEST_F(Cli, TheInteractiveShellThroughAPseudoTerminal) {
  loadPeople();
  int master = -1;
  pid_t pid = forkpty(&master, nullptr, nullptr, nullptr);
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    setenv("HOME", dir_.path().c_str(), 1);  // the history file goes here
    execl(kCapdb.c_str(), kCapdb.c_str(), "sql", db().c_str(), nullptr);
    _exit(127);
  }
  std::string input =
      ".tables\n.schema people\nSELECT count(*)\n  FROM people;\n.explain on\n"
      "SELECT name FROM people WHERE id = 1;\nSELECT nmae FROM people;\n.bogus\n.quit\n";
  ASSERT_EQ(::write(master, input.data(), input.size()), static_cast<ssize_t>(input.size()));
  std::string output;
  char buf[4096];
  for (;;) {
    ssize_t n = read(master, buf, sizeof buf);
    if (n <= 0) break;  // EIO once the child has exited
    output.append(buf, static_cast<size_t>(n));
  }
  int status = 0;
  waitpid(pid, &status, 0);
  close(master);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << output;
  EXPECT_TRUE(has(output, "people (200 records, version 1)")) << output;
  EXPECT_TRUE(has(output, "index by_city_age (city, age)")) << output;
  EXPECT_TRUE(has(output, "200")) << output;
  EXPECT_TRUE(has(output, "plan: PRIMARY KEY SCAN people (id) (id = 1) est. 1 rows")) << output;
  EXPECT_TRUE(has(output, "Ada Thompson")) << output;
  EXPECT_TRUE(has(output, "error: table people has no column 'nmae'")) << output;
  EXPECT_FALSE(has(output, "plan: error")) << output;
  EXPECT_TRUE(has(output, "error: unknown command .bogus")) << output;
  EXPECT_TRUE(std::filesystem::exists(dir_ / ".capdb_history"));
}

}  // namespace
}  // namespace capdb
