#include "query/planner.h"

#include <algorithm>
#include <cmath>
#include <map>

#include "engine/fail.h"

#include "query/access_paths.h"
#include "query/explain.h"

namespace capdb::query {

uint64_t sourcesOf(const Expr& e) {
  uint64_t mask = e.kind == ExprKind::Column ? uint64_t{1} << e.source : 0;
  for (const auto& a : e.args) mask |= sourcesOf(*a);
  return mask;
}

namespace {

// Whether the path's key order gives the ORDER BY, and in which direction.
std::optional<engine::Direction> orderServed(const AccessPath& p, const BoundSelect& sel,
                                             const TableColumns& columns) {
  if (sel.orderBy.empty() || sel.aggregateQuery) return std::nullopt;
  size_t start = 0;
  if (p.specs.size() == 1) {
    while (start < p.specs[0].eq.size() && p.specs[0].eq[start].size() == 1) ++start;
  }
  std::optional<bool> desc;
  size_t pos = start;
  for (const auto& key : sel.orderBy) {
    if (key.expr->kind != ExprKind::Column) return std::nullopt;
    size_t c = static_cast<size_t>(key.expr->column);
    if (columns[c].isEnum()) return std::nullopt;
    bool fixed = false;
    for (size_t i = 0; i < start; ++i) fixed = fixed || p.keyColumns[i] == c;
    if (fixed) continue;
    if (pos >= p.keyColumns.size() || p.keyColumns[pos] != c) return std::nullopt;
    if (desc && *desc != key.desc) return std::nullopt;
    desc = key.desc;
    ++pos;
  }
  return desc.value_or(false) ? engine::Direction::Backward : engine::Direction::Forward;
}

std::optional<int64_t> literalInt(const Expr* e) {
  if (e && e->kind == ExprKind::Literal && e->value.type() == Value::Type::Integer) {
    return e->value.integer();
  }
  return std::nullopt;
}

// Whether the scan may stop once LIMIT is reached: nothing (aggregation, DISTINCT) needs the rows
// past it.
bool canStopEarly(const BoundSelect& sel) { return !sel.aggregateQuery && !sel.distinct; }

// The candidate to take: the cheapest once ORDER BY and LIMIT are counted (a path in the right
// order needs no sort and stops at the limit), a path that serves the order winning a tie. Marks
// the candidates that serve the order. `terms` is the number of WHERE terms.
const Candidate& choosePath(std::vector<Candidate>& candidates, const BoundSelect& sel,
                            const TableColumns& columns, size_t terms) {
  double limitRows = -1;
  if (sel.limit) {
    auto l = literalInt(sel.limit);
    auto o = sel.offset ? literalInt(sel.offset) : std::optional<int64_t>(0);
    limitRows = (l && o) ? (*l < 0 ? -1 : static_cast<double>(*l) + static_cast<double>(std::max<int64_t>(*o, 0)))
                         : 100;
  }
  for (auto& c : candidates) {
    if (sel.orderBy.empty()) continue;
    auto dir = c.path.kind == AccessKind::FullScan ? std::nullopt : orderServed(c.path, sel, columns);
    if (dir) {
      c.servesOrder = true;
      c.path.direction = *dir;
      if (canStopEarly(sel) && limitRows >= 0) {
        // Rows read before LIMIT is reached grow with each WHERE term the ranges leave to the
        // filter (each guessed to keep a third of the rows).
        size_t residual = terms - std::min(terms, c.path.consumed.size());
        c.cost = std::min(c.cost, limitRows * 4 * std::pow(3.0, static_cast<double>(residual)));
      }
    } else {
      c.cost += c.path.estimate * 0.2;  // the sort
    }
  }

  const Candidate* best = &candidates[0];
  for (const auto& c : candidates) {
    if (c.cost < best->cost || (c.cost == best->cost && c.servesOrder && !best->servesOrder)) best = &c;
  }
  return *best;
}

// Whether every spec of a primary-key path fixes the whole key: the records are read by key.
void markPointLookup(AccessPath& path) {
  if (path.kind != AccessKind::PrimaryKey || path.specs.empty()) return;
  bool points = true;
  for (const auto& spec : path.specs) {
    points = points && !spec.hasRange() && spec.eq.size() == path.keyColumns.size();
    for (const auto& values : spec.eq) {
      for (const Expr* v : values) points = points && v != nullptr;
    }
  }
  path.pointLookup = points;
}

bool contains(const std::vector<const Expr*>& v, const Expr* e) {
  return std::find(v.begin(), v.end(), e) != v.end();
}

// A join's planning state: the tables read so far, in order, and what reading them costs.
struct JoinState {
  double cost = 0;
  double rows = 1;
  bool servesOrder = false;
  std::vector<JoinStep> steps;
};

class JoinPlanner {
 public:
  JoinPlanner(const BoundStatement& st, const std::vector<JoinTable>& tables, uint64_t snapshot)
      : st_(st), tables_(tables) {
    // Under a FULL JOIN the first table may be NULL too: a WHERE term on it is checked after
    // the second table's NULL row, never while the first table is read.
    bool full = st.sources.size() > 1 && st.sources[1].full;
    for (const Expr* t : st.joinTerms) {
      uint64_t m = sourcesOf(*t);
      // A term that reads no table is checked there too, so that it holds for the unmatched
      // rows of the second table as well.
      masks_[t] = full && ((m & 1) != 0 || m == 0) ? m | 2 : m;
    }
    for (const auto& src : st.sources) {
      for (const Expr* t : src.on) masks_[t] = sourcesOf(*t);
    }
    for (const auto& t : tables) {
      std::vector<bool> ready;
      for (const auto& ic : t.table->indexes()) ready.push_back(ic.readyAt(snapshot));
      readable_.push_back(std::move(ready));
    }
    // ORDER BY can be served by the first table's order only if it reads that table alone.
    orderSource_ = -1;
    const BoundSelect& sel = st.select;
    // A FULL JOIN's unmatched rows come last, whatever the first table's order.
    if (!sel.orderBy.empty() && !sel.aggregateQuery && !full) {
      int source = -2;
      for (const auto& k : sel.orderBy) {
        int s = k.expr->kind == ExprKind::Column ? k.expr->source : -1;
        source = (source == -2 || source == s) ? s : -1;
      }
      orderSource_ = source;
    }
  }

