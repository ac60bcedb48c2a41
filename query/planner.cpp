#include "query/planner.h"

#include <algorithm>
#include <cmath>

#include "query/access_paths.h"
#include "query/explain.h"

namespace capdb::query {
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

}  // namespace

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
  if (result.access.kind == AccessKind::PrimaryKey && !result.access.specs.empty()) {
    bool points = true;
    for (const auto& spec : result.access.specs) {
      points = points && !spec.hasRange() && spec.eq.size() == result.access.keyColumns.size();
      for (const auto& values : spec.eq) {
        for (const Expr* v : values) points = points && v != nullptr;
      }
    }
    result.access.pointLookup = points;
  }
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
