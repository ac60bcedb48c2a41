#include "engine/txn.h"

#include <gtest/gtest.h>

#include <atomic>
#include <filesystem>
#include <map>
#include <random>
#include <stdexcept>
#include <thread>

#include "engine/env.h"
#include "engine/key_codec.h"
#include "support/temp_dir.h"

namespace capdb::engine {
namespace {

std::string k(int64_t i) { return KeyEncoder().int64(i).bytes(); }

class TxnTest : public ::testing::Test {
 protected:
  void SetUp() override {
    env_ = std::make_unique<Env>(Env::open(dir_.path()));
    db_ = env_->write([](WriteTxn& tx) { return tx.createDb("t"); });
  }
  testing::TempDir dir_;
  std::unique_ptr<Env> env_;
  Db db_;
};

TEST_F(TxnTest, AppendManyRefusesAKeyOutOfOrderNamingIt) {
  env_->write([&](WriteTxn& tx) { tx.appendMany(db_, {{{k(1), "a"}, {k(2), "b"}}}); });
  std::string err;
  try {
    env_->write([&](WriteTxn& tx) { tx.appendMany(db_, {{{k(3), "c"}, {k(5), "e"}, {k(4), "d"}}}); });
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::InvalidArgument);
    err = e.what();
  }
  EXPECT_NE(err.find("appending " + formatKey(k(4)) + " to t: the key does not follow " +
                     formatKey(k(5))), std::string::npos) << err;
  try {
    err.clear();
    env_->write([&](WriteTxn& tx) { tx.appendMany(db_, {{{k(2), "again"}}}); });
  } catch (const Error& e) {
    err = e.what();
  }
  EXPECT_NE(err.find("does not follow the last key there"), std::string::npos) << err;
  ReadTxn tx = env_->read();
  EXPECT_EQ(tx.count(db_), 2u);  // neither transaction committed
}

TEST_F(TxnTest, PutGetInsertEraseAppend) {
  env_->write([&](WriteTxn& tx) {
    tx.put(db_, k(1), "one");
    EXPECT_TRUE(tx.insert(db_, k(2), "two"));
    EXPECT_FALSE(tx.insert(db_, k(2), "deux"));
    tx.append(db_, k(3), "three");
    EXPECT_THROW(tx.append(db_, k(0), "zero"), Error);
  });
  ReadTxn tx = env_->read();
  EXPECT_EQ(tx.get(db_, k(1)), "one");
  EXPECT_EQ(tx.get(db_, k(2)), "two");
  EXPECT_EQ(tx.get(db_, k(3)), "three");
  EXPECT_EQ(tx.get(db_, k(4)), std::nullopt);
  EXPECT_EQ(tx.count(db_), 3u);
  tx.release();
  env_->write([&](WriteTxn& w) {
    EXPECT_TRUE(w.erase(db_, k(1)));
    EXPECT_FALSE(w.erase(db_, k(1)));
    auto space = w.reserve(db_, k(9), 4);
    std::copy_n("nine", 4, space.begin());
  });
  EXPECT_EQ(env_->read().get(db_, k(9)), "nine");
  EXPECT_EQ(env_->read().count(db_), 3u);
}

TEST_F(TxnTest, BadKeysAreInvalidArgument) {
  WriteTxn tx = env_->beginWrite();
  try {
    tx.put(db_, std::string(512, 'k'), "v");
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::InvalidArgument);
    EXPECT_NE(std::string(e.what()).find("512 bytes"), std::string::npos) << e.what();
  }
  EXPECT_THROW(tx.put(db_, "", "v"), Error);
  EXPECT_THROW(tx.createDb(std::string("a\0b", 3)), Error);
}

TEST_F(TxnTest, PutManyStoresEveryEntryInAnyOrderAndChecksKeysFirst) {
  std::vector<std::string> keys, values;
  for (int64_t i = 0; i < 2000; ++i) {
    keys.push_back(k(i % 2 ? i : 3000 - i));  // ascending runs and descending ones
    values.push_back(std::string(static_cast<size_t>(i % 300), 'v') + std::to_string(i));
  }
  std::vector<std::pair<std::string_view, std::string_view>> entries;
  for (size_t i = 0; i < keys.size(); ++i) entries.emplace_back(keys[i], values[i]);
  env_->write([&](WriteTxn& tx) {
    tx.put(db_, k(1), "replaced");
    tx.putMany(db_, entries);
  });
  ReadTxn tx = env_->read();
  EXPECT_EQ(tx.count(db_), keys.size());
  for (size_t i = 0; i < keys.size(); ++i) EXPECT_EQ(*tx.get(db_, keys[i]), values[i]);
  // A bad key anywhere in the batch is refused before anything is written.
  std::string tooLong(512, 'k');
  std::vector<std::pair<std::string_view, std::string_view>> bad{{k(9000), "new"}, {tooLong, "v"}};
  WriteTxn w = env_->beginWrite();
  EXPECT_THROW(w.putMany(db_, bad), Error);
  EXPECT_FALSE(w.get(db_, k(9000)).has_value());
}