  // Whether `source` may be read after the tables in `placed`: an outer join's table that may
  // be NULL only after the tables it needs (its ON reads them, and it must never drive).
  bool placeable(size_t source, uint64_t placed) const {
    if ((placed >> source & 1) != 0) return false;
    uint64_t needs = st_.sources[source].needs;
    return (placed & needs) == needs;
  }

  // `state` followed by reading `source`.
  JoinState extend(const JoinState& state, uint64_t placed, size_t source) const {
    JoinStep step;
    step.source = static_cast<int>(source);
    step.left = st_.sources[source].left;
    step.full = st_.sources[source].full;
    step.tableRows = tables_[source].rows;
    step.indexReady = readable_[source];
    uint64_t bit = uint64_t{1} << source;
    bool first = placed == 0;
    // The terms checked here: a LEFT JOIN's ON; otherwise every WHERE or inner ON term whose
    // last table is this one (a constant term on the first table). WHERE terms that read a
    // LEFT JOIN's table are checked after its NULL row.
    std::vector<const Expr*> others;
    for (const Expr* t : st_.joinTerms) {
      uint64_t m = masks_.at(t);
      bool here = (m & ~(placed | bit)) == 0 && ((m & bit) != 0 || (first && m == 0));
      if (here) others.push_back(t);
    }
    if (step.left) {
      step.terms = st_.sources[source].on;
      step.after = others;
    } else {
      step.terms = others;
    }

    const orm::TableCore& table = *tables_[source].table;
    const TableColumns& columns = *st_.sources[source].columns;
    double rows = static_cast<double>(std::max<uint64_t>(tables_[source].rows, 1));
    bool migrating = tables_[source].oldRecords > 0;
    BoundSelect noOrder;
    BoundSelect ordered;
    const BoundSelect* sel = &noOrder;
    if (first && orderSource_ == static_cast<int>(source)) {
      ordered.orderBy = st_.select.orderBy;
      ordered.limit = st_.select.limit;
      ordered.offset = st_.select.offset;
      ordered.distinct = st_.select.distinct;
      ordered.aggregateQuery = st_.select.aggregateQuery;
      sel = &ordered;
    }
    const std::vector<bool>& used = st_.sources[source].used;
    auto best = [&](uint64_t outer, bool needOuter) -> std::optional<Candidate> {
      std::vector<Candidate> cands = accessPaths(table, columns, step.terms, used, rows, migrating,
                                                 readable_[source],
                                                 PathScope{static_cast<int>(source), outer});
      std::vector<Candidate> keep;
      for (auto& c : cands) {
        bool readsOuter = false;
        for (const Expr* t : c.path.consumed) readsOuter = readsOuter || (masks(t) & ~bit) != 0;
        if (readsOuter != needOuter) continue;
        if (needOuter) keyedEstimate(c, bit);
        keep.push_back(std::move(c));
      }
      if (keep.empty()) return std::nullopt;
      size_t own = 0;
      for (const Expr* t : step.terms) own += (masks(t) & ~bit) == 0 ? 1 : 0;
      return choosePath(keep, *sel, columns, needOuter ? step.terms.size() : own);
    };
    // What is left after the path, each guessed to keep a third of the rows (an equality with an
    // outer column a tenth).
    auto perRow = [&](const AccessPath& path, const std::vector<HashKey>& keys) {
      double r = path.estimate;
      for (const Expr* t : step.terms) {
        if (contains(path.consumed, t)) continue;
        r *= isHashKeyTerm(t, keys) ? 0.1 : 1.0 / 3;
      }
      for (size_t i = 0; i < step.after.size(); ++i) r *= 1.0 / 3;
      return r;
    };

    JoinState next = state;
    if (first) {
      auto c = best(0, false);
      step.method = JoinMethod::Drive;
      step.access = c->path;
      next.cost = c->cost;
      next.servesOrder = c->servesOrder;
      step.rows = std::max(perRow(step.access, {}), step.left ? 1.0 : 0.0);
      // In ORDER BY's order under a LIMIT, the scan stops early: it reads about as many rows as
      // choosePath costed it at.
      if (c->servesOrder && sel->limit != nullptr && canStopEarly(*sel)) {
        step.rows = std::min(step.rows, c->cost);
      }
    } else {
      double outerRows = state.rows;
      auto lookup = best(placed, true);
      auto own = best(0, false);
      std::vector<HashKey> keys = hashKeys(step.terms, bit, placed);
      double lookupCost = lookup ? outerRows * lookup->cost : HUGE_VAL;
      // Keeping a row in memory costs about three reads of it.
      double hashCost = keys.empty() ? HUGE_VAL : own->cost + own->path.estimate * 3 + outerRows;
      double loopCost = outerRows * own->cost;
      if (lookupCost <= hashCost && lookupCost <= loopCost) {
        step.method = JoinMethod::IndexLookup;
        step.access = lookup->path;
        next.cost += lookupCost;
      } else if (hashCost <= loopCost) {
        step.method = JoinMethod::Hash;
        step.access = own->path;
        step.hashKeys = keys;
        next.cost += hashCost;
      } else {
        step.method = JoinMethod::NestedLoop;
        step.access = own->path;
        next.cost += loopCost;
      }
      step.rows = perRow(step.access, step.hashKeys);
    }
    if (step.left) step.rows = std::max(step.rows, 1.0);
    markPointLookup(step.access);
    for (const Expr* t : step.terms) {
      if (!contains(step.access.consumed, t)) step.residual.push_back(t);
    }
    next.rows = state.rows * step.rows;
    next.steps.push_back(std::move(step));
    return next;
  }

