// Opening databases against the catalog, transactions across threads and processes, JSON Lines.
#include <capnp/message.h>
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <fstream>
#include <sstream>
#include <thread>

#include "capdb/admin.h"
#include "capdb/capdb.h"
#include "orm/schema_file.h"
#include "all_types.capnp.h"
#include "person.capnp.h"
#include "support/errors.h"
#include "support/schema_text.h"
#include "support/temp_dir.h"

namespace capdb {
namespace {

using test::Person;

using ::capdb::testing::errorOf;

// Opens `dir/db` with one table parsed from `fields` as struct T.
Database openParsed(const testing::TempDir& dir, const std::string& annotations,
                    const std::string& fields, orm::SchemaFile& keep) {
  static int n = 0;
  keep = testing::parseText(dir, "v" + std::to_string(n++) + ".capnp",
                            "struct T $Db.table(\"t\") " + annotations + " { " + fields + " }\n");
  return Database::open(dir / "db", Schemas{keep.tables[0]});
}

TEST(DatabaseOpen, CompatibleChangeAtTheSameVersionOpens) {
  testing::TempDir dir;
  orm::SchemaFile f1, f2;
  {
    Database db = openParsed(dir, "$Db.primaryKey([\"id\"])", "id @0 :UInt64; name @1 :Text;", f1);
    auto t = db.table("t");
    db.write([&](WriteTxn& tx) {
      t.insert(tx, [](capnp::DynamicStruct::Builder b) {
        b.set("id", 1);
        b.set("name", "old");
      });
    });
  }
  Database db = openParsed(dir, "$Db.primaryKey([\"id\"])",
                           "id @0 :UInt64; fullName @1 :Text; score @2 :Float64 = 1.5;", f2);
  auto tx = db.read();
  auto row = db.table("t").get(tx, Key{1});
  ASSERT_TRUE(row);
  EXPECT_EQ(row->get().get("fullName").as<capnp::Text>(), "old");
  EXPECT_EQ(row->get().get("score").as<double>(), 1.5);
}

TEST(DatabaseOpen, IncompatibleChangeIsRefusedNamingTableFieldAndChange) {
  testing::TempDir dir;
  orm::SchemaFile f1, f2;
  { openParsed(dir, "$Db.primaryKey([\"id\"])", "id @0 :UInt64; score @1 :Float64;", f1); }
  std::string err = errorOf([&] {
    openParsed(dir, "$Db.primaryKey([\"id\"])", "id @0 :UInt64; score @1 :Int64;", f2);
  });
  EXPECT_NE(err.find("SchemaMismatch"), std::string::npos) << err;
  EXPECT_NE(err.find("t.score: type changed Float64 -> Int64"), std::string::npos) << err;
}

TEST(DatabaseOpen, VersionGapsNeedStepsUnlessWireCompatible) {
  testing::TempDir dir;
  orm::SchemaFile f1, f2, f3, f4;
  {
    Database db = openParsed(dir, "$Db.version(2) $Db.primaryKey([\"id\"])",
                             "id @0 :UInt64; s @1 :Float64;", f1);
    db.write([&](WriteTxn& tx) {
      db.table("t").insert(tx, [](capnp::DynamicStruct::Builder b) {
        b.set("id", 1);
        b.set("s", 2.5);
      });
    });
  }
  std::string older = errorOf([&] {
    openParsed(dir, "$Db.version(1) $Db.primaryKey([\"id\"])", "id @0 :UInt64;", f2);
  });
  EXPECT_NE(older.find("SchemaMismatch"), std::string::npos) << older;
  EXPECT_NE(older.find("newer than the app"), std::string::npos) << older;
  std::string incompatible = errorOf([&] {
    openParsed(dir, "$Db.version(3) $Db.primaryKey([\"id\"])", "id @0 :UInt64; s @1 :Int64;", f3);
  });
  EXPECT_NE(incompatible.find("SchemaMismatch"), std::string::npos) << incompatible;
  EXPECT_NE(incompatible.find("t.s: type changed Float64 -> Int64"), std::string::npos) << incompatible;
  // A wire-compatible change under a new version needs no step, and rewrites nothing.
  Database db = openParsed(dir, "$Db.version(3) $Db.primaryKey([\"id\"])",
                           "id @0 :UInt64; score @1 :Float64; x @2 :Int8 = 5;", f4);
  EXPECT_EQ(db.oldRecords(), 0u);
  auto tx = db.read();
  auto row = db.table("t").get(tx, Key{1});
  EXPECT_EQ(row->get().get("score").as<double>(), 2.5);
  EXPECT_EQ(row->get().get("x").as<int8_t>(), 5);
  EXPECT_EQ(row->version(), 2u);  // the bytes were not rewritten
}

TEST(DatabaseOpen, AddedIndexBuildsAfterOpenAndADuplicateFailsItUntilRebuilt) {
  testing::TempDir dir;
  orm::SchemaFile f1, f2, f3, f4;
  {
    Database db = openParsed(dir, "$Db.primaryKey([\"id\"])", "id @0 :UInt64; e @1 :Text;", f1);
    db.write([&](WriteTxn& tx) {
      for (int i = 1; i <= 3; ++i) {
        db.table("t").insert(tx, [&](capnp::DynamicStruct::Builder b) {
          b.set("id", i);
          b.set("e", i == 3 ? "dup" : (i == 1 ? "dup" : "x"));
        });
      }
    });
  }
  {
    // The open reads no record: the index is building, and find() says so.
    Database db = openParsed(dir, "$Db.primaryKey([\"id\"])", "id @0 :UInt64; e @1 :Text $Db.unique;", f2);
    EXPECT_EQ(status(db).tables[0].indexes[0].state, "building");
    std::string busy = errorOf([&] { db.table("t").find(db.read(), "t_e", Range::all()); });
    EXPECT_NE(busy.find("Busy"), std::string::npos) << busy;
    // The build meets the duplicate: the index fails, the records stay as they were.
    std::string err = errorOf([&] { db.migrate(); });
    EXPECT_NE(err.find("MigrationFailed"), std::string::npos) << err;
    EXPECT_NE(err.find("key ('dup') of records (1) and (3)"), std::string::npos) << err;
    IndexStatus is = status(db).tables[0].indexes[0];
    EXPECT_EQ(is.state, "failed");
    EXPECT_EQ(is.duplicates, std::vector<std::string>{"key ('dup') of records (1) and (3)"});
    EXPECT_EQ(db.table("t").count(db.read()), 3u);
    // The table stays usable; a failed index is neither kept nor read.
    db.write([&](WriteTxn& tx) {
      db.table("t").insert(tx, [](capnp::DynamicStruct::Builder b) {
        b.set("id", 4);
        b.set("e", "x");
      });
    });
    EXPECT_TRUE(verify(db).ok());
  }
  // An app that still declares the failed index is refused, naming the duplicates.
  std::string refused = errorOf([&] {
    openParsed(dir, "$Db.primaryKey([\"id\"])", "id @0 :UInt64; e @1 :Text $Db.unique;", f3);
  });
  EXPECT_NE(refused.find("SchemaMismatch"), std::string::npos) << refused;
  EXPECT_NE(refused.find("key ('dup') of records (1) and (3)"), std::string::npos) << refused;
  {
    // Without the app's schema (as the capdb tool opens it): remove the duplicates, restart.
    Database db = Database::open(dir / "db");
    db.query("DELETE FROM t WHERE id = 3 OR id = 4");
    db.rebuildIndex("t", "t_e");
    EXPECT_EQ(status(db).tables[0].indexes[0].state, "building");
  }
  Database db = openParsed(dir, "$Db.primaryKey([\"id\"])", "id @0 :UInt64; e @1 :Text $Db.unique;", f4);
  EXPECT_TRUE(db.drain(DrainBudget{}));
  EXPECT_EQ(status(db).tables[0].indexes[0].state, "ready");
  auto tx = db.read();
  int n = 0;
  for (auto r : db.table("t").find(tx, "t_e", Range::prefix(Key{"dup"}))) {
    (void)r;
    ++n;
  }
  EXPECT_EQ(n, 1);
  EXPECT_TRUE(verify(db).ok());
}

TEST(DatabaseOpen, ChangedIndexIsRebuiltAndAnOlderAppCannotDropIt) {
  testing::TempDir dir;
  orm::SchemaFile f1, f2, f3, f4;
  {
    Database db = openParsed(dir, "$Db.primaryKey([\"id\"])",
                             "id @0 :UInt64; e @1 :Text $Db.indexed; x @2 :Int32;", f1);
    db.write([&](WriteTxn& tx) {
      for (int i = 1; i <= 3; ++i) {
        db.table("t").insert(tx, [&](capnp::DynamicStruct::Builder b) {
          b.set("id", i);
          b.set("e", capnp::Text::Reader(("e" + std::to_string(i)).c_str()));
        });
      }
    });
  }
  {
    // The same index made unique: rebuilt after open, then usable and enforced.
    Database db = openParsed(dir, "$Db.primaryKey([\"id\"])",
                             "id @0 :UInt64; e @1 :Text $Db.unique; x @2 :Int32;", f2);
    db.migrate();
    auto tx = db.read();
    EXPECT_TRUE(db.table("t").find(tx, "t_e", Range::prefix(Key{"e2"})).valid());
    tx.release();
    std::string dup = errorOf([&] {
      db.write([&](WriteTxn& w) {
        db.table("t").insert(w, [](capnp::DynamicStruct::Builder b) {
          b.set("id", 9);
          b.set("e", "e1");
        });
      });
    });
    EXPECT_NE(dup.find("ConstraintViolation"), std::string::npos) << dup;
  }
  // An older app (without field x) that does not declare the index must not drop it.
  std::string older = errorOf([&] {
    openParsed(dir, "$Db.primaryKey([\"id\"])", "id @0 :UInt64; e @1 :Text;", f3);
  });
  EXPECT_NE(older.find("SchemaMismatch"), std::string::npos) << older;
  EXPECT_NE(older.find("t_e"), std::string::npos) << older;
  // The newer app still finds every record through it.
  Database db = openParsed(dir, "$Db.primaryKey([\"id\"])",
                           "id @0 :UInt64; e @1 :Text $Db.unique; x @2 :Int32;", f4);
  auto tx = db.read();
  int n = 0;
  for (auto r : db.table("t").find(tx, "t_e", Range::all())) {
    (void)r;
    ++n;
  }
  EXPECT_EQ(n, 3);
}

TEST(DatabaseOpen, GainingAutoIncrementContinuesAfterTheHighestKey) {
  testing::TempDir dir;
  orm::SchemaFile f1, f2;
  {
    Database db = openParsed(dir, "$Db.primaryKey([\"id\"])", "id @0 :UInt64;", f1);
    db.write([&](WriteTxn& tx) {
      db.table("t").insert(tx, [](capnp::DynamicStruct::Builder b) { b.set("id", 41); });
    });
  }
  Database db = openParsed(dir, "$Db.primaryKey([\"id\"])", "id @0 :UInt64 $Db.autoIncrement;", f2);
  EXPECT_EQ(db.write([&](WriteTxn& tx) {
    return db.table("t").insert(tx, [](capnp::DynamicStruct::Builder) {});
  }),
            42u);
}

TEST(DatabaseOpen, ReadOnlyDatabaseServesTypedTables) {
  testing::TempDir dir;
  {
    Database db = Database::open(dir / "db", Schemas{table<Person>()});
    db.write([&](WriteTxn& tx) {
      db.table<Person>().insert(tx, [](Person::Builder p) { p.setName("Ada"); });
    });
  }
  Options options;
  options.env.readOnly = true;
  Database db = Database::open(dir / "db", Schemas{table<Person>()}, options);
  auto tx = db.read();
  EXPECT_EQ(db.table<Person>().get(tx, Key{uint64_t{1}}).value()->getName(), "Ada");
  EXPECT_THROW(db.write([&](WriteTxn&) {}), Error);
}

TEST(TablesTheAppDoesNotList, StayReadable) {
  testing::TempDir dir;
  {
    Database db = Database::open(dir / "db", Schemas{table<Person>()});
    db.write([&](WriteTxn& tx) {
      db.table<Person>().insert(tx, [](Person::Builder p) { p.setName("Ada"); });
    });
  }
  Database tool = Database::open(dir / "db");
  EXPECT_EQ(tool.tableNames(), std::vector<std::string>{"people"});
  auto tx = tool.read();
  auto row = tool.table("people").get(tx, Key{1});
  ASSERT_TRUE(row);
  EXPECT_EQ(row->get().get("name").as<capnp::Text>(), "Ada");
}

TEST(Transactions, ThrowInsideWriteLeavesNoTrace) {
  testing::TempDir dir;
  Database db = Database::open(dir / "db", Schemas{table<Person>()});
  auto people = db.table<Person>();
  db.write([&](WriteTxn& tx) { people.insert(tx, [](Person::Builder p) { p.setEmail("a@x"); }); });
  EXPECT_THROW(db.write([&](WriteTxn& tx) {
    people.insert(tx, [](Person::Builder p) { p.setEmail("b@x"); });
    people.update(tx, Key{uint64_t{1}}, [](Person::Builder p) { p.setCity("Nowhere"); });
    people.remove(tx, Key{uint64_t{1}});
    throw std::runtime_error("app error");
  }),
               std::runtime_error);
  auto tx = db.read();
  EXPECT_EQ(people.count(tx), 1u);
  EXPECT_EQ(people.get(tx, Key{uint64_t{1}}).value()->getCity(), "");
  int emails = 0;
  for (auto p : people.find(tx, "people_email", Range::all())) {
    EXPECT_EQ(p.getEmail(), "a@x");
    ++emails;
  }
  EXPECT_EQ(emails, 1);
  tx.release();
  // The sequence was not advanced by the aborted insert.
  EXPECT_EQ(db.write([&](WriteTxn& w) { return people.insert(w, [](Person::Builder) {}); }), 2u);
}

// Writers keep name == city == email-prefix within every record; readers on two threads check
// every record they see, so a torn record (half one write, half another) would show.
TEST(Transactions, AMovedFromTransactionIsRefusedNotUsed) {
  testing::TempDir dir;
  Database db = Database::open(dir / "db", Schemas{table<Person>()});
  auto people = db.table<Person>();
  db.write([&](WriteTxn& tx) { people.insert(tx, [](Person::Builder p) { p.setEmail("a@x"); }); });
  ReadTxn a = db.read();
  ReadTxn b = std::move(a);
  EXPECT_EQ(people.count(b), 1u);
  const std::string moved = "InvalidArgument: transaction used after it was moved from";
  EXPECT_EQ(testing::errorOf([&] { people.get(a, Key{uint64_t{1}}); }), moved);
  WriteTxn w = db.beginWrite();
  WriteTxn w2 = std::move(w);
  EXPECT_EQ(testing::errorOf([&] { people.remove(w, Key{uint64_t{1}}); }), moved);
  w2.abort();
  // A body that moves its transaction away cannot commit it.
  EXPECT_EQ(testing::errorOf([&] { db.write([&](WriteTxn& tx) { WriteTxn kept = std::move(tx); }); }),
            moved);
  EXPECT_EQ(people.count(db.read()), 1u);
}

TEST(Transactions, AFailedWriteCannotBeCommittedEvenIfCaught) {
  testing::TempDir dir;
  Database db = Database::open(dir / "db", Schemas{table<Person>()});
  auto people = db.table<Person>();
  db.write([&](WriteTxn& tx) { people.insert(tx, [](Person::Builder p) { p.setEmail("a@x"); }); });
  std::string err = errorOf([&] {
    db.write([&](WriteTxn& tx) {
      try {
        people.insert(tx, [](Person::Builder p) { p.setEmail("a@x"); });
      } catch (const Error&) {
        // "insert or skip": the app goes on...
      }
      people.insert(tx, [](Person::Builder p) { p.setEmail("b@x"); });
    });
  });
  EXPECT_NE(err.find("InvalidArgument"), std::string::npos) << err;
  auto tx = db.read();
  EXPECT_EQ(people.count(tx), 1u);
}

TEST(Transactions, AbortInsideWriteDiscardsTheBody) {
  testing::TempDir dir;
  Database db = Database::open(dir / "db", Schemas{table<Person>()});
  auto people = db.table<Person>();
  int result = db.write([&](WriteTxn& tx) {
    people.insert(tx, [](Person::Builder p) { p.setName("gone"); });
    tx.abort();
    return 7;
  });
  EXPECT_EQ(result, 7);
  EXPECT_EQ(people.count(db.read()), 0u);
}

TEST(Transactions, NestedInsertInsideAFill) {
  testing::TempDir dir;
  Database db = Database::open(dir / "db", Schemas{table<Person>()});
  auto people = db.table<Person>();
  db.write([&](WriteTxn& tx) {
    people.insert(tx, [&](Person::Builder p) {
      uint64_t other = people.insert(tx, [](Person::Builder q) { q.setName("inner"); });
      p.setName("outer of " + std::to_string(other));
    });
  });
  auto tx = db.read();
  EXPECT_EQ(people.get(tx, Key{uint64_t{1}}).value()->getName(), "inner");
  EXPECT_EQ(people.get(tx, Key{uint64_t{2}}).value()->getName(), "outer of 1");
}

TEST(Transactions, BadDynamicInputIsACapdbError) {
  testing::TempDir dir;
  Database db = Database::open(dir / "db", Schemas{table<Person>()});
  auto people = db.table("people");
  std::string unknown = errorOf([&] {
    db.write([&](WriteTxn& tx) {
      people.insert(tx, [](capnp::DynamicStruct::Builder b) { b.set("nosuchfield", 1); });
    });
  });
  EXPECT_NE(unknown.find("InvalidArgument"), std::string::npos) << unknown;
  capnp::MallocMessageBuilder m;
  auto other = m.initRoot<test::Keyed>();
  std::string wrong = errorOf([&] {
    db.write([&](WriteTxn& tx) { people.update(tx, capnp::DynamicStruct::Reader(other.asReader())); });
  });
  EXPECT_NE(wrong.find("InvalidArgument"), std::string::npos) << wrong;
}

TEST(Transactions, ReadersOnOtherThreadsNeverSeeATornRecord) {
  testing::TempDir dir;
  Database db = Database::open(dir / "db", Schemas{table<Person>()});
  auto people = db.table<Person>();
  db.write([&](WriteTxn& tx) {
    for (int i = 0; i < 50; ++i) {
      people.insert(tx, [&](Person::Builder p) {
        p.setName("v0");
        p.setCity("v0");
      });
    }
  });
  std::atomic<bool> done{false}, torn{false};
  std::atomic<int> reads{0};
  auto reader = [&] {
    while (!done) {
      auto tx = db.read();
      uint64_t n = 0;
      std::string version;
      for (auto p : people.scan(tx)) {
        if (p.getName() != p.getCity()) torn = true;
        // One write transaction updates every record: a snapshot sees one version throughout.
        if (version.empty()) version = p.getName().cStr();
        if (version != p.getName().cStr()) torn = true;
        ++n;
      }
      if (n != people.count(tx)) torn = true;
      ++reads;
    }
  };
  std::thread r1(reader), r2(reader);
  for (int v = 1; v <= 200; ++v) {
    std::string value = "v" + std::to_string(v);
    db.write([&](WriteTxn& tx) {
      for (uint64_t id = 1; id <= 50; ++id) {
        people.update(tx, Key{id}, [&](Person::Builder p) {
          p.setName(value);
          p.setCity(value);
        });
      }
    });
  }
  done = true;
  r1.join();
  r2.join();
  EXPECT_FALSE(torn);
  EXPECT_GT(reads.load(), 0);
}

TEST(Transactions, ADatabaseReopensInANewProcess) {
  testing::TempDir dir;
  {
    Database db = Database::open(dir / "db", Schemas{table<Person>()});
    db.write([&](WriteTxn& tx) {
      for (const char* name : {"Ada", "Grace"}) {
        db.table<Person>().insert(tx, [&](Person::Builder p) {
          p.setName(name);
          p.setCity("London");
        });
      }
    });
  }
  pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    // A fresh process: nothing of the parent's Database survives here but the files.
    int code = 0;
    try {
      Database db = Database::open(dir / "db", Schemas{table<Person>()});
      auto people = db.table<Person>();
      auto tx = db.read();
      if (people.count(tx) != 2) code = 2;
      if (people.get(tx, Key{uint64_t{2}}).value()->getName() != "Grace") code = 3;
      int london = 0;
      for (auto p : people.find(tx, "by_city_age", Range::prefix(Key{"London"}))) {
        (void)p;
        ++london;
      }
      if (london != 2) code = 4;
      tx.release();
      db.write([&](WriteTxn& w) { people.insert(w, [](Person::Builder p) { p.setName("Edsger"); }); });
    } catch (...) {
      code = 1;
    }
    _exit(code);
  }
  int status = 0;
  waitpid(child, &status, 0);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0);
  Database db = Database::open(dir / "db", Schemas{table<Person>()});
  auto tx = db.read();
  EXPECT_EQ(db.table<Person>().get(tx, Key{uint64_t{3}}).value()->getName(), "Edsger");
}

