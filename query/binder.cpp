#include "query/binder.h"

#include <algorithm>
#include <map>

#include <fmt/format.h>

#include "engine/fail.h"
#include "query/functions.h"
#include "query/planner.h"

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

// A table as the statement names it.
struct Scope {
  const TableColumns* columns;
  std::string name;          // its alias, else the table's name
  std::vector<bool> merged;  // USING's columns of a later table, shown as the earlier table's
};

std::string qualified(const Scope& s, size_t column) {
  return s.name + "." + (*s.columns)[column].name;
}

class Binder {
 public:
  Binder(const TableColumns* columns, BoundStatement& out, std::string alias = {}) : out_(out) {
    if (columns) {
      scopes_.push_back({columns, alias.empty() ? columns->table() : alias, {}});
      out_.usedColumns.assign(columns->size(), false);
    }
  }
  // A join's tables: out.sources are filled in step.
  Binder(std::vector<Scope> scopes, BoundStatement& out)
      : scopes_(std::move(scopes)), join_(true), out_(out) {}

  const std::vector<Scope>& scopes() const { return scopes_; }
  void merge(size_t source, size_t column) { scopes_[source].merged[column] = true; }
  // USING of a RIGHT or FULL JOIN, where the earlier table's side may be NULL. As in SQLite, the
  // column's bare name (and the column in *, and in the earlier table's t.*) reads the later
  // table's column after a RIGHT JOIN, coalesce(earlier, later) after a FULL JOIN; a later USING
  // of the name compares coalesce(earlier, later) after either.
  struct OuterUsing {
    std::pair<int, size_t> right;
    bool full;
  };
  void outerUsing(std::pair<int, size_t> left, std::pair<int, size_t> right, bool full) {
    outerUsing_[left] = {right, full};
  }
  // What the earlier column of a RIGHT or FULL JOIN's USING reads as (null: not one).
  const OuterUsing* outerUsingOf(std::pair<int, size_t> column) const {
    auto it = outerUsing_.find(column);
    return it == outerUsing_.end() ? nullptr : &it->second;
  }
  // Makes `e` (unbound) what the USING column `left` reads as by name: the later column by its
  // qualified name, or the call coalesce(left, right) over both.
  void writeUsingColumn(Expr& e, std::pair<int, size_t> left, const OuterUsing& u) const {
    e.args.clear();
    if (!u.full) {
      e.kind = ExprKind::Column;
      e.name = qualified(scopes_[u.right.first], u.right.second);
      return;
    }
    e.kind = ExprKind::Call;
    e.name = "coalesce";
    for (auto [source, column] : {left, u.right}) {
      auto arg = std::make_unique<Expr>();
      arg->kind = ExprKind::Column;
      arg->name = qualified(scopes_[source], column);
      e.args.push_back(std::move(arg));
    }
    e.height = 2;
  }
  // Binds `e` as the USING column `left` reads as by name: the later column, or coalesce of both.
  void bindUsingColumn(Expr& e, std::pair<int, size_t> left, const OuterUsing& u) {
    if (u.full) {
      bindCoalesce(e, left, u.right);
    } else {
      e.kind = ExprKind::Column;
      bindColumn(e, u.right.first, u.right.second);
    }
  }
  // Makes `e` the call coalesce(left, right) over two bound columns.
  void bindCoalesce(Expr& e, std::pair<int, size_t> left, std::pair<int, size_t> right) {
    e.kind = ExprKind::Call;
    e.name = "coalesce";
    e.args.clear();
    for (auto [source, column] : {left, right}) {
      auto c = std::make_unique<Expr>();
      c->kind = ExprKind::Column;
      c->line = e.line;
      c->col = e.col;
      bindColumn(*c, source, column);
      e.args.push_back(std::move(c));
    }
    e.function = findFunction("coalesce");
    e.affinity = Affinity::None;
    e.height = 2;
  }

