// Inspecting and maintaining a database: what the capdb tool does, as library calls an app can
// make too. Status, schema diffs, verification, backups, and schema files parsed at run time.
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "capdb/capdb.h"

namespace capdb {

// The tables of a .capnp file (every struct with $Db.table), parsed at run time. Imports such as
// "/capdb/annotations.capnp" resolve against `importDirs`, then capdb's own copies. Throws IoError
// for a file that cannot be read, SyntaxError (file, line, column) for one that does not parse,
// InvalidArgument for misused annotations or a file without tables.
Schemas parseSchemas(const std::filesystem::path& file,
                     std::span<const std::filesystem::path> importDirs = {});

struct IndexStatus {
  std::string name;
  std::vector<std::string> fields;
  bool unique = false;
  bool ready = true;  // state == "ready": queries may use it
  // "ready"; "building" (maintained by every write, filled in batches by drain(), migrate() or an
  // eager open, never read by queries); or "failed" (a unique index whose build met duplicate
  // keys, or one that met a key it cannot store: neither maintained nor read, until the app drops
  // it or calls Database::rebuildIndex).
  std::string state = "ready";
  // Building: the records the build has entered so far, of the table's records, and the last
  // primary key it passed (formatted, e.g. "(42)"; empty before its first batch). `waiting`: the
  // build waits for the table's migration to finish its checks before it starts.
  uint64_t done = 0;
  uint64_t total = 0;
  std::string checkpoint;
  bool waiting = false;
  // The index's B-tree: its entries and the bytes of its pages (O(1), from LMDB's statistics).
  uint64_t entries = 0;
  uint64_t bytes = 0;
  // Failed: the first offending keys, one line each ("key ('x') of records (1) and (2)"), or the
  // record whose key the index cannot store ("record (7): ...").
  std::vector<std::string> duplicates;
};

struct TableStatus {
  std::string name;
  uint32_t version = 0;
  std::vector<std::string> primaryKey;
  uint64_t records = 0;
  std::map<uint32_t, uint64_t> recordsByVersion;
  // The bytes of the records' B-tree pages (headers, keys, values, free space in each page).
  uint64_t recordBytes = 0;
  std::vector<IndexStatus> indexes;
  // An eager migration in progress (or stopped part-way): its phase and progress.
  struct Migration {
    uint32_t fromVersion = 0;
    std::string phase;  // "check", "records", "replace", "rekey", "install" or "indexes"
    uint64_t done = 0;
    uint64_t total = 0;
  };
  std::optional<Migration> migration;
};

struct DatabaseStatus {
  std::filesystem::path path;
  uint64_t fileBytes = 0;  // the data file on disk
  uint64_t mapBytes = 0;   // the memory map's current size
  uint64_t usedBytes = 0;  // pages in use
  std::vector<TableStatus> tables;
};

// The catalog's view of every table, as of now. O(tables).
DatabaseStatus status(const Database& db);

struct TableDiff {
  std::string table;
  bool exists = true;       // false: the file declares a table the database does not have
  uint32_t storedVersion = 0;
  uint32_t newVersion = 0;
  struct Change {
    // "field added", "field removed", "field renamed", "type changed", "default changed",
    // "moved into a union", "moved out of a union", "moved into a group", "moved out of a group",
    // "primary key changed", "index added", "index removed" or "index changed".
    std::string kind;
    std::string field;   // its path, or an index's name
    std::string detail;  // e.g. "type Float64 -> Int64"
    bool needsStep = false;
  };
  std::vector<Change> changes;
  // One line per change, e.g. "people.score: type changed Float64 -> Int64 (needs a step)".
  std::vector<std::string> lines;
  bool needsStep = false;   // some change is not wire-compatible
};

// The changes from each table's stored schema to the same table in `schemas`.
std::vector<TableDiff> diff(const Database& db, const Schemas& schemas);

// What verify() found: every record decodes at its version, every index entry points to a record
// that has it and every record has its entries, and the catalog's counts are the records'.
struct VerifyReport {
  uint64_t records = 0;
  uint64_t indexEntries = 0;
  std::vector<std::string> problems;  // empty: all is well
  std::vector<std::string> notes;     // what could not be checked, and why
  bool ok() const { return problems.empty(); }
};

// Reads every record and index entry in one snapshot. Never throws for what it finds (that goes
// into the report); throws only when the database cannot be read at all.
VerifyReport verify(const Database& db);

// The pages of the database file at `path` (a database directory), checked without opening it:
// every page's header, type, bounds and links, read from the file rather than through LMDB, which
// aborts the process on some damage (a zeroed page) and dies of SIGBUS on a truncated file.
// Problems name the page and the LMDB database (docs/format.md gives the names); `records` and
// `indexEntries` stay 0. Run it before opening a database that may be damaged: verify(db) runs it
// too, but opening reads the catalog first. IoError when the file cannot be read.
VerifyReport verifyPages(const std::filesystem::path& path);

// What compact() did to each B-tree: the records' (index empty) and each index's.
struct CompactedTree {
  std::string table;
  std::string index;  // empty for the records
  uint64_t entries = 0;
  uint64_t bytesBefore = 0;  // the tree's pages, as IndexStatus::bytes and TableStatus::recordBytes
  uint64_t bytesAfter = 0;
};

// Rewrites every table's records and index B-trees so that their pages are full: random inserts,
// updates and deletes leave LMDB's pages half to two-thirds full, and each tree is copied in key
// order into filled pages and back (docs/reliability.md, Compaction). One write transaction per
// tree: each is all or nothing, readers go on, writers wait for the tree being rewritten. A tree of
// up to 256 MiB (its pages and 48 bytes an entry) is copied through memory; the file needs room for its new pages until the commit
// frees the old ones (twice that for a larger tree, copied through a scratch database). The pages
// freed are reused by later writes; the file does not shrink (backup with `compact` writes a copy
// without them).
// Throws what a write throws (Busy, Full past the map's limit, IoError).
std::vector<CompactedTree> compact(Database& db);

// Writes a consistent copy of the database into `dest` (a directory that must not exist or be
// empty), compacted (free pages dropped) when `compact`. Readers and writers go on meanwhile.
void backup(const Database& db, const std::filesystem::path& dest, bool compact);

}  // namespace capdb