TEST(JsonLines, ExportImportRoundTrip) {
  testing::TempDir dir;
  std::string exported;
  {
    Database db = Database::open(dir / "a", Schemas{table<Person>()});
    auto people = db.table("people");
    db.write([&](WriteTxn& tx) {
      for (const char* name : {"Ada", "Grace \"Amazing\"", "Edsger"}) {
        people.insert(tx, [&](capnp::DynamicStruct::Builder b) {
          b.set("name", name);
          b.set("age", 40);
        });
      }
    });
    std::ostringstream out;
    EXPECT_EQ(people.exportJsonLines(db.read(), out), 3u);
    exported = out.str();
  }
  EXPECT_EQ(std::count(exported.begin(), exported.end(), '\n'), 3);
  EXPECT_NE(exported.find("\"name\":\"Ada\""), std::string::npos) << exported;
  Database db = Database::open(dir / "b", Schemas{table<Person>()});
  std::istringstream in(exported);
  EXPECT_EQ(db.importJsonLines("people", in), 3u);
  std::ostringstream again;
  db.table("people").exportJsonLines(db.read(), again);
  EXPECT_EQ(again.str(), exported);
}

TEST(JsonLines, ALargeImportGrowsTheMap) {
  testing::TempDir dir;
  Options options;
  options.env.mapSize = 1 << 20;
  Database db = Database::open(dir / "db", Schemas{table<Person>()}, options);
  std::string lines;
  for (int i = 1; i <= 20000; ++i) {
    lines += "{\"name\":\"person " + std::to_string(i) + "\",\"city\":\"" + std::string(40, 'c') + "\"}\n";
  }
  std::istringstream in(lines);
  EXPECT_EQ(db.importJsonLines("people", in), 20000u);
  EXPECT_EQ(db.table("people").count(db.read()), 20000u);
}