TEST_F(TxnTest, InsertManyStopsAtTheFirstKeyAlreadyThere) {
  env_->write([&](WriteTxn& tx) { tx.put(db_, k(50), "kept"); });
  std::vector<std::string> keys, values;
  for (int64_t i = 0; i < 100; ++i) {
    keys.push_back(k(i < 50 ? 2 * i + 1 : 300 - i));  // odd keys ascending, then descending
    values.push_back("v" + std::to_string(i));
  }
  std::vector<std::pair<std::string_view, std::string_view>> entries;
  for (size_t i = 0; i < keys.size(); ++i) entries.emplace_back(keys[i], values[i]);
  std::string k300 = k(300), k50 = k(50), k301 = k(301);
  std::vector<std::pair<std::string_view, std::string_view>> clash{
      {k300, "new"}, {k50, "replacement"}, {k301, "never"}};
  env_->write([&](WriteTxn& tx) {
    EXPECT_EQ(tx.insertMany(db_, entries), entries.size());
    EXPECT_EQ(tx.insertMany(db_, clash), 1u);
  });
  ReadTxn tx = env_->read();
  EXPECT_EQ(tx.count(db_), 102u);
  EXPECT_EQ(*tx.get(db_, k(50)), "kept");
  EXPECT_EQ(*tx.get(db_, k(1)), "v0");
  EXPECT_EQ(*tx.get(db_, k(99)), "v49");
  EXPECT_EQ(*tx.get(db_, k(250)), "v50");
  EXPECT_EQ(*tx.get(db_, k(300)), "new");
  EXPECT_FALSE(tx.get(db_, k(301)).has_value());
  // A bad key anywhere in the batch is refused before anything is written.
  std::string tooLong(512, 'k'), k302 = k(302);
  std::vector<std::pair<std::string_view, std::string_view>> bad{{k302, "new"}, {tooLong, "v"}};
  WriteTxn w = env_->beginWrite();
  EXPECT_THROW(w.insertMany(db_, bad), Error);
  EXPECT_FALSE(w.get(db_, k(302)).has_value());
}

TEST_F(TxnTest, ThrowingBodyLeavesNoTrace) {
  env_->write([&](WriteTxn& tx) { tx.put(db_, k(1), "kept"); });
  EXPECT_THROW(env_->write([&](WriteTxn& tx) {
    tx.put(db_, k(1), "changed");
    tx.put(db_, k(2), "added");
    tx.erase(db_, k(1));
    Db extra = tx.createDb("created-then-aborted");
    tx.put(extra, k(1), "x");
    throw std::runtime_error("boom");
  }),
               std::runtime_error);
  ReadTxn tx = env_->read();
  EXPECT_EQ(tx.get(db_, k(1)), "kept");
  EXPECT_EQ(tx.get(db_, k(2)), std::nullopt);
  EXPECT_EQ(tx.count(db_), 1u);
  EXPECT_EQ(tx.openDb("created-then-aborted"), std::nullopt);
}

TEST_F(TxnTest, UncommittedWriteTxnIsAbortedOnDestruction) {
  {
    WriteTxn tx = env_->beginWrite();
    tx.put(db_, k(5), "five");
  }
  EXPECT_EQ(env_->read().get(db_, k(5)), std::nullopt);
  // And the write lock was released: another write goes through.
  env_->write([&](WriteTxn& tx) { tx.put(db_, k(5), "five"); });
  EXPECT_EQ(env_->read().get(db_, k(5)), "five");
}

TEST_F(TxnTest, UseAfterCommitIsAnError) {
  WriteTxn tx = env_->beginWrite();
  tx.commit();
  EXPECT_THROW(tx.put(db_, k(1), "x"), Error);
  EXPECT_THROW(tx.commit(), Error);
}

