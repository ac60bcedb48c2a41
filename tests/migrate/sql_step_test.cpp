// Declarative migration steps (MIGRATE ... SET field = expression): each step kind, lazily and
// eagerly through checkUpgrade, chains, and the errors at registration, at open and at run time.
#include <gtest/gtest.h>

#include <sstream>

#include "capdb/capdb.h"
#include "capdb/testing.h"
#include "support/errors.h"
#include "support/people_versions.h"
#include "support/raw_trees.h"
#include "support/schema_text.h"
#include "support/temp_dir.h"

namespace capdb {
namespace {

using SqlStepTest = ::capdb::testing::PeopleVersions;

const std::string kRecords =
    "{\"id\":\"1\",\"name\":\"Ada Lovelace\",\"score\":36.6}\n"
    "{\"id\":\"2\",\"name\":\"Alan Turing\",\"score\":41.25}\n"
    "{\"id\":\"3\",\"name\":\"Grace Brewster Hopper\",\"score\":85}\n"
    "{\"id\":\"4\"}\n";

TEST_F(SqlStepTest, AComputedField) {
  TableSchema v1 = people(1, kV1);
  TableSchema v2 = people(2, std::string(kV1) + " nameLength @3 :UInt32;");
  Migrations m;
  m.sql("MIGRATE people FROM 1 TO 2 SET nameLength = coalesce(length(name), 0)");
  std::string out = ::capdb::testing::checkUpgrade(dir_ / "check", v1, v2, m, kRecords);
  EXPECT_NE(out.find("\"name\":\"Ada Lovelace\",\"score\":36.6,\"nameLength\":12"), std::string::npos)
      << out;
  EXPECT_NE(out.find("{\"id\":\"4\",\"score\":0,\"nameLength\":0}"), std::string::npos) << out;
}

TEST_F(SqlStepTest, SplitATextFieldInTwo) {
  TableSchema v1 = people(1, kV1);
  TableSchema v2 = people(2, "id @0 :UInt64; firstName @1 :Text; score @2 :Float64; lastName @3 :Text;");
  Migrations m;
  m.sql(R"(
    MIGRATE people FROM 1 TO 2
      SET firstName = substr(name, 1, instr(name, ' ') - 1),
          lastName  = substr(name, instr(name, ' ') + 1);
  )");
  std::string out = ::capdb::testing::checkUpgrade(dir_ / "check", v1, v2, m, kRecords);
  EXPECT_NE(out.find("\"firstName\":\"Grace\",\"score\":85,\"lastName\":\"Brewster Hopper\""),
            std::string::npos)
      << out;
  // No name: both parts NULL, so both fields stay unset.
  EXPECT_NE(out.find("{\"id\":\"4\",\"score\":0}"), std::string::npos) << out;
}

TEST_F(SqlStepTest, ChangeAFieldsTypeThroughAnExpression) {
  TableSchema v1 = people(1, kV1);
  TableSchema v2 = people(2, "id @0 :UInt64; name @1 :Text; score @2 :Int64;");
  Migrations m;
  m.sql("MIGRATE people FROM 1 TO 2 SET score = CAST(round(score * 100) AS Int64)");
  std::string out = ::capdb::testing::checkUpgrade(dir_ / "check", v1, v2, m, kRecords);
  EXPECT_NE(out.find("\"score\":\"3660\""), std::string::npos) << out;
  EXPECT_NE(out.find("\"score\":\"4125\""), std::string::npos) << out;
}

TEST_F(SqlStepTest, AChainOfStepsThroughAVersionTheCatalogKnows) {
  TableSchema v1 = people(1, kV1);
  TableSchema v2 = people(2, std::string(kV1) + " tag @3 :Text;");
  TableSchema v3 = people(3, std::string(kV1) + " tag @3 :Text; rank @4 :Int32;");
  Migrations m;
  m.sql("MIGRATE people FROM 1 TO 2 SET tag = upper(substr(name, 1, 1));"
        "MIGRATE people FROM 2 TO 3 SET rank = CASE WHEN score > 40 THEN 1 ELSE 2 END;");
  load(dir_ / "db", v1, kRecords);
  Options o;
  o.migrations = &m;
  // Opened lazily at version 2: the catalog stores that schema; the records stay at version 1.
  { Database::open(dir_ / "db", Schemas{v2}, o); }
  o.mode = MigrationMode::Eager;
  Database db = Database::open(dir_ / "db", Schemas{v3}, o);
  EXPECT_EQ(db.oldRecords(), 0u);
  auto r = db.query("SELECT id, tag, rank FROM people ORDER BY id");
  ASSERT_EQ(r.size(), 4u);
  EXPECT_EQ(r.at(0, 1).text(), "A");
  EXPECT_EQ(r.at(0, 2).integer(), 2);
  EXPECT_EQ(r.at(1, 2).integer(), 1);
  EXPECT_TRUE(r.at(3, 1).isNull());
}

TEST_F(SqlStepTest, APendingMigrationKeepsItsDeclarativeStepsForToolsWithoutTheApp) {
  TableSchema v1 = people(1, kV1);
  TableSchema v2 = people(2, std::string(kV1) + " nameLength @3 :UInt32;");
  load(dir_ / "db", v1, kRecords);
  Migrations m;
  m.sql("MIGRATE people FROM 1 TO 2 SET nameLength = coalesce(length(name), 0)");
  Options lazy;
  lazy.migrations = &m;
  { Database::open(dir_ / "db", Schemas{v2}, lazy); }
  // Neither the steps nor the schema: the catalog has both.
  Database tool = Database::open(dir_ / "db");
  EXPECT_EQ(tool.query("SELECT nameLength FROM people WHERE id = 1").at(0, 0).integer(), 12);
  EXPECT_EQ(tool.oldRecords(), 0u);  // not an app table: nothing for it to migrate
}

TEST_F(SqlStepTest, APendingMigrationWithCppStepsCannotBeReadWithoutThem) {
  TableSchema v1 = people(1, kV1);
  TableSchema v2 = people(2, std::string(kV1) + " nameLength @3 :UInt32;");
  load(dir_ / "db", v1, kRecords);
  Migrations m;
  addNameLengthStep(m);
  Options lazy;
  lazy.migrations = &m;
  { Database::open(dir_ / "db", Schemas{v2}, lazy); }
  Database tool = Database::open(dir_ / "db");
  std::string err = ::capdb::testing::errorOf([&] { tool.query("SELECT nameLength FROM people"); });
  EXPECT_NE(err.find("SchemaMismatch"), std::string::npos) << err;
  EXPECT_EQ(::capdb::testing::errorOf([&] { Database::open(dir_ / "db2", Schemas{v2}); }), "no error");
  err = ::capdb::testing::errorOf([&] { Database::open(dir_ / "db", Schemas{v2}); });
  EXPECT_NE(err.find("4 records at version 1 wait for the migration steps"), std::string::npos) << err;
}

TEST_F(SqlStepTest, SyntaxErrorsAtRegistration) {
  EXPECT_EQ(::capdb::testing::errorOf([] {
              Migrations().sql("MIGRATE people FROM 1 TO 2\n  SET x = (1 +");
            }),
            "SyntaxError: line 2, column 15: at end of input: expected an expression");
  EXPECT_EQ(::capdb::testing::errorOf([] { Migrations().sql("SELECT * FROM people"); }),
            "InvalidArgument: Migrations::sql takes MIGRATE statements, not \"SELECT * FROM people\"");
  EXPECT_EQ(::capdb::testing::errorOf([] { Migrations().sql("MIGRATE people FROM 2 TO 1 SET a = 1"); }),
            "InvalidArgument: migration step of people from 2 to 1: `from` must be below `to`");
}

TEST_F(SqlStepTest, UnknownNamesRefuseTheOpenAndLeaveTheDatabaseAsItWas) {
  TableSchema v1 = people(1, kV1);
  TableSchema v2 = people(2, std::string(kV1) + " nameLength @3 :UInt32;");
  load(dir_ / "db", v1, kRecords);
  Options o;
  Migrations readsUnknown;
  readsUnknown.sql("MIGRATE people FROM 1 TO 2 SET nameLength = length(nmae)");
  o.migrations = &readsUnknown;
  EXPECT_EQ(::capdb::testing::errorOf([&] { Database::open(dir_ / "db", Schemas{v2}, o); }),
            "InvalidArgument: MIGRATE people FROM 1 TO 2: table people has no column 'nmae' (did "
            "you mean 'name'?)");
  Migrations setsUnknown;
  setsUnknown.sql("MIGRATE people FROM 1 TO 2 SET nameLen = 1");
  o.migrations = &setsUnknown;
  EXPECT_EQ(::capdb::testing::errorOf([&] { Database::open(dir_ / "db", Schemas{v2}, o); }),
            "InvalidArgument: MIGRATE people FROM 1 TO 2: table people has no column 'nameLen' "
            "(did you mean 'nameLength'?)");
  Migrations wrongCase;
  wrongCase.sql("MIGRATE people FROM 1 TO 2 SET NAMELENGTH = 1");
  o.migrations = &wrongCase;
  EXPECT_EQ(::capdb::testing::errorOf([&] { Database::open(dir_ / "db", Schemas{v2}, o); }),
            "InvalidArgument: MIGRATE people FROM 1 TO 2: write the field NAMELENGTH as declared, "
            "nameLength");
  Database db = Database::open(dir_ / "db", Schemas{v1});
  EXPECT_EQ(db.query("SELECT count(*) FROM people").at(0, 0).integer(), 4);
}

TEST_F(SqlStepTest, AValueThatDoesNotFitFailsTheMigrationNamingTheRecord) {
  TableSchema v1 = people(1, kV1);
  TableSchema v2 = people(2, std::string(kV1) + " small @3 :UInt8;");
  load(dir_ / "db", v1, kRecords);
  Migrations m;
  m.sql("MIGRATE people FROM 1 TO 2 SET small = CAST(score AS INTEGER) * 4");
  const testing::RawTable before = testing::rawTable(dir_ / "db", "people", {});
  Options o;
  o.migrations = &m;
  o.mode = MigrationMode::Eager;
  o.eager.batchRecords = 1;  // records 1 and 2 are rewritten in batches of their own first
  std::string err = ::capdb::testing::errorOf([&] { Database::open(dir_ / "db", Schemas{v2}, o); });
  EXPECT_NE(err.find("MigrationFailed"), std::string::npos) << err;
  EXPECT_NE(err.find("(3)"), std::string::npos) << err;
  EXPECT_NE(err.find("people.small: 340 does not fit UInt8"), std::string::npos) << err;
  // Undone, byte for byte.
  EXPECT_NE(err.find("the table is back at version 1"), std::string::npos) << err;
  EXPECT_TRUE(testing::rawTable(dir_ / "db", "people", {}) == before);
}

}  // namespace
}  // namespace capdb
