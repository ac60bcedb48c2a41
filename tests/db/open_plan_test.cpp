// decideOpen: what Database::open decides for one table, checked from schemas parsed at run time
// and catalog entries built in memory, without LMDB.
#include "db/open_plan.h"

#include <gtest/gtest.h>

#include <cctype>
#include <functional>
#include <map>

#include "support/schema_text.h"

namespace capdb::db {
namespace {

using orm::IndexState;
using orm::MigrationState;
using orm::TableInfo;

constexpr uint32_t kNextId = 7;
constexpr const char* kPk = "$Db.primaryKey([\"id\"])";
constexpr const char* kFields = "id @0 :UInt64; name @1 :Text; age @2 :UInt32 $Db.indexed;";
constexpr const char* kWithLength =
    "id @0 :UInt64; name @1 :Text; age @2 :UInt32 $Db.indexed; nameLength @3 :UInt32;";

// One version of table t (struct T): its fields, and its annotations besides $Db.table and
// $Db.version.
struct Version {
  uint32_t version = 1;
  std::string fields;
  std::string annotations = kPk;
};

struct OpenCase {
  const char* name = "";
  std::vector<Version> stored = {};  // the catalog's schemas, oldest first; none: a new table
  std::map<uint32_t, uint64_t> counts = {};  // the stored entry's records per version
  Version app = {};
  std::function<void(Migrations&)> steps = nullptr;  // null: no Options::migrations
  MigrationMode mode = MigrationMode::Lazy;
  std::function<void(TableInfo&)> adjust = nullptr;  // the stored entry's migration state, say
  // Expected: the refusal's message (code SchemaMismatch unless `code` says otherwise), or, with
  // no message, the plan checked by `check`.
  std::string refusal = "";
  std::function<void(const OpenPlan&)> check = nullptr;
  ErrorCode code = ErrorCode::SchemaMismatch;
};

void PrintTo(const OpenCase& c, std::ostream* os) {
  *os << c.name;
}

std::vector<std::string> indexNames(const TableInfo& info, IndexState state) {
  std::vector<std::string> out;
  for (const auto& ii : info.indexes) {
    if (ii.state == state) out.push_back(ii.name);
  }
  return out;
}

using Names = std::vector<std::string>;

// A step of t from 1 to 2 that sets `writes`.
std::function<void(Migrations&)> step(Names writes, bool requiresEager = false) {
  return [=](Migrations& m) {
    m.step("t", 1, 2, [](StepRecord, StepBuilder) {},
           {.writes = writes, .requiresEager = requiresEager});
  };
}

class OpenPlanTest : public ::testing::TestWithParam<OpenCase> {
 protected:
  TableSchema parse(const Version& v) {
    std::string text = "struct T $Db.table(\"t\") $Db.version(" + std::to_string(v.version) + ") " +
                       v.annotations + " { " + v.fields + " }\n";
    auto file = testing::parseText(dir_, "v" + std::to_string(files_.size()) + ".capnp", text);
    files_.push_back(file);
    return file.tables.at(0);
  }

  // What the catalog holds for the case: its schemas, and an entry made as an open of the newest
  // would make it, with the case's counts.
  StoredTable stored(const OpenCase& c) {
    StoredTable out;
    out.nextTableId = kNextId;
    for (const Version& v : c.stored) {
      schemas_.insert_or_assign(v.version, parse(v));
      out.schemaVersions.push_back(v.version);
    }
    out.loadSchema = [this](uint32_t v) -> std::optional<orm::StoredSchema> {
      ++loads_;
      auto it = schemas_.find(v);
      if (it == schemas_.end()) return std::nullopt;
      return orm::StoredSchema::fromSchema("t", v, it->second.schema);
    };
    if (c.stored.empty()) return out;
    StoredTable none;
    none.nextTableId = 1;
    OpenPlan created =
        decideOpen(none, schemas_.at(c.stored.back().version), nullptr, MigrationMode::Lazy);
    EXPECT_FALSE(created.refusal) << created.refusal->what();
    out.entry = created.entry;
    out.entry->counts = c.counts;
    if (c.adjust) c.adjust(*out.entry);
    return out;
  }