  // The table and column a name reads. One table: its column (an alias or the table's name may
  // lead). A join: table-or-alias.column, or a name only one table has; a name two tables have,
  // or that reads as a table's column and as a nested field, names the candidates.
  std::pair<int, size_t> resolve(const std::string& name) const {
    CAPDB_REQUIRE(!scopes_.empty(), ErrorCode::InvalidArgument, "no table to read '{}' from", name);
    if (!join_) {
      const Scope& only = scopes_[0];
      std::string_view n = name;
      if (n.size() > only.name.size() + 1 && n[only.name.size()] == '.' &&
          equalsIgnoreCase(n.substr(0, only.name.size()), only.name) &&
          !only.columns->find(n)) {
        n.remove_prefix(only.name.size() + 1);
      }
      return {0, only.columns->resolve(n)};
    }
    std::vector<std::pair<int, size_t>> found;
    int namedTable = -1;
    size_t dot = name.find('.');
    if (dot != std::string::npos) {
      std::string_view head = std::string_view(name).substr(0, dot);
      std::string_view rest = std::string_view(name).substr(dot + 1);
      for (size_t i = 0; i < scopes_.size(); ++i) {
        if (!equalsIgnoreCase(scopes_[i].name, head)) continue;
        namedTable = static_cast<int>(i);
        if (auto c = scopes_[i].columns->find(rest)) found.emplace_back(static_cast<int>(i), *c);
      }
    }
    for (size_t i = 0; i < scopes_.size(); ++i) {
      auto c = scopes_[i].columns->find(name);
      if (c && !scopes_[i].merged[*c]) found.emplace_back(static_cast<int>(i), *c);
    }
    if (found.size() == 1) return found[0];
    if (found.size() > 1) {
      std::string list;
      for (size_t i = 0; i < found.size(); ++i) {
        list += (i == 0 ? "" : i + 1 == found.size() ? " or " : ", ") +
                qualified(scopes_[found[i].first], found[i].second);
      }
      fail(ErrorCode::InvalidArgument, "ambiguous column name '{}': it could be {}", name, list);
    }
    if (namedTable >= 0) {
      // Its own message: the table's name, the column it lacks and the closest one.
      scopes_[namedTable].columns->resolve(std::string_view(name).substr(dot + 1));
    }
    std::vector<std::string> names;
    std::string tables;
    for (size_t i = 0; i < scopes_.size(); ++i) {
      tables += (i ? ", " : "") + scopes_[i].name;
      for (size_t c = 0; c < scopes_[i].columns->size(); ++c) names.push_back(qualified(scopes_[i], c));
    }
    fail(ErrorCode::InvalidArgument, "no column '{}' in {}{}", name, tables, didYouMean(name, names));
  }

  bool isColumnName(const std::string& name) const {
    try {
      resolve(name);
      return true;
    } catch (const Error&) {
      return false;
    }
  }

