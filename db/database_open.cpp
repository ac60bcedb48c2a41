// Database::open: the reconciliation of the app's schemas with the catalog (tables created,
// schemas compared and stored, indexes built or dropped, migrations planned).
#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <set>

#include "capdb/capdb.h"
#include "capdb/migrations.h"
#include "engine/crash_point.h"
#include "db/database_state.h"
#include "engine/fail.h"
#include "migrate/chain.h"
#include "orm/catalog.h"
#include "orm/schema_diff.h"
#include "orm/table_core.h"
#include "orm/table_reader.h"

namespace capdb {
namespace {

using orm::ChangeKind;
using orm::IndexCore;
using orm::IndexInfo;
using orm::TableInfo;

std::vector<std::string> dottedNames(const std::vector<orm::FieldPath>& paths) {
  std::vector<std::string> out;
  for (const auto& p : paths) out.push_back(p.dotted);
  return out;
}

std::vector<IndexInfo> indexInfos(const TableSchema& t) {
  std::vector<IndexInfo> out;
  for (const auto& index : t.indexes) {
    out.push_back(IndexInfo{index.name, dottedNames(index.fields), index.unique,
                            orm::IndexState::Ready, 0});
  }
  return out;
}

// Fills a new index from the table's records, in the open transaction.
void buildIndex(engine::WriteTxn& txn, const orm::TableCore& table, const IndexCore& index) {
  orm::RecordDecoder decoder;
  // A duplicate aborts the open's transaction: the database is left as it was.
  for (auto [pk, bytes] : txn.scan(table.records(), engine::KeyRange::all())) {
    engine::crashPoint("open.index");
    auto record = table.decode(decoder, pk, bytes);
    table.putIndexEntry(txn, index, table.indexEntry(index, record, pk), pk,
                        ErrorCode::ConstraintViolation);
  }
}

// Whether a step that sets `writes` may change one of `fields` (unknown writes: yes).
bool stepTouches(const Migrations::Step& step, const std::vector<orm::FieldPath>& fields) {
  if (step.options.writes.empty()) return true;
  for (const auto& w : step.options.writes) {
    for (const auto& f : fields) {
      if (f.dotted == w || f.dotted.starts_with(w + ".") || w.starts_with(f.dotted + ".")) {
        return true;
      }
    }
  }
  return false;
}

// The declarative steps a pending migration of `info` kept in the catalog, as a registry (kept
// alive in `keep` for the tables that read through it), or nullptr when it kept none.
const Migrations* storedSteps(const TableInfo& info,
                              std::vector<std::unique_ptr<Migrations>>& keep) {
  if (!info.migration || info.migration->sqlSteps.empty()) return nullptr;
  auto steps = std::make_unique<Migrations>();
  for (const auto& text : info.migration->sqlSteps) steps->sql(text);
  keep.push_back(std::move(steps));
  return keep.back().get();
}

// Reconciles one app table with the catalog inside the open transaction; returns its core.
std::unique_ptr<orm::TableCore> openTable(engine::WriteTxn& txn, orm::Catalog& catalog,
                                          const TableSchema& app, const Options& options,
                                          std::vector<std::unique_ptr<Migrations>>& keep) {
  const TableInfo* existing = catalog.table(app.name);
  TableInfo info;
  std::vector<std::string> buildIndexes;
  std::vector<std::string> changedIndexes;  // kept names whose fields or uniqueness changed
  std::vector<std::string> droppedIndexes;  // indexes the app no longer declares
  bool versionRaised = false;
  bool keyChanged = false;      // the primary key's fields changed since the stored version
  bool autoIncrementAdded = false;
  uint32_t fromVersion = 0;
  if (existing == nullptr) {
    info.id = catalog.nextTableId();
    info.name = app.name;
    info.version = app.version;
    info.primaryKey = dottedNames(app.primaryKey);
    if (app.autoIncrement) info.autoIncrement = app.primaryKey[*app.autoIncrement].dotted;
    info.indexes = indexInfos(app);
    catalog.putSchema(txn, orm::StoredSchema::fromSchema(app.name, app.version, app.schema));
  } else {
    info = *existing;
    auto stored = catalog.loadSchema(txn, app.name, info.version);
    CAPDB_REQUIRE(stored.has_value(), ErrorCode::Corruption,
            "table {}: the catalog lacks the schema of version {}", app.name, info.version);
    TableSchema storedTable = orm::requireTable(stored->root(), stored->owner());
    orm::SchemaDiff diff = orm::diffTables(storedTable, app);
    if (info.version > app.version) {
      fail(ErrorCode::SchemaMismatch,
           "table {}: the database is at schema version {}, newer than the app's version {}; "
           "open it with a newer app",
           app.name, info.version, app.version);
    }
    if (info.version < app.version) {
      bool empty = info.records() == 0;
      if (options.migrations == nullptr && !(empty || diff.readsAcross())) {
        fail(ErrorCode::SchemaMismatch,
             "table {}: the app's schema is version {} and the database's version {}; moving "
             "records between versions needs migration steps (Options::migrations). "
             "Changes:\n{}",
             app.name, app.version, info.version, diff.describe(app.name));
      }
      // Records at the stored version reach the app's through the plan; open checks it now,
      // in O(versions).
      if (!empty) {
        std::set<uint32_t> versions{info.version};
        Migrations none;
        const Migrations& registry = options.migrations ? *options.migrations : none;
        migrate::planUpgrade(registry, app, catalog, txn, versions, nullptr);
      }
      catalog.putSchema(txn, orm::StoredSchema::fromSchema(app.name, app.version, app.schema));
      fromVersion = info.version;
      info.version = app.version;
      versionRaised = true;
      keyChanged = std::any_of(diff.changes.begin(), diff.changes.end(), [](const auto& c) {
        return c.kind == ChangeKind::PrimaryKeyChanged;
      });
      CAPDB_REQUIRE(!(info.migration && (info.migration->rekey || !info.migration->before.empty())),
                    ErrorCode::SchemaMismatch,
                    "table {}: an interrupted migration to version {} is {}; finish it (open "
                    "with the app at version {}, eager) before version {}",
                    app.name, fromVersion, fromVersion,
                    info.migration && info.migration->rekey
                        ? "moving the records to new primary keys"
                        : "checking its unique indexes, and may still be undone",
                    app.version);
    } else if (!diff.wireCompatible()) {
      orm::SchemaDiff incompatible;
      for (const auto& c : diff.changes) {
        if (!c.wireCompatible) incompatible.changes.push_back(c);
      }
      fail(ErrorCode::SchemaMismatch,
           "table {}: the app's schema changed at the same version {} in ways old records cannot "
           "be read across; raise $Db.version (and add a migration step for each change that "
           "needs one):\n{}",
           app.name, app.version, incompatible.describe(app.name));
    }
    bool removes = std::any_of(diff.changes.begin(), diff.changes.end(), [](const auto& c) {
      return c.kind == ChangeKind::FieldRemoved;
    });
    // A newer compatible schema (fields added or renamed) becomes the stored one; an older one
    // (an app that lacks fields) opens but leaves the stored schema as it is.
    if (!versionRaised && !diff.empty() && !removes) {
      catalog.putSchema(txn, orm::StoredSchema::fromSchema(app.name, app.version, app.schema));
    }
    if (versionRaised) removes = false;  // a new version replaces the schema; it is not "older"
    info.primaryKey = dottedNames(app.primaryKey);
    std::string autoIncrement = app.autoIncrement ? app.primaryKey[*app.autoIncrement].dotted : "";
    autoIncrementAdded = !autoIncrement.empty() && autoIncrement != info.autoIncrement;
    info.autoIncrement = autoIncrement;
    // The catalog's index list is the truth: compare the app's indexes with it, not with the
    // stored schema (an older app may have opened in between).
    std::vector<IndexInfo> wanted = indexInfos(app);
    for (const IndexInfo& have : info.indexes) {
      bool kept = std::any_of(wanted.begin(), wanted.end(),
                              [&](const IndexInfo& w) { return w.name == have.name; });
      if (kept) continue;
      // An app that lacks fields of the stored schema is older than the database: it must not
      // drop the indexes a newer app added, nor leave them unmaintained.
      CAPDB_REQUIRE(!removes, ErrorCode::SchemaMismatch,
                    "table {}: the database has index {}, which this app (older than the "
                    "database's schema) does not declare and cannot maintain; open it with the "
                    "app that declares the index",
                    app.name, have.name);
      droppedIndexes.push_back(have.name);
    }
    for (const IndexInfo& want : wanted) {
      auto have = std::find_if(info.indexes.begin(), info.indexes.end(),
                               [&](const IndexInfo& h) { return h.name == want.name; });
      if (have == info.indexes.end() || have->fields != want.fields || have->unique != want.unique) {
        buildIndexes.push_back(want.name);
        if (have != info.indexes.end()) changedIndexes.push_back(want.name);
      }
    }
    // A migration that may still be undone restores the indexes as they were, and one moving
    // records to new keys rebuilds every index once they are in place: indexes may not change
    // meanwhile.
    CAPDB_REQUIRE(!(info.migration && (info.migration->rekey || !info.migration->before.empty()) &&
                    (!buildIndexes.empty() || !droppedIndexes.empty())),
                  ErrorCode::SchemaMismatch,
                  "table {}: an interrupted migration to version {} {}; finish it (open eagerly "
                  "with the indexes it began with) before adding, changing or dropping indexes",
                  app.name, info.version,
                  info.migration && info.migration->rekey ? "is moving records to new keys"
                                                          : "may still be undone");
    for (IndexInfo& w : wanted) {  // an interrupted rebuild stays pending
      for (const IndexInfo& h : info.indexes) {
        if (h.name == w.name && h.fields == w.fields && h.unique == w.unique) w.state = h.state;
      }
    }
    info.indexes = wanted;
  }

  engine::Db records = txn.createDb(orm::tableDbName(app.name));
  std::vector<IndexCore> cores;
  for (const auto& index : app.indexes) {
    cores.push_back(IndexCore{index, txn.createDb(orm::indexDbName(app.name, index.name)), true});
  }
  auto core = std::make_unique<orm::TableCore>(app, records, cores, catalog);
  // A table that gains autoIncrement continues after its highest key (a migration that moves the
  // records to new keys sets it when they are in place).
  if (autoIncrementAdded && !keyChanged) {
    info.sequence = std::max(info.sequence, core->highestAutoIncrement(txn));
  }

  // Records stored at older versions: read through the app's steps (lazy), and rewritten by
  // migrate() or drain(). Every stored version is planned (O(versions)): records of a version
  // that reads as the newest without a step keep their bytes and are counted as the newest.
  std::set<uint32_t> oldVersions;
  for (uint32_t v : catalog.schemaVersions(txn, app.name)) {
    if (v < app.version) oldVersions.insert(v);
  }
  for (const auto& [v, n] : info.counts) {
    if (n > 0 && v < app.version) oldVersions.insert(v);
  }
  // The steps old records read through: the app's, or, when it has none for this table, the
  // declarative steps a pending migration kept in the catalog.
  Migrations none;
  const Migrations* source = options.migrations ? options.migrations : &none;
  if (source->stepsOf(app.name) == nullptr) {
    if (const Migrations* kept = storedSteps(info, keep)) source = kept;
  }
  const Migrations& registry = *source;
  if (!oldVersions.empty()) {
    std::set<uint32_t> planned;
    for (uint32_t v : oldVersions) {
      auto it = info.counts.find(v);
      bool hasRecords = it != info.counts.end() && it->second > 0;
      std::vector<const Migrations::Step*> steps;
      try {
        migrate::planUpgrade(registry, app, catalog, txn, {v}, &steps);
        planned.insert(v);
      } catch (const Error&) {
        if (hasRecords) throw;  // a version nobody's records use may stay unplannable
      }
      // Records an earlier open left for steps (a lazy migration still pending) must go through
      // steps: read as a later version without one, they would lose what the steps compute.
      CAPDB_REQUIRE(!(hasRecords && steps.empty() && info.migration && !info.migration->stepless &&
                      v < info.version),
                    ErrorCode::SchemaMismatch,
                    "table {}: {} records at version {} wait for the migration steps registered "
                    "when version {} was opened; open with those migrations (capdb upgrade "
                    "--migrations FILE)",
                    app.name, it->second, v, info.version);
    }
    oldVersions = planned;
  }
  bool undoable = false;  // a migration begins here that may still be undone
  if (!oldVersions.empty()) {
    std::vector<const Migrations::Step*> used;
    auto upgrader = migrate::planUpgrade(registry, app, catalog, txn, oldVersions, &used);
    // What the migration does depends on the steps of the versions records are stored at: a
    // step between versions no record is at any more changes nothing.
    std::set<uint32_t> live;
    for (uint32_t v : oldVersions) {
      if (auto it = info.counts.find(v); it != info.counts.end() && it->second > 0) live.insert(v);
    }
    std::vector<const Migrations::Step*> liveSteps;
    if (!live.empty()) migrate::planUpgrade(registry, app, catalog, txn, live, &liveSteps);
    // Records move to new primary keys when the key's fields changed, or a step declares that it
    // writes one of them; an unfinished move goes on whatever the versions.
    bool stepsMoveKeys = std::any_of(liveSteps.begin(), liveSteps.end(), [&](const auto* step) {
      return !step->options.writes.empty() && stepTouches(*step, app.primaryKey);
    });
    bool resumingRekey = info.migration && info.migration->rekey;
    bool startRekey = !resumingRekey && info.records() > 0 &&
                      ((versionRaised && keyChanged) || stepsMoveKeys);
    CAPDB_REQUIRE(!(startRekey && !versionRaised && info.migration && !info.migration->before.empty()),
                  ErrorCode::SchemaMismatch,
                  "table {}: an interrupted migration may still be undone; finish it with the "
                  "steps it began with before a step moves records to new keys",
                  app.name);
    bool rekey = resumingRekey || startRekey;
    core->setUpgrader(std::move(upgrader), oldVersions, rekey);
    std::vector<std::string> affected;
    bool eagerOnly = false;
    for (const auto* step : liveSteps) {
      eagerOnly = eagerOnly || step->options.requiresEager;
      for (const auto& index : app.indexes) {
        if (stepTouches(*step, index.fields) &&
            std::find(affected.begin(), affected.end(), index.name) == affected.end()) {
          affected.push_back(index.name);
        }
      }
    }
    if (rekey) {
      // Every index entry holds a primary key: each index is rebuilt.
      affected.clear();
      for (const auto& index : app.indexes) affected.push_back(index.name);
    }
    eagerOnly = eagerOnly && core->pendingRecords(info) > 0;
    // An eager open of a migration under way: a kept index over a field that a step now declares
    // (what MigrationFailed asks for when a step changed it undeclared) is rebuilt once the records
    // are, as if declared when the migration began. An index an earlier open added and built
    // through the steps is rebuilt once more, which costs time but is correct. Lazy and hybrid
    // opens keep such indexes as they are.
    std::vector<std::string> redeclared;
    if (options.mode == MigrationMode::Eager && !versionRaised && !rekey && info.migration &&
        info.migration->phase == orm::MigrationState::Phase::Records) {
      for (const auto& ii : info.indexes) {
        auto in = [&](const std::vector<std::string>& names) {
          return std::find(names.begin(), names.end(), ii.name) != names.end();
        };
        if (ii.state == orm::IndexState::Ready && in(affected) && !in(buildIndexes)) {
          redeclared.push_back(ii.name);
        }
      }
    }
    if (options.mode != MigrationMode::Eager && startRekey) {
      fail(ErrorCode::SchemaMismatch,
           "table {}: {}, so the migration moves every record to its new key; a record cannot be "
           "found by its new key until it has moved, so open it with MigrationMode::Eager",
           app.name,
           keyChanged ? fmt::format("the primary key changes from ({}) to ({})",
                                    fmt::join(existing->primaryKey, ", "),
                                    fmt::join(info.primaryKey, ", "))
                      : std::string("a migration step writes a field of the primary key"));
    }
    if (options.mode != MigrationMode::Eager && (eagerOnly || (versionRaised && !affected.empty()))) {
      std::string names;
      for (const auto& a : affected) names += (names.empty() ? "" : ", ") + a;
      fail(ErrorCode::SchemaMismatch,
           "table {}: {}; open it with MigrationMode::Eager{}", app.name,
           eagerOnly ? std::string("a migration step requires the eager mode")
                     : fmt::format("the migration steps may change indexed fields ({})", names),
           eagerOnly ? "" : ", or declare the fields each step sets (StepOptions::writes)");
    }
    bool starts = versionRaised || startRekey;
    bool rebuild = starts && !affected.empty();
    uint64_t pending = rekey ? info.records() : core->pendingRecords(info);
    // A unique index that a step may change is checked for duplicates before anything is
    // rewritten, so that a failing check leaves the records and indexes as they were.
    auto checksUnique = [&] {
      return rebuild && std::any_of(app.indexes.begin(), app.indexes.end(), [&](const auto& i) {
        return i.unique && std::find(affected.begin(), affected.end(), i.name) != affected.end();
      });
    };
    undoable = starts && (startRekey || checksUnique());
    if (undoable) {
      // Until the migration can no longer be undone, a changed index keeps its old entries: it
      // is rebuilt by the migration, after the point of no return.
      for (const auto& name : changedIndexes) {
        if (std::find(affected.begin(), affected.end(), name) == affected.end()) affected.push_back(name);
      }
      rebuild = !affected.empty();
    }
    bool checkUnique = checksUnique();
    auto firstPhase = checkUnique ? orm::MigrationState::Phase::Check
                      : rekey     ? orm::MigrationState::Phase::Rekey
                                  : orm::MigrationState::Phase::Records;
    if (starts && (pending > 0 || rebuild || startRekey)) {
      // A new version restarts the rewrite from the first key: records an earlier, unfinished
      // migration already passed now need the new steps too.
      info.migration.emplace();
      info.migration->phase = firstPhase;
      info.migration->total = pending;
      info.migration->fromVersion = versionRaised ? fromVersion : info.version;
      info.migration->rekey = rekey;
      info.migration->stepless = liveSteps.empty();
      if (undoable) info.migration->before = orm::Catalog::encodeEntry(*existing);
    } else if (!info.migration && pending > 0) {
      info.migration.emplace();
      info.migration->total = pending;
      info.migration->fromVersion = info.version;
    }
    if (info.migration) {
      // Declarative steps are kept with the migration, for tools that do not have the app.
      bool declarative = !used.empty();
      std::vector<std::string> texts;
      for (const auto* step : used) {
        declarative = declarative && !step->options.sql.empty();
        texts.push_back(step->options.sql);
      }
      info.migration->sqlSteps = declarative ? std::move(texts) : std::vector<std::string>{};
    }
    if (rebuild) {
      for (auto& ii : info.indexes) {
        if (std::find(affected.begin(), affected.end(), ii.name) != affected.end()) {
          ii.state = orm::IndexState::Building;
        }
      }
      // Indexes the migration rebuilds are not built here; the others (a new index at the same
      // version, say) are, through the steps.
      std::erase_if(buildIndexes, [&](const std::string& n) {
        return std::find(affected.begin(), affected.end(), n) != affected.end();
      });
    }
    for (auto& ii : info.indexes) {
      if (std::find(redeclared.begin(), redeclared.end(), ii.name) != redeclared.end()) {
        ii.state = orm::IndexState::Building;
      }
    }
  }
  // The indexes the app dropped go now, or, while the migration may be undone, when it no longer
  // can (they keep their entries for the old version until then).
  if (info.migration && !info.migration->before.empty()) {
    for (auto& name : droppedIndexes) info.migration->dropIndexes.push_back(std::move(name));
  } else {
    for (const auto& name : droppedIndexes) {
      if (auto db = txn.openDb(orm::indexDbName(app.name, name))) txn.dropDb(*db);
    }
  }
  CAPDB_REQUIRE(!(info.migration && info.migration->rekey) || options.mode == MigrationMode::Eager,
                ErrorCode::SchemaMismatch,
                "table {}: a migration is moving its records to new primary keys; open with "
                "MigrationMode::Eager to finish it",
                app.name);
  for (const auto& ii : info.indexes) {
    if (ii.state != orm::IndexState::Building) continue;
    CAPDB_REQUIRE(options.mode == MigrationMode::Eager, ErrorCode::SchemaMismatch,
                  "table {}: a migration is rebuilding index {}; open with MigrationMode::Eager "
                  "to finish it",
                  app.name, ii.name);
    core->setIndexReady(ii.name, false);
  }
  for (const auto& name : buildIndexes) {
    for (const auto& ic : core->indexes()) {
      if (ic.schema.name != name) continue;
      txn.clearDb(ic.db);  // a changed index, or leftovers: build from nothing
      buildIndex(txn, *core, ic);
    }
  }
  catalog.putTable(txn, info);
  return core;
}

// A table opened without writing: with its newest stored schema (a table the app did not list,
// for tools), or with the app's schema in a read-only database, which must then match the
// catalog (same version, wire-compatible, the same indexes).
std::unique_ptr<orm::TableCore> openStoredTable(const engine::Txn& txn, orm::Catalog& catalog,
                                                const TableInfo& info,
                                                std::vector<std::unique_ptr<Migrations>>& keep,
                                                const TableSchema* app = nullptr) {
  auto stored = catalog.loadSchema(txn, info.name, info.version);
  CAPDB_REQUIRE(stored.has_value(), ErrorCode::Corruption,
          "table {}: the catalog lacks the schema of version {}", info.name, info.version);
  TableSchema schema = orm::requireTable(stored->root(), stored->owner());
  if (app != nullptr) {
    CAPDB_REQUIRE(app->version == info.version, ErrorCode::SchemaMismatch,
                  "table {}: the app's schema is version {}, the database's {}; a read-only "
                  "database cannot be migrated",
                  info.name, app->version, info.version);
    orm::SchemaDiff diff = orm::diffTables(schema, *app);
    CAPDB_REQUIRE(diff.wireCompatible(), ErrorCode::SchemaMismatch,
                  "table {}: the app's schema cannot read the database's records:\n{}",
                  info.name, diff.describe(info.name));
    std::vector<IndexInfo> wanted = indexInfos(*app);
    for (const IndexInfo& w : wanted) {
      bool present = std::any_of(info.indexes.begin(), info.indexes.end(), [&](const IndexInfo& h) {
        return h.name == w.name && h.fields == w.fields && h.unique == w.unique;
      });
      CAPDB_REQUIRE(present, ErrorCode::SchemaMismatch,
                    "table {}: index {} of the app is not in the read-only database", info.name,
                    w.name);
    }
    schema = *app;
  }
  auto records = txn.openDb(orm::tableDbName(info.name));
  CAPDB_REQUIRE(records.has_value(), ErrorCode::Corruption, "table {}: its records database is missing",
          info.name);
  std::vector<IndexCore> cores;
  for (const auto& index : schema.indexes) {
    auto db = txn.openDb(orm::indexDbName(info.name, index.name));
    CAPDB_REQUIRE(db.has_value(), ErrorCode::Corruption, "table {}: index {} is missing", info.name,
            index.name);
    bool ready = true;
    for (const auto& ii : info.indexes) {
      if (ii.name == index.name) ready = ii.state == orm::IndexState::Ready;
    }
    cores.push_back(IndexCore{index, *db, ready});
  }
  auto core =
      std::make_unique<orm::TableCore>(std::move(schema), *records, std::move(cores), catalog);
  if (info.migration && info.migration->rekey) {
    // Half-way, some records are under their old keys and some under their new ones.
    core->setUnavailable(
        "a migration is moving its records to new primary keys; finish it by opening the "
        "database with the app's schema in eager mode (capdb upgrade --mode eager)");
    return core;
  }
  // Older versions that read as this one without a step stay readable; so do the records of a
  // pending migration whose steps are declarative and kept in the catalog. The records of a
  // pending migration with the app's C++ steps are not read at all: reading them past their
  // steps would lose what the steps compute.
  Migrations none;
  const Migrations* registry = &none;
  if (info.migration) {
    registry = storedSteps(info, keep);
    if (registry == nullptr) return core;
  }
  std::set<uint32_t> versions;
  for (uint32_t v : catalog.schemaVersions(txn, info.name)) {
    if (v >= core->schema().version) continue;
    try {
      migrate::planUpgrade(*registry, core->schema(), catalog, txn, {v}, nullptr);
      versions.insert(v);
    } catch (const Error&) {
      // records of that version need a step only the app has: reading them is SchemaMismatch
    }
  }
  if (!versions.empty()) {
    core->setUpgrader(migrate::planUpgrade(*registry, core->schema(), catalog, txn, versions, nullptr), versions);
  }
  return core;
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
  Database db(std::move(state));
  if (options.mode == MigrationMode::Eager && !options.env.readOnly) db.migrate(options.eager);
  return db;
}

}  // namespace capdb
