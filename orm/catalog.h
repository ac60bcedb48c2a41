// The catalog: capdb's own record of the tables in a database, their schema versions, indexes,
// per-version record counts, sequences and planner statistics, kept as Cap'n Proto
// (orm/catalog.capnp) in an LMDB database of its own. orm/disk_names.h names that database and
// its keys; docs/format.md describes them.
//
// Catalog holds the decoded entries in memory. It is read once when a database opens; writers
// change it through put*(), which write in the caller's transaction and update the copy.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "engine/env.h"
#include "orm/stored_schema.h"

namespace capdb::orm {

// Ready: complete, maintained and read. Building: maintained by every write, filled in batches by
// the eager runner, never read. Failed: a unique build met duplicates; neither maintained nor read.
enum class IndexState : uint8_t { Ready, Building, Failed };

std::string_view indexStateName(IndexState state);

struct IndexInfo {
  std::string name;
  std::vector<std::string> fields;
  bool unique = false;
  IndexState state = IndexState::Ready;
  uint64_t distinctKeys = 0;
  // Building: the last primary key whose record's entry the build wrote (empty: none yet), and
  // the records it has entered.
  std::string checkpoint;
  uint64_t done = 0;
  // Building, while the table's migration may still be undone: the database keeps the entries of
  // the index as it was, for the undo; the build starts from nothing once it can no longer be.
  bool held = false;
  // Failed: the first offending keys (or records whose key cannot be stored), one line each.
  std::vector<std::string> duplicates;
  // Ready: the first snapshot (engine::Txn::snapshotId) that holds every entry; 0: every one.
  uint64_t readySince = 0;
  // Starts the index's build from nothing (its database must be emptied in the same transaction).
  void startBuild() {
    state = IndexState::Building;
    checkpoint.clear();
    done = 0;
    held = false;
    duplicates.clear();
    readySince = 0;
  }
  friend bool operator==(const IndexInfo&, const IndexInfo&) = default;
};

struct MigrationState {
  enum class Phase : uint8_t { Check, Records, Indexes, Rekey, Install, Replace };
  Phase phase = Phase::Records;
  std::string checkpoint;  // last primary key done; empty: none yet
  uint64_t total = 0;
  uint64_t done = 0;
  uint32_t fromVersion = 0;  // the table's version before the migration began
  // When every step the migration reads old records through is declarative: their MIGRATE
  // statements (Migrations::sql), so that any tool can read and finish it without the app.
  std::vector<std::string> sqlSteps;
  // The migration changes primary keys: after the check, records are copied under their new keys
  // into the table's other records database (Rekey), which then swaps in (an earlier format copied
  // them back into the cleared table: Install).
  bool rekey = false;
  // The migration began without steps (old records read as the newest as they are): an open
  // without steps may go on with it.
  bool stepless = false;
  // While the migration may still be undone (its checks, rewriting records into a scratch
  // database, moving records to new keys): the table's entry as it was before
  // (Catalog::encodeEntry), to restore exactly on failure. Empty for a migration that cannot be
  // undone (one a lazy or hybrid open began), whose records are rewritten in place.
  std::string before;
  // Indexes the new version dropped, whose databases stay until the migration cannot be undone.
  std::vector<std::string> dropIndexes;
  // Records at versions below this one went through steps when the migration began (or one it
  // replaced): they wait for those steps. 0: none, or not recorded (then `stepless` decides).
  uint32_t stepsBelow = 0;
  friend bool operator==(const MigrationState&, const MigrationState&) = default;
};

struct TableInfo {
  uint32_t id = 0;
  std::string name;
  uint32_t version = 1;
  std::vector<std::string> primaryKey;
  std::string autoIncrement;
  uint64_t sequence = 0;
  std::vector<IndexInfo> indexes;
  std::map<uint32_t, uint64_t> counts;  // records per schema version
  std::optional<MigrationState> migration;
  // Which of the table's two records databases holds its records (orm::tableDbName), from the
  // snapshot recordsSince on (0: every snapshot); an undoable migration fills the other one and
  // swaps them in one commit, readers that began before it keep reading the old one.
  uint32_t recordsTree = 0;
  uint64_t recordsSince = 0;

