#include "orm/schema_diff.h"

#include <gtest/gtest.h>

#include "orm/stored_schema.h"
#include "support/schema_text.h"

namespace capdb::orm {
namespace {

struct DiffCase {
  const char* name;
  const char* v1;  // the fields and annotations of struct T, version 1
  const char* v2;
  ChangeKind kind;
  const char* field;
  bool wireCompatible;
};

void PrintTo(const DiffCase& c, std::ostream* os) { *os << c.name; }

std::string tableText(const std::string& annotations, const std::string& fields) {
  return "struct T $Db.table(\"t\") " + annotations + " { " + fields + " }\n"
         "struct Other { a @0 :Int32; b @1 :Int32; }\n";
}

class DiffTest : public ::testing::TestWithParam<DiffCase> {};

TEST_P(DiffTest, ClassifiesTheChange) {
  const DiffCase& c = GetParam();
  testing::TempDir dir;
  auto split = [](const char* text) {
    std::string s(text);
    auto bar = s.find('|');
    return std::make_pair(s.substr(0, bar), s.substr(bar + 1));
  };
  auto [a1, f1] = split(c.v1);
  auto [a2, f2] = split(c.v2);
  SchemaFile one = testing::parseText(dir, "v1.capnp", tableText(a1, f1));
  SchemaFile two = testing::parseText(dir, "v2.capnp", tableText(a2, f2));
  SchemaDiff diff = diffTables(one.tables[0], two.tables[0]);
  ASSERT_FALSE(diff.empty()) << c.name;
  bool found = false;
  for (const auto& ch : diff.changes) {
    if (ch.kind == c.kind && ch.field == c.field) {
      found = true;
      EXPECT_EQ(ch.wireCompatible, c.wireCompatible) << c.name << ": " << diff.describe("t");
    }
  }
  EXPECT_TRUE(found) << c.name << ": " << diff.describe("t");

  // Field-level classifications agree with what Cap'n Proto's SchemaLoader accepts.
  bool fieldChange = c.kind != ChangeKind::PrimaryKeyChanged && c.kind != ChangeKind::IndexAdded &&
                     c.kind != ChangeKind::IndexRemoved && c.kind != ChangeKind::IndexChanged;
  if (fieldChange && c.kind != ChangeKind::FieldRemoved) {
    auto s1 = StoredSchema::fromSchema("t", 1, one.tables[0].schema);
    auto s2 = StoredSchema::fromSchema("t", 2, two.tables[0].schema);
    EXPECT_EQ(StoredSchema::capnpAcceptsUpgrade(s1, s2), diff.wireCompatible())
        << c.name << ": " << diff.describe("t");
  }
}

constexpr const char* kPk = "$Db.primaryKey([\"id\"])";

INSTANTIATE_TEST_SUITE_P(
    EveryKind, DiffTest,
    ::testing::Values(
        DiffCase{"added", "$Db.primaryKey([\"id\"])|id @0 :UInt64;",
                 "$Db.primaryKey([\"id\"])|id @0 :UInt64; name @1 :Text;", ChangeKind::FieldAdded,
                 "name", true},
        DiffCase{"removed", "$Db.primaryKey([\"id\"])|id @0 :UInt64; name @1 :Text;",
                 "$Db.primaryKey([\"id\"])|id @0 :UInt64;", ChangeKind::FieldRemoved, "name", true},
        DiffCase{"renamed", "$Db.primaryKey([\"id\"])|id @0 :UInt64; name @1 :Text;",
                 "$Db.primaryKey([\"id\"])|id @0 :UInt64; fullName @1 :Text;",
                 ChangeKind::FieldRenamed, "fullName", true},
        DiffCase{"type widened", "$Db.primaryKey([\"id\"])|id @0 :UInt64; n @1 :Int32;",
                 "$Db.primaryKey([\"id\"])|id @0 :UInt64; n @1 :Int64;", ChangeKind::TypeChanged,
                 "n", false},
        DiffCase{"float to int", "$Db.primaryKey([\"id\"])|id @0 :UInt64; score @1 :Float64;",
                 "$Db.primaryKey([\"id\"])|id @0 :UInt64; score @1 :Int64;",
                 ChangeKind::TypeChanged, "score", false},
        DiffCase{"text to data", "$Db.primaryKey([\"id\"])|id @0 :UInt64; t @1 :Text;",
                 "$Db.primaryKey([\"id\"])|id @0 :UInt64; t @1 :Data;", ChangeKind::TypeChanged,
                 "t", false},
        DiffCase{"enum to uint16", "$Db.primaryKey([\"id\"])|id @0 :UInt64; c @1 :C;\n} enum C { a @0; b @1; ",
                 "$Db.primaryKey([\"id\"])|id @0 :UInt64; c @1 :UInt16;\n} enum C { a @0; b @1; ",
                 ChangeKind::TypeChanged, "c", false},
        DiffCase{"text to list", "$Db.primaryKey([\"id\"])|id @0 :UInt64; t @1 :Text;",
                 "$Db.primaryKey([\"id\"])|id @0 :UInt64; t @1 :List(Int32);",
                 ChangeKind::TypeChanged, "t", false},
        DiffCase{"nested struct field type",
                 "$Db.primaryKey([\"id\"])|id @0 :UInt64; o @1 :Other;",
                 "$Db.primaryKey([\"id\"])|id @0 :UInt64; o @1 :Other2;\n} struct Other2 { a @0 :Int32; b @1 :Float32;",
                 ChangeKind::TypeChanged, "o.b", false},
        DiffCase{"default", "$Db.primaryKey([\"id\"])|id @0 :UInt64; n @1 :Int32 = 5;",
                 "$Db.primaryKey([\"id\"])|id @0 :UInt64; n @1 :Int32 = 7;",
                 ChangeKind::DefaultChanged, "n", false},
        DiffCase{"into union as first member",
                 "$Db.primaryKey([\"id\"])|id @0 :UInt64; a @1 :Int32;",
                 "$Db.primaryKey([\"id\"])|id @0 :UInt64; union { a @1 :Int32; b @2 :Text; }",
                 ChangeKind::MovedIntoUnion, "a", true},
        DiffCase{"retroactive union",
                 "$Db.primaryKey([\"id\"])|id @0 :UInt64; b @1 :Text; a @2 :Int32;",
                 "$Db.primaryKey([\"id\"])|id @0 :UInt64; union { b @1 :Text; c @3 :Int32; } a @2 :Int32;",
                 ChangeKind::MovedIntoUnion, "b", true},
        DiffCase{"out of union",
                 "$Db.primaryKey([\"id\"])|id @0 :UInt64; union { a @1 :Int32; b @2 :Text; }",
                 "$Db.primaryKey([\"id\"])|id @0 :UInt64; a @1 :Int32; b @2 :Text;",
                 ChangeKind::MovedOutOfUnion, "a", false},
        DiffCase{"into group", "$Db.primaryKey([\"id\"])|id @0 :UInt64; x @1 :Int32;",
                 "$Db.primaryKey([\"id\"])|id @0 :UInt64; p :group { x @1 :Int32; }",
                 ChangeKind::MovedIntoGroup, "p.x", true},
        DiffCase{"out of group", "$Db.primaryKey([\"id\"])|id @0 :UInt64; p :group { x @1 :Int32; }",
                 "$Db.primaryKey([\"id\"])|id @0 :UInt64; x @1 :Int32;",
                 ChangeKind::MovedOutOfGroup, "x", true},
        DiffCase{"primary key", "$Db.primaryKey([\"id\"])|id @0 :UInt64; e @1 :Text;",
                 "$Db.primaryKey([\"e\"])|id @0 :UInt64; e @1 :Text;",
                 ChangeKind::PrimaryKeyChanged, "", false},
        DiffCase{"index added", "$Db.primaryKey([\"id\"])|id @0 :UInt64; e @1 :Text;",
                 "$Db.primaryKey([\"id\"])|id @0 :UInt64; e @1 :Text $Db.indexed;",
                 ChangeKind::IndexAdded, "t_e", true},
        DiffCase{"index removed", "$Db.primaryKey([\"id\"])|id @0 :UInt64; e @1 :Text $Db.indexed;",
                 "$Db.primaryKey([\"id\"])|id @0 :UInt64; e @1 :Text;",
                 ChangeKind::IndexRemoved, "t_e", true},
        DiffCase{"index made unique",
                 "$Db.primaryKey([\"id\"])|id @0 :UInt64; e @1 :Text $Db.indexed;",
                 "$Db.primaryKey([\"id\"])|id @0 :UInt64; e @1 :Text $Db.unique;",
                 ChangeKind::IndexChanged, "t_e", true}),
    [](const ::testing::TestParamInfo<DiffCase>& info) {
      std::string n = info.param.name;
      for (char& ch : n) {
        if (!isalnum(static_cast<unsigned char>(ch))) ch = '_';
      }
      return n;
    });

TEST(SchemaDiff, IdenticalSchemasHaveNoChanges) {
  testing::TempDir dir;
  auto text = tableText(kPk, "id @0 :UInt64; name @1 :Text; p :group { x @2 :Int32; }");
  SchemaFile one = testing::parseText(dir, "a.capnp", text);
  SchemaFile two = testing::parseText(dir, "b.capnp", text);
  SchemaDiff diff = diffTables(one.tables[0], two.tables[0]);
  EXPECT_TRUE(diff.empty()) << diff.describe("t");
  EXPECT_TRUE(diff.wireCompatible());
}

TEST(SchemaDiff, RenamedKeyFieldIsNotAKeyChange) {
  testing::TempDir dir;
  SchemaFile one = testing::parseText(dir, "a.capnp", tableText(kPk, "id @0 :UInt64;"));
  SchemaFile two = testing::parseText(dir, "b.capnp",
                                      tableText("$Db.primaryKey([\"key\"])", "key @0 :UInt64;"));
  SchemaDiff diff = diffTables(one.tables[0], two.tables[0]);
  ASSERT_EQ(diff.changes.size(), 1u) << diff.describe("t");
  EXPECT_EQ(diff.changes[0].kind, ChangeKind::FieldRenamed);
}

TEST(SchemaDiff, DescribeNamesTableFieldAndChange) {
  testing::TempDir dir;
  SchemaFile one = testing::parseText(dir, "a.capnp", tableText(kPk, "id @0 :UInt64; score @1 :Float64;"));
  SchemaFile two = testing::parseText(dir, "b.capnp", tableText(kPk, "id @0 :UInt64; score @1 :Int64;"));
  EXPECT_EQ(diffTables(one.tables[0], two.tables[0]).describe("people"),
            "people.score: type changed Float64 -> Int64 (needs a step)\n");
}

}  // namespace
}  // namespace capdb::orm
