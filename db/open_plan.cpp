#include "db/open_plan.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>

#include "engine/error_context.h"
#include "engine/fail.h"
#include "migrate/chain.h"
#include "orm/schema_diff.h"
#include "orm/table_core.h"
#include "orm/table_schema.h"

namespace capdb::db {
namespace {

using orm::ChangeKind;
using orm::IndexInfo;
using orm::TableInfo;
using Step = Migrations::Step;

std::vector<std::string> dottedNames(const std::vector<orm::FieldPath>& paths) {
  std::vector<std::string> out;
  for (const auto& p : paths) out.push_back(p.dotted);
  return out;
}

std::vector<IndexInfo> indexInfos(const TableSchema& t) {
  std::vector<IndexInfo> out;
  for (const auto& index : t.indexes) {
    IndexInfo info;
    info.name = index.name;
    info.fields = dottedNames(index.fields);
    info.unique = index.unique;
    out.push_back(std::move(info));
  }
  return out;
}

bool contains(const std::vector<std::string>& names, const std::string& name) {
  return std::find(names.begin(), names.end(), name) != names.end();
}

// Whether a step that sets `writes` may change one of `fields` (unknown writes: yes).
bool stepTouches(const Step& step, const std::vector<orm::FieldPath>& fields) {
  if (step.options.writes.empty()) return true;
  for (const auto& w : step.options.writes) {
    for (const auto& f : fields) {
      if (orm::pathsOverlap(f.dotted, w)) return true;
    }
  }
  return false;
}

// Whether a pending migration may still be undone, moves records to new keys, or (one an earlier
// format left) replaces the old records with the ones it rewrote into its scratch database: while
// it does, the table's version and indexes may not change (a new migration would start over from
// records half replaced, and an undo of it would restore a state whose scratch database it
// dropped).
bool pinsTable(const TableInfo& info) {
  return info.migration &&
         (info.migration->rekey || !info.migration->before.empty() ||
          info.migration->phase == orm::MigrationState::Phase::Replace);
}

// The declarative steps a pending migration of `info` kept in the catalog, as a registry, or
// nullptr when it kept none.
std::unique_ptr<Migrations> storedStepsOf(const TableInfo& info) {
  if (!info.migration || info.migration->sqlSteps.empty()) return nullptr;
  auto steps = std::make_unique<Migrations>();
  for (const auto& text : info.migration->sqlSteps) steps->sql(text);
  return steps;
}

// What the steps records go through do to the table.
struct StepEffects {
  std::vector<const Step*> used;      // every step the upgrader runs, in the order it met them
  std::vector<const Step*> live;      // the steps of the versions records are stored at
  bool startRekey = false;            // the migration begins moving records to new keys
  bool rekey = false;                 // ... or goes on with it
  bool eagerOnly = false;             // a live step requires the eager mode (and records need it)
  std::vector<std::string> affected;  // indexes the migration rebuilds
  uint32_t stepsBelow = 0;            // 1 + the newest version with records read through a step
};

// One decision: the inputs, what the comparison of schemas found, and the plan as it fills.
// Each stage throws capdb::Error to refuse; decideOpen turns that into the plan's refusal.
class Decider {
 public:
  Decider(const StoredTable& stored, const TableSchema& app, const Migrations* migrations,
          MigrationMode mode)
      : stored_(stored), app_(app), migrations_(migrations), mode_(mode) {}

  OpenPlan decide() && {
    ErrorContext scope(app_.name);
    if (stored_.entry) {
      compareSchemas();
    } else {
      newTable();
    }
    const Migrations& registry = stepSource();
    std::set<uint32_t> oldVersions = readableVersions(registry);
    if (!oldVersions.empty()) planMigration(registry, std::move(oldVersions));
    finish();
    return std::move(plan_);
  }

 private:
  TableInfo& info() { return plan_.entry; }
  std::shared_ptr<const orm::Upgrader> upgrade(const Migrations& registry,
                                               const std::set<uint32_t>& versions,
                                               std::vector<const Step*>* used) const {
    return migrate::planUpgrade(registry, app_, stored_.loadSchema, versions, used);
  }
  void storeAppSchema() {
    plan_.storeSchema = orm::StoredSchema::fromSchema(app_.name, app_.version, app_.schema);
  }