TEST_F(TxnTest, CreateOpenClearDropDatabases) {
  env_->write([](WriteTxn& tx) {
    Db a = tx.createDb("a");
    tx.put(a, k(1), "x");
  });
  auto a = env_->openDb("a");
  ASSERT_TRUE(a.has_value());
  EXPECT_EQ(env_->openDb("missing"), std::nullopt);
  env_->write([&](WriteTxn& tx) { tx.clearDb(*a); });
  EXPECT_EQ(env_->read().count(*a), 0u);
  env_->write([&](WriteTxn& tx) { tx.dropDb(*a); });
  EXPECT_EQ(env_->openDb("a"), std::nullopt);
  // Recreating a dropped name gives a new, empty database.
  Db again = env_->write([](WriteTxn& tx) { return tx.createDb("a"); });
  EXPECT_EQ(env_->read().count(again), 0u);
}

TEST_F(TxnTest, DatabasesSurviveReopen) {
  env_->write([&](WriteTxn& tx) { tx.put(db_, k(7), "seven"); });
  env_.reset();
  Env env = Env::open(dir_.path());
  auto db = env.openDb("t");
  ASSERT_TRUE(db.has_value());
  EXPECT_EQ(env.read().get(*db, k(7)), "seven");
}

TEST_F(TxnTest, ReadTxnSeesASnapshot) {
  env_->write([&](WriteTxn& tx) { tx.put(db_, k(1), "before"); });
  ReadTxn snapshot = env_->read();
  env_->write([&](WriteTxn& tx) {
    tx.put(db_, k(1), "after");
    tx.put(db_, k(2), "new");
  });
  EXPECT_EQ(snapshot.get(db_, k(1)), "before");
  EXPECT_EQ(snapshot.count(db_), 1u);
  snapshot.release();
  EXPECT_EQ(env_->read().get(db_, k(1)), "after");
}

TEST_F(TxnTest, PooledReadersAreReusedWithoutExhaustingSlots) {
  for (int i = 0; i < 10000; ++i) {
    ReadTxn tx = env_->read();
    ASSERT_EQ(tx.count(db_), 0u);
  }
  EXPECT_LE(env_->info().readersUsed, 126u);
}

TEST_F(TxnTest, TooManyReadersIsBusy) {
  testing::TempDir dir;
  Env env = Env::open(dir.path(), EnvOptions{.maxReaders = 4});
  std::vector<ReadTxn> held;
  for (int i = 0; i < 4; ++i) held.push_back(env.read());
  try {
    env.read();
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::Busy);
    EXPECT_NE(std::string(e.what()).find("maxReaders"), std::string::npos);
  }
}

// Each write moves 10 units between two keys in one transaction; readers on two threads check
// that every snapshot they take sums to the same total, so none sees a half-written transaction.
TEST_F(TxnTest, ConcurrentReadersSeeConsistentSnapshots) {
  env_->write([&](WriteTxn& tx) {
    for (int64_t i = 0; i < 16; ++i) tx.put(db_, k(i), std::to_string(1000));
  });
  std::atomic<bool> done{false};
  std::atomic<int> snapshots{0};
  std::atomic<bool> torn{false};
  auto reader = [&] {
    while (!done) {
      ReadTxn tx = env_->read();
      int64_t sum = 0;
      for (auto [key, value] : tx.scan(db_, KeyRange::all())) sum += std::stoll(std::string(value));
      if (sum != 16000) torn = true;
      ++snapshots;
    }
  };
  std::thread r1(reader), r2(reader);
  for (int i = 0; i < 2000; ++i) {
    env_->write([&](WriteTxn& tx) {
      int64_t from = i % 16, to = (i * 7 + 3) % 16;
      if (from == to) return;
      auto a = std::stoll(std::string(*tx.get(db_, k(from))));
      auto b = std::stoll(std::string(*tx.get(db_, k(to))));
      tx.put(db_, k(from), std::to_string(a - 10));
      tx.put(db_, k(to), std::to_string(b + 10));
    });
  }
  done = true;
  r1.join();
  r2.join();
  EXPECT_FALSE(torn);
  EXPECT_GT(snapshots.load(), 0);
}

TEST_F(TxnTest, ReadTxnMayMoveAcrossThreads) {
  env_->write([&](WriteTxn& tx) { tx.put(db_, k(1), "x"); });
  ReadTxn tx = env_->read();
  std::optional<std::string> seen;
  std::thread t([&] {
    seen = std::string(*tx.get(db_, k(1)));
    tx.release();
  });
  t.join();
  EXPECT_EQ(seen, "x");
}

}  // namespace
}  // namespace capdb::engine

