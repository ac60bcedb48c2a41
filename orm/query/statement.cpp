// Database::query / Database::prepare and capdb::Statement: parse, bind and plan a statement,
// then run it in the right kind of transaction.
#include <fmt/format.h>

#include "capdb/capdb.h"
#include "engine/fail.h"
#include "orm/kj_error.h"
#include "orm/query/binder.h"
#include "orm/query/columns.h"
#include "orm/query/executor.h"
#include "orm/query/parser.h"
#include "orm/query/planner.h"
#include "orm/table_core.h"

namespace capdb {
namespace query {

struct Prepared {
  std::string sql;
  ParsedStatement parsed;
  std::optional<DynamicTable> table;
  std::unique_ptr<TableColumns> columns;
  BoundStatement bound;
  Plan plan;
  std::vector<std::string> resultColumns;
};

namespace {

DynamicTable resolveTable(const Database& db, const TableRef& ref) {
  std::vector<std::string> names = db.tableNames();
  for (const auto& n : names) {
    if (n == ref.name) return db.table(n);
  }
  for (const auto& n : names) {
    if (equalsIgnoreCase(n, ref.name)) return db.table(n);
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

void makePlan(Prepared& p, const Txn& tx) {
  const orm::TableCore& core = p.table->core();
  p.plan = plan(p.bound, core, *p.columns, core.count(tx));
  if (p.bound.kind == StatementKind::Insert) {
    p.plan.text = fmt::format("INSERT {} ({} rows)", core.schema().name, p.bound.insertRows.size());
  }
}

std::unique_ptr<Prepared> prepareIn(const Database& db, std::string_view sql, const Txn& tx) {
  auto p = std::make_unique<Prepared>();
  p->sql = std::string(sql);
  p->parsed = parse(p->sql);
  CAPDB_REQUIRE(p->parsed.kind != StatementKind::Migrate, ErrorCode::InvalidArgument,
                "MIGRATE declares a migration step: register it with Migrations::sql(), not as a "
                "query");
  p->table = resolveTable(db, tableOf(p->parsed));
  p->columns = std::make_unique<TableColumns>(p->table->schema());
  p->bound = bind(p->parsed, *p->columns);
  makePlan(*p, tx);
  if (p->bound.explain) {
    p->resultColumns = {"plan"};
  } else if (p->bound.kind == StatementKind::Select) {
    for (const auto& o : p->bound.select.outputs) p->resultColumns.push_back(o.name);
  }
  return p;
}

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

bool isQuery(const Prepared& p) { return p.bound.explain || p.bound.kind == StatementKind::Select; }

ResultSet execute(Prepared& p, Txn& tx, const Params& params) {
  std::vector<Value> values = paramValues(p, params);
  const orm::TableCore& core = p.table->core();
  if (stale(p.plan, core, core.count(tx))) makePlan(p, tx);
  if (p.bound.explain) {
    ResultSet r;
    r.columns = {"plan"};
    r.rows.push_back({Value(p.plan.text)});
    return r;
  }
  Executable x{&p.bound, &p.plan, p.columns.get(), *p.table};
  return orm::translateKj(
      ErrorCode::Internal,
      [&]() -> ResultSet {
        if (p.bound.kind == StatementKind::Select) return runSelect(x, tx, values);
        CAPDB_REQUIRE(tx.isWrite(), ErrorCode::InvalidArgument,
                      "INSERT, UPDATE and DELETE need a write transaction");
        auto& wtx = static_cast<WriteTxn&>(tx);
        ResultSet r;
        switch (p.bound.kind) {
          case StatementKind::Insert: r.changes = runInsert(x, wtx, values); break;
          case StatementKind::Update: r.changes = runUpdate(x, wtx, values); break;
          case StatementKind::Delete: r.changes = runDelete(x, wtx, values); break;
          default: break;
        }
        return r;
      },
      "running {}", p.sql);
}

}  // namespace
}  // namespace query

ResultSet Database::query(std::string_view sql, const Params& params) {
  {
    ReadTxn tx = read();
    auto p = query::prepareIn(*this, sql, tx);
    if (query::isQuery(*p)) return query::execute(*p, tx, params);
  }
  return write([&](WriteTxn& tx) {
    auto p = query::prepareIn(*this, sql, tx);
    return query::execute(*p, tx, params);
  });
}

ResultSet Database::query(Txn& tx, std::string_view sql, const Params& params) {
  auto p = query::prepareIn(*this, sql, tx);
  return query::execute(*p, tx, params);
}

Statement Database::prepare(std::string_view sql) {
  ReadTxn tx = read();
  return Statement(*this, query::prepareIn(*this, sql, tx));
}

Statement::Statement(Database& db, std::unique_ptr<query::Prepared> prepared)
    : db_(&db), prepared_(std::move(prepared)) {}
Statement::Statement(Statement&&) noexcept = default;
Statement& Statement::operator=(Statement&&) noexcept = default;
Statement::~Statement() = default;

ResultSet Statement::run(const Params& params) {
  if (isQuery()) {
    ReadTxn tx = db_->read();
    return query::execute(*prepared_, tx, params);
  }
  return db_->write([&](WriteTxn& tx) { return query::execute(*prepared_, tx, params); });
}

ResultSet Statement::run(Txn& tx, const Params& params) {
  return query::execute(*prepared_, tx, params);
}

std::string Statement::explain() const { return prepared_->plan.text; }
bool Statement::isQuery() const { return query::isQuery(*prepared_); }
const std::vector<std::string>& Statement::columns() const { return prepared_->resultColumns; }

}  // namespace capdb
