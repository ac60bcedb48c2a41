#include "engine/cursor.h"

#include <gtest/gtest.h>
#include <lmdb.h>

#include <algorithm>
#include <random>

#include "engine/env.h"
#include "engine/key_codec.h"
#include "support/temp_dir.h"

namespace capdb::engine {
namespace {

std::string k(int64_t i) { return KeyEncoder().int64(i).bytes(); }

class CursorTest : public ::testing::Test {
 protected:
  void SetUp() override {
    env_ = std::make_unique<Env>(Env::open(dir_.path()));
    db_ = env_->write([](WriteTxn& tx) {
      Db db = tx.createDb("numbers");
      for (int64_t i = 10; i <= 50; i += 10) tx.put(db, k(i), std::to_string(i));
      return db;
    });
  }

  std::vector<std::string> collect(const KeyRange& range, Direction dir) {
    ReadTxn tx = env_->read();
    std::vector<std::string> out;
    for (auto [key, value] : tx.scan(db_, range, dir)) out.emplace_back(value);
    return out;
  }

  using V = std::vector<std::string>;
  testing::TempDir dir_;
  std::unique_ptr<Env> env_;
  Db db_;
};

TEST_F(CursorTest, WholeRangeBothDirections) {
  EXPECT_EQ(collect(KeyRange::all(), Direction::Forward), (V{"10", "20", "30", "40", "50"}));
  EXPECT_EQ(collect(KeyRange::all(), Direction::Backward), (V{"50", "40", "30", "20", "10"}));
}

TEST_F(CursorTest, EmptyRanges) {
  EXPECT_TRUE(collect(KeyRange::between(k(21), true, k(29), true), Direction::Forward).empty());
  EXPECT_TRUE(collect(KeyRange::between(k(21), true, k(29), true), Direction::Backward).empty());
  EXPECT_TRUE(collect(KeyRange::between(k(30), false, k(30), true), Direction::Forward).empty());
  EXPECT_TRUE(collect(KeyRange::between(k(40), true, k(20), true), Direction::Forward).empty());
  EXPECT_TRUE(collect(KeyRange::between(k(40), true, k(20), true), Direction::Backward).empty());
  EXPECT_TRUE(collect(KeyRange::atLeast(k(51)), Direction::Forward).empty());
  EXPECT_TRUE(collect(KeyRange::atMost(k(9)), Direction::Backward).empty());
  EXPECT_TRUE(collect(KeyRange::atLeast(k(50), false), Direction::Backward).empty());
  EXPECT_TRUE(collect(KeyRange::atMost(k(10), false), Direction::Forward).empty());
}

TEST_F(CursorTest, BoundsAtFirstAndLastKeys) {
  auto closed = KeyRange::between(k(10), true, k(50), true);
  EXPECT_EQ(collect(closed, Direction::Forward).size(), 5u);
  EXPECT_EQ(collect(closed, Direction::Backward).size(), 5u);
  auto open = KeyRange::between(k(10), false, k(50), false);
  EXPECT_EQ(collect(open, Direction::Forward), (V{"20", "30", "40"}));
  EXPECT_EQ(collect(open, Direction::Backward), (V{"40", "30", "20"}));
}

TEST_F(CursorTest, MixedInclusiveAndExclusiveBounds) {
  EXPECT_EQ(collect(KeyRange::between(k(20), true, k(40), false), Direction::Forward),
            (V{"20", "30"}));
  EXPECT_EQ(collect(KeyRange::between(k(20), false, k(40), true), Direction::Backward),
            (V{"40", "30"}));
  // Bounds between keys.
  EXPECT_EQ(collect(KeyRange::between(k(15), false, k(45), false), Direction::Backward),
            (V{"40", "30", "20"}));
  EXPECT_EQ(collect(KeyRange::atMost(k(35)), Direction::Backward), (V{"30", "20", "10"}));
  EXPECT_EQ(collect(KeyRange::atLeast(k(35)), Direction::Forward), (V{"40", "50"}));
  EXPECT_EQ(collect(KeyRange::point(k(30)), Direction::Backward), (V{"30"}));
}

TEST_F(CursorTest, EmptyDatabase) {
  Db empty = env_->write([](WriteTxn& tx) { return tx.createDb("empty"); });
  ReadTxn tx = env_->read();
  EXPECT_FALSE(tx.scan(empty, KeyRange::all()).valid());
  EXPECT_FALSE(tx.scan(empty, KeyRange::all(), Direction::Backward).valid());
  Cursor c = tx.cursor(empty);
  EXPECT_FALSE(c.first());
  EXPECT_FALSE(c.last());
  EXPECT_FALSE(c.seek(k(1)));
  EXPECT_FALSE(c.seekAtOrBefore(k(1)));
}

TEST_F(CursorTest, SeekNextPrev) {
  ReadTxn tx = env_->read();
  Cursor c = tx.cursor(db_);
  ASSERT_TRUE(c.seek(k(25)));
  EXPECT_EQ(c.value(), "30");
  ASSERT_TRUE(c.prev());
  EXPECT_EQ(c.value(), "20");
  ASSERT_TRUE(c.seekAtOrBefore(k(25)));
  EXPECT_EQ(c.value(), "20");
  ASSERT_TRUE(c.seekAtOrBefore(k(99)));
  EXPECT_EQ(c.value(), "50");
  EXPECT_FALSE(c.next());
  EXPECT_FALSE(c.next());  // stays off the end
  EXPECT_FALSE(c.seekExact(k(25)));
  ASSERT_TRUE(c.seekExact(k(40)));
  EXPECT_EQ(c.value(), "40");
}

TEST_F(CursorTest, PrefixRangeOverCompositeKeys) {
  Db pairs = env_->write([](WriteTxn& tx) {
    Db db = tx.createDb("pairs");
    for (const char* city : {"Lima", "Paris", "Parisville", "Oslo"}) {
      for (int64_t age : {20, 30, 40}) {
        tx.put(db, KeyEncoder().text(city).int64(age).bytes(), std::string(city) + std::to_string(age));
      }
    }
    return db;
  });
  ReadTxn tx = env_->read();
  std::vector<std::string> got;
  for (auto [key, value] : tx.scan(pairs, KeyRange::prefix(KeyEncoder().text("Paris").bytes()),
                                   Direction::Backward)) {
    got.emplace_back(value);
  }
  EXPECT_EQ(got, (V{"Paris40", "Paris30", "Paris20"}));
}

TEST_F(CursorTest, EraseThroughCursorVisitsEveryEntry) {
  env_->write([&](WriteTxn& tx) {
    Cursor c = tx.cursor(db_);
    int erased = 0;
    for (bool ok = c.first(); ok && c.valid();) {
      if (c.value() == "20" || c.value() == "30" || c.value() == "50") {
        c.erase();
        ++erased;
      } else {
        ok = c.next();
      }
    }
    EXPECT_EQ(erased, 3);
  });
  EXPECT_EQ(collect(KeyRange::all(), Direction::Forward), (V{"10", "40"}));
}

TEST_F(CursorTest, CursorOutlivingItsWriteTransactionIsSafeToDestroy) {
  std::optional<Cursor> c;
  {
    WriteTxn tx = env_->beginWrite();
    c.emplace(tx.cursor(db_));
    ASSERT_TRUE(c->first());
    tx.commit();
  }
  EXPECT_THROW(c->next(), Error);
  c.reset();  // must not free the cursor LMDB already freed
}

TEST(KeyOrder, KeysSortAsUnsignedBytesThenLengthForCapdbAndForLmdbsDefault) {
  // Keys that share long prefixes and differ anywhere in an 8-byte word, in its last byte, past
  // it, or only in length; bytes above 0x7f sort after those below.
  std::mt19937_64 rng(11);
  std::vector<std::string> keys;
  for (int i = 0; i < 3000; ++i) {
    std::string key(1 + rng() % 24, '\0');
    for (char& c : key) c = static_cast<char>(rng() % 4 == 0 ? 0xFF : rng() % 3);
    keys.push_back(key);
  }
  testing::TempDir dir;
  {
    Env env = Env::open(dir.path());
    env.write([&](WriteTxn& tx) {
      Db db = tx.createDb("keys");
      for (const auto& key : keys) tx.put(db, key, "v");
    });
  }
  std::sort(keys.begin(), keys.end());  // std::string orders chars as unsigned, then by length
  keys.erase(std::unique(keys.begin(), keys.end()), keys.end());
  {
    Env env = Env::open(dir.path());
    ReadTxn tx = env.read();
    std::vector<std::string> scanned;
    for (auto [key, value] : tx.scan(*tx.openDb("keys"), KeyRange::all())) scanned.emplace_back(key);
    EXPECT_EQ(scanned, keys);
  }
  // The file read with LMDB's own comparator (as mdb_dump would): the same tree, the same order.
  MDB_env* raw = nullptr;
  ASSERT_EQ(mdb_env_create(&raw), 0);
  mdb_env_set_maxdbs(raw, 8);
  ASSERT_EQ(mdb_env_open(raw, dir.path().c_str(), MDB_RDONLY, 0644), 0);
  MDB_txn* txn = nullptr;
  ASSERT_EQ(mdb_txn_begin(raw, nullptr, MDB_RDONLY, &txn), 0);
  MDB_dbi dbi;
  ASSERT_EQ(mdb_dbi_open(txn, "keys", 0, &dbi), 0);
  MDB_cursor* cursor = nullptr;
  ASSERT_EQ(mdb_cursor_open(txn, dbi, &cursor), 0);
  std::vector<std::string> byLmdb;
  MDB_val k, v;
  for (int rc = mdb_cursor_get(cursor, &k, &v, MDB_FIRST); rc == 0;
       rc = mdb_cursor_get(cursor, &k, &v, MDB_NEXT)) {
    byLmdb.emplace_back(static_cast<const char*>(k.mv_data), k.mv_size);
  }
  for (const auto& key : keys) {
    MDB_val want{key.size(), const_cast<char*>(key.data())};
    EXPECT_EQ(mdb_cursor_get(cursor, &want, &v, MDB_SET), 0);  // found by LMDB's own search
  }
  mdb_cursor_close(cursor);
  mdb_txn_abort(txn);
  mdb_env_close(raw);
  EXPECT_EQ(byLmdb, keys);
}

}  // namespace
}  // namespace capdb::engine
