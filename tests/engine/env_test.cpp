#include "engine/env.h"

#include <gtest/gtest.h>
#include <lmdb.h>

#include <cerrno>
#include <thread>

#include "engine/key_codec.h"
#include "engine/lmdb_error.h"
#include "support/temp_dir.h"

namespace capdb::engine {
namespace {

constexpr size_t kMiB = size_t{1} << 20;

std::string k(int64_t i) { return KeyEncoder().int64(i).bytes(); }

// A value that tells which key it belongs to, so a misplaced record is caught.
std::string valueFor(int64_t i, size_t size) {
  std::string v = std::to_string(i) + ":";
  v.resize(size, static_cast<char>('a' + i % 26));
  return v;
}

TEST(EnvTest, MapGrowsFrom1MiBTo200MiBWithNothingLost) {
  testing::TempDir dir;
  Env env = Env::open(dir.path(), EnvOptions{.mapSize = kMiB, .noSync = true});
  ASSERT_EQ(env.info().mapSize, kMiB);
  Db db = env.write([](WriteTxn& tx) { return tx.createDb("blobs"); });
  constexpr size_t kValue = 1000;
  int64_t next = 0;
  int runs = 0;
  // Ten transactions of 10 MiB, then one of 100 MiB.
  auto writeMiB = [&](size_t mib) {
    int64_t first = next;
    size_t count = mib * kMiB / kValue;
    env.write([&](WriteTxn& tx) {
      ++runs;
      for (size_t j = 0; j < count; ++j) {
        int64_t i = first + static_cast<int64_t>(j);
        tx.put(db, k(i), valueFor(i, kValue));
      }
    });
    next = first + static_cast<int64_t>(count);
  };
  for (int t = 0; t < 10; ++t) writeMiB(10);
  writeMiB(100);
  EXPECT_GT(runs, 11) << "the map never filled, so growth was not exercised";
  EXPECT_GE(env.info().mapSize, 200 * kMiB);

  ReadTxn tx = env.read();
  ASSERT_EQ(tx.count(db), static_cast<uint64_t>(next));
  int64_t expect = 0;
  for (auto [key, value] : tx.scan(db, KeyRange::all())) {
    ASSERT_EQ(key, k(expect));
    ASSERT_EQ(value, valueFor(expect, kValue));
    ++expect;
  }
  EXPECT_EQ(expect, next);
}

TEST(EnvTest, GrowthStopsAtMaxMapSizeWithFull) {
  testing::TempDir dir;
  Env env = Env::open(dir.path(), EnvOptions{.mapSize = kMiB, .maxMapSize = 4 * kMiB});
  Db db = env.write([](WriteTxn& tx) { return tx.createDb("t"); });
  env.write([&](WriteTxn& tx) { tx.put(db, k(-1), "kept"); });
  try {
    env.write([&](WriteTxn& tx) {
      for (int64_t i = 0; i < 10000; ++i) tx.put(db, k(i), std::string(1000, 'x'));
    });
    FAIL() << "expected Full";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::Full) << e.what();
    EXPECT_NE(std::string(e.what()).find("maxMapSize"), std::string::npos) << e.what();
  }
  EXPECT_EQ(env.info().mapSize, 4 * kMiB);
  ReadTxn tx = env.read();
  EXPECT_EQ(tx.count(db), 1u);
  EXPECT_EQ(tx.get(db, k(-1)), "kept");
}

TEST(EnvTest, ValueStyleWriteThatFillsTheMapIsRetryable) {
  testing::TempDir dir;
  Env env = Env::open(dir.path(), EnvOptions{.mapSize = kMiB});
  Db db = env.write([](WriteTxn& tx) { return tx.createDb("t"); });
  auto fill = [&](WriteTxn& tx) {
    for (int64_t i = 0; i < 3000; ++i) tx.put(db, k(i), std::string(1000, 'x'));
  };
  {
    WriteTxn tx = env.beginWrite();
    try {
      fill(tx);
      FAIL() << "expected the 1 MiB map to fill";
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), ErrorCode::Busy) << e.what();
    }
  }
  EXPECT_EQ(env.read().count(db), 0u);
  // The next transaction starts in a bigger map.
  for (;;) {
    WriteTxn tx = env.beginWrite();
    try {
      fill(tx);
      tx.commit();
      break;
    } catch (const MapFull&) {
    }
  }
  EXPECT_EQ(env.read().count(db), 3000u);
}

