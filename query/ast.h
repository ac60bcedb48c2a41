// The parsed form of a SQL statement. The binder fills in the bound fields (column, function,
// aggregate slot, affinity) in place, so that a prepared statement holds one tree.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "capdb/query.h"
#include "query/value_ops.h"

namespace capdb::query {

struct FunctionInfo;

enum class ExprKind : uint8_t {
  Literal,    // value
  Parameter,  // name ("?3", ":city"); bound: param
  Column,     // name (dotted path as written); bound: column
  Negate,     // -args[0]
  Not,        // NOT args[0]
  Arith,      // args[0] arith args[1]
  Concat,     // args[0] || args[1]
  Compare,    // args[0] cmp args[1]
  And,
  Or,
  IsNull,     // args[0] IS [NOT] NULL (negated)
  In,         // args[0] [NOT] IN (args[1..])
  Between,    // args[0] [NOT] BETWEEN args[1] AND args[2]
  Like,       // args[0] [NOT] LIKE args[1]
  Case,       // [base] WHEN c THEN r ... [ELSE e]: see Expr::hasBase / hasElse
  Cast,       // CAST(args[0] AS castType)
  Call,       // name(args...); count(*) has star
};

enum class CompareOp : uint8_t { Eq, Ne, Lt, Le, Gt, Ge };

// The target of a CAST: SQL's storage classes, and Cap'n Proto's types with their ranges.
enum class CastType : uint8_t {
  Integer, Real, Text, Blob, Boolean,
  Int8, Int16, Int32, Int64, UInt8, UInt16, UInt32, UInt64, Float32, Float64,
};

enum class AggregateKind : uint8_t { Count, CountStar, Sum, Avg, Min, Max };

struct Expr;
using ExprPtr = std::unique_ptr<Expr>;

struct Expr {
  ExprKind kind = ExprKind::Literal;
  Value value;
  std::string name;
  std::vector<ExprPtr> args;
  ArithOp arith = ArithOp::Add;
  CompareOp cmp = CompareOp::Eq;
  CastType castType = CastType::Integer;
  bool negated = false;
  bool hasBase = false;  // CASE x WHEN ...: args[0] is x
  bool hasElse = false;  // the last arg is the ELSE result
  bool star = false;     // count(*)
  // Where the expression is in the statement's text (for output names and messages).
  size_t offset = 0;
  size_t length = 0;
  uint32_t line = 1;
  uint32_t col = 1;
  // Levels of the tree from here down, as the parser built it (it refuses a tree too deep to
  // walk by recursion).
  uint32_t height = 1;

  // Bound by the binder.
  int column = -1;             // the table column a Column reads
  int source = 0;              // in a join: which table of the FROM clause (0: the first)
  int param = -1;              // the slot of a Parameter
  const FunctionInfo* function = nullptr;
  int aggregate = -1;          // a Call that is an aggregate: its slot in the query
  AggregateKind aggregateKind = AggregateKind::Count;
  int groupKey = -1;           // in an aggregate query: the GROUP BY term this expression is
  Affinity affinity = Affinity::None;

  // A deep copy (bound fields included).
  ExprPtr clone() const;
  // The expression as SQL text (for EXPLAIN and messages), fully parenthesised where needed.
  std::string toSql() const;
};

struct TableRef {
  std::string name;
  std::string alias;  // FROM t [AS] alias (SELECT only)
  uint32_t line = 1, col = 1;
};

struct SelectItem {
  ExprPtr expr;           // null for * and t.*
  std::string starTable;  // t.*: the table or alias t
  std::string alias;
  std::string text;       // as written, for the output name
};

// How a table joins the ones before it. A comma is a CROSS JOIN whose condition is in WHERE.
enum class JoinKind : uint8_t { Inner, Left, Right, Full, Cross, Comma };

struct JoinClause {
  JoinKind kind = JoinKind::Inner;
  TableRef table;
  ExprPtr on;
  std::vector<std::string> usingColumns;
  uint32_t line = 1, col = 1;  // where the join's keyword is
};

struct OrderItem {
  ExprPtr expr;
  bool desc = false;
};

struct SelectStmt {
  bool distinct = false;
  std::vector<SelectItem> items;
  TableRef table;
  std::vector<JoinClause> joins;  // the tables after the first, in FROM order
  ExprPtr where;
  std::vector<ExprPtr> groupBy;
  ExprPtr having;
  std::vector<OrderItem> orderBy;
  ExprPtr limit;
  ExprPtr offset;
};

struct ColumnName {
  std::string name;
  uint32_t line = 1, col = 1;
};

struct InsertStmt {
  TableRef table;
  std::vector<ColumnName> columns;          // empty: every column, in SELECT * order
  std::vector<std::vector<ExprPtr>> rows;
};

struct Assignment {
  ColumnName column;
  ExprPtr value;
};

struct UpdateStmt {
  TableRef table;
  std::vector<Assignment> sets;
  ExprPtr where;
};

struct DeleteStmt {
  TableRef table;
  ExprPtr where;
};

// MIGRATE table FROM n TO m SET field = expr, ...: a declarative migration step.
struct MigrateStmt {
  TableRef table;
  uint32_t from = 0;
  uint32_t to = 0;
  std::vector<Assignment> sets;
};

enum class StatementKind : uint8_t { Select, Insert, Update, Delete, Migrate };

struct ParsedStatement {
  StatementKind kind = StatementKind::Select;
  bool explain = false;
  std::unique_ptr<SelectStmt> select;
  std::unique_ptr<InsertStmt> insert;
  std::unique_ptr<UpdateStmt> update;
  std::unique_ptr<DeleteStmt> del;
  std::unique_ptr<MigrateStmt> migrate;
  uint32_t positionalParams = 0;          // the highest ?N used
  std::vector<std::string> namedParams;   // :names used, in order of first use
};

std::string_view castTypeName(CastType type);

}  // namespace capdb::query
