#include "query/eval.h"

#include <array>

#include <cfloat>
#include <cmath>

#include "engine/fail.h"
#include "query/functions.h"

namespace capdb::query {
namespace {

// SQLite's comparison affinity: a numeric side converts the other (TEXT, BLOB or none); a TEXT
// side converts a side with none. Whether it changes anything for these two values.
bool affinityApplies(Affinity left, Affinity right, const Value& a, const Value& b) {
  auto numeric = [](const Value& v) {
    return v.type() == Value::Type::Integer || v.type() == Value::Type::Real;
  };
  if (left == Affinity::Numeric && right != Affinity::Numeric) return b.type() == Value::Type::Text;
  if (right == Affinity::Numeric && left != Affinity::Numeric) return a.type() == Value::Type::Text;
  if (left == Affinity::Text && right == Affinity::None) return numeric(b);
  if (right == Affinity::Text && left == Affinity::None) return numeric(a);
  return false;
}

void applyComparisonAffinity(Affinity left, Affinity right, Value& a, Value& b) {
  if (left == Affinity::Numeric && right != Affinity::Numeric) {
    b = applyAffinity(b, Affinity::Numeric);
  } else if (right == Affinity::Numeric && left != Affinity::Numeric) {
    a = applyAffinity(a, Affinity::Numeric);
  } else if (left == Affinity::Text && right == Affinity::None) {
    b = applyAffinity(b, Affinity::Text);
  } else if (right == Affinity::Text && left == Affinity::None) {
    a = applyAffinity(a, Affinity::Text);
  }
}

std::optional<bool> compareOp(CompareOp op, const Value& a, const Value& b) {
  if (a.isNull() || b.isNull()) return std::nullopt;
  int c = compare(a, b);
  switch (op) {
    case CompareOp::Eq: return c == 0;
    case CompareOp::Ne: return c != 0;
    case CompareOp::Lt: return c < 0;
    case CompareOp::Le: return c <= 0;
    case CompareOp::Gt: return c > 0;
    case CompareOp::Ge: return c >= 0;
  }
  return std::nullopt;
}

Value fromTruth(std::optional<bool> t) {
  if (!t) return Value();
  return Value(int64_t{*t});
}

std::optional<bool> compareExprs(CompareOp op, const Expr& l, const Expr& r, EvalContext& ctx) {
  Value sa, sb;
  const Value& a = evalRef(l, ctx, sa);
  const Value& b = evalRef(r, ctx, sb);
  if (!affinityApplies(l.affinity, r.affinity, a, b)) return compareOp(op, a, b);
  Value ca = a, cb = b;
  applyComparisonAffinity(l.affinity, r.affinity, ca, cb);
  return compareOp(op, ca, cb);
}

Value integerInRange(const Value& v, CastType type, int64_t lo, int64_t hi) {
  Value i = castInteger(v);
  if (i.isNull()) return i;
  // CAST to a Cap'n Proto integer type truncates like CAST AS INTEGER, then must fit.
  bool fits = true;
  if (v.type() == Value::Type::Real) {
    double d = v.real();
    fits = !std::isnan(d) && d > static_cast<double>(lo) - 1 && d < static_cast<double>(hi) + 1 &&
           d < 9223372036854775808.0 && d >= -9223372036854775808.0;
  }
  int64_t x = i.integer();
  CAPDB_REQUIRE(fits && x >= lo && x <= hi, ErrorCode::InvalidArgument,
                "CAST({} AS {}): {} does not fit {}", v.toSql(), castTypeName(type), v.toSql(),
                castTypeName(type));
  return i;
}

}  // namespace

Value castTo(const Value& v, CastType type) {
  switch (type) {
    case CastType::Integer: return castInteger(v);
    case CastType::Real: case CastType::Float64: return castReal(v);
    case CastType::Text: return castText(v);
    case CastType::Blob: return castBlob(v);
    case CastType::Boolean: {
      if (v.isNull()) return v;
      return Value(int64_t{truth(v).value_or(false)});
    }
    case CastType::Int8: return integerInRange(v, type, INT8_MIN, INT8_MAX);
    case CastType::Int16: return integerInRange(v, type, INT16_MIN, INT16_MAX);
    case CastType::Int32: return integerInRange(v, type, INT32_MIN, INT32_MAX);
    case CastType::Int64: return integerInRange(v, type, INT64_MIN, INT64_MAX);
    case CastType::UInt8: return integerInRange(v, type, 0, UINT8_MAX);
    case CastType::UInt16: return integerInRange(v, type, 0, UINT16_MAX);
    case CastType::UInt32: return integerInRange(v, type, 0, UINT32_MAX);
    case CastType::UInt64: return integerInRange(v, type, 0, INT64_MAX);
    case CastType::Float32: {
      Value r = castReal(v);
      if (r.isNull()) return r;
      double d = r.real();
      CAPDB_REQUIRE(std::isnan(d) || std::isinf(d) || std::fabs(d) <= FLT_MAX,
                    ErrorCode::InvalidArgument, "CAST({} AS Float32): {} does not fit Float32",
                    v.toSql(), v.toSql());
      return Value(static_cast<double>(static_cast<float>(d)));
    }
  }
  return v;
}

bool isTrue(const Expr& e, EvalContext& ctx) {
  if (e.kind == ExprKind::Compare && e.groupKey < 0) {
    return compareExprs(e.cmp, *e.args[0], *e.args[1], ctx).value_or(false);
  }
  if (e.kind == ExprKind::And && e.groupKey < 0) return isTrue(*e.args[0], ctx) && isTrue(*e.args[1], ctx);
  Value scratch;
  return truth(evalRef(e, ctx, scratch)).value_or(false);
}

const Value& evalRef(const Expr& e, EvalContext& ctx, Value& scratch) {
  if (e.groupKey >= 0 && ctx.groupKeys) return (*ctx.groupKeys)[e.groupKey];
  if (e.aggregate >= 0) return (*ctx.aggregates)[e.aggregate];
  switch (e.kind) {
    case ExprKind::Literal: return e.value;
    case ExprKind::Parameter: return (*ctx.params)[e.param];
    case ExprKind::Column: return rowOf(e, ctx).column(e.column);
    default: return scratch = eval(e, ctx);
  }
}

Value eval(const Expr& e, EvalContext& ctx) {
  if (e.groupKey >= 0 && ctx.groupKeys) return (*ctx.groupKeys)[e.groupKey];
  if (e.aggregate >= 0) return (*ctx.aggregates)[e.aggregate];
  switch (e.kind) {
    case ExprKind::Literal: return e.value;
    case ExprKind::Parameter: return (*ctx.params)[e.param];
    case ExprKind::Column: return rowOf(e, ctx).column(e.column);
    case ExprKind::Negate: return negate(eval(*e.args[0], ctx));
    case ExprKind::Not: {
      auto t = truth(eval(*e.args[0], ctx));
      return t ? Value(int64_t{!*t}) : Value();
    }
    case ExprKind::Arith: {
      // Operands read in place when they are columns or literals: no copy of either.
      Value left, right;
      return arithmetic(e.arith, evalRef(*e.args[0], ctx, left), evalRef(*e.args[1], ctx, right));
    }
    case ExprKind::Concat: return concat(eval(*e.args[0], ctx), eval(*e.args[1], ctx));
    case ExprKind::Compare: return fromTruth(compareExprs(e.cmp, *e.args[0], *e.args[1], ctx));
    case ExprKind::And: {
      auto a = truth(eval(*e.args[0], ctx));
      if (a && !*a) return Value(int64_t{0});
      auto b = truth(eval(*e.args[1], ctx));
      if (b && !*b) return Value(int64_t{0});
      if (a && b) return Value(int64_t{1});
      return Value();
    }
    case ExprKind::Or: {
      auto a = truth(eval(*e.args[0], ctx));
      if (a && *a) return Value(int64_t{1});
      auto b = truth(eval(*e.args[1], ctx));
      if (b && *b) return Value(int64_t{1});
      if (a && b) return Value(int64_t{0});
      return Value();
    }
    case ExprKind::IsNull: {
      bool null = eval(*e.args[0], ctx).isNull();
      return Value(int64_t{null != e.negated});
    }
    case ExprKind::In: {
      Value x = eval(*e.args[0], ctx);
      if (x.isNull()) return e.args.size() == 1 ? Value(int64_t{e.negated}) : Value();
      bool sawNull = false;
      for (size_t i = 1; i < e.args.size(); ++i) {
        Value scratch;
        const Value& item = evalRef(*e.args[i], ctx, scratch);
        if (item.isNull()) {
          sawNull = true;
          continue;
        }
        // IN converts the list's values by the left side's affinity only, as SQLite does.
        Affinity left = e.args[0]->affinity;
        int c = (left == Affinity::Numeric || left == Affinity::Text)
                    ? compare(x, applyAffinity(item, left))
                    : compare(x, item);
        if (c == 0) return Value(int64_t{!e.negated});
      }
      if (sawNull) return Value();
      return Value(int64_t{e.negated});
    }
    case ExprKind::Between: {
      auto lo = compareExprs(CompareOp::Ge, *e.args[0], *e.args[1], ctx);
      auto hi = compareExprs(CompareOp::Le, *e.args[0], *e.args[2], ctx);
      std::optional<bool> both;
      if ((lo && !*lo) || (hi && !*hi)) both = false;
      else if (lo && hi) both = true;
      if (both && e.negated) both = !*both;
      return fromTruth(both);
    }
    case ExprKind::Like: {
      Value r = like(eval(*e.args[0], ctx), eval(*e.args[1], ctx));
      if (r.isNull() || !e.negated) return r;
      return Value(int64_t{r.integer() == 0});
    }
    case ExprKind::Case: {
      size_t i = 0;
      Value base;
      if (e.hasBase) base = eval(*e.args[i++], ctx);
      size_t whenEnd = e.args.size() - (e.hasElse ? 1 : 0);
      for (; i + 1 < whenEnd + 1 && i < whenEnd; i += 2) {
        if (e.hasBase) {
          Value a = base, b = eval(*e.args[i], ctx);
          applyComparisonAffinity(e.args[0]->affinity, e.args[i]->affinity, a, b);
          if (compareOp(CompareOp::Eq, a, b).value_or(false)) return eval(*e.args[i + 1], ctx);
        } else if (isTrue(*e.args[i], ctx)) {
          return eval(*e.args[i + 1], ctx);
        }
      }
      if (e.hasElse) return eval(*e.args.back(), ctx);
      return Value();
    }
    case ExprKind::Cast: return castTo(eval(*e.args[0], ctx), e.castType);
    case ExprKind::Call: {
      // Scalar functions evaluate every argument (coalesce included: they have no side effects).
      // A few arguments go on the stack: a call per row allocates nothing.
      constexpr size_t kInline = 4;
      if (e.args.size() <= kInline) {
        std::array<Value, kInline> args;
        for (size_t i = 0; i < e.args.size(); ++i) args[i] = eval(*e.args[i], ctx);
        return e.function->fn(std::span<const Value>(args.data(), e.args.size()));
      }
      std::vector<Value> args;
      args.reserve(e.args.size());
      for (const auto& a : e.args) args.push_back(eval(*a, ctx));
      return e.function->fn(args);
    }
  }
  return Value();
}

}  // namespace capdb::query
