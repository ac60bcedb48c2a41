#include "orm/catalog.h"

#include <capnp/message.h>
#include <capnp/serialize.h>
#include <fmt/format.h>
#include <orm/catalog.capnp.h>
#include <gtest/gtest.h>

#include <cstring>
#include <kj/string.h>

#include <array>
#include <cstdio>

#include "all_types.capnp.h"
#include "capdb/error.h"
#include "engine/key_codec.h"
#include "orm/record_codec.h"
#include "orm/record_key.h"
#include "orm/disk_names.h"
#include "orm/table_reader.h"
#include "orm/table_schema.h"
#include "person.capnp.h"
#include "support/all_types_fill.h"
#include "support/temp_dir.h"

namespace capdb::orm {
namespace {

TableInfo infoFor(const TableSchema& t, uint32_t id) {
  TableInfo info;
  info.id = id;
  info.name = t.name;
  info.version = t.version;
  for (const auto& p : t.primaryKey) info.primaryKey.push_back(p.dotted);
  if (t.autoIncrement) info.autoIncrement = t.primaryKey[*t.autoIncrement].dotted;
  for (const auto& i : t.indexes) {
    IndexInfo ii;
    ii.name = i.name;
    ii.unique = i.unique;
    for (const auto& f : i.fields) ii.fields.push_back(f.dotted);
    info.indexes.push_back(ii);
  }
  return info;
}

TEST(Catalog, CreateStoreAndReload) {
  testing::TempDir dir;
  auto env = engine::Env::open(dir.path());
  TableSchema people = table<test::Person>();
  env.write([&](engine::WriteTxn& txn) {
    Catalog c = Catalog::create(txn);
    EXPECT_TRUE(c.tables().empty());
    TableInfo info = infoFor(people, c.nextTableId());
    info.counts[1] = 12;
    info.sequence = 12;
    c.putTable(txn, info);
    c.putSchema(txn, StoredSchema::fromSchema("people", 1, people.schema));
  });
  auto txn = env.read();
  auto c = Catalog::load(txn);
  ASSERT_TRUE(c.has_value());
  const TableInfo* t = c->table("people");
  ASSERT_NE(t, nullptr);
  EXPECT_EQ(t->id, 1u);
  EXPECT_EQ(t->records(), 12u);
  EXPECT_EQ(t->autoIncrement, "id");
  EXPECT_EQ(t->indexes.size(), 3u);
  TableInfo expected = infoFor(people, 1);
  expected.counts[1] = 12;
  expected.sequence = 12;
  EXPECT_EQ(*t, expected);
  EXPECT_EQ(c->schemaVersions(txn, "people"), std::vector<uint32_t>{1});
  auto stored = c->loadSchema(txn, "people", 1);
  ASSERT_TRUE(stored.has_value());
  EXPECT_EQ(requireTable(stored->root(), stored->owner()).findIndex("by_city_age")->fields.size(),
            2u);
  EXPECT_FALSE(c->loadSchema(txn, "people", 2).has_value());
  EXPECT_EQ(c->nextTableId(), 2u);
}

TEST(Catalog, EnvWithoutCatalogLoadsNothing) {
  testing::TempDir dir;
  auto env = engine::Env::open(dir.path());
  EXPECT_FALSE(Catalog::load(env.read()).has_value());
}

// A catalog header rewritten to `format`, as another capdb would write it.
void rewriteFormat(engine::Env& env, uint32_t format) {
  env.write([&](engine::WriteTxn& txn) {
    auto db = txn.openDb(kCatalogDbName);
    capnp::MallocMessageBuilder m;
    m.initRoot<capdb::catalog::Header>().setFormatVersion(format);
    auto words = capnp::messageToFlatArray(m);
    auto bytes = words.asBytes();
    txn.put(*db, catalogFormatKey(),
            std::string_view(reinterpret_cast<const char*>(bytes.begin()), bytes.size()));
  });
}

TEST(Catalog, OtherFormatVersionIsRefused) {
  testing::TempDir dir;
  auto env = engine::Env::open(dir.path());
  env.write([](engine::WriteTxn& txn) { Catalog::create(txn); });
  for (auto [format, says] : {std::pair<uint32_t, const char*>{99, "format 99; this build"},
                              {1, "format 1 (records unpacked, without checksums); this build of "
                                  "capdb reads formats 2 to 3 only"}}) {
    rewriteFormat(env, format);
    try {
      Catalog::load(env.read());
      FAIL();
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), ErrorCode::Unsupported);
      EXPECT_NE(std::string(e.what()).find(says), std::string::npos) << e.what();
      EXPECT_NE(std::string(e.what()).find("capdb export"), std::string::npos) << e.what();
    }
  }
}

// Format 2 (before a table's records could be in either of two databases) reads as format 3
// with every table's records in its first; a write open raises the header to 3, so that a build
// of format 2, which would read only the first, refuses it from then on.
TEST(Catalog, FormatTwoIsReadAndRaisedToThreeByAWriteOpen) {
  testing::TempDir dir;
  auto env = engine::Env::open(dir.path());
  env.write([](engine::WriteTxn& txn) { Catalog::create(txn); });
  rewriteFormat(env, 2);
  EXPECT_TRUE(Catalog::load(env.read()).has_value());
  auto format = [&] {
    auto tx = env.read();
    auto db = tx.openDb(kCatalogDbName);
    auto bytes = *tx.get(*db, catalogFormatKey());
    kj::Array<capnp::word> words = kj::heapArray<capnp::word>(bytes.size() / sizeof(capnp::word));
    std::memcpy(words.begin(), bytes.data(), bytes.size());
    capnp::FlatArrayMessageReader reader(words);
    return reader.getRoot<capdb::catalog::Header>().getFormatVersion();
  };
  EXPECT_EQ(format(), 2u);
  env.write([](engine::WriteTxn& txn) { Catalog::create(txn); });
  EXPECT_EQ(format(), 3u);
}

