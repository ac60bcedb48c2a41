// The binder: resolves a parsed statement's names against its table's columns, its functions and
// its parameters, in place, and gathers what the planner and executor need.
#pragma once

#include <string>
#include <vector>

#include "query/ast.h"
#include "query/columns.h"

namespace capdb::query {

struct OutputColumn {
  const Expr* expr;
  std::string name;
};

struct SortKey {
  const Expr* expr;  // evaluated per row (or per group in an aggregate query)
  bool desc = false;
};

struct BoundSelect {
  std::vector<OutputColumn> outputs;
  const Expr* where = nullptr;
  bool aggregateQuery = false;
  std::vector<const Expr*> groupBy;
  const Expr* having = nullptr;
  std::vector<const Expr*> aggregates;  // Call nodes; aggregates[i]->aggregate == i
  std::vector<SortKey> orderBy;
  const Expr* limit = nullptr;
  const Expr* offset = nullptr;
  bool distinct = false;
};

// A table of a join's FROM clause.
struct BoundSource {
  const TableColumns* columns = nullptr;
  std::string name;            // how the statement names it: its alias, else the table's name
  // A row of NULLs when nothing matches: the table after LEFT JOIN or FULL JOIN, the table
  // before RIGHT JOIN.
  bool left = false;
  bool full = false;            // FULL JOIN's second table: its unmatched rows come out too
  uint64_t needs = 0;           // the tables (bits of FROM positions) to read before this one
  std::vector<const Expr*> on;  // an outer join's ON terms (an inner join's are in joinTerms)
  std::vector<bool> used;       // the columns the statement reads
};

struct BoundStatement {
  StatementKind kind = StatementKind::Select;
  bool explain = false;
  BoundSelect select;  // SELECT; UPDATE and DELETE use select.where
  std::vector<std::pair<size_t, const Expr*>> sets;  // UPDATE and MIGRATE: column, value
  std::vector<size_t> insertColumns;
  std::vector<std::vector<const Expr*>> insertRows;
  std::vector<bool> usedColumns;  // columns the statement reads from records
  // A SELECT over two or more tables: the tables in FROM order, and the terms of WHERE and of
  // the inner joins' ON (their AND flattened). Empty for one table.
  std::vector<BoundSource> sources;
  std::vector<const Expr*> joinTerms;
  // Parameter slots: ?1..?N first, then the named ones in order of first use.
  std::vector<std::string> paramNames;
  size_t positionalParams = 0;
  std::vector<ExprPtr> owned;  // expressions the binder made (SELECT * columns)
};

// Binds `st` (which must outlive the result) against `columns`. Throws InvalidArgument naming
// the unknown column (with the closest name), function, misplaced aggregate or bare column.
BoundStatement bind(ParsedStatement& st, const TableColumns& columns);

// Binds a SELECT over the tables of its FROM clause, `columns[i]` being the i-th table's (the
// first, then each join's). Resolves table.column and alias.column, and a bare name in the one
// table that has it; a name in two tables, or that could be a table's column and a nested
// field, is InvalidArgument naming the candidates.
BoundStatement bindJoin(ParsedStatement& st, const std::vector<const TableColumns*>& columns);

// Binds a MIGRATE step's SET expressions: `oldColumns` are what they read, `newColumns` what
// they set (the step's target version).
BoundStatement bindMigration(ParsedStatement& st, const TableColumns& oldColumns,
                             const TableColumns& newColumns);

}  // namespace capdb::query
