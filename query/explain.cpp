#include "query/explain.h"

#include <fmt/format.h>

#include <cmath>

namespace capdb::query {
namespace {

std::string keyColumnsText(const AccessPath& p, const TableColumns& columns) {
  std::string out;
  for (size_t i = 0; i < p.keyColumns.size(); ++i) out += (i ? ", " : "") + columns[p.keyColumns[i]].name;
  return out;
}

// The WHERE terms the ranges express, or the LIKE prefix they use.
std::string rangesText(const AccessPath& a) {
  std::string ranges;
  for (size_t i = 0; i < a.consumed.size(); ++i) ranges += (i ? " AND " : "") + a.consumed[i]->toSql();
  if (ranges.empty()) {
    for (const auto& s : a.specs) {
      if (s.likePattern) ranges = "LIKE prefix of " + s.likePattern->toSql();
    }
  }
  return ranges;
}

// The access path as EXPLAIN names it: "INDEX SCAN people.by_age (age > 3) est. 10 rows".
std::string accessText(const AccessPath& a, const std::string& tableName,
                       const TableColumns& columns, const std::string& alias = {}) {
  std::string text;
  std::string as = alias.empty() ? "" : " AS " + alias;
  bool backward = a.direction == engine::Direction::Backward;
  switch (a.kind) {
    case AccessKind::CountAll: return fmt::format("COUNT {}", tableName);
    case AccessKind::FullScan:
      text = fmt::format("FULL SCAN {}{}{}", tableName, as, backward ? " BACKWARD" : "");
      break;
    case AccessKind::PrimaryKey:
      text = fmt::format("PRIMARY KEY SCAN {}{} ({}){}", tableName, as, keyColumnsText(a, columns),
                         backward ? " BACKWARD" : "");
      break;
    case AccessKind::Index:
      text = fmt::format("{} {}.{}{}{}", a.indexOnly ? "INDEX ONLY SCAN" : "INDEX SCAN", tableName,
                         a.index->schema.name, as, backward ? " BACKWARD" : "");
      break;
  }
  std::string ranges = rangesText(a);
  if (!ranges.empty()) text += " (" + ranges + ")";
  text += fmt::format(" est. {} rows", static_cast<uint64_t>(std::llround(a.estimate)));
  return text;
}

std::string termsText(const std::vector<const Expr*>& terms) {
  std::string f;
  for (size_t i = 0; i < terms.size(); ++i) f += (i ? " AND " : "") + terms[i]->toSql();
  return f;
}

// What happens to the rows after they are read: aggregation, HAVING, DISTINCT, sorting, OFFSET
// and LIMIT, or the write.
std::string tailText(const Plan& plan, const BoundStatement& st, const std::string& tableName) {
  const BoundSelect& sel = st.select;
  std::string text;
  if (st.kind == StatementKind::Select) {
    if (sel.aggregateQuery && plan.access.kind != AccessKind::CountAll) {
      text += " -> AGGREGATE";
      for (size_t i = 0; i < sel.groupBy.size(); ++i) {
        text += (i ? ", " : " GROUP BY ") + sel.groupBy[i]->toSql();
      }
    }
    if (sel.having) text += " -> HAVING " + sel.having->toSql();
    if (sel.distinct) text += " -> DISTINCT";
    if (plan.sortNeeded) {
      text += " -> SORT ";
      for (size_t i = 0; i < sel.orderBy.size(); ++i) {
        text += (i ? ", " : "") + sel.orderBy[i].expr->toSql() + (sel.orderBy[i].desc ? " DESC" : "");
      }
    }
    if (sel.offset) text += " -> OFFSET " + sel.offset->toSql();
    if (sel.limit) text += " -> LIMIT " + sel.limit->toSql();
  } else if (st.kind == StatementKind::Update) {
    text += " -> UPDATE " + tableName;
  } else if (st.kind == StatementKind::Delete) {
    text += " -> DELETE " + tableName;
  }
  return text;
}

}  // namespace

std::string explainText(const Plan& plan, const BoundStatement& st, const std::string& tableName,
                        const TableColumns& columns) {
  std::string text = accessText(plan.access, tableName, columns);
  if (!plan.residual.empty()) text += " -> FILTER " + termsText(plan.residual);
  return text + tailText(plan, st, tableName);
}

std::string explainJoin(const Plan& plan, const BoundStatement& st) {
  std::string text;
  for (const JoinStep& step : plan.steps) {
    const BoundSource& src = st.sources[static_cast<size_t>(step.source)];
    const std::string& table = src.columns->table();
    std::string alias = equalsIgnoreCase(src.name, table) ? "" : src.name;
    std::string named = alias.empty() ? table : table + " AS " + alias;
    std::string left = step.full ? "FULL " : step.left ? "LEFT " : "";
    const AccessPath& a = step.access;
    switch (step.method) {
      case JoinMethod::Drive: text += accessText(a, table, *src.columns, alias); break;
      case JoinMethod::IndexLookup: {
        std::string by = a.kind == AccessKind::PrimaryKey
                             ? fmt::format("PRIMARY KEY ({})", keyColumnsText(a, *src.columns))
                             : fmt::format("{} {}.{}", a.indexOnly ? "INDEX ONLY" : "INDEX", table,
                                           a.index->schema.name);
        text += fmt::format(" -> {}INDEX NESTED LOOP {} BY {} ({}) est. {} rows", left, named, by,
                            rangesText(a), static_cast<uint64_t>(std::llround(step.rows)));
        break;
      }
      case JoinMethod::Hash: {
        std::vector<const Expr*> keys;
        for (const Expr* t : step.terms) {
          if (isHashKeyTerm(t, step.hashKeys)) keys.push_back(t);
        }
        text += fmt::format(" -> {}HASH JOIN {} ON ({}) BUILT FROM {}", left, named,
                            termsText(keys), accessText(a, table, *src.columns, alias));
        break;
      }
      case JoinMethod::NestedLoop:
        text += fmt::format(" -> {}NESTED LOOP {} (every pair checked) OVER {}", left, named,
                            accessText(a, table, *src.columns, alias));
        break;
    }
    std::vector<const Expr*> filter;
    for (const Expr* t : step.residual) {
      if (!isHashKeyTerm(t, step.hashKeys)) filter.push_back(t);
    }
    if (!filter.empty()) text += " -> FILTER " + termsText(filter);
    if (!step.after.empty()) text += " -> FILTER " + termsText(step.after);
  }
  return text + tailText(plan, st, "");
}

}  // namespace capdb::query