// Writes records of AllTypes at version 3 and Person at version 1 with the compiled schemas, the
// way the object layer does.
void writeTables(engine::Env& env, std::vector<std::string>& expectedAll) {
  TableSchema all = table<test::AllTypes>();
  env.write([&](engine::WriteTxn& txn) {
    Catalog c = Catalog::create(txn);
    TableInfo info = infoFor(all, c.nextTableId());
    c.putSchema(txn, StoredSchema::fromSchema(all.name, all.version, all.schema));
    engine::Db db = txn.createDb(tableDbName(all.name));
    RecordEncoder encoder;
    for (uint64_t seed = 0; seed < 20; ++seed) {
      capnp::MallocMessageBuilder message;
      auto r = message.initRoot<test::AllTypes>();
      testing::fillAllTypes(r, seed);
      engine::KeyEncoder key;
      appendKey(key, capnp::DynamicStruct::Reader(r.asReader()), all.primaryKey);
      txn.put(db, key.bytes(), encoder.encode(all.version, message));
      ++info.counts[all.version];
      expectedAll.push_back(fmt::format("3\t{}\t{}", engine::formatKey(key.bytes()),
                                        kj::str(r.asReader()).cStr()));
    }
    c.putTable(txn, info);
  });
}

std::pair<int, std::string> run(const std::string& command) {
  std::string out;
  FILE* pipe = popen(command.c_str(), "r");
  std::array<char, 4096> buf;
  size_t n;
  while ((n = fread(buf.data(), 1, buf.size(), pipe)) > 0) out.append(buf.data(), n);
  int status = pclose(pipe);
  return {WEXITSTATUS(status), out};
}

TEST(Catalog, AnotherProcessReadsRecordsWithOnlyTheCatalog) {
  testing::TempDir dir;
  std::vector<std::string> expected;
  {
    auto env = engine::Env::open(dir.path());
    writeTables(env, expected);
  }
  auto [status, out] = run(std::string(CAPDB_TABLE_DUMP) + " " + dir.path().string() + " all_types");
  ASSERT_EQ(status, 0) << out;
  std::string joined;
  for (const auto& line : expected) joined += line + "\n";
  EXPECT_EQ(out, joined);
}

TEST(Catalog, RecordAtAVersionTheCatalogLacksIsCorruption) {
  testing::TempDir dir;
  std::vector<std::string> expected;
  auto env = engine::Env::open(dir.path());
  writeTables(env, expected);
  // One record claims version 4, which was never stored.
  env.write([&](engine::WriteTxn& txn) {
    auto db = txn.openDb(tableDbName("all_types"));
    std::string key = engine::KeyEncoder().uint64(1).bytes();
    std::string value = relabelRecord(*txn.get(*db, key), 4, "all_types", key);
    txn.put(*db, key, value);
  });
  auto txn = env.read();
  auto c = Catalog::load(txn);
  TableReader reader(*c, "all_types");
  auto db = txn.openDb(tableDbName("all_types"));
  std::string key = engine::KeyEncoder().uint64(1).bytes();
  try {
    reader.decode(txn, key, *txn.get(*db, key));
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::Corruption);
    EXPECT_NE(std::string(e.what()).find("version 4"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("all_types"), std::string::npos) << e.what();
  }
  // The other records still read.
  std::string key2 = engine::KeyEncoder().uint64(2).bytes();
  EXPECT_EQ(reader.decode(txn, key2, *txn.get(*db, key2)).version, 3u);
  // And the dump tool reports the damaged record as an error rather than printing garbage.
  txn.release();
  auto [status, out] = run(std::string(CAPDB_TABLE_DUMP) + " " + dir.path().string() + " all_types 2>&1");
  EXPECT_EQ(status, 1);
  EXPECT_NE(out.find("version 4"), std::string::npos) << out;
}

TEST(StoredSchema, IncompleteStoredSchemaIsCorruption) {
  auto stored = StoredSchema::fromSchema("all_types", 3, capnp::Schema::from<test::AllTypes>());
  // Drop the Address node from the request.
  capnp::FlatArrayMessageReader reader(kj::arrayPtr(
      reinterpret_cast<const capnp::word*>(stored.bytes().data()), stored.bytes().size() / 8));
  capnp::MallocMessageBuilder b;
  auto root = b.initRoot<capdb::catalog::StoredSchema>();
  auto src = reader.getRoot<capdb::catalog::StoredSchema>();
  root.setTable(src.getTable());
  root.setVersion(src.getVersion());
  root.setRootId(src.getRootId());
  uint64_t address = capnp::Schema::from<test::Address>().getProto().getId();
  std::vector<capnp::schema::Node::Reader> kept;
  for (auto n : src.getRequest().getNodes()) {
    if (n.getId() != address) kept.push_back(n);
  }
  auto nodes = root.initRequest().initNodes(static_cast<unsigned>(kept.size()));
  for (unsigned i = 0; i < kept.size(); ++i) nodes.setWithCaveats(i, kept[i]);
  auto words = capnp::messageToFlatArray(b);
  auto bytes = words.asBytes();
  try {
    StoredSchema::fromBytes(std::string_view(reinterpret_cast<const char*>(bytes.begin()), bytes.size()),
                            "all_types", 3);
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::Corruption);
    EXPECT_NE(std::string(e.what()).find("address"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace capdb::orm
