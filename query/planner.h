// The planner: turns a bound statement's WHERE and ORDER BY into an access path (key ranges over
// the primary key or an index, or a full scan), decides whether a sort is needed and whether
// LIMIT can stop the scan, and writes the plan as EXPLAIN prints it. Range values stay
// expressions (parameters are bound at run time); the executor turns them into keys.
// query/access_paths.h lists the paths it chooses among; query/explain.h writes the EXPLAIN text.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "engine/cursor.h"
#include "query/binder.h"
#include "orm/table_core.h"

namespace capdb::query {

struct RangeBound {
  const Expr* value;
  bool inclusive;
};

// One conjunction of key constraints: equalities on the leading key columns, then at most one
// range (or LIKE prefix) on the next.
struct RangeSpec {
  // Per leading key column: the values it may equal (IN gives several; nullptr is IS NULL).
  std::vector<std::vector<const Expr*>> eq;
  std::optional<RangeBound> lower;
  std::optional<RangeBound> upper;
  const Expr* likePattern = nullptr;
  bool hasRange() const { return lower || upper || likePattern; }
};

enum class AccessKind : uint8_t { FullScan, PrimaryKey, Index, CountAll };

struct AccessPath {
  AccessKind kind = AccessKind::FullScan;
  const orm::IndexCore* index = nullptr;
  std::vector<size_t> keyColumns;  // the columns a key holds, in order (index: its fields, then
                                   // the primary key's unless the index is unique)
  size_t indexFields = 0;          // how many of keyColumns are the index's own fields
  std::vector<RangeSpec> specs;    // empty: every key
  engine::Direction direction = engine::Direction::Forward;
  bool indexOnly = false;
  // Every spec fixes the whole primary key: the records are read by key, not scanned.
  bool pointLookup = false;
  double estimate = 0;
  std::vector<const Expr*> consumed;  // WHERE terms the ranges express, for EXPLAIN
};

// How a join reads each table after the first, given the rows of the tables before it.
enum class JoinMethod : uint8_t {
  Drive,        // the first table: its access path, once
  IndexLookup,  // per outer row, key ranges whose values come from the outer row
  Hash,         // the table read once into memory, keyed by its equality columns, then probed
  NestedLoop,   // per outer row, the table's own access path again, every pair filtered
};

// A Hash step's equality: `inner` reads the step's table, `outer` the tables before it.
// Each side's value is first converted as SQLite's comparison would convert it (None: not at
// all), so that equal values hash alike.
struct HashKey {
  const Expr* inner;
  const Expr* outer;
  Affinity innerAs = Affinity::None;
  Affinity outerAs = Affinity::None;
};

// The tables a bound expression reads, as bits of their place in FROM.
uint64_t sourcesOf(const Expr& e);

// Whether `t` is the equality one of `keys` was taken from.
bool isHashKeyTerm(const Expr* t, const std::vector<HashKey>& keys);

// One table of a join, in the order the joins run.
struct JoinStep {
  int source = 0;  // its place in FROM (BoundStatement::sources)
  bool left = false;
  bool full = false;  // FULL JOIN: the rows nothing matched come out after the others
  JoinMethod method = JoinMethod::Drive;
  AccessPath access;                   // the columns of earlier tables are constants in it
  std::vector<const Expr*> terms;      // every term a row of this table must pass here
  std::vector<const Expr*> residual;   // those the access path does not express
  std::vector<const Expr*> after;      // LEFT JOIN: WHERE terms checked after the NULL row
  std::vector<HashKey> hashKeys;       // Hash: the equalities it probes with
  double rows = 0;                     // estimated rows per row of the tables before it
  // What the step was planned from, to tell when to plan again.
  uint64_t tableRows = 0;
  std::vector<bool> indexReady;
};

struct Plan {
  AccessPath access;
  std::vector<const Expr*> residual;  // WHERE terms no range covers
  bool sortNeeded = false;
  bool limitPushed = false;  // the scan stops after OFFSET + LIMIT rows
  std::string text;          // as EXPLAIN prints it
  // What the plan was made from, to tell when to plan again.
  uint64_t tableRows = 0;
  std::vector<bool> indexReady;
  // A join: its tables in the order they are read (the first drives); `access` and `residual`
  // above are then unused.
  std::vector<JoinStep> steps;
};

// What a join's planner needs of each table of FROM, in FROM order.
struct JoinTable {
  const orm::TableCore* table;
  uint64_t rows;
  uint64_t oldRecords;
};

// Plans a SELECT over two or more tables: for each order the FROM clause allows (a LEFT JOIN's
// table after every table before it in FROM), each table's cheapest access path and join method
// given the tables before it; the cheapest order wins (every order up to 10 tables, a greedy one
// past that).
Plan planJoin(const BoundStatement& st, const std::vector<JoinTable>& tables, uint64_t snapshot);

// Plans `st` over `table` holding `tableRows` records, `oldRecords` of them at a schema version
// that reads through migration steps (index entries may then not hold what a read returns, so no
// index-only scan), for a transaction reading `snapshot` (engine::Txn::snapshotId): only the
// indexes complete in it are paths, never one that builds or failed.
Plan plan(const BoundStatement& st, const orm::TableCore& table, const TableColumns& columns,
          uint64_t tableRows, uint64_t oldRecords, uint64_t snapshot);

// Whether a plan made with `p` should be made again for a table now holding `tableRows`, read in
// `snapshot` (an index became readable or stopped being so).
bool stale(const Plan& p, const orm::TableCore& table, uint64_t tableRows, uint64_t snapshot);

// Flattens a tree of AND (or OR) into its terms.
void flatten(const Expr* e, ExprKind kind, std::vector<const Expr*>& out);

}  // namespace capdb::query
