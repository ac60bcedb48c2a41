// CRUD through the typed and dynamic APIs, on real LMDB files.
#include <capnp/message.h>
#include <gtest/gtest.h>
#include <kj/string.h>

#include "all_types.capnp.h"
#include "capdb/capdb.h"
#include "person.capnp.h"
#include "support/all_types_fill.h"
#include "support/temp_dir.h"

namespace capdb {
namespace {

using test::AllTypes;
using test::Keyed;
using test::Person;

std::string text(capnp::DynamicStruct::Reader r) { return kj::str(r).cStr(); }

class TableTest : public ::testing::Test {
 protected:
  void SetUp() override {
    db_ = std::make_unique<Database>(Database::open(
        dir_ / "db", Schemas{table<AllTypes>(), table<Person>(), table<Keyed>()}));
  }
  testing::TempDir dir_;
  std::unique_ptr<Database> db_;
};

TEST_F(TableTest, InsertGetEveryFieldType) {
  auto all = db_->table<AllTypes>();
  std::vector<std::string> expected;
  db_->write([&](WriteTxn& tx) {
    for (uint64_t seed = 0; seed < 20; ++seed) {
      capnp::MallocMessageBuilder m;
      auto r = m.initRoot<AllTypes>();
      testing::fillAllTypes(r, seed);
      r.setId(0);  // autoIncrement assigns 1, 2, ...
      EXPECT_EQ(all.insert(tx, [&](AllTypes::Builder b) { testing::fillAllTypes(b, seed); b.setId(0); }),
                seed + 1);
      r.setId(seed + 1);
      expected.push_back(text(r.asReader()));
    }
  });
  auto tx = db_->read();
  EXPECT_EQ(all.count(tx), 20u);
  for (uint64_t id = 1; id <= 20; ++id) {
    auto row = all.get(tx, Key{id});
    ASSERT_TRUE(row.has_value());
    EXPECT_EQ(text(row->get()), expected[id - 1]);
    EXPECT_EQ(row->get().getWithDefault(), 42);
    EXPECT_EQ(row.value()->getAddress().getZip(), std::to_string(10000 + id - 1));
  }
  EXPECT_FALSE(all.get(tx, Key{uint64_t{21}}).has_value());
}

TEST_F(TableTest, UpdateAndRemoveEveryFieldType) {
  auto all = db_->table<AllTypes>();
  db_->write([&](WriteTxn& tx) {
    all.insert(tx, [&](AllTypes::Builder b) { testing::fillAllTypes(b, 1); });
  });
  // Rewrite every field through an edit, as seed 7 would fill it (keeping the key).
  capnp::MallocMessageBuilder m;
  auto expected = m.initRoot<AllTypes>();
  testing::fillAllTypes(expected, 7);
  expected.setId(2);
  db_->write([&](WriteTxn& tx) {
    EXPECT_TRUE(all.update(tx, Key{uint64_t{2}}, [&](AllTypes::Builder b) {
      testing::fillAllTypes(b, 7);
      b.setId(2);
    }));
  });
  {
    auto tx = db_->read();
    EXPECT_EQ(text(all.get(tx, Key{uint64_t{2}})->get()), text(expected.asReader()));
    // The indexes follow the new values.
    int found = 0;
    for (auto r : all.find(tx, "all_types_text", Range::prefix(Key{expected.getText().cStr()}))) {
      EXPECT_EQ(r.getId(), 2u);
      ++found;
    }
    EXPECT_EQ(found, 1);
    EXPECT_FALSE(all.find(tx, "all_types_i32", Range::prefix(Key{-2000000000 + 1})).valid());
    EXPECT_TRUE(all.find(tx, "all_types_i32", Range::prefix(Key{-2000000000 + 7})).valid());
  }
  db_->write([&](WriteTxn& tx) { EXPECT_TRUE(all.remove(tx, Key{uint64_t{2}})); });
  auto tx = db_->read();
  EXPECT_EQ(all.count(tx), 0u);
  for (const char* index : {"by_zip_score", "by_color", "all_types_i32", "all_types_text"}) {
    EXPECT_FALSE(all.find(tx, index, Range::all()).valid()) << index;
  }
}

TEST_F(TableTest, RowsStayValidWhileTheTransactionLives) {
  auto people = db_->table<Person>();
  db_->write([&](WriteTxn& tx) {
    for (const char* name : {"Ada", "Grace", "Edsger"}) {
      people.insert(tx, [&](Person::Builder p) { p.setName(name); });
    }
  });
  auto tx = db_->read();
  std::vector<Row<Person>> rows;
  for (uint64_t id = 1; id <= 3; ++id) rows.push_back(*people.get(tx, Key{id}));
  EXPECT_EQ(rows[0]->getName(), "Ada");
  EXPECT_EQ(rows[1]->getName(), "Grace");
  EXPECT_EQ(rows[2]->getName(), "Edsger");
}

TEST_F(TableTest, ARecordLargerThanTheReadLimitReadsBack) {
  // Cap'n Proto's reader refuses to read more than its traversal limit from one message; a
  // record written larger than 64 MiB must still read back: typed (checked, then read), by
  // scan, after an update, and through SQL (a record this large is several segments, so SQL
  // reads it through the decoder).
  auto all = db_->table<AllTypes>();
  const size_t size = size_t{70} << 20;
  std::string bytes(size, 'x');
  bytes[size - 1] = 'y';
  uint64_t id = db_->write([&](WriteTxn& tx) {
    return all.insert(tx, [&](AllTypes::Builder b) {
      b.setData(kj::arrayPtr(reinterpret_cast<const kj::byte*>(bytes.data()), bytes.size()));
      b.setText("big");
    });
  });
  db_->write([&](WriteTxn& tx) {
    EXPECT_TRUE(all.update(tx, Key{id}, [](AllTypes::Builder b) { b.setText("bigger"); }));
  });
  auto tx = db_->read();
  auto row = all.get(tx, Key{id});
  ASSERT_TRUE(row.has_value());
  auto data = (*row)->getData();
  ASSERT_EQ(data.size(), size);
  EXPECT_EQ(data[size - 1], 'y');
  EXPECT_EQ((*row)->getText(), "bigger");
  size_t scanned = 0;
  for (auto c = all.scan(tx); c.valid(); c.next()) scanned += c.record().getData().size();
  EXPECT_EQ(scanned, size);
  auto rs = db_->query(tx, "SELECT length(data), text FROM all_types WHERE id = ?", {id});
  ASSERT_EQ(rs.size(), 1u);
  EXPECT_EQ(rs.at(0, 0).integer(), static_cast<int64_t>(size));
  EXPECT_EQ(rs.at(0, 1).text(), "bigger");
  // A full scan, not the unique index on text.
  EXPECT_EQ(db_->query(tx, "SELECT count(*) FROM all_types WHERE length(data) = ?", {static_cast<int64_t>(size)})
                .at(0, 0).integer(), 1);
}

TEST_F(TableTest, DuplicatePrimaryKeyIsConstraintViolationNamingTheKey) {
  auto people = db_->table<Person>();
  db_->write([&](WriteTxn& tx) { people.insert(tx, [](Person::Builder p) { p.setId(7); }); });
  try {
    db_->write([&](WriteTxn& tx) {
      people.insert(tx, [](Person::Builder p) { p.setId(8); p.setName("kept?"); });
      people.insert(tx, [](Person::Builder p) { p.setId(7); });
    });
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::ConstraintViolation);
    EXPECT_NE(std::string(e.what()).find("(7)"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("people"), std::string::npos) << e.what();
  }
  auto tx = db_->read();
  EXPECT_FALSE(people.get(tx, Key{uint64_t{8}}).has_value());  // the whole write was undone
  EXPECT_EQ(people.count(tx), 1u);
}

TEST_F(TableTest, AutoIncrementContinuesAfterExplicitKeysAndAcrossReopen) {
  auto people = db_->table<Person>();
  db_->write([&](WriteTxn& tx) {
    EXPECT_EQ(people.insert(tx, [](Person::Builder) {}), 1u);
    EXPECT_EQ(people.insert(tx, [](Person::Builder p) { p.setId(10); }), 10u);
    EXPECT_EQ(people.insert(tx, [](Person::Builder) {}), 11u);
  });
  db_.reset();
  db_ = std::make_unique<Database>(Database::open(dir_ / "db", Schemas{table<Person>()}));
  auto again = db_->table<Person>();
  EXPECT_EQ(db_->write([&](WriteTxn& tx) { return again.insert(tx, [](Person::Builder) {}); }), 12u);
}

TEST_F(TableTest, UpdateUpsertRemove) {
  auto people = db_->table<Person>();
  uint64_t id = db_->write([&](WriteTxn& tx) {
    return people.insert(tx, [](Person::Builder p) {
      p.setName("Ada");
      p.setAge(36);
    });
  });
  db_->write([&](WriteTxn& tx) {
    EXPECT_TRUE(people.update(tx, Key{id}, [](Person::Builder p) { p.setAge(37); }));
    EXPECT_FALSE(people.update(tx, Key{uint64_t{99}}, [](Person::Builder p) { p.setAge(1); }));
  });
  {
    auto tx = db_->read();
    auto row = people.get(tx, Key{id});
    EXPECT_EQ(row.value()->getAge(), 37);
    EXPECT_EQ(row.value()->getName(), "Ada");  // untouched fields kept
  }
  capnp::MallocMessageBuilder m;
  auto whole = m.initRoot<Person>();
  whole.setId(id);
  whole.setName("Ada Lovelace");
  db_->write([&](WriteTxn& tx) {
    EXPECT_TRUE(people.update(tx, whole.asReader()));
    whole.setId(50);
    EXPECT_TRUE(people.upsert(tx, whole.asReader()));   // inserted
    whole.setCity("London");
    EXPECT_FALSE(people.upsert(tx, whole.asReader()));  // updated
  });
  {
    auto tx = db_->read();
    EXPECT_EQ(people.get(tx, Key{id}).value()->getName(), "Ada Lovelace");
    EXPECT_EQ(people.get(tx, Key{id}).value()->getAge(), 0);  // a whole-record update replaces
    EXPECT_EQ(people.get(tx, Key{uint64_t{50}}).value()->getCity(), "London");
    EXPECT_EQ(people.count(tx), 2u);
  }
  db_->write([&](WriteTxn& tx) {
    EXPECT_TRUE(people.remove(tx, Key{id}));
    EXPECT_FALSE(people.remove(tx, Key{id}));
  });
  auto tx = db_->read();
  EXPECT_FALSE(people.get(tx, Key{id}).has_value());
  EXPECT_EQ(people.count(tx), 1u);
}

TEST_F(TableTest, UpdateMayNotChangeThePrimaryKey) {
  auto people = db_->table<Person>();
  db_->write([&](WriteTxn& tx) { people.insert(tx, [](Person::Builder p) { p.setId(1); }); });
  try {
    db_->write([&](WriteTxn& tx) { people.update(tx, Key{uint64_t{1}}, [](Person::Builder p) { p.setId(2); }); });
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::InvalidArgument);
  }
  auto tx = db_->read();
  EXPECT_TRUE(people.get(tx, Key{uint64_t{1}}).has_value());
}

TEST_F(TableTest, ScansInBothDirectionsOverCompositeKeys) {
  auto keyed = db_->table<Keyed>();
  db_->write([&](WriteTxn& tx) {
    for (const char* zip : {"10001", "75001", "75002"}) {
      for (int x : {3, 1, 2}) {
        keyed.insert(tx, [&](Keyed::Builder k) {
          k.initAddress().setZip(zip);
          k.getPoint().setX(x);
          k.setName(std::string(zip) + ":" + std::to_string(x));
        });
      }
    }
  });
  auto tx = db_->read();
  auto names = [&](TypedCursor<Keyed> c) {
    std::vector<std::string> out;
    for (auto k : c) out.emplace_back(k.getName().cStr());
    return out;
  };
  using V = std::vector<std::string>;
  EXPECT_EQ(names(keyed.scan(tx, Range::prefix(Key{"75001"}))),
            (V{"75001:1", "75001:2", "75001:3"}));
  EXPECT_EQ(names(keyed.scan(tx, Range::prefix(Key{"75001"}), Direction::Backward)),
            (V{"75001:3", "75001:2", "75001:1"}));
  EXPECT_EQ(names(keyed.scan(tx, Range::between(Key{"75001", 2}, Key{"75002", 1}))),
            (V{"75001:2", "75001:3", "75002:1"}));
  EXPECT_EQ(names(keyed.scan(tx, Range::greaterThan(Key{"75001"}))),
            (V{"75002:1", "75002:2", "75002:3"}));
  EXPECT_EQ(names(keyed.scan(tx, Range::lessThan(Key{"75001"}), Direction::Backward)),
            (V{"10001:3", "10001:2", "10001:1"}));
  EXPECT_EQ(keyed.count(tx), 9u);
}

TEST_F(TableTest, DynamicApiByTableName) {
  auto people = db_->table("people");
  db_->write([&](WriteTxn& tx) {
    people.insert(tx, [](capnp::DynamicStruct::Builder b) {
      b.set("name", "Ada");
      b.set("age", 36);
    });
  });
  auto tx = db_->read();
  auto row = people.get(tx, Key{1});
  ASSERT_TRUE(row.has_value());
  EXPECT_EQ(row->get().get("name").as<capnp::Text>(), "Ada");
  try {
    db_->table("peple");
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::InvalidArgument);
    EXPECT_NE(std::string(e.what()).find("did you mean people"), std::string::npos) << e.what();
  }
}

TEST_F(TableTest, KeyArityIsChecked) {
  auto keyed = db_->table<Keyed>();
  auto tx = db_->read();
  EXPECT_THROW(keyed.get(tx, Key{"75001"}), Error);
}

TEST_F(TableTest, ValueStyleWriteTransaction) {
  auto people = db_->table<Person>();
  {
    WriteTxn tx = db_->beginWrite();
    people.insert(tx, [](Person::Builder p) { p.setName("Ada"); });
  }  // not committed: aborted
  EXPECT_EQ(people.count(db_->read()), 0u);
  WriteTxn tx = db_->beginWrite();
  people.insert(tx, [](Person::Builder p) { p.setName("Ada"); });
  tx.commit();
  EXPECT_EQ(people.count(db_->read()), 1u);
}

}  // namespace
}  // namespace capdb
