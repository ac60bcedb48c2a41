// EXPLAIN: a plan (query/planner.h) written as one line, the access path first and then each
// step the rows go through ("PRIMARY KEY SCAN people (id) (id = 1) est. 1 rows -> FILTER ...").
#pragma once

#include <string>

#include "query/planner.h"

namespace capdb::query {

// The EXPLAIN text of `plan`, made for `st` over the table named `tableName` whose columns are
// `columns`.
std::string explainText(const Plan& plan, const BoundStatement& st, const std::string& tableName,
                        const TableColumns& columns);

// The EXPLAIN text of a join's plan: the first table's access path, then each table joined to
// it with its method ("-> INDEX NESTED LOOP customers AS c BY PRIMARY KEY (id) (c.id =
// o.customer) est. 1 rows"), then what happens to the rows.
std::string explainJoin(const Plan& plan, const BoundStatement& st);

}  // namespace capdb::query
