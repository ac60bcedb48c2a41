#include "orm/table_schema.h"

#include <gtest/gtest.h>

#include "all_types.capnp.h"
#include "capdb/error.h"
#include "orm/schema_file.h"
#include "orm/stored_schema.h"
#include "person.capnp.h"
#include "support/schema_text.h"

namespace capdb::orm {
namespace {

using engine::KeyType;

std::string dottedOf(const std::vector<FieldPath>& paths) {
  std::string out;
  for (const auto& p : paths) out += (out.empty() ? "" : ",") + p.dotted;
  return out;
}

void expectPersonTable(const TableSchema& t) {
  EXPECT_EQ(t.name, "people");
  EXPECT_EQ(t.version, 1u);
  EXPECT_EQ(dottedOf(t.primaryKey), "id");
  EXPECT_EQ(t.primaryKey[0].keyType, KeyType::UInt64);
  ASSERT_TRUE(t.autoIncrement.has_value());
  EXPECT_EQ(*t.autoIncrement, 0u);
  ASSERT_EQ(t.indexes.size(), 3u);
  const IndexSchema* email = t.findIndex("people_email");
  ASSERT_NE(email, nullptr);
  EXPECT_TRUE(email->unique);
  const IndexSchema* age = t.findIndex("people_age");
  ASSERT_NE(age, nullptr);
  EXPECT_FALSE(age->unique);
  EXPECT_EQ(age->fields[0].keyType, KeyType::UInt8);
  const IndexSchema* cityAge = t.findIndex("by_city_age");
  ASSERT_NE(cityAge, nullptr);
  EXPECT_EQ(dottedOf(cityAge->fields), "city,age");
}

TEST(TableSchema, FromCompiledStruct) { expectPersonTable(table<test::Person>()); }

TEST(TableSchema, FromParsedFileIsTheSame) {
  SchemaFile file = parseSchemaFile(CAPDB_TEST_SCHEMA_DIR "/person.capnp");
  ASSERT_EQ(file.tables.size(), 1u);
  expectPersonTable(file.tables[0]);
  // Both ways in store byte-identical schemas.
  auto compiled = StoredSchema::fromSchema("people", 1, capnp::Schema::from<test::Person>());
  auto parsed = StoredSchema::fromSchema("people", 1, file.tables[0].schema);
  EXPECT_EQ(compiled.bytes(), parsed.bytes());
}

TEST(TableSchema, NestedAndGroupKeysAndEveryKeyType) {
  TableSchema keyed = table<test::Keyed>();
  EXPECT_EQ(dottedOf(keyed.primaryKey), "address.zip,point.x,name");
  EXPECT_EQ(keyed.primaryKey[0].steps.size(), 2u);
  EXPECT_EQ(keyed.primaryKey[0].keyType, KeyType::Text);
  EXPECT_EQ(keyed.primaryKey[1].keyType, KeyType::Int32);
  EXPECT_FALSE(keyed.autoIncrement.has_value());

  TableSchema all = table<test::AllTypes>();
  EXPECT_EQ(all.version, 3u);
  EXPECT_EQ(all.findIndex("by_color")->fields[0].keyType, KeyType::UInt16);
  EXPECT_EQ(all.findIndex("by_zip_score")->fields[1].keyType, KeyType::Float64);
  EXPECT_TRUE(all.findIndex("all_types_text")->unique);
  EXPECT_EQ(all.findIndex("all_types_i32")->fields[0].keyType, KeyType::Int32);
}

TEST(TableSchema, PathsOverlapWhenOneHoldsTheOther) {
  EXPECT_TRUE(pathsOverlap("address", "address"));
  EXPECT_TRUE(pathsOverlap("address", "address.zip"));
  EXPECT_TRUE(pathsOverlap("address.zip", "address"));
  EXPECT_TRUE(pathsOverlap("a.b", "a.b.c"));
  EXPECT_FALSE(pathsOverlap("address", "addresses"));
  EXPECT_FALSE(pathsOverlap("address.zip", "address.city"));
  EXPECT_FALSE(pathsOverlap("zip", "address.zip"));
}

TEST(TableSchema, StructWithoutTableIsNotATable) {
  EXPECT_FALSE(tableSchemaOf(capnp::Schema::from<test::Plain>()).has_value());
  EXPECT_THROW(requireTable(capnp::Schema::from<test::Plain>()), Error);
  SchemaFile file = parseSchemaFile(CAPDB_TEST_SCHEMA_DIR "/all_types.capnp");
  EXPECT_EQ(file.tables.size(), 2u);  // all_types, keyed; not Address or Plain
}

// Each misuse is an InvalidArgument whose message names the struct and the field.
struct Misuse {
  const char* body;
  std::vector<std::string> mentions;
};

void PrintTo(const Misuse& m, std::ostream* os) { *os << m.body; }

class MisuseTest : public ::testing::TestWithParam<Misuse> {};

TEST_P(MisuseTest, IsAnErrorNamingStructAndField) {
  testing::TempDir dir;
  try {
    testing::parseText(dir, "bad.capnp", GetParam().body);
    FAIL() << "expected an error for " << GetParam().body;
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::InvalidArgument) << e.what();
    for (const auto& m : GetParam().mentions) {
      EXPECT_NE(std::string(e.what()).find(m), std::string::npos)
          << "'" << e.what() << "' does not mention " << m;
    }
  }
}

INSTANTIATE_TEST_SUITE_P(
    Annotations, MisuseTest,
    ::testing::Values(
        Misuse{"struct T $Db.table(\"t\") $Db.primaryKey([\"nope\"]) { id @0 :UInt64; }",
               {"struct T", "nope"}},
        Misuse{"struct T $Db.table(\"t\") $Db.primaryKey([\"tags\"]) { tags @0 :List(Text); }",
               {"struct T", "tags", "List"}},
        Misuse{"struct T $Db.table(\"t\") { id @0 :UInt64; }", {"struct T", "primary key"}},
        Misuse{"struct T $Db.table(\"t\") $Db.primaryKey([]) { id @0 :UInt64; }",
               {"struct T", "no field"}},
        Misuse{"struct A $Db.table(\"t\") $Db.primaryKey([\"id\"]) { id @0 :UInt64; }\n"
               "struct B $Db.table(\"t\") $Db.primaryKey([\"id\"]) { id @0 :UInt64; }",
               {"A", "B", "table t"}},
        Misuse{"struct T $Db.table(\"t\") $Db.primaryKey([\"id\"]) "
               "$Db.index([(name = \"i\", fields = [\"missing\"])]) { id @0 :UInt64; }",
               {"struct T", "missing", "index i"}},
        Misuse{"struct T $Db.table(\"t\") $Db.primaryKey([\"id\"]) { id @0 :Text $Db.autoIncrement; }",
               {"struct T", "id", "not an integer"}},
        Misuse{"struct T $Db.table(\"t\") $Db.primaryKey([\"id\"]) "
               "{ id @0 :UInt64; n @1 :UInt64 $Db.autoIncrement; }",
               {"struct T", "n", "primary key"}},
        Misuse{"struct T $Db.table(\"t\") $Db.primaryKey([\"a.zip\"]) { a @0 :Int32; }",
               {"struct T", "a.zip", "not a struct"}},
        Misuse{"struct T $Db.table(\"t\") $Db.primaryKey([\"id\"]) "
               "$Db.index([(name = \"i\", fields = [\"s\"])]) { id @0 :UInt64; s @1 :S; }\n"
               "struct S { x @0 :Int32; }",
               {"struct T", "s", "struct"}},
        Misuse{"struct T $Db.table(\"t\") $Db.primaryKey([\"id\"]) "
               "$Db.index([(name = \"t_id\", fields = [\"id\"])]) { id @0 :UInt64 $Db.indexed; }",
               {"struct T", "t_id"}},
        Misuse{"struct T $Db.table(\"t\") $Db.primaryKey([\"id\"]) { id @0 :UInt64; cb @1 :I; }\n"
               "interface I {}",
               {"cb", "interface"}}));

TEST(SchemaFile, SyntaxErrorNamesFileAndLine) {
  testing::TempDir dir;
  try {
    testing::parseText(dir, "broken.capnp", "struct T {\n  id @0 :UInt64\n}");
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::SyntaxError);
    EXPECT_NE(std::string(e.what()).find("broken.capnp:"), std::string::npos) << e.what();
  }
}

