// Prepared statements: a statement parsed, bound to its table and planned, run in a
// transaction (query/prepared.h).
#include "query/prepared.h"

#include <fmt/format.h>

#include "capdb/query_builder.h"
#include "engine/fail.h"
#include "orm/kj_error.h"
#include "orm/access.h"
#include "query/executor.h"
#include "query/lexer.h"

namespace capdb {
namespace query {


namespace {

const orm::TableCore& resolveTable(const TableLookup& tables, const TableRef& ref) {
  if (const auto* exact = tables.find(ref.name)) return *exact;
  std::vector<std::string> names = tables.names();
  for (const auto& n : names) {
    if (equalsIgnoreCase(n, ref.name)) return *tables.find(n);
  }
  fail(ErrorCode::InvalidArgument, "line {}, column {}: no table '{}'{}", ref.line, ref.col, ref.name,
       didYouMean(ref.name, names));
}

const TableRef& tableOf(const ParsedStatement& st) {
  switch (st.kind) {
    case StatementKind::Select: return st.select->table;
    case StatementKind::Insert: return st.insert->table;
    case StatementKind::Update: return st.update->table;
    case StatementKind::Delete: return st.del->table;
    case StatementKind::Migrate: return st.migrate->table;
  }
  fail(ErrorCode::Internal, "statement without a table");
}

// Records of `core` still at an older schema version (read through migration steps).
uint64_t oldRecords(const orm::TableCore& core, const Txn& tx) {
  if (!core.hasUpgrader()) return 0;
  if (auto info = core.catalog().readTable(internal::engineTxn(tx), core.schema().name)) {
    return core.pendingRecords(*info);
  }
  return 0;
}

// The columns of a table, the same for every statement: made once per table.
std::shared_ptr<const TableColumns> columnsOf(const orm::TableCore* table) {
  return std::static_pointer_cast<const TableColumns>(table->derived([table] {
    return std::static_pointer_cast<const void>(std::make_shared<const TableColumns>(table->schema()));
  }));
}

void makePlan(Prepared& p, const Txn& tx) {
  if (!p.tables.empty()) {
    std::vector<JoinTable> tables;
    for (const auto* t : p.tables) tables.push_back({t, t->count(tx), oldRecords(*t, tx)});
    p.plan = planJoin(p.bound, tables, internal::engineTxn(tx).snapshotId());
    return;
  }
  const orm::TableCore& core = *p.table;
  uint64_t old = oldRecords(core, tx);
  p.plan = plan(p.bound, core, *p.columns, core.count(tx), old, internal::engineTxn(tx).snapshotId());
  if (p.bound.kind == StatementKind::Insert) {
    p.plan.text = fmt::format("INSERT {} ({} rows)", core.schema().name, p.bound.insertRows.size());
  }
}

// Prepares `sql` over the table `table` names (or, when given, `only`, which the statement must
// name).
}  // namespace

std::unique_ptr<Prepared> prepareIn(const TableLookup& tables, const orm::TableCore* only,
                                    std::string_view sql, const Txn& tx) {
  auto p = std::make_unique<Prepared>();
  p->sql = std::string(sql);
  p->parsed = parse(p->sql);
  CAPDB_REQUIRE(p->parsed.kind != StatementKind::Migrate, ErrorCode::InvalidArgument,
                "MIGRATE declares a migration step: register it with Migrations::sql(), not as a "
                "query");
  p->joinMemoryBytes = tables.joinMemoryBytes;
  if (p->parsed.kind == StatementKind::Select && !p->parsed.select->joins.empty()) {
    CAPDB_REQUIRE(only == nullptr, ErrorCode::InvalidArgument,
                  "a table's query reads that table alone: run a join with Database::query");
    SelectStmt& sel = *p->parsed.select;
    std::vector<const TableColumns*> columns;
    for (size_t i = 0; i <= sel.joins.size(); ++i) {
      const orm::TableCore& t = resolveTable(tables, i == 0 ? sel.table : sel.joins[i - 1].table);
      t.requireAvailable();
      p->tables.push_back(&t);
      p->sourceColumns.push_back(columnsOf(&t));
      columns.push_back(p->sourceColumns.back().get());
    }
    p->table = p->tables.front();
    p->columns = p->sourceColumns.front();
    p->bound = bindJoin(p->parsed, columns);
    makePlan(*p, tx);
    if (p->bound.explain) {
      p->resultColumns = {"plan"};
    } else {
      for (const auto& o : p->bound.select.outputs) p->resultColumns.push_back(o.name);
    }
    return p;
  }
  if (only != nullptr) {
    const TableRef& ref = tableOf(p->parsed);
    CAPDB_REQUIRE(equalsIgnoreCase(ref.name, only->schema().name), ErrorCode::InvalidArgument,
                  "the statement reads table {}, not {}", ref.name, only->schema().name);
    p->table = only;
  } else {
    p->table = &resolveTable(tables, tableOf(p->parsed));
  }
  // A table another process changed under this one is refused before its stale columns bind.
  p->table->requireAvailable();
  // A table's columns are the same for every statement: made once per table.
  p->columns = columnsOf(p->table);
  p->bound = bind(p->parsed, *p->columns);
  makePlan(*p, tx);
  if (p->bound.explain) {
    p->resultColumns = {"plan"};
  } else if (p->bound.kind == StatementKind::Select) {
    for (const auto& o : p->bound.select.outputs) p->resultColumns.push_back(o.name);
  }
  return p;
}

namespace {

std::vector<Value> paramValues(const Prepared& p, const Params& params) {
  std::vector<Value> values;
  values.reserve(p.bound.paramNames.size());
  for (size_t i = 0; i < p.bound.positionalParams; ++i) {
    CAPDB_REQUIRE(i < params.positional.size(), ErrorCode::InvalidArgument,
                  "no value for parameter ?{} (the statement uses ?1..?{}, {} given)", i + 1,
                  p.bound.positionalParams, params.positional.size());
    values.push_back(params.positional[i]);
  }
  for (size_t i = p.bound.positionalParams; i < p.bound.paramNames.size(); ++i) {
    const std::string& name = p.bound.paramNames[i];
    auto it = params.named.find(std::string_view(name).substr(1));
    if (it == params.named.end()) it = params.named.find(name);
    CAPDB_REQUIRE(it != params.named.end(), ErrorCode::InvalidArgument,
                  "no value for parameter {}", name);
    values.push_back(it->second);
  }
  return values;
}

}  // namespace

bool isQuery(const Prepared& p) { return p.bound.explain || p.bound.kind == StatementKind::Select; }

namespace {

// Whether the plan should be made again: a table's statistics moved, or an index became
// readable or stopped being so.
bool planIsStale(const Prepared& p, const Txn& tx) {
  uint64_t snapshot = internal::engineTxn(tx).snapshotId();
  if (p.tables.empty()) return stale(p.plan, *p.table, p.table->count(tx), snapshot);
  for (const auto* t : p.tables) t->requireAvailable();
  for (const JoinStep& s : p.plan.steps) {
    Plan one;
    one.tableRows = s.tableRows;
    one.indexReady = s.indexReady;
    const orm::TableCore& t = *p.tables[static_cast<size_t>(s.source)];
    if (stale(one, t, t.count(tx), snapshot)) return true;
  }
  return false;
}

}  // namespace

ResultSet execute(Prepared& p, Txn& tx, const Params& params) {
  if (planIsStale(p, tx)) makePlan(p, tx);
  // EXPLAIN runs nothing: its parameters need no values.
  std::vector<Value> values = p.bound.explain ? std::vector<Value>{} : paramValues(p, params);
  if (p.bound.explain) {
    ResultSet r;
    r.columns = {"plan"};
    r.rows = Rows(1);
    r.rows.push_back({Value(p.plan.text)});
    return r;
  }
  Executable x{&p.bound, &p.plan, p.columns.get(), p.table, &p.tables, p.joinMemoryBytes};
  return orm::translateKj(
      ErrorCode::Internal,
      [&]() -> ResultSet {
        if (p.bound.kind == StatementKind::Select) return runSelect(x, tx, values);
        CAPDB_REQUIRE(tx.isWrite(), ErrorCode::InvalidArgument,
                      "INSERT, UPDATE and DELETE need a write transaction");
        auto& wtx = static_cast<WriteTxn&>(tx);
        ResultSet r;
        try {
          switch (p.bound.kind) {
            case StatementKind::Insert: r.changes = runInsert(x, wtx, values); break;
            case StatementKind::Update: r.changes = runUpdate(x, wtx, values); break;
            case StatementKind::Delete: r.changes = runDelete(x, wtx, values); break;
            default: break;
          }
        } catch (const Error& e) {
          // Part of the statement may be written: the transaction may now only be aborted.
          if (internal::writeState(wtx).failure.empty()) internal::writeState(wtx).failure = e.what();
          throw;
        }
        return r;
      },
      "running {}", p.sql);
}

}  // namespace query

std::vector<std::string> splitStatements(std::string_view sql) {
  std::vector<std::string> out;
  size_t start = std::string_view::npos;
  for (const auto& t : query::tokenize(sql)) {
    if (t.kind == query::TokenKind::End || t.isOp(";")) {
      if (start != std::string_view::npos) out.emplace_back(sql.substr(start, t.offset - start));
      start = std::string_view::npos;
      continue;
    }
    if (start == std::string_view::npos) start = t.offset;
  }
  for (auto& s : out) {
    while (!s.empty() && (s.back() == ' ' || s.back() == '\n' || s.back() == '\t' || s.back() == '\r')) {
      s.pop_back();
    }
  }
  return out;
}

namespace {

// A builder query's tables: its own and those it joins; a join is prepared over them by name.
std::unique_ptr<query::Prepared> prepareQuery(const Query& q, const std::string& sql, const Txn& tx) {
  const orm::TableCore* own = &internal::core(q);
  if (!q.joins()) return query::prepareIn({}, own, sql, tx);
  std::vector<const orm::TableCore*> tables = {own};
  for (const auto* h : detail::Access::joined(q)) tables.push_back(static_cast<const orm::TableCore*>(h));
  query::TableLookup lookup{
      [tables](std::string_view name) -> const orm::TableCore* {
        for (const auto* t : tables) {
          if (t->schema().name == name) return t;
        }
        return nullptr;
      },
      [tables] {
        std::vector<std::string> names;
        for (const auto* t : tables) names.push_back(t->schema().name);
        return names;
      },
      detail::Access::parts(tx).joinMemoryBytes};
  return query::prepareIn(lookup, nullptr, sql, tx);
}

}  // namespace

ResultSet Query::run(const Txn& tx) const {
  auto p = prepareQuery(*this, sql(), tx);
  CAPDB_REQUIRE(query::isQuery(*p), ErrorCode::Internal, "a builder query is not a SELECT");
  // A SELECT only reads through the transaction.
  return query::execute(*p, const_cast<Txn&>(tx), {});
}

std::string Query::explain(const Txn& tx) const { return prepareQuery(*this, sql(), tx)->plan.text; }

std::vector<Key> recordKeys(const Query& q, const Txn& tx) {
  CAPDB_REQUIRE(!q.joins(), ErrorCode::InvalidArgument,
                "a join's rows are not one table's records: run() the query for its rows");
  auto p = query::prepareIn({}, &internal::core(q), q.keySql(), tx);
  ResultSet r = query::execute(*p, const_cast<Txn&>(tx), {});
  const auto& pk = internal::core(q).schema().primaryKey;
  std::vector<Key> keys;
  keys.reserve(r.rows.size());
  for (const auto& row : r.rows) {
    std::vector<engine::KeyValue> values;
    for (size_t i = 0; i < row.size(); ++i) {
      const Value& v = row[i];
      switch (v.type()) {
        case Value::Type::Null: values.emplace_back(engine::KeyNull{}); break;
        case Value::Type::Integer:
          if (pk[i].keyType == engine::KeyType::Bool) values.emplace_back(v.integer() != 0);
          else values.emplace_back(v.integer());
          break;
        case Value::Type::Real: values.emplace_back(v.real()); break;
        case Value::Type::Text: {
          // An enum key column reads as its enumerant's name; the key holds the ordinal.
          auto field = pk[i].leaf().getType();
          if (field.isEnum()) {
            KJ_IF_MAYBE (e, field.asEnum().findEnumerantByName(v.text())) {
              values.emplace_back(uint64_t{e->getOrdinal()});
              break;
            }
          }
          values.emplace_back(v.text());
          break;
        }
        case Value::Type::Blob: values.emplace_back(engine::KeyBytes{v.blob()}); break;
      }
    }
    keys.push_back(Key::fromValues(std::move(values)));
  }
  return keys;
}

}  // namespace capdb
