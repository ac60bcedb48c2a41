// The access paths the planner chooses among (query/planner.h): for a table and the terms of a
// WHERE, every way to read the rows it needs, each with its estimated rows and its cost. A full
// scan; and over the primary key and over each ready index, the one range the terms' conjunction
// gives, a union of ranges for each OR term, and the whole key range (for its order).
#pragma once

#include <vector>

#include "query/planner.h"

namespace capdb::query {

// Which table of a join the paths are for, and which tables are read before it: their columns
// are constants while it is scanned (an index nested loop's lookup keys). One table: {0, 0}.
struct PathScope {
  int source = 0;
  uint64_t outer = 0;  // bit i: table i is read before
};

struct Candidate {
  AccessPath path;
  double cost = 0;
  bool servesOrder = false;  // the path's order gives the ORDER BY (set when choosing)
};

// Every candidate path over `table` (its column list `columns`, about `rows` records, at least 1)
// for the WHERE terms `terms` (its AND flattened), the full scan first. `usedColumns` marks the
// columns the statement reads (an index that holds them all may answer alone); while `migrating`
// (records that read through migration steps) no index answers alone. Only the indexes marked
// in `readable` (one flag per index of the table: ready in the statement's snapshot) are paths.
std::vector<Candidate> accessPaths(const orm::TableCore& table, const TableColumns& columns,
                                   const std::vector<const Expr*>& terms,
                                   const std::vector<bool>& usedColumns, double rows,
                                   bool migrating, const std::vector<bool>& readable,
                                   const PathScope& scope = {});

}  // namespace capdb::query
