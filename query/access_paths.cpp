#include "query/access_paths.h"

#include <algorithm>
#include <cmath>
#include <optional>

namespace capdb::query {
namespace {

// Constant while one scan runs: no column, or only columns of the tables a join has already
// read (`scope.outer`).
bool isConstant(const Expr& e, const PathScope& scope) {
  if (e.aggregate >= 0) return false;
  if (e.kind == ExprKind::Column) {
    return e.source != scope.source && e.source < 64 && (scope.outer >> e.source & 1) != 0;
  }
  for (const auto& a : e.args) {
    if (!isConstant(*a, scope)) return false;
  }
  return true;
}

bool isColumn(const Expr& e, size_t column, const PathScope& scope) {
  return e.kind == ExprKind::Column && e.column == static_cast<int>(column) &&
         e.source == scope.source;
}

enum class KeyKind : uint8_t { Ordered, EqualityOnly };

// Whether ranges over this column's keys follow SQL's order: enum keys hold ordinals (SQL
// compares names) and Bool keys are not numbers, so those take equalities only.
KeyKind keyKind(const Column& c) {
  if (c.isEnum() || c.path.leafWhich == capnp::schema::Type::BOOL) return KeyKind::EqualityOnly;
  return KeyKind::Ordered;
}

// What one WHERE term says about one key column.
struct TermMatch {
  std::vector<const Expr*> eq;  // non-empty or `isEq`: an equality or IN
  bool isEq = false;
  std::optional<RangeBound> lower, upper;
  const Expr* like = nullptr;
};

// Whether comparing the column with `v` compares as the column's own type: a constant with an
// affinity of its own (a CAST) may convert the column instead, and then no key range holds it.
bool keepsColumnType(const Expr& v, const Column& col) {
  return v.affinity == Affinity::None || v.affinity == col.affinity;
}

std::optional<TermMatch> matchTerm(const Expr& t, size_t column, const Column& col,
                                   const PathScope& scope) {
  TermMatch m;
  bool ordered = keyKind(col) == KeyKind::Ordered;
  switch (t.kind) {
    case ExprKind::Compare: {
      const Expr* c = t.args[0].get();
      const Expr* v = t.args[1].get();
      CompareOp op = t.cmp;
      if (!isColumn(*c, column, scope)) {
        std::swap(c, v);
        switch (op) {
          case CompareOp::Lt: op = CompareOp::Gt; break;
          case CompareOp::Le: op = CompareOp::Ge; break;
          case CompareOp::Gt: op = CompareOp::Lt; break;
          case CompareOp::Ge: op = CompareOp::Le; break;
          default: break;
        }
      }
      if (!isColumn(*c, column, scope) || !isConstant(*v, scope) || !keepsColumnType(*v, col)) return std::nullopt;
      switch (op) {
        case CompareOp::Eq: m.isEq = true; m.eq.push_back(v); return m;
        case CompareOp::Ne: return std::nullopt;
        case CompareOp::Lt: case CompareOp::Le:
          if (!ordered) return std::nullopt;
          m.upper = RangeBound{v, op == CompareOp::Le};
          return m;
        case CompareOp::Gt: case CompareOp::Ge:
          if (!ordered) return std::nullopt;
          m.lower = RangeBound{v, op == CompareOp::Ge};
          return m;
      }
      return std::nullopt;
    }
    case ExprKind::In: {
      if (t.negated || !isColumn(*t.args[0], column, scope)) return std::nullopt;
      for (size_t i = 1; i < t.args.size(); ++i) {
        if (!isConstant(*t.args[i], scope)) return std::nullopt;
        m.eq.push_back(t.args[i].get());
      }
      m.isEq = true;
      return m;
    }
    case ExprKind::IsNull:
      if (t.negated || !isColumn(*t.args[0], column, scope)) return std::nullopt;
      m.isEq = true;
      m.eq.push_back(nullptr);
      return m;
    case ExprKind::Between:
      if (t.negated || !ordered || !isColumn(*t.args[0], column, scope) || !isConstant(*t.args[1], scope) ||
          !isConstant(*t.args[2], scope) || !keepsColumnType(*t.args[1], col) ||
          !keepsColumnType(*t.args[2], col)) {
        return std::nullopt;
      }
      m.lower = RangeBound{t.args[1].get(), true};
      m.upper = RangeBound{t.args[2].get(), true};
      return m;
    case ExprKind::Like:
      if (t.negated || !isColumn(*t.args[0], column, scope) || !isConstant(*t.args[1], scope) ||
          col.path.leafWhich != capnp::schema::Type::TEXT) {
        return std::nullopt;
      }
      m.like = t.args[1].get();
      return m;
    default: return std::nullopt;
  }
}

// Matches a conjunction of terms against key columns: equalities on a prefix, then one range.
// `consumed` receives the terms the spec expresses exactly (LIKE is always rechecked).
std::optional<RangeSpec> matchConjunction(const std::vector<const Expr*>& terms,
                                          const std::vector<size_t>& keyColumns,
                                          const TableColumns& columns,
                                          std::vector<const Expr*>& consumed,
                                          const PathScope& scope) {
  RangeSpec spec;
  for (size_t k = 0; k < keyColumns.size(); ++k) {
    const Column& col = columns[keyColumns[k]];
    const Expr* eqTerm = nullptr;
    std::optional<TermMatch> eq;
    for (const Expr* t : terms) {
      auto m = matchTerm(*t, keyColumns[k], col, scope);
      if (m && m->isEq && (!eq || m->eq.size() < eq->eq.size())) {
        eq = m;
        eqTerm = t;
      }
    }
    if (eq) {
      spec.eq.push_back(eq->eq);
      consumed.push_back(eqTerm);
      continue;
    }
    for (const Expr* t : terms) {
      auto m = matchTerm(*t, keyColumns[k], col, scope);
      if (!m) continue;
      if (m->like) {
        if (!spec.hasRange()) spec.likePattern = m->like;  // rechecked: never consumed
        continue;
      }
      if (spec.likePattern) continue;
      bool lowerFree = m->lower && !spec.lower, upperFree = m->upper && !spec.upper;
      if (lowerFree) spec.lower = m->lower;
      if (upperFree) spec.upper = m->upper;
      // A term whose every bound went into the range is expressed by it.
      if ((lowerFree || !m->lower) && (upperFree || !m->upper) && (lowerFree || upperFree)) {
        consumed.push_back(t);
      }
    }
    break;
  }
  if (spec.eq.empty() && !spec.hasRange()) return std::nullopt;
  return spec;
}

std::optional<int64_t> integerLiteral(const Expr* e) {
  if (e && e->kind == ExprKind::Literal && e->value.type() == Value::Type::Integer) return e->value.integer();
  return std::nullopt;
}

bool integerKey(const Column& c) {
  switch (c.path.keyType) {
    case KeyType::Int8: case KeyType::Int16: case KeyType::Int32: case KeyType::Int64:
    case KeyType::UInt8: case KeyType::UInt16: case KeyType::UInt32: case KeyType::UInt64:
      return !c.isEnum();
    default: return false;
  }
}

double estimateSpec(const RangeSpec& s, const AccessPath& p, const TableColumns& columns,
                    double rows, bool unique) {
  double points = 1;
  for (const auto& values : s.eq) points *= static_cast<double>(std::max<size_t>(values.size(), 1));
  size_t fields = p.kind == AccessKind::PrimaryKey ? p.keyColumns.size() : p.indexFields;
  // NULL may repeat in a unique index: IS NULL is no point there.
  bool nullKey = false;
  for (const auto& values : s.eq) {
    for (const Expr* v : values) nullKey = nullKey || v == nullptr;
  }
  if (s.eq.size() >= fields && (unique || p.kind == AccessKind::PrimaryKey) && !s.hasRange() &&
      !nullKey) {
    return points;
  }
  double per = rows * std::pow(0.1, static_cast<double>(s.eq.size()));
  if (s.lower && s.upper) per *= 0.1;
  else if (s.lower || s.upper) per *= 0.3;
  else if (s.likePattern) per *= 0.1;
  // The last column of a unique integer key between two integer literals holds at most as many
  // rows as integers between them (id BETWEEN 5 AND 8: 4).
  if (s.lower && s.upper && s.eq.size() + 1 == fields && (unique || p.kind == AccessKind::PrimaryKey) &&
      !nullKey && integerKey(columns[p.keyColumns[s.eq.size()]])) {
    auto lo = integerLiteral(s.lower->value), hi = integerLiteral(s.upper->value);
    if (lo && hi) {
      double span = static_cast<double>(*hi) - static_cast<double>(*lo) + 1 -
                    (s.lower->inclusive ? 0 : 1) - (s.upper->inclusive ? 0 : 1);
      per = std::min(per, std::max(span, 0.0));
    }
  }
  return std::max(1.0, points * per);
}

}  // namespace

std::vector<Candidate> accessPaths(const orm::TableCore& table, const TableColumns& columns,
                                   const std::vector<const Expr*>& terms,
                                   const std::vector<bool>& usedColumns, double rows,
                                   bool migrating, const std::vector<bool>& readable,
                                   const PathScope& scope) {
  // Which columns the statement reads, to tell when an index alone can answer.
  std::vector<size_t> used;
  for (size_t c = 0; c < usedColumns.size(); ++c) {
    if (usedColumns[c]) used.push_back(c);
  }

  std::vector<size_t> pkColumns;
  for (const auto& f : table.schema().primaryKey) pkColumns.push_back(*columns.find(f.dotted));

  std::vector<Candidate> candidates;
  Candidate full;
  full.path.kind = AccessKind::FullScan;
  full.path.keyColumns = pkColumns;
  full.path.estimate = rows;
  full.cost = rows;
  candidates.push_back(full);

  auto consider = [&](AccessPath base, bool unique, double fetchCost) {
    // One conjunction of every term.
    {
      AccessPath p = base;
      std::vector<const Expr*> consumed;
      if (auto spec = matchConjunction(terms, p.keyColumns, columns, consumed, scope)) {
        p.specs.push_back(*spec);
        p.consumed = consumed;
        p.estimate = estimateSpec(*spec, p, columns, rows, unique);
        candidates.push_back({p, p.estimate * fetchCost, false});
      }
    }
    // A term that is an OR of sargable conjunctions: a union of ranges.
    for (const Expr* t : terms) {
      if (t->kind != ExprKind::Or) continue;
      std::vector<const Expr*> disjuncts;
      flatten(t, ExprKind::Or, disjuncts);
      AccessPath p = base;
      bool all = true;
      double estimate = 0;
      bool whole = true;  // every disjunct is expressed by its ranges exactly
      for (const Expr* d : disjuncts) {
        std::vector<const Expr*> conj, consumed;
        flatten(d, ExprKind::And, conj);
        auto spec = matchConjunction(conj, p.keyColumns, columns, consumed, scope);
        if (!spec) {
          all = false;
          break;
        }
        whole = whole && consumed.size() == conj.size();
        estimate += estimateSpec(*spec, p, columns, rows, unique);
        p.specs.push_back(*spec);
      }
      if (!all) continue;
      if (whole) p.consumed = {t};
      p.estimate = std::min(estimate, rows);
      candidates.push_back({p, p.estimate * fetchCost, false});
    }
    // The whole key range, for its order.
    AccessPath p = base;
    p.estimate = rows;
    candidates.push_back({p, rows * fetchCost + (base.kind == AccessKind::PrimaryKey ? 0 : 1), false});
  };

  AccessPath pk;
  pk.kind = AccessKind::PrimaryKey;
  pk.keyColumns = pkColumns;
  pk.indexFields = pkColumns.size();
  consider(pk, true, 1.0);
  size_t position = 0;
  for (const auto& ic : table.indexes()) {
    if (!readable[position++]) continue;
    AccessPath p;
    p.kind = AccessKind::Index;
    p.index = &ic;
    for (const auto& f : ic.schema.fields) p.keyColumns.push_back(*columns.find(f.dotted));
    p.indexFields = p.keyColumns.size();
    bool covers = !migrating;
    std::vector<size_t> keyCols = p.keyColumns;
    keyCols.insert(keyCols.end(), pkColumns.begin(), pkColumns.end());
    for (size_t c : used) {
      covers = covers && std::find(keyCols.begin(), keyCols.end(), c) != keyCols.end();
    }
    if (!ic.schema.unique) p.keyColumns = keyCols;
    p.indexOnly = covers;
    // Reading the record behind an index entry costs a second lookup.
    consider(p, ic.schema.unique, covers ? 0.9 : 1.3);
  }
  return candidates;
}

}  // namespace capdb::query