// An import writes the entries of its non-unique indexes in key order at its end: pages as full
// as compact() leaves them, every entry right, whether the index was empty (appended) or not.
TEST(JsonLines, AnImportFillsItsIndexPages) {
  testing::TempDir dir;
  Options options;
  options.env.mapSize = 1 << 20;  // the import grows the map and runs again from its start
  Database db = Database::open(dir / "db", Schemas{table<Person>()}, options);
  auto lines = [](int from, int to) {
    std::string out;
    for (int i = from; i <= to; ++i) {
      out += "{\"id\":\"" + std::to_string(i) + "\",\"email\":\"p" + std::to_string(i) +
             "\",\"age\":" + std::to_string((i * 37) % 100) + ",\"city\":\"city " +
             std::to_string((i * 7919) % 1000) + "\"}\n";
    }
    return out;
  };
  std::istringstream first(lines(1, 20000));
  EXPECT_EQ(db.importJsonLines("people", first), 20000u);
  auto bytesOf = [&](const std::string& index) {
    DatabaseStatus now = status(db);
    for (const auto& i : now.tables.at(0).indexes) {
      if (i.name == index) return i.bytes;
    }
    return uint64_t{0};
  };
  uint64_t byCityAge = bytesOf("by_city_age");
  for (const auto& t : compact(db)) {
    // The non-unique indexes gain nothing; the unique one (entries written at once, to find a
    // duplicate at its line) does.
    if (t.index == "by_city_age" || t.index == "people_age") {
      EXPECT_EQ(t.bytesAfter, t.bytesBefore) << t.index;
    }
  }
  EXPECT_EQ(bytesOf("by_city_age"), byCityAge);
  // Into indexes that hold entries already: written in key order among them.
  std::istringstream second(lines(20001, 25000));
  EXPECT_EQ(db.importJsonLines("people", second), 5000u);
  VerifyReport report = verify(db);
  EXPECT_TRUE(report.ok()) << report.problems.at(0);
  EXPECT_EQ(report.records, 25000u);
  EXPECT_EQ(report.indexEntries, 75000u);
  EXPECT_EQ(db.query("SELECT count(*) FROM people WHERE age = 37").at(0, 0).integer(), 250);
}

