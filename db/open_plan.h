// OpenPlan: what Database::open does to one of the app's tables, decided before anything is
// written, as LevelDB's recovery fills a VersionEdit before LogAndApply writes it.
//
// decideOpen compares the catalog's entry and stored schemas with the app's schema, its
// migrations and the mode, and returns the table's next catalog entry, the schema to store, the
// indexes to build or drop, the upgrader old records read through, or the refusal the open fails
// with. It reads the database only through StoredTable, so a test can fill one without LMDB.
// Database::open applies the plan in its write transaction.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "capdb/capdb.h"
#include "capdb/migrations.h"
#include "orm/catalog.h"
#include "orm/stored_schema.h"
#include "orm/upgrader.h"

namespace capdb::db {

// What the decision reads of the database about one table.
struct StoredTable {
  // The catalog's entry for the table; nullopt when the catalog has none (a new table).
  std::optional<orm::TableInfo> entry;
  // The id a new table gets (Catalog::nextTableId).
  uint32_t nextTableId = 0;
  // Every version of the table whose schema the catalog stores.
  std::vector<uint32_t> schemaVersions;
  // One stored schema version, or nullopt when the catalog has none; called only for the versions
  // the decision needs, and only while decideOpen runs. May throw Corruption.
  std::function<std::optional<orm::StoredSchema>(uint32_t version)> loadSchema;
};

struct OpenPlan {
  // Set when the open must fail: the error it throws (SchemaMismatch naming the table, the field
  // and the change, or the Corruption or InvalidArgument met while deciding). The other members
  // then mean nothing.
  std::optional<Error> refusal;
  // The table's catalog entry once open has applied the plan: version, key, indexes and their
  // states (Building: rebuilt by the migration, unread until then), the migration it begins or
  // goes on with. Its sequence is raised further when raiseSequence is set.
  orm::TableInfo entry;
  // The app's schema, to store as its version (a new table, a new version, or a wire-compatible
  // change at the same version); nullopt: the stored schemas stay as they are.
  std::optional<orm::StoredSchema> storeSchema;
  // The table gains autoIncrement: its sequence continues after the highest key stored.
  bool raiseSequence = false;
  // What records stored at oldVersions read through; null when no old version is readable.
  // keysMove: a migration moves the records to new primary keys (TableCore::setUpgrader).
  std::shared_ptr<const orm::Upgrader> upgrader;
  std::set<uint32_t> oldVersions;
  bool keysMove = false;
  // The declarative steps a pending migration kept in the catalog, when the upgrader reads
  // through them (the app has no steps for the table): the upgrader points into them, so they
  // must outlive it.
  std::unique_ptr<Migrations> storedSteps;
  // Indexes whose databases the open empties, as their builds start (new, changed, or changed by
  // the steps), and index databases to drop there. The builds themselves run later, in batches
  // (drain, migrate, an eager open): the open reads no record.
  std::vector<std::string> buildIndexes;
  std::vector<std::string> dropIndexes;
};

// Decides how the app's table `app` opens in `mode` with `migrations` (nullptr: none), from what
// `stored` says of the database. Never throws capdb::Error: a refusal is the plan's `refusal`.
// Steps' check functions run here, and whatever else they throw propagates.
OpenPlan decideOpen(const StoredTable& stored, const TableSchema& app, const Migrations* migrations,
                    MigrationMode mode);

// How a table opens without writing: with its newest stored schema (a table the app did not list,
// for tools), or with the app's schema in a read-only database.
struct ReadOnlyPlan {
  // Set when the open must fail: the error it throws. The other members then mean nothing.
  std::optional<Error> refusal;
  // The schema the table is read and written with.
  TableSchema schema;
  // The state of each index of `schema` that is not ready (building or failed): queries do not
  // read them, and writes do not keep a failed one.
  std::map<std::string, orm::IndexState> indexStates;
  // Set when the records are half-way to new primary keys: every read and write of the table
  // fails with Busy and this reason (TableCore::setUnavailable).
  std::string unavailable;
  // What records stored at oldVersions read through; null when no older version is readable.
  std::shared_ptr<const orm::Upgrader> upgrader;
  std::set<uint32_t> oldVersions;
  // The catalog's declarative steps the upgrader reads through, as in OpenPlan.
  std::unique_ptr<Migrations> storedSteps;
};

// Decides how the table of `stored.entry` (which must be set) opens without writing: with the
// app's schema `app`, which must then match the catalog (same version, wire-compatible, the same
// indexes), or, when `app` is nullptr, with the newest stored schema. Never throws capdb::Error:
// a refusal is the plan's `refusal`.
ReadOnlyPlan decideReadOnlyOpen(const StoredTable& stored, const TableSchema* app);

}  // namespace capdb::db
