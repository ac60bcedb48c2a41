#include "query/ast.h"

#include <fmt/format.h>

namespace capdb::query {
namespace {

// SQLite's binding strength, for printing only the parentheses that are needed.
int precedence(const Expr& e) {
  switch (e.kind) {
    case ExprKind::Or: return 1;
    case ExprKind::And: return 2;
    case ExprKind::Not: return 3;
    case ExprKind::IsNull: case ExprKind::In: case ExprKind::Between: case ExprKind::Like:
      return 4;
    case ExprKind::Compare:
      return (e.cmp == CompareOp::Eq || e.cmp == CompareOp::Ne) ? 4 : 5;
    case ExprKind::Arith:
      return (e.arith == ArithOp::Add || e.arith == ArithOp::Sub) ? 6 : 7;
    case ExprKind::Concat: return 8;
    case ExprKind::Negate: return 9;
    default: return 10;
  }
}

std::string child(const Expr& e, int parent, bool right = false) {
  int p = precedence(e);
  // Left-associative operators need parentheses on the right at equal strength.
  if (p < parent || (right && p == parent && p < 10)) return "(" + e.toSql() + ")";
  return e.toSql();
}

std::string_view compareText(CompareOp op) {
  switch (op) {
    case CompareOp::Eq: return "=";
    case CompareOp::Ne: return "!=";
    case CompareOp::Lt: return "<";
    case CompareOp::Le: return "<=";
    case CompareOp::Gt: return ">";
    case CompareOp::Ge: return ">=";
  }
  return "?";
}

std::string_view arithText(ArithOp op) {
  switch (op) {
    case ArithOp::Add: return "+";
    case ArithOp::Sub: return "-";
    case ArithOp::Mul: return "*";
    case ArithOp::Div: return "/";
    case ArithOp::Rem: return "%";
  }
  return "?";
}

}  // namespace

ExprPtr Expr::clone() const {
  auto e = std::make_unique<Expr>();
  e->kind = kind;
  e->value = value;
  e->name = name;
  for (const auto& a : args) e->args.push_back(a->clone());
  e->arith = arith;
  e->cmp = cmp;
  e->castType = castType;
  e->negated = negated;
  e->hasBase = hasBase;
  e->hasElse = hasElse;
  e->star = star;
  e->offset = offset;
  e->length = length;
  e->line = line;
  e->col = col;
  e->height = height;
  e->column = column;
  e->source = source;
  e->param = param;
  e->function = function;
  e->aggregate = aggregate;
  e->aggregateKind = aggregateKind;
  e->groupKey = groupKey;
  e->affinity = affinity;
  return e;
}

std::string Expr::toSql() const {
  int p = precedence(*this);
  switch (kind) {
    case ExprKind::Literal: return value.toSql();
    case ExprKind::Parameter: return name;
    case ExprKind::Column: return name;
    case ExprKind::Negate: return "-" + child(*args[0], p);
    case ExprKind::Not: return "NOT " + child(*args[0], p);
    case ExprKind::Arith:
      return fmt::format("{} {} {}", child(*args[0], p), arithText(arith), child(*args[1], p, true));
    case ExprKind::Concat: return fmt::format("{} || {}", child(*args[0], p), child(*args[1], p, true));
    case ExprKind::Compare:
      return fmt::format("{} {} {}", child(*args[0], p), compareText(cmp), child(*args[1], p, true));
    case ExprKind::And: return fmt::format("{} AND {}", child(*args[0], p), child(*args[1], p, true));
    case ExprKind::Or: return fmt::format("{} OR {}", child(*args[0], p), child(*args[1], p, true));
    case ExprKind::IsNull:
      return fmt::format("{} IS {}NULL", child(*args[0], p), negated ? "NOT " : "");
    case ExprKind::In: {
      std::string list;
      for (size_t i = 1; i < args.size(); ++i) list += (i > 1 ? ", " : "") + args[i]->toSql();
      return fmt::format("{} {}IN ({})", child(*args[0], p), negated ? "NOT " : "", list);
    }
    case ExprKind::Between:
      return fmt::format("{} {}BETWEEN {} AND {}", child(*args[0], p), negated ? "NOT " : "",
                         child(*args[1], p + 1), child(*args[2], p + 1));
    case ExprKind::Like:
      return fmt::format("{} {}LIKE {}", child(*args[0], p), negated ? "NOT " : "",
                         child(*args[1], p, true));
    case ExprKind::Case: {
      std::string out = "CASE";
      size_t i = 0;
      if (hasBase) out += " " + args[i++]->toSql();
      size_t whenEnd = args.size() - (hasElse ? 1 : 0);
      for (; i + 1 < whenEnd + 1 && i < whenEnd; i += 2) {
        out += " WHEN " + args[i]->toSql() + " THEN " + args[i + 1]->toSql();
      }
      if (hasElse) out += " ELSE " + args.back()->toSql();
      return out + " END";
    }
    case ExprKind::Cast:
      return fmt::format("CAST({} AS {})", args[0]->toSql(), castTypeName(castType));
    case ExprKind::Call: {
      if (star) return name + "(*)";
      std::string list;
      for (size_t i = 0; i < args.size(); ++i) list += (i ? ", " : "") + args[i]->toSql();
      return fmt::format("{}({})", name, list);
    }
  }
  return "?";
}

}  // namespace capdb::query