  Plan run() {
    size_t n = st_.sources.size();
    JoinState best;
    if (n <= 10) {
      // Every order: the cheapest way to read each set of tables, extended one table at a time.
      std::vector<std::optional<JoinState>> dp(size_t{1} << n);
      dp[0] = JoinState{};
      for (uint64_t placed = 0; placed < dp.size(); ++placed) {
        if (!dp[placed]) continue;
        for (size_t s = 0; s < n; ++s) {
          if (!placeable(s, placed)) continue;
          JoinState next = extend(*dp[placed], placed, s);
          auto& slot = dp[placed | uint64_t{1} << s];
          if (!slot || better(next, *slot)) slot = std::move(next);
        }
      }
      best = std::move(*dp.back());
    } else {
      uint64_t placed = 0;
      for (size_t k = 0; k < n; ++k) {
        std::optional<JoinState> pick;
        size_t chosen = 0;
        for (size_t s = 0; s < n; ++s) {
          if (!placeable(s, placed)) continue;
          JoinState next = extend(best, placed, s);
          if (!pick || better(next, *pick)) {
            pick = std::move(next);
            chosen = s;
          }
        }
        best = std::move(*pick);
        placed |= uint64_t{1} << chosen;
      }
    }
    Plan result;
    result.steps = std::move(best.steps);
    const BoundSelect& sel = st_.select;
    result.sortNeeded = !sel.orderBy.empty() && (!best.servesOrder || sel.aggregateQuery);
    result.limitPushed = canStopEarly(sel) && !result.sortNeeded && sel.limit != nullptr;
    const JoinStep& driver = result.steps.front();
    result.access = driver.access;
    result.tableRows = driver.tableRows;
    return result;
  }