TEST(EnvTest, GrowthWaitsForReadersAndGivesUpWithBusy) {
  testing::TempDir dir;
  Env env = Env::open(dir.path(),
                      EnvOptions{.mapSize = kMiB, .growWait = std::chrono::milliseconds(1000)});
  Db db = env.write([](WriteTxn& tx) { return tx.createDb("t"); });
  auto fill = [&](WriteTxn& tx) {
    for (int64_t i = 0; i < 3000; ++i) tx.put(db, k(i), std::string(1000, 'x'));
  };
  {
    // A read transaction held by this thread keeps the map from being remapped.
    ReadTxn held = env.read();
    try {
      env.write(fill);
      FAIL() << "expected Busy";
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), ErrorCode::Busy) << e.what();
      EXPECT_NE(std::string(e.what()).find("growWait"), std::string::npos) << e.what();
    }
  }
  // A reader on another thread that ends while the writer waits lets growth proceed.
  std::thread reader;
  {
    ReadTxn other = env.read();
    reader = std::thread([r = std::move(other)]() mutable {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
      r.release();
    });
    env.write(fill);
  }
  reader.join();
  EXPECT_EQ(env.read().count(db), 3000u);
}

TEST(EnvTest, ReadOnlyEnvRefusesWrites) {
  testing::TempDir dir;
  {
    Env env = Env::open(dir.path());
    env.write([](WriteTxn& tx) { tx.put(tx.createDb("t"), k(1), "x"); });
  }
  Env env = Env::open(dir.path(), EnvOptions{.readOnly = true});
  auto db = env.openDb("t");
  ASSERT_TRUE(db);
  EXPECT_EQ(env.read().get(*db, k(1)), "x");
  try {
    env.beginWrite();
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::Unsupported);
  }
}

TEST(EnvTest, MissingDirectoryReadOnlyIsIoError) {
  testing::TempDir dir;
  try {
    Env::open(dir / "nope", EnvOptions{.readOnly = true});
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::IoError);
    EXPECT_NE(std::string(e.what()).find("nope"), std::string::npos) << e.what();
  }
}

TEST(EnvTest, BadOptionsAreInvalidArgument) {
  testing::TempDir dir;
  try {
    Env::open(dir.path(), EnvOptions{.mapSize = 8 * kMiB, .maxMapSize = kMiB});
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::InvalidArgument);
    EXPECT_NE(std::string(e.what()).find("maxMapSize"), std::string::npos);
  }
}

TEST(EnvTest, TooManyNamedDatabasesIsFull) {
  testing::TempDir dir;
  Env env = Env::open(dir.path(), EnvOptions{.maxDbs = 3});
  try {
    env.write([](WriteTxn& tx) {
      for (int i = 0; i < 4; ++i) tx.createDb("db" + std::to_string(i));
    });
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::Full);
    EXPECT_NE(std::string(e.what()).find("maxDbs"), std::string::npos) << e.what();
  }
  EXPECT_EQ(env.openDb("db0"), std::nullopt);
}

TEST(EnvTest, CompactCopyHoldsTheSameData) {
  testing::TempDir dir;
  Env env = Env::open(dir / "src");
  Db db = env.write([](WriteTxn& tx) { return tx.createDb("t"); });
  env.write([&](WriteTxn& tx) {
    for (int64_t i = 0; i < 1000; ++i) tx.put(db, k(i), valueFor(i, 100));
  });
  std::filesystem::create_directory(dir / "copy");
  env.copyTo(dir / "copy", true);
  Env copy = Env::open(dir / "copy");
  auto cdb = copy.openDb("t");
  ASSERT_TRUE(cdb);
  EXPECT_EQ(copy.read().count(*cdb), 1000u);
  EXPECT_EQ(copy.read().get(*cdb, k(500)), valueFor(500, 100));
}

TEST(LmdbErrorTest, EveryLmdbCodeIsMapped) {
  EXPECT_EQ(lmdbErrorCode(MDB_MAP_FULL), ErrorCode::Full);
  EXPECT_EQ(lmdbErrorCode(MDB_CORRUPTED), ErrorCode::Corruption);
  EXPECT_EQ(lmdbErrorCode(MDB_READERS_FULL), ErrorCode::Busy);
  EXPECT_EQ(lmdbErrorCode(MDB_BAD_VALSIZE), ErrorCode::InvalidArgument);
  EXPECT_EQ(lmdbErrorCode(EACCES), ErrorCode::IoError);
  EXPECT_EQ(lmdbErrorCode(ENOSPC), ErrorCode::Full);
  // No LMDB code falls through to the default that errno values get.
  for (int rc = MDB_KEYEXIST; rc <= MDB_LAST_ERRCODE; ++rc) {
    EXPECT_NE(lmdbErrorCode(rc), ErrorCode::IoError) << mdb_strerror(rc);
  }
  try {
    checkLmdb(MDB_CORRUPTED, "reading people");
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::Corruption);
    EXPECT_NE(std::string(e.what()).find("reading people"), std::string::npos);
  }
}

}  // namespace
}  // namespace capdb::engine
