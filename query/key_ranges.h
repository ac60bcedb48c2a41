// Turns a plan's range specs, with the parameters of one run, into encoded key ranges: values
// converted to the key column's type (conservatively: a range may hold rows the WHERE then
// rejects, never miss one), ranges sorted and merged so that no key is visited twice.
#pragma once

#include <vector>

#include "engine/cursor.h"
#include "query/eval.h"
#include "query/planner.h"

namespace capdb::query {

// The ranges to scan, in ascending key order; empty when no key can match. A path without specs
// gives one unbounded range.
// `exact` (when given) is set to whether the ranges hold exactly the rows the consumed WHERE
// terms select, so that those terms need no recheck: false after a LIKE prefix or a value that
// converted to the key column's type only approximately.
// `out` is cleared first; a caller that runs a path often keeps it, and its capacity.
void keyRanges(const AccessPath& path, const TableColumns& columns, EvalContext& ctx,
               std::vector<engine::KeyRange>& out, bool* exact = nullptr);

}  // namespace capdb::query
