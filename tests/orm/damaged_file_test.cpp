// Real database files damaged on disk: truncated, a page zeroed (every page in turn), a foreign
// file, a damaged catalog entry, an index entry whose record is gone. Each is refused or reported
// with an error that names what is wrong; none crashes the process or reads as data.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <random>

#include "capdb/admin.h"
#include "capdb/capdb.h"
#include "engine/key_codec.h"
#include "engine/page_check.h"
#include "orm/catalog.h"
#include "orm/disk_names.h"
#include "orm/table_core.h"
#include "support/errors.h"
#include "support/schema_text.h"
#include "support/temp_dir.h"
#include "db/database_state.h"

namespace capdb {
namespace {

namespace fs = std::filesystem;
using testing::errorOf;

constexpr int kRecords = 2000;

std::string joined(const std::vector<std::string>& lines) {
  std::string out;
  for (const auto& l : lines) out += l + "\n";
  return out;
}

class DamagedFile : public ::testing::Test {
 protected:
  void SetUp() override {
    file_ = testing::parseText(dir_, "p.capnp",
                               "struct P $Db.table(\"people\") $Db.version(1) $Db.primaryKey([\"id\"]) "
                               "{ id @0 :UInt64; name @1 :Text; city @2 :Text $Db.indexed; }\n");
    Database db = Database::open(original(), Schemas{schema()});
    db.write([&](WriteTxn& tx) {
      for (int i = 1; i <= kRecords; ++i) {
        db.table("people").insert(tx, [&](capnp::DynamicStruct::Builder b) {
          b.set("id", i);
          b.set("name", capnp::Text::Reader(("person " + std::to_string(i) + std::string(40, '.')).c_str()));
          b.set("city", capnp::Text::Reader(("city " + std::to_string(i % 13)).c_str()));
        });
      }
    });
  }

  const TableSchema& schema() const { return file_.tables[0]; }
  fs::path original() const { return dir_ / "original"; }

  // A copy of the original database to damage.
  fs::path copy(const std::string& name) {
    fs::path to = dir_ / name;
    fs::remove_all(to);
    fs::create_directories(to);
    fs::copy_file(original() / "data.mdb", to / "data.mdb");
    return to;
  }

  static size_t pageSize(const fs::path& path) {
    Database db = Database::open(path);
    return internal::env(db).info().pageSize;
  }