TEST(SchemaFile, MissingFileIsIoError) {
  try {
    parseSchemaFile("/nonexistent/x.capnp");
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::IoError);
    EXPECT_NE(std::string(e.what()).find("/nonexistent/x.capnp"), std::string::npos);
  }
}

TEST(SchemaFile, ImportsFromAnImportDirectory) {
  testing::TempDir dir;
  std::filesystem::create_directories(dir / "inc/shared");
  testing::writeFile(dir, "inc/shared/types.capnp",
                     "@0xc4d2b1a3f5e60718;\nstruct Money { cents @0 :Int64; }\n");
  auto path = testing::writeFile(
      dir, "app.capnp",
      "@0xf1e2d3c4b5a69788;\nusing Db = import \"/capdb/annotations.capnp\";\n"
      "using T = import \"/shared/types.capnp\";\n"
      "struct Order $Db.table(\"orders\") $Db.primaryKey([\"price.cents\"]) { price @0 :T.Money; }\n");
  std::vector<std::filesystem::path> imports = {dir / "inc"};
  SchemaFile file = parseSchemaFile(path, imports);
  ASSERT_EQ(file.tables.size(), 1u);
  EXPECT_EQ(file.tables[0].primaryKey[0].keyType, KeyType::Int64);
  // The stored schema carries the imported struct, so it reads without the import.
  auto stored = StoredSchema::fromSchema("orders", 1, file.tables[0].schema);
  auto loaded = StoredSchema::fromBytes(stored.bytes(), "orders", 1);
  EXPECT_EQ(requireTable(loaded.root(), loaded.owner()).primaryKey[0].dotted, "price.cents");
}

}  // namespace
}  // namespace capdb::orm