namespace capdb::engine {
namespace {

// Entries of every size in random order: pages split in the middle and stay part full.
std::map<std::string, std::string> fillRandomly(Env& env, const Db& db, int n) {
  std::map<std::string, std::string> expected;
  std::mt19937 rng(3);
  for (int batch = 0; batch < 10; ++batch) {
    // Made outside the write, whose body runs again when the map grows.
    std::vector<std::pair<std::string, std::string>> entries;
    for (int i = 0; i < n / 10; ++i) {
      entries.emplace_back(KeyEncoder().int64(static_cast<int64_t>(rng() % 1000000)).bytes(),
                           std::string(rng() % 120, static_cast<char>('a' + rng() % 26)));
      expected[entries.back().first] = entries.back().second;
    }
    env.write([&](WriteTxn& tx) {
      for (const auto& [key, value] : entries) tx.put(db, key, value);
    });
  }
  return expected;
}

void expectEntries(Env& env, const Db& db, const std::map<std::string, std::string>& expected) {
  auto tx = env.read();
  auto it = expected.begin();
  for (auto [key, value] : tx.scan(db, KeyRange::all())) {
    ASSERT_NE(it, expected.end());
    ASSERT_EQ(key, it->first);
    ASSERT_EQ(value, it->second);
    ++it;
  }
  EXPECT_EQ(it, expected.end());
}

// Both ways: through memory, and (a threshold of 0 bytes) through the scratch database.
class Repack : public ::testing::TestWithParam<size_t> {};

TEST_P(Repack, KeepsEveryEntryAndFillsThePages) {
  testing::TempDir dir;
  Env env = Env::open(dir.path());
  Db db = env.write([](WriteTxn& tx) { return tx.createDb("t"); });
  auto expected = fillRandomly(env, db, 20000);
  uint64_t before = env.read().stat(db).leafPages;
  env.write([&](WriteTxn& tx) { tx.repack(db, "scratch", GetParam()); });
  uint64_t after = env.read().stat(db).leafPages;
  expectEntries(env, db, expected);
  EXPECT_LT(after * 10, before * 8) << before << " -> " << after;  // at least a fifth fewer
  EXPECT_FALSE(env.read().openDb("scratch").has_value());
  // A second repack finds nothing to gain; an empty tree repacks to an empty tree.
  env.write([&](WriteTxn& tx) { tx.repack(db, "scratch", GetParam()); });
  EXPECT_EQ(env.read().stat(db).leafPages, after);
  Db empty = env.write([](WriteTxn& tx) { return tx.createDb("empty"); });
  env.write([&](WriteTxn& tx) { tx.repack(empty, "scratch", GetParam()); });
  EXPECT_EQ(env.read().count(empty), 0u);
}

TEST_P(Repack, AbortedLeavesTheTreeAsItWas) {
  testing::TempDir dir;
  Env env = Env::open(dir.path());
  Db db = env.write([](WriteTxn& tx) { return tx.createDb("t"); });
  auto expected = fillRandomly(env, db, 5000);
  uint64_t before = env.read().stat(db).leafPages;
  EXPECT_THROW(env.write([&](WriteTxn& tx) {
                 tx.repack(db, "scratch", GetParam());
                 throw std::runtime_error("stop");
               }),
               std::runtime_error);
  expectEntries(env, db, expected);
  EXPECT_EQ(env.read().stat(db).leafPages, before);
}

TEST_P(Repack, GrowsATinyMapMidTransaction) {
  // A compacted copy (no free pages) opened with a map as small as LMDB allows (the file's size):
  // the rewrite's new pages do not fit, and the write grows the map and runs again.
  testing::TempDir dir;
  EnvOptions options;
  options.mapSize = 256 * 1024;
  std::map<std::string, std::string> expected;
  {
    Env env = Env::open(dir / "filled", options);
    Db db = env.write([](WriteTxn& tx) { return tx.createDb("t"); });
    expected = fillRandomly(env, db, 6000);
    std::filesystem::create_directories(dir / "copy");
    env.copyTo(dir / "copy", true);
  }
  Env env = Env::open(dir / "copy", options);
  Db db = *env.read().openDb("t");
  uint64_t mapBefore = env.info().mapSize;
  env.write([&](WriteTxn& tx) { tx.repack(db, "scratch", GetParam()); });
  expectEntries(env, db, expected);
  EXPECT_GT(env.info().mapSize, mapBefore);
}

INSTANTIATE_TEST_SUITE_P(InMemoryAndThroughScratch, Repack, ::testing::Values(size_t{256} << 20, 0),
                         [](const auto& info) { return info.param == 0 ? "Scratch" : "Memory"; });

}  // namespace
}  // namespace capdb::engine
