// Database's internal state, shared by the db/ files: tables and the fence (database.cpp),
// transactions (transactions.cpp), opening (database_open.cpp). Internal to the library.
#pragma once

#include <atomic>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "capdb/capdb.h"
#include "engine/env.h"
#include "orm/access.h"
#include "orm/catalog.h"
#include "orm/table_core.h"

namespace capdb {

struct Database::State {
  explicit State(engine::Env e) : env(std::move(e)) {}
  engine::Env env;
  std::optional<orm::Catalog> catalog;
  std::mutex catalogMutex;  // guards catalog's cached entries after open
  // Declarative steps kept in the catalog by pending migrations, for the tables that read
  // through them (their upgraders point into these, so they are declared before the tables).
  std::vector<std::unique_ptr<Migrations>> storedSteps;
  std::map<std::string, std::unique_ptr<orm::TableCore>, std::less<>> tables;
  std::vector<std::string> appTables;
  EagerOptions eager;
  bool packRecords = false;  // Options::packRecords
  uint64_t joinMemoryBytes = 0;  // Options::joinMemoryBytes

  // The fence between processes (capdb.h, Caveats). `generation` is the catalog generation this
  // process's view of the tables is at; `opened` holds each table's entry as this process took it
  // up (at open, or at a later fence whose changes it could take up).
  std::atomic<uint64_t> generation{0};
  // A committed state (engine::Txn::snapshotId) whose generation was found to be `generation` or
  // older: a transaction that begins from it needs no read to know it (read-mostly work, where
  // the state does not change between transactions, then pays nothing for the fence).
  std::atomic<uint64_t> checkedSnapshot{UINT64_MAX};
  std::atomic<bool> stale{false};  // a fence marked a table stale
  std::mutex fenceMutex;
  std::map<std::string, orm::TableInfo, std::less<>> opened;
  // Records the catalog generation and the tables' entries as of txn (the end of open).
  void takeUp(const engine::Txn& txn);
  // Called at the start of every transaction of the app's: when another process moved the
  // catalog's generation, reloads the catalog, takes up index state changes, and marks stale
  // (setStale) each table whose version, primary key or indexes changed. O(1) when nothing moved.
  void fence(const engine::Txn& txn);
};

namespace internal {

using DatabaseState = detail::Access::DatabaseState;
inline DatabaseState& state(const Database& db) { return detail::Access::state(db); }
// The LMDB environment under a Database.
inline engine::Env& env(const Database& db) { return state(db).env; }

}  // namespace internal

}  // namespace capdb