  // Binds a Column node to `source`'s `column`.
  void bindColumn(Expr& e, int source, size_t column) {
    const Scope& sc = scopes_[source];
    e.source = source;
    e.column = static_cast<int>(column);
    e.name = join_ ? qualified(sc, column) : (*sc.columns)[column].name;
    e.affinity = (*sc.columns)[column].affinity;
    if (join_) out_.sources[source].used[column] = true;
    else out_.usedColumns[column] = true;
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
        CAPDB_REQUIRE(mode != Mode::Constant && !scopes_.empty(), ErrorCode::InvalidArgument,
                      "line {}, column {}: {} cannot read a column ('{}')", e.line, e.col, where,
                      e.name);
        auto [source, c] = resolve(e.name);
        const Scope& sc = scopes_[source];
        const OuterUsing* u = bareUsing(e.name, {source, c});
        CAPDB_REQUIRE(mode != Mode::Group, ErrorCode::InvalidArgument,
                      "column {} must appear in GROUP BY or be used in an aggregate",
                      !join_ ? (*sc.columns)[c].name
                      : !u   ? qualified(sc, c)
                             : fmt::format("{} (which reads {})", e.name, usingText({source, c}, *u)));
        if (u) {
          bindUsingColumn(e, {source, c}, *u);
          return;
        }
        bindColumn(e, source, c);
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
  // How a RIGHT or FULL JOIN's USING column reads when `name` is written bare (not as
  // table.column) and resolved to its earlier table's `column`.
  const OuterUsing* bareUsing(const std::string& name, std::pair<int, size_t> column) const {
    if (!join_ || equalsIgnoreCase(name, qualified(scopes_[column.first], column.second))) return nullptr;
    return outerUsingOf(column);
  }
  std::string usingText(std::pair<int, size_t> left, const OuterUsing& u) const {
    std::string right = qualified(scopes_[u.right.first], u.right.second);
    if (!u.full) return right;
    return fmt::format("coalesce({}, {})", qualified(scopes_[left.first], left.second), right);
  }

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
        try {
          auto [source, c] = resolve(e.name);
          if (const OuterUsing* u = bareUsing(e.name, {source, c})) {
            Expr reads;  // as it binds
            writeUsingColumn(reads, {source, c}, *u);
            return canonical(reads);
          }
          return qualified(scopes_[source], c);
        } catch (const Error&) {
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

  std::vector<Scope> scopes_;
  bool join_ = false;
  BoundStatement& out_;
  std::vector<std::string> groupText_;
  std::map<std::pair<int, size_t>, OuterUsing> outerUsing_;
};

// The highest table a bound expression reads (-1: none).
int lastSource(const Expr& e) {
  int last = e.kind == ExprKind::Column ? e.source : -1;
  for (const auto& a : e.args) last = std::max(last, lastSource(*a));
  return last;
}

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

void bindSelect(SelectStmt& sel, BoundStatement& out, Binder& b) {
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
    } else if (g->kind == ExprKind::Column && !b.isColumnName(g->name)) {
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
      // * is every column of every table (a USING column once); t.* every column of t.
      bool any = false;
      for (size_t src = 0; src < b.scopes().size(); ++src) {
        const Scope& sc = b.scopes()[src];
        if (!item.starTable.empty() && !equalsIgnoreCase(sc.name, item.starTable)) continue;
        any = true;
        for (size_t c = 0; c < sc.columns->size(); ++c) {
          if (item.starTable.empty() && !sc.merged.empty() && sc.merged[c]) continue;
          auto e = std::make_unique<Expr>();
          e->kind = ExprKind::Column;
          e->name = b.scopes().size() > 1 ? qualified(sc, c) : (*sc.columns)[c].name;
          // A RIGHT or FULL JOIN's USING column, in * and in its earlier table's t.*, reads as its
          // bare name does.
          if (const auto* u = b.scopes().size() > 1 ? b.outerUsingOf({static_cast<int>(src), c}) : nullptr) {
            b.writeUsingColumn(*e, {static_cast<int>(src), c}, *u);
          }
          b.bind(*e, outMode, "the select list");
          s.outputs.push_back({e.get(), (*sc.columns)[c].name});
          out.owned.push_back(std::move(e));
        }
      }
      CAPDB_REQUIRE(any, ErrorCode::InvalidArgument, "{}: no table '{}' in FROM", item.text,
                    item.starTable);
      continue;
    }
    b.bind(*item.expr, outMode, "the select list");
    // A bare column is named by its path; any other expression as written.
    std::string name = !item.alias.empty() ? item.alias
                       : item.expr->kind == ExprKind::Column
                           ? (*b.scopes()[item.expr->source].columns)[item.expr->column].name
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
      // An output of that name; two of them (o.id and c.id from a join's *) are bound as a
      // column instead, which names the candidates when the name is ambiguous.
      size_t matches = 0;
      for (const auto& out : s.outputs) {
        if (equalsIgnoreCase(out.name, o.expr->name)) {
          target = out.expr;
          ++matches;
        }
      }
      if (matches > 1) target = nullptr;
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
  Binder b(&columns, out, st.kind == StatementKind::Select ? st.select->table.alias : "");
  switch (st.kind) {
    case StatementKind::Select:
      CAPDB_REQUIRE(st.select->joins.empty(), ErrorCode::Internal, "a join bound as one table");
      bindSelect(*st.select, out, b);
      break;
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

BoundStatement bindJoin(ParsedStatement& st, const std::vector<const TableColumns*>& columns) {
  SelectStmt& sel = *st.select;
  CAPDB_REQUIRE(columns.size() == sel.joins.size() + 1, ErrorCode::Internal,
                "{} tables bound for a FROM clause of {}", columns.size(), sel.joins.size() + 1);
  CAPDB_REQUIRE(columns.size() <= 64, ErrorCode::InvalidArgument,
                "a join of {} tables: at most 64 tables may be joined", columns.size());
  BoundStatement out;
  out.kind = st.kind;
  out.explain = st.explain;
  registerParams(st, out);
  std::vector<Scope> scopes;
  for (size_t i = 0; i < columns.size(); ++i) {
    const TableRef& ref = i == 0 ? sel.table : sel.joins[i - 1].table;
    std::string name = ref.alias.empty() ? columns[i]->table() : ref.alias;
    for (const auto& earlier : scopes) {
      CAPDB_REQUIRE(!equalsIgnoreCase(earlier.name, name), ErrorCode::InvalidArgument,
                    "line {}, column {}: '{}' names two tables in FROM: give one an alias", ref.line,
                    ref.col, name);
    }
    scopes.push_back({columns[i], name, std::vector<bool>(columns[i]->size(), false)});
    BoundSource src;
    src.columns = columns[i];
    src.name = name;
    JoinKind kind = i > 0 ? sel.joins[i - 1].kind : JoinKind::Inner;
    src.left = kind == JoinKind::Left || kind == JoinKind::Full;
    src.full = kind == JoinKind::Full;
    // An outer join's second table comes after every table before it.
    if (src.left) src.needs = (uint64_t{1} << i) - 1;
    if (i > 0 && (kind == JoinKind::Right || kind == JoinKind::Full)) {
      const JoinClause& j = sel.joins[i - 1];
      CAPDB_REQUIRE(i == 1, ErrorCode::InvalidArgument,
                    "line {}, column {}: a {} JOIN must join the first two tables of FROM (here "
                    "it would join {} to the tables before it): put it first, or write it as a "
                    "LEFT JOIN", j.line, j.col, kind == JoinKind::Right ? "RIGHT" : "FULL", name);
    }
    if (kind == JoinKind::Right) {
      // The first table becomes the one that may be NULL, read after this one.
      out.sources[0].left = true;
      out.sources[0].needs = uint64_t{1} << i;
    }
    // Every table after a FULL JOIN comes after both of its tables.
    if (i > 1 && out.sources[1].full) src.needs |= 3;
    src.used.assign(columns[i]->size(), false);
    out.sources.push_back(std::move(src));
  }
  Binder b(std::move(scopes), out);

  // Each join's condition, in FROM order: USING's columns first become equalities (and are shown
  // once, as the earlier table's), so that the names after them resolve as SQLite's do.
  for (size_t j = 0; j < sel.joins.size(); ++j) {
    JoinClause& join = sel.joins[j];
    size_t right = j + 1;
    std::vector<const Expr*> terms;
    for (const auto& u : join.usingColumns) {
      const Scope& rs = b.scopes()[right];
      auto rc = rs.columns->find(u);
      CAPDB_REQUIRE(rc.has_value(), ErrorCode::InvalidArgument,
                    "line {}, column {}: USING ({}): table {} has no column '{}'", join.line,
                    join.col, u, rs.name, u);
      std::vector<std::pair<size_t, size_t>> lefts;
      for (size_t l = 0; l < right; ++l) {
        const Scope& ls = b.scopes()[l];
        auto lc = ls.columns->find(u);
        if (lc && !ls.merged[*lc]) lefts.emplace_back(l, *lc);
      }
      CAPDB_REQUIRE(!lefts.empty(), ErrorCode::InvalidArgument,
                    "line {}, column {}: USING ({}): no table before {} has a column '{}'",
                    join.line, join.col, u, rs.name, u);
      CAPDB_REQUIRE(lefts.size() == 1, ErrorCode::InvalidArgument,
                    "line {}, column {}: USING ({}): ambiguous, {} and {} both have it: use ON",
                    join.line, join.col, u, b.scopes()[lefts[0].first].name,
                    b.scopes()[lefts[1].first].name);
      auto eq = std::make_unique<Expr>();
      eq->kind = ExprKind::Compare;
      eq->cmp = CompareOp::Eq;
      eq->line = join.line;
      eq->col = join.col;
      std::pair<int, size_t> left{static_cast<int>(lefts[0].first), lefts[0].second};
      std::pair<int, size_t> mine{static_cast<int>(right), *rc};
      for (auto [source, column] : {left, mine}) {
        auto c = std::make_unique<Expr>();
        c->kind = ExprKind::Column;
        c->line = join.line;
        c->col = join.col;
        // The earlier column of a RIGHT or FULL JOIN's USING is read as both its sides are.
        const auto* u = source == left.first ? b.outerUsingOf(left) : nullptr;
        if (u) b.bindCoalesce(*c, left, u->right);
        else b.bindColumn(*c, source, column);
        eq->height = std::max(eq->height, c->height + 1);
        eq->args.push_back(std::move(c));
      }
      b.merge(right, *rc);
      if (join.kind == JoinKind::Right || join.kind == JoinKind::Full) {
        b.outerUsing(left, mine, join.kind == JoinKind::Full);
      }
      terms.push_back(eq.get());
      out.owned.push_back(std::move(eq));
    }
    if (join.on) {
      CAPDB_REQUIRE(!containsAggregate(*join.on), ErrorCode::InvalidArgument,
                    "line {}, column {}: aggregates are not allowed in ON", join.line, join.col);
      b.bind(*join.on, Mode::Row, "ON");
      flatten(join.on.get(), ExprKind::And, terms);
    }
    for (const Expr* t : terms) {
      // ON reads the tables up to its own, as in SQLite.
      int last = lastSource(*t);
      CAPDB_REQUIRE(last <= static_cast<int>(right), ErrorCode::InvalidArgument,
                    "line {}, column {}: the ON of {} reads {}, which is joined after it",
                    join.line, join.col, b.scopes()[right].name, b.scopes()[last].name);
    }
    auto& dest = join.kind == JoinKind::Left || join.kind == JoinKind::Full ? out.sources[right].on
                 : join.kind == JoinKind::Right                              ? out.sources[0].on
                                                                            : out.joinTerms;
    dest.insert(dest.end(), terms.begin(), terms.end());
  }
  bindSelect(sel, out, b);
  flatten(out.select.where, ExprKind::And, out.joinTerms);
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