  void newTable();
  void compareSchemas();
  void raiseVersion(const orm::SchemaDiff& diff);
  void reconcileIndexes(bool olderApp);
  const Migrations& stepSource();
  std::set<uint32_t> readableVersions(const Migrations& registry);
  void planMigration(const Migrations& registry, std::set<uint32_t> oldVersions);
  StepEffects stepEffects(const Migrations& registry, const std::set<uint32_t>& oldVersions);
  void findAffectedIndexes(StepEffects& fx) const;
  std::vector<std::string> redeclaredIndexes(const StepEffects& fx) const;
  void refuseLazy(const StepEffects& fx) const;
  bool beginMigration(StepEffects& fx, bool& held);
  void finish();
  // The version the table's stored migration goes to (the stored one, when this open raises it).
  uint32_t pendingTo() { return versionRaised_ ? fromVersion_ : info().version; }
  // Records below this version wait for the steps of the stored migration (0: none wait). One an
  // earlier build began did not record it: all older than the version it goes to, unless it
  // began without steps.
  uint32_t waitingBelow() {
    const auto& m = info().migration;
    if (!m) return 0;
    if (m->stepsBelow != 0) return m->stepsBelow;
    return m->stepless ? 0 : pendingTo();
  }

  const StoredTable& stored_;
  const TableSchema& app_;
  const Migrations* migrations_;
  MigrationMode mode_;
  Migrations none_;  // the registry when the app has none
  OpenPlan plan_;
  std::vector<std::string> changedIndexes_;  // kept names whose fields or uniqueness changed
  std::vector<std::string> droppedIndexes_;  // indexes the app no longer declares
  bool versionRaised_ = false;
  bool keyChanged_ = false;  // the primary key's fields changed since the stored version
  uint32_t fromVersion_ = 0;
};

void Decider::newTable() {
  TableInfo& info = this->info();
  info.id = stored_.nextTableId;
  info.name = app_.name;
  info.version = app_.version;
  info.primaryKey = dottedNames(app_.primaryKey);
  if (app_.autoIncrement) info.autoIncrement = app_.primaryKey[*app_.autoIncrement].dotted;
  info.indexes = indexInfos(app_);
  storeAppSchema();
}

// An existing table: refuses what no open may do, raises the version, keeps the newest
// compatible schema, and reconciles the key and the indexes.
void Decider::compareSchemas() {
  TableInfo& info = this->info();
  info = *stored_.entry;
  auto stored = stored_.loadSchema(info.version);
  CAPDB_REQUIRE_IN(stored.has_value(), ErrorCode::Corruption,
                "the catalog lacks the schema of version {}", info.version);
  TableSchema storedTable = orm::requireTable(stored->root(), stored->owner());
  orm::SchemaDiff diff = orm::diffTables(storedTable, app_);
  if (info.version > app_.version) {
    failIn(ErrorCode::SchemaMismatch,
         "the database is at schema version {}, newer than the app's version {}; "
         "open it with a newer app", info.version, app_.version);
  }
  if (info.version < app_.version) {
    raiseVersion(diff);
  } else if (!diff.wireCompatible()) {
    orm::SchemaDiff incompatible;
    for (const auto& c : diff.changes) {
      if (!c.wireCompatible) incompatible.changes.push_back(c);
    }
    failIn(ErrorCode::SchemaMismatch,
         "the app's schema changed at the same version {} in ways old records cannot "
         "be read across; raise $Db.version (and add a migration step for each change that "
         "needs one):\n{}", app_.version, incompatible.describe(app_.name));
  }
  bool removes = std::any_of(diff.changes.begin(), diff.changes.end(),
                             [](const auto& c) { return c.kind == ChangeKind::FieldRemoved; });
  // A newer compatible schema (fields added or renamed) becomes the stored one; an older one
  // (an app that lacks fields) opens but leaves the stored schema as it is.
  if (!versionRaised_ && !diff.empty() && !removes) storeAppSchema();
  if (versionRaised_) removes = false;  // a new version replaces the schema; it is not "older"
  info.primaryKey = dottedNames(app_.primaryKey);
  std::string autoIncrement = app_.autoIncrement ? app_.primaryKey[*app_.autoIncrement].dotted : "";
  // A table that gains autoIncrement continues after its highest key (a migration that moves the
  // records to new keys sets it when they are in place).
  bool autoIncrementAdded = !autoIncrement.empty() && autoIncrement != info.autoIncrement;
  info.autoIncrement = autoIncrement;
  reconcileIndexes(removes);
  plan_.raiseSequence = autoIncrementAdded && !keyChanged_;
}

// The app's version is above the stored one: records at the stored version must reach it.
void Decider::raiseVersion(const orm::SchemaDiff& diff) {
  TableInfo& info = this->info();
  bool empty = info.records() == 0;
  if (migrations_ == nullptr && !(empty || diff.readsAcross())) {
    failIn(ErrorCode::SchemaMismatch,
         "the app's schema is version {} and the database's version {}; moving "
         "records between versions needs migration steps (Options::migrations). "
         "Changes:\n{}", app_.version, info.version, diff.describe(app_.name));
  }
  // Records at the stored version reach the app's through the plan; open checks it now, in
  // O(versions).
  if (!empty) upgrade(migrations_ ? *migrations_ : none_, {info.version}, nullptr);
  storeAppSchema();
  fromVersion_ = info.version;
  info.version = app_.version;
  versionRaised_ = true;
  keyChanged_ = std::any_of(diff.changes.begin(), diff.changes.end(),
                            [](const auto& c) { return c.kind == ChangeKind::PrimaryKeyChanged; });
  CAPDB_REQUIRE_IN(!pinsTable(info), ErrorCode::SchemaMismatch,
                "an interrupted migration to version {} is {}; finish it (open "
                "with the app at version {}, eager) before version {}", fromVersion_,
                info.migration && info.migration->rekey
                    ? "moving the records to new primary keys"
                : info.migration && info.migration->phase == orm::MigrationState::Phase::Replace
                    ? "replacing the old records with the ones it rewrote"
                    : "checking its unique indexes or rewriting its records, and may still be undone",
                fromVersion_, app_.version);
}

// The catalog's index list is the truth: the app's indexes are compared with it, not with the
// stored schema (an older app may have opened in between). `olderApp`: the app lacks fields of
// the stored schema at the same version.
void Decider::reconcileIndexes(bool olderApp) {
  TableInfo& info = this->info();
  std::vector<IndexInfo> wanted = indexInfos(app_);
  for (const IndexInfo& have : info.indexes) {
    bool kept = std::any_of(wanted.begin(), wanted.end(),
                            [&](const IndexInfo& w) { return w.name == have.name; });
    if (kept) continue;
    // An app older than the database must not drop the indexes a newer app added, nor leave
    // them unmaintained.
    CAPDB_REQUIRE_IN(!olderApp, ErrorCode::SchemaMismatch,
                  "the database has index {}, which this app (older than the "
                  "database's schema) does not declare and cannot maintain; open it with the "
                  "app that declares the index", have.name);
    droppedIndexes_.push_back(have.name);
  }
  for (const IndexInfo& want : wanted) {
    auto have = std::find_if(info.indexes.begin(), info.indexes.end(),
                             [&](const IndexInfo& h) { return h.name == want.name; });
    if (have == info.indexes.end() || have->fields != want.fields || have->unique != want.unique) {
      plan_.buildIndexes.push_back(want.name);
      if (have != info.indexes.end()) changedIndexes_.push_back(want.name);
    } else if (have->state == orm::IndexState::Failed) {
      failIn(ErrorCode::SchemaMismatch,
             "index {} failed its build ({}); remove the index from the schema, or fix those "
             "records and restart its build (capdb rebuild-index, or Database::rebuildIndex in a "
             "database opened without this schema)",
             have->name, fmt::join(have->duplicates, "; "));
    }
  }
  // A migration that may still be undone restores the indexes as they were, and one moving
  // records to new keys rebuilds every index once they are in place: indexes may not change
  // meanwhile.
  CAPDB_REQUIRE_IN(!(pinsTable(info) && (!plan_.buildIndexes.empty() || !droppedIndexes_.empty())),
                ErrorCode::SchemaMismatch,
                "an interrupted migration to version {} {}; finish it (open eagerly "
                "with the indexes it began with) before adding, changing or dropping indexes", info.version,
                info.migration && info.migration->rekey ? "is moving records to new keys"
                : info.migration && info.migration->phase == orm::MigrationState::Phase::Replace
                    ? "is replacing its old records"
                    : "may still be undone");
  // A kept index keeps its state and its build's progress; a new or changed one starts building
  // (ready at once when the table has no records to fill it from).
  for (IndexInfo& w : wanted) {
    auto have = std::find_if(info.indexes.begin(), info.indexes.end(),
                             [&](const IndexInfo& h) { return h.name == w.name; });
    if (!contains(plan_.buildIndexes, w.name)) {
      if (have != info.indexes.end()) w = *have;
    } else if (info.records() > 0 || info.migration) {
      w.startBuild();
    }
  }
  info.indexes = wanted;
}

// The steps old records read through: the app's, or, when it has none for this table, the
// declarative steps a pending migration kept in the catalog.
const Migrations& Decider::stepSource() {
  const Migrations& appSteps = migrations_ ? *migrations_ : none_;
  if (appSteps.stepsOf(app_.name) != nullptr) return appSteps;
  plan_.storedSteps = storedStepsOf(info());
  return plan_.storedSteps ? *plan_.storedSteps : appSteps;
}

// The older versions whose records read through `registry`. Every stored version is planned
// (O(versions)): records of a version that reads as the newest without a step keep their bytes
// and are counted as the newest. A version no record is at may stay unplannable.
std::set<uint32_t> Decider::readableVersions(const Migrations& registry) {
  const TableInfo& info = this->info();
  std::set<uint32_t> oldVersions;
  for (uint32_t v : stored_.schemaVersions) {
    if (v < app_.version) oldVersions.insert(v);
  }
  for (const auto& [v, n] : info.counts) {
    if (n > 0 && v < app_.version) oldVersions.insert(v);
  }
  std::set<uint32_t> planned;
  for (uint32_t v : oldVersions) {
    auto it = info.counts.find(v);
    bool hasRecords = it != info.counts.end() && it->second > 0;
    std::vector<const Step*> steps;
    try {
      upgrade(registry, {v}, &steps);
      planned.insert(v);
    } catch (const Error&) {
      if (hasRecords) throw;
    }
    // Records an earlier open left for steps (a lazy migration still pending) must go through
    // steps: read as a later version without one, they would lose what the steps compute. Those
    // are the records at the versions that went through steps when it began (waitingBelow);
    // records the app wrote at a later version wait for nothing, and a new version may read
    // them without a step.
    CAPDB_REQUIRE_IN(!(hasRecords && steps.empty() && v < waitingBelow()), ErrorCode::SchemaMismatch,
                  "{} records at version {} wait for the migration steps registered "
                  "when version {} was opened; open with those migrations (capdb upgrade "
                  "--migrations FILE)", it->second, v, pendingTo());
  }
  return planned;
}

// Records stored at older versions: read through the steps (lazy), and rewritten by migrate()
// or drain(), with the indexes the steps may change rebuilt.
void Decider::planMigration(const Migrations& registry, std::set<uint32_t> oldVersions) {
  StepEffects fx = stepEffects(registry, oldVersions);
  plan_.oldVersions = std::move(oldVersions);
  plan_.keysMove = fx.rekey;
  findAffectedIndexes(fx);
  std::vector<std::string> redeclared = redeclaredIndexes(fx);
  refuseLazy(fx);
  bool held = false;
  if (beginMigration(fx, held)) {
    // The indexes the steps may change start building. While the migration may still be undone
    // they keep their entries for the undo (held), and the build starts once it cannot be.
    for (auto& ii : info().indexes) {
      if (!contains(fx.affected, ii.name)) continue;
      ii.startBuild();
      ii.held = held;
      if (held) {
        std::erase(plan_.buildIndexes, ii.name);
      } else if (!contains(plan_.buildIndexes, ii.name)) {
        plan_.buildIndexes.push_back(ii.name);
      }
    }
  }
  for (auto& ii : info().indexes) {
    if (!contains(redeclared, ii.name)) continue;
    ii.startBuild();
    if (!contains(plan_.buildIndexes, ii.name)) plan_.buildIndexes.push_back(ii.name);
  }
  // A build part-way when a new version begins starts over: the entries it wrote are the old
  // version's, which the new steps may change without declaring it (only ready indexes are
  // checked against undeclared writes).
  if (versionRaised_ || fx.startRekey) {
    for (auto& ii : info().indexes) {
      if (ii.state != orm::IndexState::Building || ii.held || ii.checkpoint.empty()) continue;
      ii.startBuild();
      if (!contains(plan_.buildIndexes, ii.name)) plan_.buildIndexes.push_back(ii.name);
    }
  }
}

// Plans the upgrader, and whether the steps move records to new primary keys.
StepEffects Decider::stepEffects(const Migrations& registry,
                                 const std::set<uint32_t>& oldVersions) {
  const TableInfo& info = this->info();
  StepEffects fx;
  plan_.upgrader = upgrade(registry, oldVersions, &fx.used);
  // What the migration does depends on the steps of the versions records are stored at: a
  // step between versions no record is at any more changes nothing.
  std::set<uint32_t> live;
  for (uint32_t v : oldVersions) {
    if (auto it = info.counts.find(v); it != info.counts.end() && it->second > 0) live.insert(v);
  }
  if (!live.empty()) upgrade(registry, live, &fx.live);
  for (uint32_t v : live) {
    std::vector<const Step*> steps;
    upgrade(registry, {v}, &steps);
    if (!steps.empty()) fx.stepsBelow = std::max(fx.stepsBelow, v + 1);
  }
  // Records move to new primary keys when the key's fields changed, or a step declares that it
  // writes one of them; an unfinished move goes on whatever the versions.
  bool stepsMoveKeys = std::any_of(fx.live.begin(), fx.live.end(), [&](const Step* step) {
    return !step->options.writes.empty() && stepTouches(*step, app_.primaryKey);
  });
  bool resumingRekey = info.migration && info.migration->rekey;
  fx.startRekey =
      !resumingRekey && info.records() > 0 && ((versionRaised_ && keyChanged_) || stepsMoveKeys);
  CAPDB_REQUIRE_IN(
      !(fx.startRekey && !versionRaised_ && info.migration && !info.migration->before.empty()),
      ErrorCode::SchemaMismatch,
      "an interrupted migration may still be undone; finish it with the steps it began "
      "with before a step moves records to new keys");
  fx.rekey = resumingRekey || fx.startRekey;
  return fx;
}

// The indexes whose fields a live step may set (every index when records move to new keys, as
// each entry holds a primary key), and whether a live step needs the eager mode.
void Decider::findAffectedIndexes(StepEffects& fx) const {
  for (const Step* step : fx.live) {
    fx.eagerOnly = fx.eagerOnly || step->options.requiresEager;
    for (const auto& index : app_.indexes) {
      if (stepTouches(*step, index.fields) && !contains(fx.affected, index.name)) {
        fx.affected.push_back(index.name);
      }
    }
  }
  if (fx.rekey) {
    fx.affected.clear();
    for (const auto& index : app_.indexes) fx.affected.push_back(index.name);
  }
  fx.eagerOnly = fx.eagerOnly && orm::TableCore::pendingRecords(plan_.entry, app_.version,
                                                                plan_.upgrader.get()) > 0;
}

// An eager open of a migration under way: a kept index over a field that a step now declares
// (what MigrationFailed asks for when a step changed it undeclared) is rebuilt once the records
// are, as if declared when the migration began. An index an earlier open added and built
// through the steps is rebuilt once more, which costs time but is correct. Lazy and hybrid
// opens keep such indexes as they are.
std::vector<std::string> Decider::redeclaredIndexes(const StepEffects& fx) const {
  const TableInfo& info = plan_.entry;
  std::vector<std::string> redeclared;
  if (mode_ == MigrationMode::Eager && !versionRaised_ && !fx.rekey && info.migration &&
      info.migration->phase == orm::MigrationState::Phase::Records) {
    for (const auto& ii : info.indexes) {
      if (ii.state == orm::IndexState::Ready && contains(fx.affected, ii.name) &&
          !contains(plan_.buildIndexes, ii.name)) {
        redeclared.push_back(ii.name);
      }
    }
  }
  return redeclared;
}

// What only an eager open may do: move records to new keys, run a step that requires it, or
// rebuild the indexes a new version's steps may change.
void Decider::refuseLazy(const StepEffects& fx) const {
  if (mode_ == MigrationMode::Eager) return;
  if (fx.startRekey) {
    failIn(ErrorCode::SchemaMismatch,
         "{}, so the migration moves every record to its new key; a record cannot be "
         "found by its new key until it has moved, so open it with MigrationMode::Eager", keyChanged_ ? fmt::format("the primary key changes from ({}) to ({})",
                                   fmt::join(stored_.entry->primaryKey, ", "),
                                   fmt::join(plan_.entry.primaryKey, ", "))
                     : std::string("a migration step writes a field of the primary key"));
  }
  CAPDB_REQUIRE_IN(!fx.eagerOnly, ErrorCode::SchemaMismatch,
                   "a migration step requires the eager mode; open it with MigrationMode::Eager");
}

// Sets the entry's migration state: a migration begins (a new version, or records moving to
// new keys) or a pending one stays. Returns whether the migration rebuilds fx.affected, which
// gains the changed indexes when the migration may be undone.
bool Decider::beginMigration(StepEffects& fx, bool& held) {
  TableInfo& info = this->info();
  bool starts = versionRaised_ || fx.startRekey;
  bool rebuild = starts && !fx.affected.empty();
  uint64_t pending = fx.rekey
                         ? info.records()
                         : orm::TableCore::pendingRecords(info, app_.version, plan_.upgrader.get());
  // In an eager open, a unique index that a step may change is checked for duplicates before
  // anything is rewritten, so that a failing check leaves the records and indexes as they were.
  // A lazy open cannot wait for the check: the index builds, and fails if its keys repeat.
  auto checksUnique = [&] {
    return rebuild && mode_ == MigrationMode::Eager && std::any_of(app_.indexes.begin(), app_.indexes.end(), [&](const auto& i) {
             return i.unique && contains(fx.affected, i.name);
           });
  };
  // An eager open's migration is undone when it fails: its records are rewritten into a scratch
  // database and replace the old ones only once every one has been (migrate/eager.cpp). A lazy
  // or hybrid open cannot undo what the app wrote at the new version meanwhile: its records are
  // rewritten in place.
  bool undoable = starts && (fx.startRekey || checksUnique() || mode_ == MigrationMode::Eager);
  if (undoable) {
    // Until the migration can no longer be undone, a changed index keeps its old entries: it
    // is rebuilt by the migration, after the point of no return.
    for (const auto& name : changedIndexes_) {
      if (!contains(fx.affected, name)) fx.affected.push_back(name);
    }
    rebuild = !fx.affected.empty();
  }
  auto firstPhase = checksUnique() ? orm::MigrationState::Phase::Check
                    : fx.rekey     ? orm::MigrationState::Phase::Rekey
                                   : orm::MigrationState::Phase::Records;
  if (starts && (pending > 0 || rebuild || fx.startRekey)) {
    // The records an unfinished migration left for its steps still wait for them.
    const uint32_t stepsBelow = waitingBelow();
    // A new version restarts the rewrite from the first key: records an earlier, unfinished
    // migration already passed now need the new steps too.
    info.migration.emplace();
    info.migration->phase = firstPhase;
    info.migration->total = pending;
    info.migration->fromVersion = pendingTo();
    info.migration->rekey = fx.rekey;
    info.migration->stepless = fx.live.empty();
    info.migration->stepsBelow = std::max(stepsBelow, fx.stepsBelow);
    if (undoable) info.migration->before = orm::Catalog::encodeEntry(*stored_.entry);
    held = undoable;
  } else if (!info.migration && pending > 0) {
    info.migration.emplace();
    info.migration->stepsBelow = fx.stepsBelow;
    info.migration->total = pending;
    info.migration->fromVersion = info.version;
  }
  if (info.migration) {
    // Declarative steps are kept with the migration, for tools that do not have the app.
    bool declarative = !fx.used.empty();
    std::vector<std::string> texts;
    for (const Step* step : fx.used) {
      declarative = declarative && !step->options.sql.empty();
      texts.push_back(step->options.sql);
    }
    info.migration->sqlSteps = declarative ? std::move(texts) : std::vector<std::string>{};
  }
  return rebuild;
}

// Indexes the app dropped, and what only an eager open may go on with.
void Decider::finish() {
  TableInfo& info = this->info();
  // The indexes the app dropped go now, or, while the migration may be undone, when it no longer
  // can (they keep their entries for the old version until then).
  if (info.migration && !info.migration->before.empty()) {
    for (auto& name : droppedIndexes_) info.migration->dropIndexes.push_back(std::move(name));
  } else {
    plan_.dropIndexes = std::move(droppedIndexes_);
  }
  CAPDB_REQUIRE_IN(!(info.migration && info.migration->rekey) || mode_ == MigrationMode::Eager,
                ErrorCode::SchemaMismatch,
                "a migration is moving its records to new primary keys; open with "
                "MigrationMode::Eager to finish it");
  // A migration that may still be undone holds writes until its checks and rewrite end (an undo
  // could not keep what the app wrote at the new version), which only the eager runner does.
  CAPDB_REQUIRE_IN(!(info.migration && !info.migration->before.empty()) ||
                       mode_ == MigrationMode::Eager,
                   ErrorCode::SchemaMismatch,
                   "a migration to version {} is {} and may still be undone; open with "
                   "MigrationMode::Eager to finish it",
                   info.version,
                   info.migration && info.migration->phase == orm::MigrationState::Phase::Check
                       ? "checking its unique indexes"
                       : "rewriting its records");
}

// The schema a table opens with when nothing is written: the newest stored one, or the app's
// when it can read the records and indexes as they are.
TableSchema readOnlySchema(const StoredTable& stored, const TableSchema* app) {
  const TableInfo& info = *stored.entry;
  auto schema = stored.loadSchema(info.version);
  CAPDB_REQUIRE_IN(schema.has_value(), ErrorCode::Corruption,
                "the catalog lacks the schema of version {}", info.version);
  TableSchema storedTable = orm::requireTable(schema->root(), schema->owner());
  if (app == nullptr) return storedTable;
  CAPDB_REQUIRE_IN(app->version == info.version, ErrorCode::SchemaMismatch,
                "the app's schema is version {}, the database's {}; a read-only "
                "database cannot be migrated", app->version, info.version);
  orm::SchemaDiff diff = orm::diffTables(storedTable, *app);
  CAPDB_REQUIRE_IN(diff.wireCompatible(), ErrorCode::SchemaMismatch,
                "the app's schema cannot read the database's records:\n{}", diff.describe(info.name));
  for (const IndexInfo& w : indexInfos(*app)) {
    bool present = std::any_of(info.indexes.begin(), info.indexes.end(), [&](const IndexInfo& h) {
      return h.name == w.name && h.fields == w.fields && h.unique == w.unique;
    });
    CAPDB_REQUIRE_IN(present, ErrorCode::SchemaMismatch,
                  "index {} of the app is not in the read-only database", w.name);
  }
  return *app;
}

ReadOnlyPlan decideReadOnly(const StoredTable& stored, const TableSchema* app) {
  const TableInfo& info = *stored.entry;
  ErrorContext scope(info.name);
  ReadOnlyPlan plan;
  plan.schema = readOnlySchema(stored, app);
  for (const auto& index : plan.schema.indexes) {
    for (const auto& ii : info.indexes) {
      if (ii.name == index.name && ii.state != orm::IndexState::Ready) {
        plan.indexStates[index.name] = ii.state;
      }
    }
  }
  if (info.migration && info.migration->rekey) {
    // Half-way, some records are under their old keys and some under their new ones.
    plan.unavailable =
        "a migration is moving its records to new primary keys; finish it by opening the "
        "database with the app's schema in eager mode (capdb upgrade --mode eager)";
    return plan;
  }
  // Older versions that read as this one without a step stay readable; so do the records of a
  // pending migration whose steps are declarative and kept in the catalog. The records of a
  // pending migration with the app's C++ steps are not read at all: reading them past their
  // steps would lose what the steps compute.
  Migrations none;
  const Migrations* registry = &none;
  if (info.migration) {
    plan.storedSteps = storedStepsOf(info);
    if (plan.storedSteps == nullptr) return plan;
    registry = plan.storedSteps.get();
  }
  std::set<uint32_t> versions;
  for (uint32_t v : stored.schemaVersions) {
    if (v >= plan.schema.version) continue;
    try {
      migrate::planUpgrade(*registry, plan.schema, stored.loadSchema, {v}, nullptr);
      versions.insert(v);
    } catch (const Error&) {
      // records of that version need a step only the app has: reading them is SchemaMismatch
    }
  }
  if (!versions.empty()) {
    plan.upgrader =
        migrate::planUpgrade(*registry, plan.schema, stored.loadSchema, versions, nullptr);
    plan.oldVersions = std::move(versions);
  }
  return plan;
}

}  // namespace

OpenPlan decideOpen(const StoredTable& stored, const TableSchema& app, const Migrations* migrations,
                    MigrationMode mode) {
  try {
    return Decider(stored, app, migrations, mode).decide();
  } catch (const Error& e) {
    OpenPlan refused;
    refused.refusal = e;
    return refused;
  }
}

ReadOnlyPlan decideReadOnlyOpen(const StoredTable& stored, const TableSchema* app) {
  try {
    return decideReadOnly(stored, app);
  } catch (const Error& e) {
    ReadOnlyPlan refused;
    refused.refusal = e;
    return refused;
  }
}

}  // namespace capdb::db
