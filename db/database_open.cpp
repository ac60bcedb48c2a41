// Database::open: the reconciliation of the app's schemas with the catalog. What each table
// needs (tables created, schemas compared and stored, indexes built or dropped, migrations
// planned) is decided by db/open_plan.h; here the decisions are applied, in the open's write
// transaction (or its read transaction, for tables opened without writing).
#include <algorithm>

#include "capdb/capdb.h"
#include "capdb/migrations.h"
#include "db/open_plan.h"
#include "engine/fail.h"
#include "orm/catalog.h"
#include "db/database_state.h"
#include "orm/table_core.h"
#include "orm/disk_names.h"

namespace capdb {
namespace {

using orm::IndexCore;
using orm::TableInfo;

// Performs `plan` for the app's table `app` in the open transaction: stores the schema, creates
// the table's databases, drops indexes and empties the ones whose builds start, and writes the
// entry; returns the table's core. Throws the plan's refusal.
std::unique_ptr<orm::TableCore> applyOpenPlan(engine::WriteTxn& txn, orm::Catalog& catalog,
                                              const TableSchema& app, db::OpenPlan plan,
                                              std::vector<std::unique_ptr<Migrations>>& keep) {
  if (plan.refusal) throw *plan.refusal;
  TableInfo& info = plan.entry;
  if (plan.storeSchema) catalog.putSchema(txn, *plan.storeSchema);
  // Both records databases, so that every process has a handle for the one a migration swaps in.
  orm::RecordTrees records(txn.createDb(orm::tableDbName(app.name, 0)),
                           txn.createDb(orm::tableDbName(app.name, 1)), info.recordsTree,
                           info.recordsSince);
  std::vector<IndexCore> cores;
  for (const auto& index : app.indexes) {
    cores.push_back(IndexCore{index, txn.createDb(orm::indexDbName(app.name, index.name)), orm::IndexState::Ready});
  }
  auto core = std::make_unique<orm::TableCore>(app, records, cores, catalog);
  if (plan.raiseSequence) info.sequence = std::max(info.sequence, core->highestAutoIncrement(txn));
  if (plan.upgrader) core->setUpgrader(std::move(plan.upgrader), plan.oldVersions, plan.keysMove);
  if (plan.storedSteps) keep.push_back(std::move(plan.storedSteps));
  for (const auto& name : plan.dropIndexes) {
    if (auto db = txn.openDb(orm::indexDbName(app.name, name))) txn.dropDb(*db);
  }
  for (const auto& ii : info.indexes) core->setIndexState(ii.name, ii.state, ii.readySince, 0);
  // A build starts from an empty database (a changed index's old entries, or leftovers); the
  // records fill it later, in batches, while every write keeps it.
  for (const auto& name : plan.buildIndexes) {
    for (const auto& ic : core->indexes()) {
      if (ic.schema.name == name) txn.clearDb(ic.db);
    }
  }
  catalog.putTable(txn, info);
  return core;
}

// Reconciles one app table with the catalog inside the open transaction: decides from what the
// catalog holds, then applies the decision.
std::unique_ptr<orm::TableCore> openTable(engine::WriteTxn& txn, orm::Catalog& catalog,
                                          const TableSchema& app, const Options& options,
                                          std::vector<std::unique_ptr<Migrations>>& keep) {
  db::StoredTable stored;
  if (const TableInfo* entry = catalog.table(app.name)) stored.entry = *entry;
  stored.nextTableId = catalog.nextTableId();
  stored.schemaVersions = catalog.schemaVersions(txn, app.name);
  stored.loadSchema = [&](uint32_t v) { return catalog.loadSchema(txn, app.name, v); };
  db::OpenPlan plan = db::decideOpen(stored, app, options.migrations, options.mode);
  return applyOpenPlan(txn, catalog, app, std::move(plan), keep);
}

// Performs a ReadOnlyPlan for the table of `info`: opens its databases (Corruption when one is
// missing) and returns its core. Throws the plan's refusal.
std::unique_ptr<orm::TableCore> applyReadOnlyPlan(const engine::Txn& txn, orm::Catalog& catalog,
                                                  const TableInfo& info, db::ReadOnlyPlan plan,
                                                  std::vector<std::unique_ptr<Migrations>>& keep) {
  if (plan.refusal) throw *plan.refusal;
  auto tree0 = txn.openDb(orm::tableDbName(info.name, 0));
  auto tree1 = txn.openDb(orm::tableDbName(info.name, 1));
  CAPDB_REQUIRE(tree0.has_value() && (tree1.has_value() || info.recordsTree == 0),
                ErrorCode::Corruption, "table {}: its records database {} is missing", info.name,
                orm::tableDbName(info.name, tree0 ? 1 : 0));
  std::vector<IndexCore> cores;
  for (const auto& index : plan.schema.indexes) {
    auto db = txn.openDb(orm::indexDbName(info.name, index.name));
    CAPDB_REQUIRE(db.has_value(), ErrorCode::Corruption, "table {}: index {} is missing", info.name,
                  index.name);
    auto state = plan.indexStates.find(index.name);
    cores.push_back(IndexCore{index, *db,
                              state == plan.indexStates.end() ? orm::IndexState::Ready : state->second});
  }
  auto core =
      std::make_unique<orm::TableCore>(std::move(plan.schema),
                                       orm::RecordTrees(*tree0, tree1, info.recordsTree,
                                                        info.recordsSince),
                                       std::move(cores), catalog);
  if (!plan.unavailable.empty()) core->setUnavailable(std::move(plan.unavailable));
  if (plan.storedSteps) keep.push_back(std::move(plan.storedSteps));
  if (plan.upgrader) core->setUpgrader(std::move(plan.upgrader), plan.oldVersions);
  return core;
}

// A table opened without writing: with its newest stored schema (a table the app did not list,
// for tools), or with the app's schema in a read-only database, which must then match the
// catalog (same version, wire-compatible, the same indexes).
std::unique_ptr<orm::TableCore> openStoredTable(const engine::Txn& txn, orm::Catalog& catalog,
                                                const TableInfo& info,
                                                std::vector<std::unique_ptr<Migrations>>& keep,
                                                const TableSchema* app = nullptr) {
  db::StoredTable stored;
  stored.entry = info;
  stored.schemaVersions = catalog.schemaVersions(txn, info.name);
  stored.loadSchema = [&](uint32_t v) { return catalog.loadSchema(txn, info.name, v); };
  db::ReadOnlyPlan plan = db::decideReadOnlyOpen(stored, app);
  return applyReadOnlyPlan(txn, catalog, info, std::move(plan), keep);
}

}  // namespace

Database Database::open(const std::filesystem::path& path, const Schemas& schemas,
                        const Options& options) {
  orm::checkDistinctNames(schemas.tables);
  auto state = std::make_unique<State>(engine::Env::open(path, options.env));
  State& s = *state;
  if (options.env.readOnly) {
    auto txn = s.env.read();
    s.catalog = orm::Catalog::load(txn);
    CAPDB_REQUIRE(s.catalog.has_value(), ErrorCode::InvalidArgument,
            "{}: not a capdb database (no catalog)", path.string());
    for (const auto& app : schemas.tables) {
      const TableInfo* info = s.catalog->table(app.name);
      CAPDB_REQUIRE(info != nullptr, ErrorCode::SchemaMismatch,
              "table {} is not in the database, which is open read-only", app.name);
      s.tables.emplace(app.name, openStoredTable(txn, *s.catalog, *info, s.storedSteps, &app));
    }
    s.takeUp(txn);
  } else {
    s.env.write([&](engine::WriteTxn& txn) {
      s.tables.clear();
      s.storedSteps.clear();
      s.catalog = orm::Catalog::create(txn);
      s.appTables.clear();
      for (const auto& app : schemas.tables) {
        s.tables.emplace(app.name, openTable(txn, *s.catalog, app, options, s.storedSteps));
        s.appTables.push_back(app.name);
      }
      s.takeUp(txn);
    });
  }
  {
    auto txn = s.env.read();
    for (const auto& [name, info] : s.catalog->tables()) {
      if (!s.tables.count(name)) {
        s.tables.emplace(name, openStoredTable(txn, *s.catalog, info, s.storedSteps));
      }
    }
  }
  s.eager = options.eager;
  s.packRecords = options.packRecords;
  s.joinMemoryBytes = options.joinMemoryBytes;
  Database db(std::move(state));
  if (options.mode == MigrationMode::Eager && !options.env.readOnly) db.migrate(options.eager);
  return db;
}

}  // namespace capdb
