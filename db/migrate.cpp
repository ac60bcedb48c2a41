// Database::migrate, drain and oldRecords: the facade over the eager runner (migrate/eager.h).
#include <chrono>
#include <exception>
#include <vector>

#include "capdb/capdb.h"
#include "engine/error_context.h"
#include "engine/fail.h"
#include "db/database_state.h"
#include "migrate/eager.h"
#include "migrate/index_build.h"
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

namespace {

// EagerOptions::deferSync: commits without syncing while it lives, then one sync, however the
// rewrite ends.
class DeferredSync {
 public:
  DeferredSync(engine::Env& env, bool on)
      : env_(on ? &env : nullptr), exceptions_(std::uncaught_exceptions()) {
    if (env_) env_->deferSync(true);
  }
  ~DeferredSync() noexcept(false) {
    if (env_ == nullptr) return;
    if (std::uncaught_exceptions() > exceptions_) {
      try {
        env_->deferSync(false);
      } catch (const Error&) {  // the error in flight says more
      }
      return;
    }
    env_->deferSync(false);
  }
  DeferredSync(const DeferredSync&) = delete;
  DeferredSync& operator=(const DeferredSync&) = delete;

 private:
  engine::Env* env_;
  int exceptions_;
};

}  // namespace

uint64_t Database::migrate(const EagerOptions& options) {
  DeferredSync deferred(internal::env(*this), options.deferSync);
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

void Database::rebuildIndex(std::string_view table, std::string_view index) {
  orm::TableCore& core = internal::core(this->table(table));
  core.index(index);  // InvalidArgument naming the table's indexes, before anything is written
  orm::IndexState state = orm::IndexState::Building;
  uint64_t committed = 0;
  write([&](WriteTxn& tx) {
    committed = internal::engineTxn(tx).snapshotId() + 1;
    ErrorContext scope = core.context();
    orm::TableInfo& info = core.touch(tx, true);
    CAPDB_REQUIRE_IN(!info.migration || (info.migration->before.empty() && !info.migration->rekey),
                     ErrorCode::Busy,
                     "a migration of the table may still be undone or moves its records to new "
                     "keys; finish it first (capdb upgrade --mode eager)");
    for (auto& ii : info.indexes) {
      if (ii.name != index) continue;
      migrate::restartBuild(internal::engineWrite(tx), core, ii);
      if (info.records() == 0) ii.state = orm::IndexState::Ready;  // complete in every snapshot
      state = ii.state;
    }
  });
  core.setIndexState(index, state, 0, committed);
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