  uint64_t records() const;
  friend bool operator==(const TableInfo&, const TableInfo&) = default;
};

class Catalog {
 public:
  // The catalog format this build writes. 3: each table's records may be in either of its two
  // records databases (TableInfo::recordsTree), which a build of format 2 would not know to read.
  // 2: records packed, each with its CRC32C (docs/format.md); a database of format 2 reads as
  // format 3 with every table's records in tree 0, and a write open raises it to 3. 1 (records
  // unpacked, no checksum) is refused.
  static constexpr uint32_t kFormatVersion = 3;
  static constexpr uint32_t kOldestFormatRead = 2;

  // Reads the catalog. In an environment without one, create() makes an empty catalog in `txn`;
  // load() returns nullopt. Throws Unsupported for a catalog of another format version and
  // Corruption for unreadable entries.
  static Catalog create(engine::WriteTxn& txn);
  static std::optional<Catalog> load(const engine::Txn& txn);

  const TableInfo* table(std::string_view name) const;
  const std::map<std::string, TableInfo, std::less<>>& tables() const { return tables_; }
  // The next unused table id.
  uint32_t nextTableId() const;
  // A table entry as a Cap'n Proto message (catalog.capnp's TableEntry), and back; decodeEntry
  // throws Corruption for bytes that are not one.
  static std::string encodeEntry(const TableInfo& table);
  static TableInfo decodeEntry(std::string_view bytes);

  // The catalog's generation: a number every transaction raises that changes the shape of a
  // table (see sameShape) or stores a schema version. Processes compare it with the one they
  // last saw, at the start of each transaction, to learn that another process changed a table
  // under them (one read). 0 in a catalog that never had one.
  uint64_t generation(const engine::Txn& txn) const;
  // Whether two entries of one table have the same shape: what other processes must know of
  // before they read or write the table (version, primary key, autoIncrement field, indexes and
  // their states, the phase of a migration), as opposed to what every write changes (counts,
  // sequences, statistics, a migration's checkpoint).
  static bool sameShape(const TableInfo& a, const TableInfo& b);
  // Re-reads every table's entry from txn into this object's copy (after another process changed
  // the catalog). Entries are replaced in place, as publish() does.
  void reload(const engine::Txn& txn);

  // Writes a table's entry (new or changed) in txn and in this object's copy.
  void putTable(engine::WriteTxn& txn, const TableInfo& table);
  // Writes a table's entry in txn only; publish() updates the copy once txn has committed. With
  // `reshaping`, the entry is compared with the stored one and a change of shape raises the
  // generation; without, the caller promises the shape did not change (counts, sequences and
  // statistics only).
  void writeTable(engine::WriteTxn& txn, const TableInfo& table, bool reshaping = true) const;
  void publish(const TableInfo& table) { tables_[table.name] = table; }
  // A table's entry as of txn's snapshot (not the cached copy), or nullopt.
  std::optional<TableInfo> readTable(const engine::Txn& txn, std::string_view name) const;
  // Stores one version of a table's schema.
  void putSchema(engine::WriteTxn& txn, const StoredSchema& schema);
  // Loads a stored schema version; nullopt when the catalog has none for that version.
  std::optional<StoredSchema> loadSchema(const engine::Txn& txn, std::string_view table,
                                         uint32_t version) const;
  // Removes a stored schema version (a migration that failed its checks before rewriting
  // anything).
  void eraseSchema(engine::WriteTxn& txn, std::string_view table, uint32_t version) const;
  std::vector<uint32_t> schemaVersions(const engine::Txn& txn, std::string_view table) const;

  const engine::Db& db() const { return db_; }

 private:
  explicit Catalog(engine::Db db) : db_(std::move(db)) {}
  void readAll(const engine::Txn& txn);
  void bumpGeneration(engine::WriteTxn& txn) const;

  engine::Db db_;
  uint32_t format_ = kFormatVersion;  // the format the stored header names
  std::map<std::string, TableInfo, std::less<>> tables_;
};

}  // namespace capdb::orm
