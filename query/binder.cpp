#include "query/binder.h"

#include <fmt/format.h>

#include "engine/fail.h"
#include "query/functions.h"

namespace capdb::query {
namespace {

enum class Mode : uint8_t { Row, Group, Constant };

std::string lowerName(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

std::optional<AggregateKind> aggregateOf(const Expr& call) {
  std::string n = lowerName(call.name);
  if (n == "count") return call.star ? AggregateKind::CountStar : AggregateKind::Count;
  if (call.args.size() != 1) return std::nullopt;  // min/max with 2+ args are scalar
  if (n == "sum") return AggregateKind::Sum;
  if (n == "avg") return AggregateKind::Avg;
  if (n == "min") return AggregateKind::Min;
  if (n == "max") return AggregateKind::Max;
  return std::nullopt;
}

bool containsAggregate(const Expr& e) {
  if (e.kind == ExprKind::Call && aggregateOf(e)) return true;
  for (const auto& a : e.args) {
    if (containsAggregate(*a)) return true;
  }
  return false;
}

Affinity castAffinity(CastType t) {
  switch (t) {
    case CastType::Text: return Affinity::Text;
    case CastType::Blob: return Affinity::None;
    default: return Affinity::Numeric;
  }
}

class Binder {
 public:
  Binder(const TableColumns* columns, BoundStatement& out) : columns_(columns), out_(out) {
    if (columns_) out_.usedColumns.assign(columns_->size(), false);
  }

  void bind(Expr& e, Mode mode, std::string_view where) {
    if (mode == Mode::Group) {
      for (size_t i = 0; i < out_.select.groupBy.size(); ++i) {
        if (e.kind != ExprKind::Literal && e.kind != ExprKind::Parameter &&
            groupText_[i] == canonical(e)) {
          bindRowTree(e, where);
          e.groupKey = static_cast<int>(i);
          return;
        }
      }
    }
    switch (e.kind) {
      case ExprKind::Literal: return;
      case ExprKind::Parameter: e.param = paramSlot(e.name); return;
      case ExprKind::Column: {
        CAPDB_REQUIRE(mode != Mode::Constant && columns_ != nullptr, ErrorCode::InvalidArgument,
                      "line {}, column {}: {} cannot read a column ('{}')", e.line, e.col, where,
                      e.name);
        size_t c = columns_->resolve(e.name);
        CAPDB_REQUIRE(mode != Mode::Group, ErrorCode::InvalidArgument,
                      "column {} must appear in GROUP BY or be used in an aggregate",
                      (*columns_)[c].name);
        e.column = static_cast<int>(c);
        e.name = (*columns_)[c].name;
        e.affinity = (*columns_)[c].affinity;
        out_.usedColumns[c] = true;
        return;
      }
      case ExprKind::Call: {
        if (auto kind = aggregateOf(e)) {
          CAPDB_REQUIRE(mode == Mode::Group, ErrorCode::InvalidArgument,
                        "line {}, column {}: aggregate {}() is not allowed in {}", e.line, e.col,
                        lowerName(e.name), where);
          for (auto& a : e.args) {
            CAPDB_REQUIRE(!containsAggregate(*a), ErrorCode::InvalidArgument,
                          "line {}, column {}: aggregate {}() inside another aggregate", e.line,
                          e.col, lowerName(e.name));
            bind(*a, Mode::Row, where);
          }
          CAPDB_REQUIRE(e.star || e.args.size() == 1, ErrorCode::InvalidArgument,
                        "{}() takes one argument", lowerName(e.name));
          e.aggregateKind = *kind;
          e.aggregate = static_cast<int>(out_.select.aggregates.size());
          out_.select.aggregates.push_back(&e);
          return;
        }
        CAPDB_REQUIRE(!e.star, ErrorCode::InvalidArgument, "line {}, column {}: {}(*) is not a function",
                      e.line, e.col, e.name);
        std::string lower = lowerName(e.name);
        CAPDB_REQUIRE(lower != "sum" && lower != "avg" && lower != "count", ErrorCode::InvalidArgument,
                      "line {}, column {}: {}() takes one argument", e.line, e.col, lower);
        CAPDB_REQUIRE((lower != "min" && lower != "max") || !e.args.empty(), ErrorCode::InvalidArgument,
                      "line {}, column {}: {}() takes one argument (the aggregate) or two or more",
                      e.line, e.col, lower);
        const FunctionInfo* f = findFunction(e.name);
        if (f == nullptr) {
          std::vector<std::string> names;
          for (auto n : functionNames()) names.emplace_back(n);
          for (auto n : {"count", "sum", "avg"}) names.emplace_back(n);
          fail(ErrorCode::InvalidArgument, "line {}, column {}: no function {}(){}", e.line, e.col,
               e.name, didYouMean(e.name, names));
        }
        int n = static_cast<int>(e.args.size());
        CAPDB_REQUIRE(n >= f->minArgs && (f->maxArgs < 0 || n <= f->maxArgs),
                      ErrorCode::InvalidArgument, "line {}, column {}: {}() takes {} arguments, not {}",
                      e.line, e.col, f->name, arity(*f), n);
        e.function = f;
        for (auto& a : e.args) bind(*a, mode, where);
        return;
      }
      case ExprKind::Cast:
        e.affinity = castAffinity(e.castType);
        bind(*e.args[0], mode, where);
        return;
      default:
        for (auto& a : e.args) bind(*a, mode, where);
        return;
    }
  }

  // GROUP BY terms are bound as row expressions; their canonical text identifies them later.
  void addGroupTerm(Expr& e) {
    CAPDB_REQUIRE(!containsAggregate(e), ErrorCode::InvalidArgument,
                  "line {}, column {}: aggregates are not allowed in GROUP BY", e.line, e.col);
    bind(e, Mode::Row, "GROUP BY");
    groupText_.push_back(canonical(e));
    out_.select.groupBy.push_back(&e);
  }

 private:
  static std::string arity(const FunctionInfo& f) {
    if (f.maxArgs < 0) return fmt::format("{} or more", f.minArgs);
    if (f.minArgs == f.maxArgs) return std::to_string(f.minArgs);
    return fmt::format("{} to {}", f.minArgs, f.maxArgs);
  }

  // Binds a subtree that matched a GROUP BY term, for its column affinity and used columns.
  void bindRowTree(Expr& e, std::string_view where) { bind(e, Mode::Row, where); }

  // Text that identifies an expression up to the case of names: fully parenthesised, so that
  // a - (b - c) and a - b - c differ.
  std::string canonical(const Expr& e) const {
    switch (e.kind) {
      case ExprKind::Column:
        if (columns_) {
          try {
            return (*columns_)[columns_->resolve(e.name)].name;
          } catch (const Error&) {
          }
        }
        return e.name;
      case ExprKind::Literal: return e.value.toSql();
      case ExprKind::Parameter: return e.name;
      default: break;
    }
    std::string out = fmt::format("({}:{}:{}:{}:{}:{}:{}:{}:{}", static_cast<int>(e.kind),
                                  e.kind == ExprKind::Call ? lowerName(e.name) : std::string(),
                                  static_cast<int>(e.arith), static_cast<int>(e.cmp),
                                  static_cast<int>(e.castType), e.negated, e.hasBase, e.hasElse,
                                  e.star);
    for (const auto& a : e.args) out += " " + canonical(*a);
    return out + ")";
  }

  int paramSlot(const std::string& name) {
    for (size_t i = 0; i < out_.paramNames.size(); ++i) {
      if (out_.paramNames[i] == name) return static_cast<int>(i);
    }
    fail(ErrorCode::Internal, "parameter {} was not registered by the parser", name);
  }

  const TableColumns* columns_;
  BoundStatement& out_;
  std::vector<std::string> groupText_;
};

void registerParams(const ParsedStatement& st, BoundStatement& out) {
  out.positionalParams = st.positionalParams;
  for (uint32_t i = 1; i <= st.positionalParams; ++i) out.paramNames.push_back("?" + std::to_string(i));
  for (const auto& n : st.namedParams) out.paramNames.push_back(n);
}

// ORDER BY K (an output position) or an output alias.
const Expr* orderTarget(const Expr& e, const BoundSelect& s) {
  if (e.kind == ExprKind::Literal && e.value.type() == Value::Type::Integer) {
    int64_t k = e.value.integer();
    CAPDB_REQUIRE(k >= 1 && static_cast<size_t>(k) <= s.outputs.size(), ErrorCode::InvalidArgument,
                  "ORDER BY {}: the result has {} columns", k, s.outputs.size());
    return s.outputs[k - 1].expr;
  }
  return nullptr;
}

void bindSelect(SelectStmt& sel, const TableColumns& columns, BoundStatement& out, Binder& b) {
  BoundSelect& s = out.select;
  s.distinct = sel.distinct;
  bool aggregate = !sel.groupBy.empty() || (sel.having != nullptr);
  for (const auto& item : sel.items) aggregate = aggregate || (item.expr && containsAggregate(*item.expr));
  for (const auto& o : sel.orderBy) aggregate = aggregate || containsAggregate(*o.expr);
  s.aggregateQuery = aggregate;

  if (sel.where) {
    CAPDB_REQUIRE(!containsAggregate(*sel.where), ErrorCode::InvalidArgument,
                  "aggregates are not allowed in WHERE (use HAVING)");
    b.bind(*sel.where, Mode::Row, "WHERE");
    s.where = sel.where.get();
  }
  // GROUP BY K groups by the K-th result column, and a bare name that is no column but an
  // alias by that result column, as in SQLite.
  for (auto& g : sel.groupBy) {
    const SelectItem* item = nullptr;
    if (g->kind == ExprKind::Literal && g->value.type() == Value::Type::Integer) {
      int64_t k = g->value.integer();
      CAPDB_REQUIRE(k >= 1 && static_cast<size_t>(k) <= sel.items.size(), ErrorCode::InvalidArgument,
                    "GROUP BY {}: the select list has {} items", k, sel.items.size());
      item = &sel.items[k - 1];
      CAPDB_REQUIRE(item->expr != nullptr, ErrorCode::InvalidArgument,
                    "GROUP BY {}: result column {} is *", k, k);
    } else if (g->kind == ExprKind::Column && !columns.find(g->name)) {
      for (const auto& it : sel.items) {
        if (it.expr && !it.alias.empty() && equalsIgnoreCase(it.alias, g->name)) item = &it;
      }
    }
    if (item) g = item->expr->clone();
    b.addGroupTerm(*g);
  }
  Mode outMode = aggregate ? Mode::Group : Mode::Row;
  for (auto& item : sel.items) {
    if (!item.expr) {
      for (size_t c = 0; c < columns.size(); ++c) {
        auto e = std::make_unique<Expr>();
        e->kind = ExprKind::Column;
        e->name = columns[c].name;
        b.bind(*e, outMode, "the select list");
        s.outputs.push_back({e.get(), columns[c].name});
        out.owned.push_back(std::move(e));
      }
      continue;
    }
    b.bind(*item.expr, outMode, "the select list");
    // A bare column is named by its path; any other expression as written.
    std::string name = !item.alias.empty()                    ? item.alias
                       : item.expr->kind == ExprKind::Column ? item.expr->name
                                                              : item.text;
    s.outputs.push_back({item.expr.get(), std::move(name)});
  }
  if (sel.having) {
    b.bind(*sel.having, Mode::Group, "HAVING");
    s.having = sel.having.get();
  }
  for (auto& o : sel.orderBy) {
    const Expr* target = orderTarget(*o.expr, s);
    if (!target && o.expr->kind == ExprKind::Column && o.expr->name.find('.') == std::string::npos) {
      for (const auto& out : s.outputs) {
        if (equalsIgnoreCase(out.name, o.expr->name)) {
          target = out.expr;
        }
      }
    }
    if (!target) {
      b.bind(*o.expr, outMode, "ORDER BY");
      target = o.expr.get();
    }
    s.orderBy.push_back({target, o.desc});
  }
  if (sel.limit) {
    b.bind(*sel.limit, Mode::Constant, "LIMIT");
    s.limit = sel.limit.get();
  }
  if (sel.offset) {
    b.bind(*sel.offset, Mode::Constant, "OFFSET");
    s.offset = sel.offset.get();
  }
}

}  // namespace

BoundStatement bind(ParsedStatement& st, const TableColumns& columns) {
  BoundStatement out;
  out.kind = st.kind;
  out.explain = st.explain;
  registerParams(st, out);
  Binder b(&columns, out);
  switch (st.kind) {
    case StatementKind::Select: bindSelect(*st.select, columns, out, b); break;
    case StatementKind::Insert: {
      auto& ins = *st.insert;
      if (ins.columns.empty()) {
        for (size_t c = 0; c < columns.size(); ++c) out.insertColumns.push_back(c);
      } else {
        for (const auto& name : ins.columns) {
          size_t c = columns.resolve(name.name);
          for (size_t prev : out.insertColumns) {
            CAPDB_REQUIRE(prev != c, ErrorCode::InvalidArgument, "column {} is named twice",
                          columns[c].name);
          }
          out.insertColumns.push_back(c);
        }
      }
      for (auto& row : ins.rows) {
        CAPDB_REQUIRE(row.size() == out.insertColumns.size(), ErrorCode::InvalidArgument,
                      "line {}, column {}: {} values for {} columns", row.front()->line,
                      row.front()->col, row.size(), out.insertColumns.size());
        std::vector<const Expr*> bound;
        for (auto& v : row) {
          b.bind(*v, Mode::Constant, "VALUES");
          bound.push_back(v.get());
        }
        out.insertRows.push_back(std::move(bound));
      }
      break;
    }
    case StatementKind::Update: {
      auto& up = *st.update;
      for (auto& a : up.sets) {
        size_t c = columns.resolve(a.column.name);
        for (const auto& [prev, _] : out.sets) {
          CAPDB_REQUIRE(prev != c, ErrorCode::InvalidArgument, "column {} is set twice",
                        columns[c].name);
        }
        CAPDB_REQUIRE(!containsAggregate(*a.value), ErrorCode::InvalidArgument,
                      "aggregates are not allowed in SET");
        b.bind(*a.value, Mode::Row, "SET");
        out.sets.emplace_back(c, a.value.get());
      }
      if (up.where) {
        CAPDB_REQUIRE(!containsAggregate(*up.where), ErrorCode::InvalidArgument,
                      "aggregates are not allowed in WHERE");
        b.bind(*up.where, Mode::Row, "WHERE");
        out.select.where = up.where.get();
      }
      break;
    }
    case StatementKind::Delete:
      if (st.del->where) {
        CAPDB_REQUIRE(!containsAggregate(*st.del->where), ErrorCode::InvalidArgument,
                      "aggregates are not allowed in WHERE");
        b.bind(*st.del->where, Mode::Row, "WHERE");
        out.select.where = st.del->where.get();
      }
      break;
    case StatementKind::Migrate:
      fail(ErrorCode::InvalidArgument,
           "MIGRATE declares a migration step: register it with Migrations::sql(), not as a query");
  }
  return out;
}

BoundStatement bindMigration(ParsedStatement& st, const TableColumns& oldColumns,
                             const TableColumns& newColumns) {
  BoundStatement out;
  out.kind = st.kind;
  registerParams(st, out);
  CAPDB_REQUIRE(out.paramNames.empty(), ErrorCode::InvalidArgument,
                "a MIGRATE step cannot use parameters ({})", out.paramNames.front());
  Binder b(&oldColumns, out);
  for (auto& a : st.migrate->sets) {
    size_t c = newColumns.resolve(a.column.name);
    for (const auto& [prev, _] : out.sets) {
      CAPDB_REQUIRE(prev != c, ErrorCode::InvalidArgument, "column {} is set twice",
                    newColumns[c].name);
    }
    CAPDB_REQUIRE(!containsAggregate(*a.value), ErrorCode::InvalidArgument,
                  "aggregates are not allowed in a MIGRATE step");
    b.bind(*a.value, Mode::Row, "SET");
    out.sets.emplace_back(c, a.value.get());
  }
  return out;
}

}  // namespace capdb::query
