// A damaged record met by a query: Corruption naming the table and the record, never a crash or a
// wrong row. The SQL executor reads records without the full pointer check (TableCore::decode),
// so this is what stands behind that choice.
#include <gtest/gtest.h>

#include <random>

#include "capdb/capdb.h"
#include "orm/table_core.h"
#include "sql_people.capnp.h"
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
    original = std::string(*internal::engineTxn(tx).get(core.records(), pk));
  }
  std::mt19937 rng(5);
  int corruptions = 0, clean = 0;
  for (int round = 0; round < 2000; ++round) {
    std::string bytes = original;
    // Leave the 8-byte record header alone: damage the message itself.
    for (int n = 1 + static_cast<int>(rng() % 3); n > 0; --n) {
      bytes[8 + rng() % (bytes.size() - 8)] = static_cast<char>(rng());
    }
    internal::env(db).write([&](engine::WriteTxn& t) { t.put(core.records(), pk, bytes); });
    for (const char* sql : {"SELECT * FROM people", "SELECT name, photo FROM people WHERE id = 1",
                            "SELECT count(*), max(address.street) FROM people WHERE id < 3"}) {
      try {
        auto r = db.query(sql);
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
      }
    }
  }
  EXPECT_GT(corruptions, 100);
  EXPECT_GT(clean, 100);
}

}  // namespace
}  // namespace capdb
