// Database::migrate, drain and oldRecords: the facade over the eager runner (migrate/eager.h).
#include <chrono>
#include <vector>

#include "capdb/capdb.h"
#include "db/database_state.h"
#include "migrate/eager.h"
#include "orm/access.h"
#include "orm/table_core.h"

namespace capdb {
namespace {

using Clock = std::chrono::steady_clock;

// The app's tables, which migrations run on, in the order the app listed them.
std::vector<orm::TableCore*> appTables(const Database& db) {
  std::vector<orm::TableCore*> tables;
  for (const auto& name : db.appTableNames()) tables.push_back(&internal::core(db.table(name)));
  return tables;
}

migrate::RunWrite writer(Database& db) {
  return [&db](const std::function<void(WriteTxn&)>& body) { db.write(body); };
}

}  // namespace

uint64_t Database::migrate(const EagerOptions& options) {
  return migrate::runEager(
             appTables(*this), writer(*this), options, [](uint64_t) { return true; }, 0)
      .first;
}

uint64_t Database::migrate() {
  return migrate(state_->eager);
}

bool Database::drain(DrainBudget budget) {
  auto deadline = Clock::now() + budget.time;
  bool timed = budget.time.count() > 0;
  return migrate::runEager(
             appTables(*this), writer(*this), state_->eager,
             [&](uint64_t) { return !timed || Clock::now() < deadline; }, budget.records)
      .second;
}

uint64_t Database::oldRecords() const {
  uint64_t n = 0;
  auto tx = read();
  for (orm::TableCore* core : appTables(*this)) {
    if (auto info = core->catalog().readTable(internal::engineTxn(tx), core->schema().name)) {
      n += core->pendingRecords(*info);
    }
  }
  return n;
}

}  // namespace capdb
