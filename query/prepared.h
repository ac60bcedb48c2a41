// A statement parsed, bound to its table and planned: what Database::query, Statement, Query and
// the declarative migration steps run. The tables come from the caller (TableLookup), so the
// query layer never sees the Database.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "capdb/capdb.h"
#include "capdb/query.h"
#include "orm/table_core.h"
#include "query/binder.h"
#include "query/columns.h"
#include "query/parser.h"
#include "query/planner.h"

namespace capdb::detail {

// Statement's state (capdb/query.h).
struct PreparedStatement {
  std::string sql;
  query::ParsedStatement parsed;
  const orm::TableCore* table = nullptr;
  std::shared_ptr<const query::TableColumns> columns;
  query::BoundStatement bound;
  query::Plan plan;
  std::vector<std::string> resultColumns;
  // A join: every table of FROM in order (`table` is the first) and their columns.
  std::vector<const orm::TableCore*> tables;
  std::vector<std::shared_ptr<const query::TableColumns>> sourceColumns;
  uint64_t joinMemoryBytes = 0;
};

}  // namespace capdb::detail

namespace capdb::query {

using Prepared = detail::PreparedStatement;

// The tables a statement may name: `find` gives the table of exactly that name or nullptr;
// `names` lists them all (for case-insensitive matches and "did you mean").
struct TableLookup {
  std::function<const orm::TableCore*(std::string_view name)> find;
  std::function<std::vector<std::string>()> names;
  // How much memory a hash join's rows may take (Options::joinMemoryBytes).
  uint64_t joinMemoryBytes = uint64_t{256} << 20;
};

// Parses, binds and plans `sql` over the table it names, found through `tables`, or over `only`
// when given (the statement must name it). SyntaxError, or InvalidArgument naming an unknown
// table or column; MIGRATE is refused (it belongs in Migrations::sql).
std::unique_ptr<Prepared> prepareIn(const TableLookup& tables, const orm::TableCore* only,
                                    std::string_view sql, const Txn& tx);
// Whether the statement returns rows (SELECT, EXPLAIN).
bool isQuery(const Prepared& p);
// Runs the statement in `tx` (a WriteTxn for INSERT, UPDATE and DELETE), planning it again first
// when the table's statistics moved enough to change the plan.
ResultSet execute(Prepared& p, Txn& tx, const Params& params);

}  // namespace capdb::query