  static void overwrite(const fs::path& file, uint64_t offset, const std::string& bytes) {
    std::fstream f(file, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(static_cast<std::streamoff>(offset));
    f.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  }

  testing::TempDir dir_;
  orm::SchemaFile file_;
};

TEST_F(DamagedFile, TheIntactFileHasNoDamage) {
  VerifyReport pages = verifyPages(original());
  EXPECT_TRUE(pages.ok()) << joined(pages.problems);
  EXPECT_GT(engine::checkPages(original()).pages, 20u);
  Database db = Database::open(original());
  VerifyReport r = verify(db);
  EXPECT_TRUE(r.ok()) << joined(r.problems);
  EXPECT_EQ(r.records, static_cast<uint64_t>(kRecords));
}

TEST_F(DamagedFile, ATruncatedFileIsRefusedAtOpenInsteadOfASigbus) {
  fs::path path = copy("truncated");
  fs::resize_file(path / "data.mdb", fs::file_size(path / "data.mdb") / 2);
  std::string open = errorOf([&] { Database::open(path); });
  EXPECT_EQ(open.rfind("Corruption: ", 0), 0u) << open;
  EXPECT_NE(open.find("data.mdb is truncated"), std::string::npos) << open;
  VerifyReport pages = verifyPages(path);
  EXPECT_NE(joined(pages.problems).find("page damage: data.mdb is truncated"), std::string::npos)
      << joined(pages.problems);
}

TEST_F(DamagedFile, AZeroedPageAnywhereIsReportedByPageOrIsAFreePage) {
  size_t psize = pageSize(original());
  uint64_t pages = fs::file_size(original() / "data.mdb") / psize;
  int reported = 0, harmless = 0;
  for (uint64_t p = 2; p < pages; ++p) {
    SCOPED_TRACE("page " + std::to_string(p));
    fs::path path = copy("zeroed");
    overwrite(path / "data.mdb", p * psize, std::string(psize, '\0'));
    VerifyReport r = verifyPages(path);
    if (!r.ok()) {
      ++reported;
      EXPECT_NE(joined(r.problems).find("page " + std::to_string(p)), std::string::npos)
          << joined(r.problems);
      continue;
    }
    // A page no tree reaches (a free one): the database reads as before.
    ++harmless;
    Database db = Database::open(path);
    VerifyReport full = verify(db);
    EXPECT_TRUE(full.ok()) << joined(full.problems);
    EXPECT_EQ(full.records, static_cast<uint64_t>(kRecords));
  }
  EXPECT_GT(reported, 10);
  RecordProperty("reported", reported);
  RecordProperty("harmless", harmless);
}

TEST_F(DamagedFile, KeysOutOfOrderInALeafAreFound) {
  // Swap the first two node offsets of a leaf in use: its keys are then out of order.
  size_t psize = pageSize(original());
  uint64_t pages = fs::file_size(original() / "data.mdb") / psize;
  int found = 0;
  for (uint64_t p = 2; p < pages && found == 0; ++p) {
    std::string page(psize, '\0');
    {
      std::ifstream in(original() / "data.mdb", std::ios::binary);
      in.seekg(static_cast<std::streamoff>(p * psize));
      in.read(page.data(), static_cast<std::streamsize>(psize));
    }
    uint16_t flags, lower;
    std::memcpy(&flags, page.data() + 10, 2);
    std::memcpy(&lower, page.data() + 12, 2);
    if (!(flags & 0x02) || (lower - 16) / 2 < 3) continue;  // a leaf with three keys or more
    fs::path path = copy("swapped");
    std::string swapped = page.substr(16, 4);
    std::swap(swapped[0], swapped[2]);
    std::swap(swapped[1], swapped[3]);
    overwrite(path / "data.mdb", p * psize + 16, swapped);
    VerifyReport r = verifyPages(path);
    if (r.ok()) continue;  // a free page, or one of the free-page list's (whose keys are numbers)
    EXPECT_NE(joined(r.problems).find("page " + std::to_string(p) + " keys 0 and 1 are out of order"),
              std::string::npos)
        << joined(r.problems);
    ++found;
  }
  EXPECT_EQ(found, 1);
}

TEST_F(DamagedFile, AForeignFileIsCorruption) {
  fs::path path = dir_ / "foreign";
  fs::create_directories(path);
  std::string noise(40000, '\0');
  std::mt19937 rng(7);
  for (char& c : noise) c = static_cast<char>(rng());
  std::ofstream(path / "data.mdb", std::ios::binary) << noise;
  std::string open = errorOf([&] { Database::open(path); });
  EXPECT_EQ(open.rfind("Corruption: ", 0), 0u) << open;
  EXPECT_NE(open.find("not an LMDB file"), std::string::npos) << open;
  EXPECT_EQ(joined(verifyPages(path).problems),
            "page damage: data.mdb is not an LMDB file (no valid meta page)\n");
}

TEST_F(DamagedFile, ADamagedCatalogEntryIsCorruptionNamingIt) {
  fs::path path = copy("catalog");
  {
    Database db = Database::open(path);
    const auto& catalog = internal::core(db.table("people")).catalog();
    internal::env(db).write([&](engine::WriteTxn& t) {
      t.put(catalog.db(), orm::catalogTableKey("people"),
            std::string("\x01\x00\x00\x00\xff\xff\xff\x7f garbage", 16));
    });
  }
  std::string open = errorOf([&] { Database::open(path); });
  EXPECT_EQ(open.rfind("Corruption: ", 0), 0u) << open;
  EXPECT_NE(open.find("catalog entry"), std::string::npos) << open;
  EXPECT_NE(open.find("people"), std::string::npos) << open;
}

TEST_F(DamagedFile, AnIndexEntryWhoseRecordIsGoneIsCorruptionNotARow) {
  fs::path path = copy("orphan");
  {
    Database db = Database::open(path);
    const auto& core = internal::core(db.table("people"));
    internal::env(db).write([&](engine::WriteTxn& t) {
      t.erase(core.records(t), engine::KeyEncoder().uint64(14).bytes());  // city 1
    });
  }
  Database db = Database::open(path);
  std::string query = errorOf([&] { db.query("SELECT id, name FROM people WHERE city = 'city 1'"); });
  EXPECT_EQ(query, "Corruption: index people_city of table people points to (14), which is not in "
                   "the table");
  VerifyReport r = verify(db);
  EXPECT_NE(joined(r.problems).find("index people_city has an entry ('city 1', 14) for record (14), "
                                    "which is not in the table"),
            std::string::npos)
      << joined(r.problems);
}

}  // namespace
}  // namespace capdb
