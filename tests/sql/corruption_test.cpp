// A damaged record met by a query: Corruption naming the table and the record, never a crash or a
// wrong row. A changed stored byte fails the record's checksum. Behind the checksum, the SQL
// executor reads records without the full pointer check (TableCore::decode): damage sealed with a
// right checksum (as a bug could write it) shows what stands behind that choice.
#include <gtest/gtest.h>

#include <random>

#include "capdb/capdb.h"
#include "orm/table_core.h"
#include "sql_people.capnp.h"
#include "support/stored_record.h"
#include "support/temp_dir.h"
#include "db/database_state.h"

namespace capdb {
namespace {

TEST(SqlCorruption, DamagedRecordsAreCorruptionNeverACrash) {
  testing::TempDir dir;
  Database db = Database::open(dir / "db", Schemas{table<sqltest::Person>()});
  db.query("INSERT INTO people (id, name, email, age, city, photo, address.street) VALUES "
           "(1, 'Ada', 'ada@x', 36, 'London', x'0102', 'Main St'), "
           "(2, 'Alan', 'alan@x', 41, 'Wilmslow', NULL, NULL)");
  const orm::TableCore& core = internal::core(db.table("people"));
  std::string pk = core.encodePrimaryKey(Key{1});
  std::string original;
  {
    auto tx = db.read();
    original = std::string(*internal::engineTxn(tx).get(core.records(tx), pk));
  }
  std::mt19937 rng(5);
  testing::OpenRecord open = testing::openRecord(original);
  int corruptions = 0, clean = 0, storedDamage = 0;
  for (int round = 0; round < 2000; ++round) {
    std::string bytes;
    bool sealed = round % 2 == 0;
    if (sealed) {
      // The message's words damaged, sealed with a right checksum.
      testing::OpenRecord damaged = open;
      for (int n = 1 + static_cast<int>(rng() % 3); n > 0; --n) {
        damaged.words[rng() % damaged.words.size()] = static_cast<char>(rng());
      }
      bytes = testing::sealRecord(damaged);
    } else {
      // The stored bytes damaged: every query that reads the record is Corruption.
      bytes = original;
      for (int n = 1 + static_cast<int>(rng() % 3); n > 0; --n) {
        size_t at = rng() % bytes.size();
        bytes[at] = static_cast<char>(bytes[at] ^ (1 + rng() % 255));
      }
    }
    internal::env(db).write([&](engine::WriteTxn& t) { t.put(core.records(t), pk, bytes); });
    for (const char* sql : {"SELECT * FROM people", "SELECT name, photo FROM people WHERE id = 1",
                            "SELECT count(*), max(address.street) FROM people WHERE id < 3"}) {
      try {
        auto r = db.query(sql);
        ASSERT_TRUE(sealed) << "a damaged stored record was read: " << sql;
        ++clean;
        // Record 2 is untouched: whatever record 1 reads as, record 2 reads right.
        if (std::string(sql).rfind("SELECT *", 0) == 0) {
          ASSERT_EQ(r.size(), 2u);
          EXPECT_EQ(r.at(1, r.column("name")).text(), "Alan");
        }
      } catch (const Error& e) {
        // Damage can also leave a readable record whose UInt64 id no longer fits SQL's INTEGER.
        if (e.code() == ErrorCode::InvalidArgument &&
            std::string(e.what()).find("above 2^63-1") != std::string::npos) {
          continue;
        }
        ASSERT_EQ(e.code(), ErrorCode::Corruption) << e.what();
        EXPECT_NE(std::string(e.what()).find("table people, record (1)"), std::string::npos) << e.what();
        ++corruptions;
        storedDamage += !sealed;
      }
    }
  }
  EXPECT_GT(corruptions, 100);
  EXPECT_GT(clean, 100);
  EXPECT_EQ(storedDamage, 3000);  // every query of every round whose stored bytes were damaged
}

}  // namespace
}  // namespace capdb