// A failed import inside the app's own transaction leaves the transaction failed: the entries it
// held back were never written, so it can only be aborted.
TEST(JsonLines, AFailedImportInATransactionCannotBeCommitted) {
  testing::TempDir dir;
  Database db = Database::open(dir / "db", Schemas{table<Person>()});
  auto people = db.table("people");
  std::string e = errorOf([&] {
    db.write([&](WriteTxn& tx) {
      try {
        people.importJsonLines(tx, "{\"id\":\"1\",\"age\":3}\n{\"id\":\"2\",\"age\":300}\n");
      } catch (const Error&) {
        // caught, and the transaction committed anyway
      }
    });
  });
  EXPECT_NE(e.find("the transaction cannot commit: a write in it failed (table people, line 2"), std::string::npos) << e;
  EXPECT_EQ(people.count(db.read()), 0u);
  EXPECT_TRUE(verify(db).ok());
}

TEST(JsonLines, BadLineNamesItsNumberAndImportsNothing) {
  testing::TempDir dir;
  Database db = Database::open(dir / "db", Schemas{table<Person>()});
  auto people = db.table("people");
  auto import = [&](const std::string& text) {
    return errorOf([&] {
      db.write([&](WriteTxn& tx) { people.importJsonLines(tx, text); });
    });
  };
  std::string syntax = import("{\"id\":\"1\",\"name\":\"a\"}\n\n{\"id\":\"2\",\"name\":\n");
  EXPECT_NE(syntax.find("InvalidArgument"), std::string::npos) << syntax;
  EXPECT_NE(syntax.find("line 3"), std::string::npos) << syntax;
  std::string field = import("{\"id\":\"1\"}\n{\"id\":\"2\",\"nope\":1}\n");
  EXPECT_NE(field.find("line 2"), std::string::npos) << field;
  std::string dup = import("{\"id\":\"1\",\"email\":\"a\"}\n{\"id\":\"2\",\"email\":\"a\"}\n");
  EXPECT_NE(dup.find("ConstraintViolation"), std::string::npos) << dup;
  EXPECT_NE(dup.find("line 2"), std::string::npos) << dup;
  std::string range = import("{\"id\":\"1\",\"age\":300}\n");
  EXPECT_NE(range.find("line 1"), std::string::npos) << range;
  EXPECT_EQ(people.count(db.read()), 0u);
}