  testing::TempDir dir_;
  std::vector<orm::SchemaFile> files_;
  std::map<uint32_t, TableSchema> schemas_;
  int loads_ = 0;
};

TEST_P(OpenPlanTest, Decides) {
  const OpenCase& c = GetParam();
  StoredTable stored = this->stored(c);
  TableSchema app = parse(c.app);
  std::optional<Migrations> migrations;
  if (c.steps) c.steps(migrations.emplace());
  OpenPlan plan = decideOpen(stored, app, migrations ? &*migrations : nullptr, c.mode);
  if (!c.refusal.empty()) {
    ASSERT_TRUE(plan.refusal.has_value()) << c.name;
    EXPECT_EQ(plan.refusal->code(), c.code) << plan.refusal->what();
    EXPECT_EQ(plan.refusal->what(), c.refusal);
    return;
  }
  ASSERT_FALSE(plan.refusal.has_value()) << plan.refusal->what();
  EXPECT_EQ(plan.entry.name, "t");
  EXPECT_EQ(plan.entry.version, c.app.version);
  EXPECT_EQ(plan.entry.id, stored.entry ? stored.entry->id : kNextId);
  if (c.check) c.check(plan);
}

// The plan of an open that changes nothing stored but the schema at most.
void unchanged(const OpenPlan& p) {
  EXPECT_TRUE(p.buildIndexes.empty());
  EXPECT_TRUE(p.dropIndexes.empty());
  EXPECT_EQ(p.upgrader, nullptr);
  EXPECT_FALSE(p.entry.migration.has_value());
  EXPECT_FALSE(p.raiseSequence);
}

// A lazy or hybrid open whose step writes the indexed age: it returns at once, the index emptied
// and building, filled later from the upgraded records; no check phase, nothing to undo.
void buildsAgeAfterOpen(const OpenPlan& p) {
  EXPECT_EQ(indexNames(p.entry, IndexState::Building), Names{"t_age"});
  EXPECT_EQ(p.buildIndexes, Names{"t_age"});
  ASSERT_TRUE(p.entry.migration.has_value());
  EXPECT_EQ(p.entry.migration->phase, MigrationState::Phase::Records);
  EXPECT_TRUE(p.entry.migration->before.empty());
}

// A lazy migration from version 1: old records read through the step, no index rebuilt.
void lazyFromOne(const OpenPlan& p) {
  ASSERT_NE(p.upgrader, nullptr);
  EXPECT_EQ(p.oldVersions, std::set<uint32_t>{1});
  EXPECT_TRUE(p.upgrader->needsSteps(1));
  EXPECT_FALSE(p.keysMove);
  ASSERT_TRUE(p.storeSchema.has_value());
  EXPECT_EQ(p.storeSchema->version(), 2u);
  ASSERT_TRUE(p.entry.migration.has_value());
  EXPECT_EQ(p.entry.migration->phase, MigrationState::Phase::Records);
  EXPECT_EQ(p.entry.migration->total, 10u);
  EXPECT_EQ(p.entry.migration->fromVersion, 1u);
  EXPECT_FALSE(p.entry.migration->stepless);
  EXPECT_TRUE(p.entry.migration->before.empty());
  EXPECT_EQ(indexNames(p.entry, IndexState::Ready), Names{"t_age"});
  EXPECT_TRUE(p.buildIndexes.empty());
}


INSTANTIATE_TEST_SUITE_P(
    Cases, OpenPlanTest,
    ::testing::Values(
        OpenCase{.name = "new table",
                 .app = {1, kFields},
                 .check =
                     [](const OpenPlan& p) {
                       unchanged(p);
                       EXPECT_EQ(p.entry.primaryKey, Names{"id"});
                       EXPECT_EQ(indexNames(p.entry, IndexState::Ready), Names{"t_age"});
                       ASSERT_TRUE(p.storeSchema.has_value());
                       EXPECT_EQ(p.storeSchema->version(), 1u);
                     }},
        OpenCase{.name = "same version, identical schema",
                 .stored = {{1, kFields}},
                 .counts = {{1, 10}},
                 .app = {1, kFields},
                 .check =
                     [](const OpenPlan& p) {
                       unchanged(p);
                       EXPECT_FALSE(p.storeSchema.has_value());
                     }},
        OpenCase{.name = "same version, field added",
                 .stored = {{1, kFields}},
                 .counts = {{1, 10}},
                 .app = {1, kWithLength},
                 .check =
                     [](const OpenPlan& p) {
                       unchanged(p);
                       ASSERT_TRUE(p.storeSchema.has_value());  // the newer schema is kept
                       EXPECT_EQ(p.storeSchema->version(), 1u);
                     }},
        OpenCase{.name = "same version, an older app lacks a field",
                 .stored = {{1, kWithLength}},
                 .counts = {{1, 10}},
                 .app = {1, kFields},
                 .check =
                     [](const OpenPlan& p) {
                       unchanged(p);
                       EXPECT_FALSE(p.storeSchema.has_value());
                     }},
        OpenCase{.name = "an older app lacks an index",
                 .stored = {{1,
                             "id @0 :UInt64; name @1 :Text; age @2 :UInt32 $Db.indexed; "
                             "email @3 :Text $Db.indexed;"}},
                 .app = {1, kFields},
                 .refusal = "table t: the database has index t_email, which this app (older than "
                            "the database's schema) does not declare and cannot maintain; open it "
                            "with the app that declares the index"},
        OpenCase{
            .name = "index added",
            .stored = {{1, kFields}},
            .counts = {{1, 10}},
            .app = {1, "id @0 :UInt64; name @1 :Text $Db.indexed; age @2 :UInt32 $Db.indexed;"},
            .check =
                [](const OpenPlan& p) {
                  // Emptied at open and built later, in batches; the open reads no record.
                  EXPECT_EQ(p.buildIndexes, Names{"t_name"});
                  EXPECT_TRUE(p.dropIndexes.empty());
                  EXPECT_EQ(indexNames(p.entry, IndexState::Ready), Names{"t_age"});
                  EXPECT_EQ(indexNames(p.entry, IndexState::Building), Names{"t_name"});
                }},
        OpenCase{
            .name = "index added to an empty table",
            .stored = {{1, kFields}},
            .app = {1, "id @0 :UInt64; name @1 :Text $Db.indexed; age @2 :UInt32 $Db.indexed;"},
            .check =
                [](const OpenPlan& p) {
                  EXPECT_EQ(p.buildIndexes, Names{"t_name"});
                  EXPECT_EQ(indexNames(p.entry, IndexState::Ready), (Names{"t_name", "t_age"}));
                }},
        OpenCase{
            .name = "a failed index still declared",
            .stored = {{1, kFields}},
            .counts = {{1, 10}},
            .app = {1, kFields},
            .adjust =
                [](TableInfo& e) {
                  e.indexes[0].state = IndexState::Failed;
                  e.indexes[0].duplicates = {"key (7) of records (1) and (2)"};
                },
            .refusal = "table t: index t_age failed its build (key (7) of records (1) and (2)); "
                       "remove the index from the schema, or fix those records and restart its "
                       "build (capdb rebuild-index, or Database::rebuildIndex in a database opened "
                       "without this schema)"},
        OpenCase{.name = "index removed",
                 .stored = {{1, kFields}},
                 .counts = {{1, 10}},
                 .app = {1, "id @0 :UInt64; name @1 :Text; age @2 :UInt32;"},
                 .check =
                     [](const OpenPlan& p) {
                       EXPECT_TRUE(p.buildIndexes.empty());
                       EXPECT_EQ(p.dropIndexes, Names{"t_age"});
                       EXPECT_TRUE(p.entry.indexes.empty());
                     }},
        OpenCase{.name = "index changed to unique",
                 .stored = {{1, kFields}},
                 .counts = {{1, 10}},
                 .app = {1, "id @0 :UInt64; name @1 :Text; age @2 :UInt32 $Db.unique;"},
                 .check =
                     [](const OpenPlan& p) {
                       EXPECT_EQ(p.buildIndexes, Names{"t_age"});
                       EXPECT_TRUE(p.dropIndexes.empty());
                       ASSERT_EQ(p.entry.indexes.size(), 1u);
                       EXPECT_TRUE(p.entry.indexes[0].unique);
                     }},
        OpenCase{.name = "same version, type changed",
                 .stored = {{1, kFields}},
                 .counts = {{1, 10}},
                 .app = {1, "id @0 :UInt64; name @1 :Text; age @2 :UInt64 $Db.indexed;"},
                 .refusal = "table t: the app's schema changed at the same version 1 in ways old "
                            "records cannot be read across; raise $Db.version (and add a "
                            "migration step for each change that needs one):\n"
                            "t.age: type changed UInt32 -> UInt64 (needs a step)\n"},
        OpenCase{.name = "version going backwards",
                 .stored = {{1, kFields}, {2, kWithLength}},
                 .counts = {{2, 10}},
                 .app = {1, kFields},
                 .refusal = "table t: the database is at schema version 2, newer than the app's "
                            "version 1; open it with a newer app"},
        OpenCase{
            .name = "higher version, wire-compatible, no steps",
            .stored = {{1, kFields}},
            .counts = {{1, 10}},
            .app = {2, kWithLength},
            .check =
                [](const OpenPlan& p) {
                  ASSERT_NE(p.upgrader, nullptr);
                  EXPECT_EQ(p.oldVersions, std::set<uint32_t>{1});
                  EXPECT_FALSE(p.upgrader->needsSteps(1));  // read as version 2 as they are
                  EXPECT_FALSE(p.entry.migration.has_value());
                  ASSERT_TRUE(p.storeSchema.has_value());
                  EXPECT_EQ(p.storeSchema->version(), 2u);
                }},
        OpenCase{.name = "higher version, incompatible, no migrations",
                 .stored = {{1, kFields}},
                 .counts = {{1, 10}},
                 .app = {2, "id @0 :UInt64; name @1 :Text; age @2 :UInt64 $Db.indexed;"},
                 .refusal = "table t: the app's schema is version 2 and the database's version 1; "
                            "moving records between versions needs migration steps "
                            "(Options::migrations). Changes:\n"
                            "t.age: type changed UInt32 -> UInt64 (needs a step)\n"
                            "t.t_age: index changed (age) -> (age) (wire-compatible)\n"},
        OpenCase{
            .name = "higher version, incompatible, no step for the table",
            .stored = {{1, kFields}},
            .counts = {{1, 10}},
            .app = {2, "id @0 :UInt64; name @1 :Text; age @2 :UInt64 $Db.indexed;"},
            .steps = [](Migrations& m) { m.step("other", 1, 2, [](StepRecord, StepBuilder) {}); },
            .refusal = "table t: from version 1 to 2 the schema changes in ways old records "
                       "cannot be read across, and no migration step covers it; register one "
                       "with Migrations::step(\"t\", 1, 2, ...):\n"
                       "t.age: type changed UInt32 -> UInt64 (needs a step)\n"},
        OpenCase{
            .name = "higher version, incompatible, no records",
            .stored = {{1, kFields}},
            .app = {2, "id @0 :UInt64; name @1 :Text; age @2 :UInt64 $Db.indexed;"},
            .check =
                [](const OpenPlan& p) {
                  unchanged(p);  // version 1 stays unplannable: no record is at it
                  EXPECT_TRUE(p.oldVersions.empty());
                  ASSERT_TRUE(p.storeSchema.has_value());
                }},
        OpenCase{.name = "step, lazy",
                 .stored = {{1, kFields}},
                 .counts = {{1, 10}},
                 .app = {2, kWithLength},
                 .steps = step({"nameLength"}),
                 .check = lazyFromOne},
        OpenCase{.name = "step, hybrid",
                 .stored = {{1, kFields}},
                 .counts = {{1, 10}},
                 .app = {2, kWithLength},
                 .steps = step({"nameLength"}),
                 .mode = MigrationMode::Hybrid,
                 .check = lazyFromOne},
        OpenCase{.name = "step, eager",
                 .stored = {{1, kFields}},
                 .counts = {{1, 10}},
                 .app = {2, kWithLength},
                 .steps = step({"nameLength"}),
                 .mode = MigrationMode::Eager,
                 .check =
                     [](const OpenPlan& p) {
                       // As lazily, but the migration keeps the entry before it, to be undone.
                       ASSERT_TRUE(p.entry.migration.has_value());
                       EXPECT_EQ(p.entry.migration->phase, MigrationState::Phase::Records);
                       EXPECT_EQ(p.entry.migration->total, 10u);
                       EXPECT_EQ(p.entry.migration->fromVersion, 1u);
                       EXPECT_FALSE(p.entry.migration->before.empty());
                       EXPECT_EQ(indexNames(p.entry, IndexState::Ready), Names{"t_age"});
                       EXPECT_TRUE(p.buildIndexes.empty());
                     }},
        OpenCase{.name = "step writes an indexed field, lazy",
                 .stored = {{1, kFields}},
                 .counts = {{1, 10}},
                 .app = {2, kWithLength},
                 .steps = step({"age"}),
                 .check = buildsAgeAfterOpen},
        OpenCase{.name = "step writes an indexed field, hybrid",
                 .stored = {{1, kFields}},
                 .counts = {{1, 10}},
                 .app = {2, kWithLength},
                 .steps = step({"age"}),
                 .mode = MigrationMode::Hybrid,
                 .check = buildsAgeAfterOpen},
        OpenCase{.name = "step with undeclared writes, lazy",
                 .stored = {{1, kFields}},
                 .counts = {{1, 10}},
                 .app = {2, kWithLength},
                 .steps = step({}),
                 .check = buildsAgeAfterOpen},
        OpenCase{
            .name = "step writes an indexed field, eager",
            .stored = {{1, kFields}},
            .counts = {{1, 10}},
            .app = {2, kWithLength},
            .steps = step({"age"}),
            .mode = MigrationMode::Eager,
            .check =
                [](const OpenPlan& p) {
                  // The index keeps its entries (held) while the migration may be undone, and
                  // builds once its records have replaced the old ones.
                  EXPECT_EQ(indexNames(p.entry, IndexState::Building), Names{"t_age"});
                  ASSERT_TRUE(p.entry.migration.has_value());
                  EXPECT_EQ(p.entry.migration->phase, MigrationState::Phase::Records);
                  EXPECT_FALSE(p.entry.migration->before.empty());
                  EXPECT_TRUE(p.entry.indexes.at(0).held);
                  EXPECT_TRUE(p.buildIndexes.empty());
                }},
        OpenCase{.name = "step requires the eager mode, lazy",
                 .stored = {{1, kFields}},
                 .counts = {{1, 10}},
                 .app = {2, kWithLength},
                 .steps = step({"nameLength"}, true),
                 .refusal = "table t: a migration step requires the eager mode; open it with "
                            "MigrationMode::Eager"},
        OpenCase{
            .name = "step writes a unique field; an index dropped, eager",
            .stored = {{1,
                        "id @0 :UInt64; name @1 :Text; age @2 :UInt32 $Db.indexed; "
                        "email @3 :Text $Db.unique;"}},
            .counts = {{1, 10}},
            .app = {2,
                    "id @0 :UInt64; name @1 :Text; age @2 :UInt32; email @3 :Text "
                    "$Db.unique; nameLength @4 :UInt32;"},
            .steps = step({"email"}),
            .mode = MigrationMode::Eager,
            .check =
                [](const OpenPlan& p) {
                  // Undoable until the unique index is checked: the entry as it was is kept,
                  // and the dropped index waits for the point of no return.
                  ASSERT_TRUE(p.entry.migration.has_value());
                  EXPECT_EQ(p.entry.migration->phase, MigrationState::Phase::Check);
                  EXPECT_FALSE(p.entry.migration->before.empty());
                  EXPECT_EQ(p.entry.migration->dropIndexes, Names{"t_age"});
                  EXPECT_TRUE(p.dropIndexes.empty());
                  EXPECT_EQ(indexNames(p.entry, IndexState::Building), Names{"t_email"});
                  // Its old entries are kept for an undo until the check passes.
                  EXPECT_TRUE(p.entry.indexes.back().held);
                  EXPECT_TRUE(p.buildIndexes.empty());
                }},
        OpenCase{
            .name = "step writes a unique field, lazy",
            .stored = {{1, "id @0 :UInt64; name @1 :Text; email @2 :Text $Db.unique;"}},
            .counts = {{1, 10}},
            .app = {2, "id @0 :UInt64; name @1 :Text; email @2 :Text $Db.unique; n @3 :UInt32;"},
            .steps = step({"email"}),
            .check =
                [](const OpenPlan& p) {
                  // No check phase: the build fails the index if its keys repeat.
                  ASSERT_TRUE(p.entry.migration.has_value());
                  EXPECT_EQ(p.entry.migration->phase, MigrationState::Phase::Records);
                  EXPECT_TRUE(p.entry.migration->before.empty());
                  EXPECT_EQ(indexNames(p.entry, IndexState::Building), Names{"t_email"});
                  EXPECT_FALSE(p.entry.indexes[0].held);
                  EXPECT_EQ(p.buildIndexes, Names{"t_email"});
                }},
        OpenCase{.name = "primary key changed, lazy",
                 .stored = {{1, kFields}},
                 .counts = {{1, 10}},
                 .app = {2, kFields, "$Db.primaryKey([\"name\"])"},
                 .refusal = "table t: the primary key changes from (id) to (name), so the "
                            "migration moves every record to its new key; a record cannot be "
                            "found by its new key until it has moved, so open it with "
                            "MigrationMode::Eager"},
        OpenCase{
            .name = "primary key changed, eager",
            .stored = {{1, kFields}},
            .counts = {{1, 10}},
            .app = {2, kFields, "$Db.primaryKey([\"name\"])"},
            .mode = MigrationMode::Eager,
            .check =
                [](const OpenPlan& p) {
                  EXPECT_TRUE(p.keysMove);
                  EXPECT_EQ(p.entry.primaryKey, Names{"name"});
                  ASSERT_TRUE(p.entry.migration.has_value());
                  EXPECT_TRUE(p.entry.migration->rekey);
                  EXPECT_EQ(p.entry.migration->phase, MigrationState::Phase::Rekey);
                  EXPECT_EQ(p.entry.migration->total, 10u);
                  EXPECT_FALSE(p.entry.migration->before.empty());
                  EXPECT_EQ(indexNames(p.entry, IndexState::Building), Names{"t_age"});
                }},
        OpenCase{
            .name = "autoIncrement added",
            .stored = {{1, kFields}},
            .counts = {{1, 10}},
            .app = {1,
                    "id @0 :UInt64 $Db.autoIncrement; name @1 :Text; age @2 :UInt32 "
                    "$Db.indexed;"},
            .check =
                [](const OpenPlan& p) {
                  EXPECT_TRUE(p.raiseSequence);
                  EXPECT_EQ(p.entry.autoIncrement, "id");
                }},
        OpenCase{.name = "interrupted index rebuild, lazy",
                 .stored = {{1, kFields}},
                 .counts = {{1, 10}},
                 .app = {1, kFields},
                 .adjust =
                     [](TableInfo& e) {
                       e.indexes[0].state = IndexState::Building;
                       e.indexes[0].checkpoint = "k";
                       e.indexes[0].done = 4;
                     },
                 .check =
                     [](const OpenPlan& p) {
                       // The build goes on from its checkpoint.
                       ASSERT_EQ(indexNames(p.entry, IndexState::Building), Names{"t_age"});
                       EXPECT_EQ(p.entry.indexes[0].checkpoint, "k");
                       EXPECT_EQ(p.entry.indexes[0].done, 4u);
                       EXPECT_TRUE(p.buildIndexes.empty());
                     }},
        OpenCase{
            .name = "interrupted index rebuild, eager",
            .stored = {{1, kFields}},
            .counts = {{1, 10}},
            .app = {1, kFields},
            .mode = MigrationMode::Eager,
            .adjust = [](TableInfo& e) { e.indexes[0].state = IndexState::Building; },
            .check =
                [](const OpenPlan& p) {
                  EXPECT_EQ(indexNames(p.entry, IndexState::Building), Names{"t_age"});
                  EXPECT_TRUE(p.buildIndexes.empty());
                }},
        OpenCase{.name = "interrupted undoable migration, index added",
                 .stored = {{1, kFields}, {2, kWithLength}},
                 .counts = {{1, 5}, {2, 5}},
                 .app = {2,
                         "id @0 :UInt64; name @1 :Text $Db.indexed; age @2 :UInt32 "
                         "$Db.indexed; nameLength @3 :UInt32;"},
                 .mode = MigrationMode::Eager,
                 .adjust =
                     [](TableInfo& e) {
                       e.migration.emplace();
                       e.migration->fromVersion = 1;
                       e.migration->phase = MigrationState::Phase::Check;
                       e.migration->before = "entry";
                     },
                 .refusal = "table t: an interrupted migration to version 2 may still be undone; "
                            "finish it (open eagerly with the indexes it began with) before "
                            "adding, changing or dropping indexes"},
        OpenCase{.name = "records wait for the steps of a pending migration",
                 .stored = {{1, kFields}, {2, kWithLength}},
                 .counts = {{1, 5}, {2, 5}},
                 .app = {2, kWithLength},
                 .adjust =
                     [](TableInfo& e) {
                       e.migration.emplace();
                       e.migration->fromVersion = 1;
                     },
                 .refusal = "table t: 5 records at version 1 wait for the migration steps "
                            "registered when version 2 was opened; open with those migrations "
                            "(capdb upgrade --migrations FILE)"},
        OpenCase{.name = "records at a pending migration's version read as a new version without a step",
                 .stored = {{1, kFields}, {2, kWithLength}},
                 .counts = {{1, 5}, {2, 5}},
                 .app = {3, std::string(kWithLength) + " nick @4 :Text;"},
                 .steps = step({"nameLength"}),
                 .adjust =
                     [](TableInfo& e) {
                       e.migration.emplace();
                       e.migration->fromVersion = 1;
                       e.migration->stepsBelow = 2;
                     },
                 .check =
                     [](const OpenPlan& p) {
                       ASSERT_TRUE(p.entry.migration.has_value());
                       EXPECT_EQ(p.entry.version, 3u);
                       EXPECT_EQ(p.entry.migration->stepsBelow, 2u);  // version 1 still waits
                       EXPECT_TRUE(p.entry.migration->before.empty());  // lazy: in place
                     }},
        OpenCase{.name = "the same, eager: an undoable migration that copies version 2 as it lies",
                 .stored = {{1, kFields}, {2, kWithLength}},
                 .counts = {{1, 5}, {2, 5}},
                 .app = {3, std::string(kWithLength) + " nick @4 :Text;"},
                 .steps = step({"nameLength"}),
                 .mode = MigrationMode::Eager,
                 .adjust =
                     [](TableInfo& e) {
                       e.migration.emplace();
                       e.migration->fromVersion = 1;  // an earlier build: no stepsBelow
                     },
                 .check =
                     [](const OpenPlan& p) {
                       ASSERT_TRUE(p.entry.migration.has_value());
                       EXPECT_EQ(p.entry.migration->stepsBelow, 2u);
                       EXPECT_FALSE(p.entry.migration->before.empty());
                     }},
        OpenCase{.name = "records a new version's migration left for steps wait for them",
                 .stored = {{1, kFields}, {2, kWithLength}, {3, std::string(kWithLength) + " nick @4 :Text;"}},
                 .counts = {{1, 5}, {2, 5}},
                 .app = {3, std::string(kWithLength) + " nick @4 :Text;"},
                 .adjust =
                     [](TableInfo& e) {
                       e.migration.emplace();
                       e.migration->fromVersion = 2;
                       e.migration->stepsBelow = 2;
                     },
                 .refusal = "table t: 5 records at version 1 wait for the migration steps "
                            "registered when version 3 was opened; open with those migrations "
                            "(capdb upgrade --migrations FILE)"},
        OpenCase{
            .name = "pending migration with declarative steps kept in the catalog",
            .stored = {{1, kFields}, {2, kWithLength}},
            .counts = {{1, 5}, {2, 5}},
            .app = {2, kWithLength},
            .adjust =
                [](TableInfo& e) {
                  e.migration.emplace();
                  e.migration->fromVersion = 1;
                  e.migration->total = 5;
                  e.migration->sqlSteps = {
                      "MIGRATE t FROM 1 TO 2 SET nameLength = coalesce(length(name), 0)"};
                },
            .check =
                [](const OpenPlan& p) {
                  ASSERT_NE(p.storedSteps, nullptr);
                  ASSERT_NE(p.upgrader, nullptr);
                  EXPECT_TRUE(p.upgrader->needsSteps(1));
                  ASSERT_TRUE(p.entry.migration.has_value());
                  EXPECT_EQ(p.entry.migration->sqlSteps.size(), 1u);
                  EXPECT_FALSE(p.storeSchema.has_value());
                }}),
    [](const ::testing::TestParamInfo<OpenCase>& info) {
      std::string name;
      for (const char* c = info.param.name; *c; ++c) {
        name += std::isalnum(static_cast<unsigned char>(*c)) ? *c : '_';
      }
      return name;
    });

// A table opened without writing: `app` empty for a table the app does not list.
struct ReadOnlyCase {
  const char* name = "";
  std::vector<Version> stored = {};  // the catalog's schemas, oldest first
  std::map<uint32_t, uint64_t> counts = {};
  std::optional<Version> app = std::nullopt;
  std::function<void(TableInfo&)> adjust = nullptr;
  std::string refusal = "";  // SchemaMismatch with this message, or none
  std::function<void(const ReadOnlyPlan&)> check = nullptr;
};

void PrintTo(const ReadOnlyCase& c, std::ostream* os) {
  *os << c.name;
}

class ReadOnlyPlanTest : public ::testing::TestWithParam<ReadOnlyCase> {
 protected:
  TableSchema parse(const Version& v) {
    std::string text = "struct T $Db.table(\"t\") $Db.version(" + std::to_string(v.version) + ") " +
                       v.annotations + " { " + v.fields + " }\n";
    auto file = testing::parseText(dir_, "v" + std::to_string(files_.size()) + ".capnp", text);
    files_.push_back(file);
    return file.tables.at(0);
  }

