// Evaluates bound expressions (query/ast.h) over a row, a group or nothing.
#pragma once

#include <vector>

#include "query/ast.h"

namespace capdb::query {

// The current row's column values, read on demand.
class RowAccess {
 public:
  virtual ~RowAccess() = default;
  virtual const Value& column(size_t index) = 0;
  // The column's value for the caller to keep: moved out of the row where it can be (a later
  // column() reads it again).
  virtual Value take(size_t index) { return column(index); }
};

struct EvalContext {
  const std::vector<Value>* params = nullptr;
  RowAccess* row = nullptr;                        // null outside a row
  RowAccess** rows = nullptr;                     // a join: each table's row, by Expr::source
  // A join: how often each table's row has changed, by Expr::source. An expression that reads
  // only tables whose counts are unchanged has the value it had.
  const uint64_t* serials = nullptr;
  const std::vector<Value>* groupKeys = nullptr;   // in an aggregate query's group
  const std::vector<Value>* aggregates = nullptr;  // the group's aggregate results
};

// The row a Column node reads.
inline RowAccess& rowOf(const Expr& e, EvalContext& ctx) {
  return ctx.rows ? *ctx.rows[e.source] : *ctx.row;
}

Value eval(const Expr& e, EvalContext& ctx);
// The value of `e` without copying it when it is a column, literal or parameter: a reference into
// the row, the tree or the parameters, or into `scratch` where it had to be computed. Valid until
// the row moves on.
const Value& evalRef(const Expr& e, EvalContext& ctx, Value& scratch);
// WHERE / HAVING / CASE truth: true only when the value is true (not NULL, not false).
bool isTrue(const Expr& e, EvalContext& ctx);

// CAST(v AS type); a Cap'n Proto type out of range is InvalidArgument naming the value.
Value castTo(const Value& v, CastType type);

}  // namespace capdb::query
