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

}  // namespace

std::string explainText(const Plan& plan, const BoundStatement& st, const std::string& tableName,
                        const TableColumns& columns) {
  const AccessPath& a = plan.access;
  const BoundSelect& sel = st.select;
  std::string text;
  bool backward = a.direction == engine::Direction::Backward;
  switch (a.kind) {
    case AccessKind::CountAll: text = fmt::format("COUNT {}", tableName); break;
    case AccessKind::FullScan:
      text = fmt::format("FULL SCAN {}{}", tableName, backward ? " BACKWARD" : "");
      break;
    case AccessKind::PrimaryKey:
      text = fmt::format("PRIMARY KEY SCAN {} ({}){}", tableName, keyColumnsText(a, columns),
                         backward ? " BACKWARD" : "");
      break;
    case AccessKind::Index:
      text = fmt::format("{} {}.{}{}", a.indexOnly ? "INDEX ONLY SCAN" : "INDEX SCAN", tableName,
                         a.index->schema.name, backward ? " BACKWARD" : "");
      break;
  }
  if (a.kind != AccessKind::CountAll) {
    std::string ranges;
    for (size_t i = 0; i < a.consumed.size(); ++i) ranges += (i ? " AND " : "") + a.consumed[i]->toSql();
    bool likeOnly = false;
    for (const auto& s : a.specs) likeOnly = likeOnly || s.likePattern;
    if (ranges.empty() && likeOnly) {
      for (const auto& s : a.specs) {
        if (s.likePattern) ranges = "LIKE prefix of " + s.likePattern->toSql();
      }
    }
    if (!ranges.empty()) text += " (" + ranges + ")";
    text += fmt::format(" est. {} rows", static_cast<uint64_t>(std::llround(a.estimate)));
  }
  if (!plan.residual.empty()) {
    std::string f;
    for (size_t i = 0; i < plan.residual.size(); ++i) f += (i ? " AND " : "") + plan.residual[i]->toSql();
    text += " -> FILTER " + f;
  }
  if (st.kind == StatementKind::Select) {
    if (sel.aggregateQuery && a.kind != AccessKind::CountAll) {
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

}  // namespace capdb::query
