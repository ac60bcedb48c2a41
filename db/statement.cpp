// capdb::Statement, Database::query and Database::prepare: a statement prepared by the query
// layer (query/prepared.h) over the Database's tables, run in the right kind of transaction.
#include "capdb/capdb.h"
#include "db/database_state.h"
#include "query/prepared.h"

namespace capdb {

namespace {

// The Database's tables, as a statement names them.
query::TableLookup lookup(const Database& db) {
  return query::TableLookup{
      [&db](std::string_view name) -> const orm::TableCore* {
        auto t = db.findTable(name);
        return t ? &internal::core(*t) : nullptr;
      },
      [&db] { return db.tableNames(); },
      detail::Access::state(db).joinMemoryBytes};
}

}  // namespace

ResultSet Database::query(std::string_view sql, const Params& params) {
  const query::TableLookup tables = lookup(*this);
  {
    ReadTxn tx = read();
    auto p = query::prepareIn(tables, nullptr, sql, tx);
    if (query::isQuery(*p)) return query::execute(*p, tx, params);
  }
  return write([&](WriteTxn& tx) {
    auto p = query::prepareIn(tables, nullptr, sql, tx);
    return query::execute(*p, tx, params);
  });
}

ResultSet Database::query(Txn& tx, std::string_view sql, const Params& params) {
  auto p = query::prepareIn(lookup(*this), nullptr, sql, tx);
  return query::execute(*p, tx, params);
}

Statement Database::prepare(std::string_view sql) {
  ReadTxn tx = read();
  return detail::Access::makeStatement(*this, query::prepareIn(lookup(*this), nullptr, sql, tx));
}

Statement detail::Access::makeStatement(Database& db, std::unique_ptr<PreparedStatement> prepared) {
  return Statement(db, std::move(prepared));
}

Statement::Statement(Database& db, std::unique_ptr<detail::PreparedStatement> prepared)
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