 private:
  uint64_t masks(const Expr* t) const {
    auto it = masks_.find(t);
    return it == masks_.end() ? sourcesOf(*t) : it->second;
  }

  // Whether `e` is a column that holds each value once in its table: a primary key of one
  // column, or a unique index's only field.
  bool uniqueColumn(const Expr& e) const {
    if (e.kind != ExprKind::Column) return false;
    const auto& source = st_.sources[static_cast<size_t>(e.source)];
    const orm::TableCore& table = *tables_[static_cast<size_t>(e.source)].table;
    auto is = [&](const std::string& dotted) {
      auto c = source.columns->find(dotted);
      return c && *c == static_cast<size_t>(e.column);
    };
    const auto& pk = table.schema().primaryKey;
    if (pk.size() == 1 && is(pk[0].dotted)) return true;
    for (const auto& ic : table.indexes()) {
      if (ic.schema.unique && ic.schema.fields.size() == 1 && is(ic.schema.fields[0].dotted)) {
        return true;
      }
    }
    return false;
  }

  // A lookup keyed by an outer table's unique column (a foreign key's usual shape) matches about
  // rows / (that table's rows) rows, not the tenth a constant's equality is guessed to keep.
  void keyedEstimate(Candidate& c, uint64_t bit) const {
    double rows = c.path.estimate;
    bool changed = false;
    for (const Expr* t : c.path.consumed) {
      if (t->kind != ExprKind::Compare || t->cmp != CompareOp::Eq) continue;
      const Expr* a = t->args[0].get();
      const Expr* b = t->args[1].get();
      const Expr* outer = (sourcesOf(*a) & bit) != 0 ? b : a;
      if (!uniqueColumn(*outer)) continue;
      double outerRows = static_cast<double>(
          std::max<uint64_t>(tables_[static_cast<size_t>(outer->source)].rows, 1));
      rows = rows / 0.1 / outerRows;
      changed = true;
    }
    if (!changed || rows >= c.path.estimate) return;
    rows = std::max(rows, 1.0);
    c.cost = c.cost * rows / c.path.estimate;
    c.path.estimate = rows;
  }

  static bool better(const JoinState& a, const JoinState& b) {
    if (a.cost != b.cost) return a.cost < b.cost;
    return a.servesOrder && !b.servesOrder;
  }

  // The affinity SQLite's comparison converts a side of affinity `self` to, facing `other`
  // (None: it stays as it is). docs/sql.md, Comparisons.
  static Affinity convertedAs(Affinity self, Affinity other) {
    if (other == Affinity::Numeric && self != Affinity::Numeric) return Affinity::Numeric;
    if (other == Affinity::Text && self == Affinity::None) return Affinity::Text;
    return Affinity::None;
  }