TEST(JsonLines, AValueOfTheWrongKindNamesTheLineTheFieldTheValueAndTheType) {
  testing::TempDir dir;
  Database db = Database::open(dir / "db", Schemas{table<Person>()});
  auto people = db.table("people");
  auto import = [&](const std::string& line) {
    return errorOf([&] {
      db.write([&](WriteTxn& tx) { people.importJsonLines(tx, "{\"id\":\"1\"}\n" + line + "\n"); });
    });
  };
  EXPECT_EQ(import("{\"id\":\"\"}"),
            "InvalidArgument: table people, line 2: id = \"\" is not an integer (UInt64)");
  EXPECT_EQ(import("{\"age\":\"abc\"}"),
            "InvalidArgument: table people, line 2: age = \"abc\" is not an integer (UInt8)");
  EXPECT_EQ(import("{\"age\":300}"),
            "InvalidArgument: table people, line 2: age = 300 is out of range for UInt8");
  EXPECT_EQ(import("{\"id\":\"-1\"}"),
            "InvalidArgument: table people, line 2: id = \"-1\" is out of range for UInt64");
  // What strtoll would take and Cap'n Proto's codec would not: named here, not by the codec.
  for (const char* odd : {"\" 7\"", "\"+7\"", "\"0x7\"", "\"7 \""}) {
    EXPECT_EQ(import(std::string("{\"id\":") + odd + "}"),
              std::string("InvalidArgument: table people, line 2: id = ") + odd +
                  " is not an integer (UInt64)");
  }
  EXPECT_EQ(import("{\"name\":5}"),
            "InvalidArgument: table people, line 2: name = 5 is not Text (write a JSON string)");
  EXPECT_EQ(import("{\"nope\":1}"), "InvalidArgument: table people, line 2: nope is not a field of Person");
  EXPECT_EQ(people.count(db.read()), 0u);
}

TEST(JsonLines, AStreamThatCannotBeReadIsAnErrorNotAnEmptyImport) {
  testing::TempDir dir;
  Database db = Database::open(dir / "db", Schemas{table<Person>()});
  std::ifstream missing(dir / "no such file");
  std::string e = errorOf([&] { db.importJsonLines("people", missing); });
  EXPECT_EQ(e.rfind("IoError: the input cannot be read", 0), 0u) << e;
}

}  // namespace
}  // namespace capdb