  testing::TempDir dir_;
  std::vector<orm::SchemaFile> files_;
  std::map<uint32_t, TableSchema> schemas_;
};

TEST_P(ReadOnlyPlanTest, Decides) {
  const ReadOnlyCase& c = GetParam();
  StoredTable stored;
  for (const Version& v : c.stored) {
    schemas_.insert_or_assign(v.version, parse(v));
    stored.schemaVersions.push_back(v.version);
  }
  stored.loadSchema = [this](uint32_t v) -> std::optional<orm::StoredSchema> {
    auto it = schemas_.find(v);
    if (it == schemas_.end()) return std::nullopt;
    return orm::StoredSchema::fromSchema("t", v, it->second.schema);
  };
  stored.entry =
      decideOpen(StoredTable{}, schemas_.at(c.stored.back().version), nullptr, MigrationMode::Lazy)
          .entry;
  stored.entry->counts = c.counts;
  if (c.adjust) c.adjust(*stored.entry);
  std::optional<TableSchema> app;
  if (c.app) app = parse(*c.app);
  ReadOnlyPlan plan = decideReadOnlyOpen(stored, app ? &*app : nullptr);
  if (!c.refusal.empty()) {
    ASSERT_TRUE(plan.refusal.has_value()) << c.name;
    EXPECT_EQ(plan.refusal->code(), ErrorCode::SchemaMismatch) << plan.refusal->what();
    EXPECT_EQ(plan.refusal->what(), c.refusal);
    return;
  }
  ASSERT_FALSE(plan.refusal.has_value()) << plan.refusal->what();
  EXPECT_EQ(plan.schema.name, "t");
  if (c.check) c.check(plan);
}

INSTANTIATE_TEST_SUITE_P(
    Cases, ReadOnlyPlanTest,
    ::testing::Values(
        ReadOnlyCase{.name = "the newest stored schema",
                     .stored = {{1, kFields}, {2, kWithLength}},
                     .counts = {{1, 5}, {2, 5}},
                     .check =
                         [](const ReadOnlyPlan& p) {
                           EXPECT_EQ(p.schema.version, 2u);
                           EXPECT_TRUE(p.indexStates.empty());
                           EXPECT_TRUE(p.unavailable.empty());
                           // Version 1 reads as version 2 without a step.
                           ASSERT_NE(p.upgrader, nullptr);
                           EXPECT_EQ(p.oldVersions, std::set<uint32_t>{1});
                           EXPECT_FALSE(p.upgrader->needsSteps(1));
                         }},
        ReadOnlyCase{.name = "the app's schema, wire-compatible",
                     .stored = {{1, kFields}},
                     .app = Version{1, kWithLength},
                     .check =
                         [](const ReadOnlyPlan& p) {
                           EXPECT_EQ(p.schema.schema.getFields().size(), 4u);  // the app's
                           EXPECT_EQ(p.upgrader, nullptr);
                         }},
        ReadOnlyCase{.name = "the app at another version",
                     .stored = {{1, kFields}},
                     .app = Version{2, kWithLength},
                     .refusal = "table t: the app's schema is version 2, the database's 1; a "
                                "read-only database cannot be migrated"},
        ReadOnlyCase{.name = "the app cannot read the records",
                     .stored = {{1, kFields}},
                     .app = Version{1, "id @0 :UInt64; name @1 :Text; age @2 :UInt64 $Db.indexed;"},
                     .refusal = "table t: the app's schema cannot read the database's records:\n"
                                "t.age: type changed UInt32 -> UInt64 (needs a step)\n"
                                "t.t_age: index changed (age) -> (age) (wire-compatible)\n"},
        ReadOnlyCase{
            .name = "an index of the app the database lacks",
            .stored = {{1, kFields}},
            .app = Version{1,
                           "id @0 :UInt64; name @1 :Text $Db.indexed; age @2 :UInt32 "
                           "$Db.indexed;"},
            .refusal = "table t: index t_name of the app is not in the read-only database"},
        ReadOnlyCase{
            .name = "an index being rebuilt",
            .stored = {{1, kFields}},
            .adjust = [](TableInfo& e) { e.indexes[0].state = IndexState::Building; },
            .check =
                [](const ReadOnlyPlan& p) {
                  EXPECT_EQ(p.indexStates,
                            (std::map<std::string, IndexState>{{"t_age", IndexState::Building}}));
                }},
        ReadOnlyCase{.name = "records moving to new keys",
                     .stored = {{1, kFields}, {2, kWithLength}},
                     .counts = {{1, 5}, {2, 5}},
                     .adjust =
                         [](TableInfo& e) {
                           e.migration.emplace();
                           e.migration->rekey = true;
                         },
                     .check =
                         [](const ReadOnlyPlan& p) {
                           EXPECT_FALSE(p.unavailable.empty());
                           EXPECT_EQ(p.upgrader, nullptr);
                         }},
        ReadOnlyCase{.name = "a pending migration with the app's steps",
                     .stored = {{1, kFields}, {2, kWithLength}},
                     .counts = {{1, 5}, {2, 5}},
                     .adjust = [](TableInfo& e) { e.migration.emplace(); },
                     .check =
                         [](const ReadOnlyPlan& p) {
                           // Its old records are not read at all: no upgrader.
                           EXPECT_EQ(p.upgrader, nullptr);
                           EXPECT_EQ(p.storedSteps, nullptr);
                         }},
        ReadOnlyCase{.name = "a pending migration with declarative steps",
                     .stored = {{1, kFields}, {2, kWithLength}},
                     .counts = {{1, 5}, {2, 5}},
                     .adjust =
                         [](TableInfo& e) {
                           e.migration.emplace();
                           e.migration->sqlSteps = {
                               "MIGRATE t FROM 1 TO 2 SET nameLength = coalesce(length(name), 0)"};
                         },
                     .check =
                         [](const ReadOnlyPlan& p) {
                           ASSERT_NE(p.storedSteps, nullptr);
                           ASSERT_NE(p.upgrader, nullptr);
                           EXPECT_TRUE(p.upgrader->needsSteps(1));
                         }}),
    [](const ::testing::TestParamInfo<ReadOnlyCase>& info) {
      std::string name;
      for (const char* c = info.param.name; *c; ++c) {
        name += std::isalnum(static_cast<unsigned char>(*c)) ? *c : '_';
      }
      return name;
    });

// A stored schema the catalog lacks is Corruption, and a refusal is returned, never thrown.
TEST(OpenPlan, MissingStoredSchemaIsCorruption) {
  testing::TempDir dir;
  orm::SchemaFile file = testing::parseText(
      dir, "t.capnp",
      std::string("struct T $Db.table(\"t\") $Db.version(1) ") + kPk + " { " + kFields + " }\n");
  StoredTable stored;
  stored.entry = decideOpen(stored, file.tables[0], nullptr, MigrationMode::Lazy).entry;
  stored.loadSchema = [](uint32_t) { return std::optional<orm::StoredSchema>(); };
  OpenPlan plan;
  EXPECT_NO_THROW(plan = decideOpen(stored, file.tables[0], nullptr, MigrationMode::Lazy));
  ASSERT_TRUE(plan.refusal.has_value());
  EXPECT_EQ(plan.refusal->code(), ErrorCode::Corruption);
  EXPECT_STREQ(plan.refusal->what(), "table t: the catalog lacks the schema of version 1");
}

}  // namespace
}  // namespace capdb::db