  // Equalities between an expression of this table alone and one of the tables before it.
  std::vector<HashKey> hashKeys(const std::vector<const Expr*>& terms, uint64_t bit,
                                uint64_t placed) const {
    std::vector<HashKey> keys;
    for (const Expr* t : terms) {
      if (t->kind != ExprKind::Compare || t->cmp != CompareOp::Eq) continue;
      const Expr* a = t->args[0].get();
      const Expr* b = t->args[1].get();
      uint64_t ma = sourcesOf(*a), mb = sourcesOf(*b);
      if (mb == bit && ma != 0 && (ma & placed) == ma) {
        std::swap(a, b);
        std::swap(ma, mb);
      }
      if (ma != bit || mb == 0 || (mb & placed) != mb) continue;
      if (a->aggregate >= 0 || b->aggregate >= 0) continue;
      keys.push_back({a, b, convertedAs(a->affinity, b->affinity), convertedAs(b->affinity, a->affinity)});
    }
    return keys;
  }

  const BoundStatement& st_;
  const std::vector<JoinTable>& tables_;
  std::map<const Expr*, uint64_t> masks_;
  std::vector<std::vector<bool>> readable_;
  int orderSource_ = -1;
};

}  // namespace

bool isHashKeyTerm(const Expr* t, const std::vector<HashKey>& keys) {
  if (t->kind != ExprKind::Compare || t->cmp != CompareOp::Eq) return false;
  for (const auto& k : keys) {
    if ((t->args[0].get() == k.inner && t->args[1].get() == k.outer) ||
        (t->args[1].get() == k.inner && t->args[0].get() == k.outer)) {
      return true;
    }
  }
  return false;
}

void flatten(const Expr* e, ExprKind kind, std::vector<const Expr*>& out) {
  if (!e) return;
  if (e->kind == kind) {
    flatten(e->args[0].get(), kind, out);
    flatten(e->args[1].get(), kind, out);
  } else {
    out.push_back(e);
  }
}

Plan plan(const BoundStatement& st, const orm::TableCore& table, const TableColumns& columns,
          uint64_t tableRows, uint64_t oldRecords, uint64_t snapshot) {
  Plan result;
  result.tableRows = tableRows;
  for (const auto& ic : table.indexes()) result.indexReady.push_back(ic.readyAt(snapshot));
  const BoundSelect& sel = st.select;
  double rows = static_cast<double>(std::max<uint64_t>(tableRows, 1));

  std::vector<const Expr*> terms;
  flatten(sel.where, ExprKind::And, terms);
  std::vector<Candidate> candidates =
      accessPaths(table, columns, terms, st.usedColumns, rows, oldRecords > 0, result.indexReady);
  const Candidate* best = &choosePath(candidates, sel, columns, terms.size());

  // count(*) of a whole table: the count LMDB keeps.
  bool countAll = st.kind == StatementKind::Select && sel.aggregateQuery && !sel.where &&
                  sel.groupBy.empty() && !sel.having && sel.aggregates.size() == 1 &&
                  sel.aggregates[0]->aggregateKind == AggregateKind::CountStar;

  result.access = best->path;
  markPointLookup(result.access);
  if (countAll) {
    result.access = AccessPath{};
    result.access.kind = AccessKind::CountAll;
    result.access.estimate = 1;
  }
  result.sortNeeded = !sel.orderBy.empty() && !best->servesOrder;
  if (sel.aggregateQuery && !sel.orderBy.empty()) result.sortNeeded = true;
  result.limitPushed = canStopEarly(sel) && !result.sortNeeded && sel.limit != nullptr;
  for (const Expr* t : terms) {
    bool done = std::find(result.access.consumed.begin(), result.access.consumed.end(), t) !=
                result.access.consumed.end();
    if (!done) result.residual.push_back(t);
  }

  result.text = explainText(result, st, table.schema().name, columns);
  return result;
}

Plan planJoin(const BoundStatement& st, const std::vector<JoinTable>& tables, uint64_t snapshot) {
  Plan result = JoinPlanner(st, tables, snapshot).run();
  result.text = explainJoin(result, st);
  return result;
}

bool stale(const Plan& p, const orm::TableCore& table, uint64_t tableRows, uint64_t snapshot) {
  size_t i = 0;
  for (const auto& ic : table.indexes()) {
    if (i >= p.indexReady.size() || p.indexReady[i] != ic.readyAt(snapshot)) return true;
    ++i;
  }
  uint64_t then = std::max<uint64_t>(p.tableRows, 16), now = std::max<uint64_t>(tableRows, 16);
  return now > then * 4 || then > now * 4;
}

}  // namespace capdb::query
