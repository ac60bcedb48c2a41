// Secondary indexes: lookups, unique violations, and a property test against an in-memory model.
#include <capnp/message.h>
#include <gtest/gtest.h>

#include <map>
#include <random>
#include <set>

#include "capdb/capdb.h"
#include "engine/key_codec.h"
#include "orm/table_core.h"
#include "person.capnp.h"
#include "support/temp_dir.h"
#include "db/database_state.h"

namespace capdb {
namespace {

using test::Person;

class IndexTest : public ::testing::Test {
 protected:
  void SetUp() override {
    db_ = std::make_unique<Database>(Database::open(dir_ / "db", Schemas{table<Person>()}));
    people_ = std::make_unique<Table<Person>>(db_->table<Person>());
  }
  void add(const char* name, const char* email, uint8_t age, const char* city) {
    db_->write([&](WriteTxn& tx) {
      people_->insert(tx, [&](Person::Builder p) {
        p.setName(name);
        if (email) p.setEmail(email);
        p.setAge(age);
        p.setCity(city);
      });
    });
  }
  std::vector<std::string> names(TypedCursor<Person> c) {
    std::vector<std::string> out;
    for (auto p : c) out.emplace_back(p.getName().cStr());
    return out;
  }
  using V = std::vector<std::string>;
  testing::TempDir dir_;
  std::unique_ptr<Database> db_;
  std::unique_ptr<Table<Person>> people_;
};

TEST_F(IndexTest, ExactPrefixAndRangeLookups) {
  add("Ada", "ada@x", 36, "London");
  add("Grace", "grace@x", 45, "Arlington");
  add("Alan", "alan@x", 41, "London");
  add("Tim", "tim@x", 36, "London");
  add("Edsger", "edsger@x", 72, "Austin");
  auto tx = db_->read();
  EXPECT_EQ(names(people_->find(tx, "people_email", Range::prefix(Key{"alan@x"}))), (V{"Alan"}));
  EXPECT_EQ(names(people_->find(tx, "people_age", Range::prefix(Key{36}))), (V{"Ada", "Tim"}));
  EXPECT_EQ(names(people_->find(tx, "by_city_age", Range::prefix(Key{"London"}))),
            (V{"Ada", "Tim", "Alan"}));
  EXPECT_EQ(names(people_->find(tx, "by_city_age", Range::prefix(Key{"London"}), Direction::Backward)),
            (V{"Alan", "Tim", "Ada"}));
  EXPECT_EQ(names(people_->find(tx, "by_city_age", Range::between(Key{"London", 37}, Key{"London", 99}))),
            (V{"Alan"}));
  EXPECT_EQ(names(people_->find(tx, "people_age", Range::greaterThan(Key{45}))), (V{"Edsger"}));
  EXPECT_TRUE(names(people_->find(tx, "people_email", Range::prefix(Key{"nobody"}))).empty());
  try {
    people_->find(tx, "by_name", Range::all());
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::InvalidArgument);
    EXPECT_NE(std::string(e.what()).find("by_city_age"), std::string::npos) << e.what();
  }
}

TEST_F(IndexTest, UniqueViolationAbortsAndNamesIndexAndKey) {
  add("Ada", "ada@x", 36, "London");
  try {
    add("Imposter", "ada@x", 20, "Paris");
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::ConstraintViolation);
    EXPECT_NE(std::string(e.what()).find("people_email"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("'ada@x'"), std::string::npos) << e.what();
  }
  auto tx = db_->read();
  EXPECT_EQ(people_->count(tx), 1u);
  EXPECT_TRUE(names(people_->find(tx, "by_city_age", Range::prefix(Key{"Paris"}))).empty());
  tx.release();
  // An update into a taken key is refused too, and leaves both records as they were.
  add("Grace", "grace@x", 45, "Arlington");
  EXPECT_THROW(db_->write([&](WriteTxn& w) {
    people_->update(w, Key{uint64_t{2}}, [](Person::Builder p) { p.setEmail("ada@x"); });
  }),
               Error);
  auto again = db_->read();
  EXPECT_EQ(names(people_->find(again, "people_email", Range::prefix(Key{"grace@x"}))), (V{"Grace"}));
}

TEST_F(IndexTest, UnsetUniqueValuesMayRepeat) {
  add("NoMail1", nullptr, 1, "X");
  add("NoMail2", nullptr, 2, "X");
  auto tx = db_->read();
  EXPECT_EQ(names(people_->find(tx, "people_email", Range::prefix(Key{nullptr}))),
            (V{"NoMail1", "NoMail2"}));
}

// The model: id -> (name, email, age, city). Email may be empty (unset).
struct Model {
  std::string name, email, city;
  uint8_t age;
};

// Every index entry, as the table's own index code would write it from the records.
std::set<std::pair<std::string, std::string>> rebuiltEntries(const orm::TableCore& core,
                                                              const orm::IndexCore& index,
                                                              const Txn& tx) {
  std::set<std::pair<std::string, std::string>> out;
  orm::RecordDecoder decoder;
  for (auto [pk, bytes] : internal::engineTxn(tx).scan(core.records(tx), engine::KeyRange::all())) {
    out.insert(core.indexEntry(index, core.decode(decoder, pk, bytes), pk));
  }
  return out;
}

TEST_F(IndexTest, PropertyRandomOperationsMatchModelAndRebuiltIndexes) {
  std::mt19937_64 rng(20261125);
  std::map<uint64_t, Model> model;
  const char* cities[] = {"London", "Paris", "Lima", "Oslo"};
  auto randomModel = [&] {
    Model m;
    m.name = "n" + std::to_string(rng() % 1000);
    // Emails collide often enough to exercise the unique index.
    m.email = rng() % 5 == 0 ? "" : "e" + std::to_string(rng() % 400);
    m.age = static_cast<uint8_t>(rng() % 100);
    m.city = cities[rng() % 4];
    return m;
  };
  auto emailTaken = [&](const std::string& email, uint64_t except) {
    if (email.empty()) return false;
    for (const auto& [id, m] : model) {
      if (id != except && m.email == email) return true;
    }
    return false;
  };
  auto fill = [](Person::Builder p, const Model& m) {
    p.setName(m.name);
    if (!m.email.empty()) p.setEmail(m.email);
    else if (p.hasEmail()) p.disownEmail();  // unset, as in the model
    p.setAge(m.age);
    p.setCity(m.city);
  };
  int violations = 0;
  for (int op = 0; op < 10000; ++op) {
    int kind = static_cast<int>(rng() % 4);
    uint64_t id = 1 + rng() % 600;
    Model m = randomModel();
    bool expectFail = false;
    try {
      db_->write([&](WriteTxn& tx) {
        switch (kind) {
          case 0: {  // insert with an explicit key
            expectFail = model.count(id) || emailTaken(m.email, 0);
            people_->insert(tx, [&](Person::Builder p) {
              p.setId(id);
              fill(p, m);
            });
            break;
          }
          case 1: {  // update through an edit
            expectFail = model.count(id) && emailTaken(m.email, id);
            bool found = people_->update(tx, Key{id}, [&](Person::Builder p) { fill(p, m); });
            EXPECT_EQ(found, model.count(id) > 0);
            break;
          }
          case 2: {  // upsert
            expectFail = emailTaken(m.email, id);
            capnp::MallocMessageBuilder msg;
            auto p = msg.initRoot<Person>();
            p.setId(id);
            fill(p, m);
            EXPECT_EQ(people_->upsert(tx, p.asReader()), model.count(id) == 0);
            break;
          }
          default: {
            EXPECT_EQ(people_->remove(tx, Key{id}), model.count(id) > 0);
            break;
          }
        }
      });
      ASSERT_FALSE(expectFail) << "op " << op << " should have failed";
      if (kind == 3) model.erase(id);
      else if (kind != 1 || model.count(id)) model[id] = m;
    } catch (const Error& e) {
      ASSERT_TRUE(expectFail) << "op " << op << ": " << e.what();
      ASSERT_EQ(e.code(), ErrorCode::ConstraintViolation) << e.what();
      ++violations;
    }
  }
  EXPECT_GT(violations, 50);

  auto tx = db_->read();
  // Every record equals the model.
  ASSERT_EQ(people_->count(tx), model.size());
  auto it = model.begin();
  for (auto p : people_->scan(tx)) {
    ASSERT_NE(it, model.end());
    EXPECT_EQ(p.getId(), it->first);
    EXPECT_EQ(p.getName().cStr(), it->second.name);
    EXPECT_EQ(p.getEmail().cStr(), it->second.email);
    EXPECT_EQ(p.getAge(), it->second.age);
    EXPECT_EQ(p.getCity().cStr(), it->second.city);
    ++it;
  }
  EXPECT_EQ(it, model.end());
  // Every index equals the index rebuilt from the records.
  const orm::TableCore& core = internal::core(people_->dynamic());
  for (const auto& index : core.indexes()) {
    std::set<std::pair<std::string, std::string>> stored;
    for (auto [k, v] : internal::engineTxn(tx).scan(index.db, engine::KeyRange::all())) {
      stored.emplace(std::string(k), std::string(v));
    }
    EXPECT_EQ(stored, rebuiltEntries(core, index, tx)) << index.schema.name;
  }
}

}  // namespace
}  // namespace capdb
