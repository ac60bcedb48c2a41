// Database: its tables, read snapshots and the fence between processes (include/capdb/capdb.h).
// Write transactions are in db/transactions.cpp, opening in db/database_open.cpp, the eager
// rewrite in db/migrate.cpp, SQL in db/statement.cpp.
#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <mutex>
#include <tuple>

#include "capdb/capdb.h"
#include "engine/crash_point.h"
#include "engine/fail.h"
#include "orm/catalog.h"
#include "orm/table_core.h"
#include "db/database_state.h"
#include "orm/disk_names.h"
#include "orm/table_reader.h"

namespace capdb {
namespace {

size_t editDistance(std::string_view a, std::string_view b) {
  std::vector<size_t> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t prev = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      size_t cur = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, prev + (a[i - 1] == b[j - 1] ? 0 : 1)});
      prev = cur;
    }
  }
  return row[b.size()];
}

}  // namespace

// ---- Database ----

Database::Database(std::unique_ptr<State> state) : state_(std::move(state)) {}
Database::Database(Database&&) noexcept = default;
Database& Database::operator=(Database&&) noexcept = default;
Database::~Database() = default;


// ---- the fence between processes ----

namespace {

std::string indexList(const orm::TableInfo& t) {
  std::string out;
  for (const auto& i : t.indexes) {
    out += fmt::format("{}{}{}({})", out.empty() ? "" : ", ", i.unique ? "unique " : "", i.name,
                       fmt::join(i.fields, ", "));
  }
  return out.empty() ? "none" : out;
}

// What changed between the entry a process opened a table with and the entry another process
// left, that the first cannot take up; empty when it can (same version, key and indexes).
std::string staleChange(const orm::TableInfo& was, const orm::TableInfo& now) {
  if (now.version > was.version) {
    return fmt::format(
        "another process upgraded it from schema version {} to {} since this process opened it; "
        "reopen the database with the app's schema at version {}",
        was.version, now.version, now.version);
  }
  if (now.version < was.version) {
    return fmt::format(
        "a migration of it was undone since this process opened it: it is back at schema "
        "version {} from {}; reopen the database",
        now.version, was.version);
  }
  if (now.primaryKey != was.primaryKey) {
    return fmt::format(
        "another process changed its primary key from ({}) to ({}) since this process opened "
        "it; reopen the database with the app's current schema",
        fmt::join(was.primaryKey, ", "), fmt::join(now.primaryKey, ", "));
  }
  auto defs = [](const orm::TableInfo& t) {
    std::vector<std::tuple<std::string, std::vector<std::string>, bool>> out;
    for (const auto& i : t.indexes) out.emplace_back(i.name, i.fields, i.unique);
    std::sort(out.begin(), out.end());
    return out;
  };
  if (defs(now) != defs(was) || now.autoIncrement != was.autoIncrement) {
    return fmt::format(
        "another process changed its indexes since this process opened it (now: {}; then: {}), "
        "so this process cannot keep them; reopen the database with the app's current schema",
        indexList(now), indexList(was));
  }
  return {};
}

}  // namespace

void Database::State::takeUp(const engine::Txn& txn) {
  std::lock_guard lock(fenceMutex);
  generation.store(catalog->generation(txn), std::memory_order_release);
  opened.clear();
  for (const auto& [name, info] : catalog->tables()) opened.emplace(name, info);
}

void Database::State::fence(const engine::Txn& txn) {
  uint64_t snapshot = txn.snapshotId();
  if (snapshot == checkedSnapshot.load(std::memory_order_acquire)) [[likely]] return;
  uint64_t now = catalog->generation(txn);
  if (now <= generation.load(std::memory_order_acquire)) [[likely]] {
    checkedSnapshot.store(snapshot, std::memory_order_release);
    return;
  }
  std::lock_guard lock(fenceMutex);
  if (now <= generation.load(std::memory_order_acquire)) return;
  {
    std::lock_guard catalogLock(catalogMutex);
    catalog->reload(txn);
  }
  for (const auto& [name, core] : tables) {
    auto was = opened.find(name);
    if (was == opened.end()) continue;
    const orm::TableInfo* info = catalog->table(name);
    if (info == nullptr) {
      core->setStale("another process removed it since this process opened it");
      stale = true;
      continue;
    }
    std::string change = staleChange(was->second, *info);
    bool moving = info->migration && info->migration->rekey;
    if (change.empty() && moving && !(was->second.migration && was->second.migration->rekey)) {
      // Half-way, some records lie under their old keys and some under their new ones.
      change = "another process began moving its records to new primary keys since this process "
               "opened it; reopen the database once the move has finished";
    }
    if (!change.empty()) {
      core->setStale(std::move(change));
      stale = true;
      continue;
    }
    // A migration swapped the table's records databases: transactions from the swap's commit on
    // read the other one (the transactions of this process that began before keep theirs). Two
    // swaps since the one this process knows of leave the records in the tree it reads, but a
    // transaction between them would read the wrong one: that, or a tree this process has no
    // handle for, makes the table stale.
    auto [tree, since] = core->recordTrees().latest();
    if (info->recordsSince > since) {
      std::string why;
      if (info->recordsTree == tree) {
        why = "other processes swapped its records databases twice since this process last read "
              "it; reopen the database";
      } else if (!core->swapRecords(info->recordsTree, info->recordsSince)) {
        why = fmt::format("another process moved its records into {}, which this process has not "
                          "opened; reopen the database", orm::tableDbName(name, info->recordsTree));
      }
      if (!why.empty()) {
        core->setStale(std::move(why));
        stale = true;
        continue;
      }
    }
    for (const auto& index : info->indexes) {
      core->setIndexState(index.name, index.state, index.readySince, snapshot);
    }
    was->second = *info;
  }
  generation.store(now, std::memory_order_release);
  checkedSnapshot.store(snapshot, std::memory_order_release);
}

std::optional<DynamicTable> Database::findTable(std::string_view name) const {
  auto it = state_->tables.find(name);
  if (it == state_->tables.end()) return std::nullopt;
  return internal::handleOf(*it->second);
}

DynamicTable Database::table(std::string_view name) const {
  auto it = state_->tables.find(name);
  if (it != state_->tables.end()) return internal::handleOf(*it->second);
  std::string closest;
  size_t best = SIZE_MAX;
  for (const auto& [n, core] : state_->tables) {
    size_t d = editDistance(name, n);
    if (d < best) {
      best = d;
      closest = n;
    }
  }
  if (!closest.empty() && best <= std::max<size_t>(2, name.size() / 3)) {
    fail(ErrorCode::InvalidArgument, "no table named {}; did you mean {}?", name, closest);
  }
  fail(ErrorCode::InvalidArgument, "no table named {}", name);
}

DynamicTable Database::tableOf(capnp::StructSchema schema) const {
  for (const auto& [name, core] : state_->tables) {
    if (core->schema().schema == schema) return internal::handleOf(*core);
  }
  fail(ErrorCode::InvalidArgument,
       "struct {} is not one of the tables this database was opened with; list it in the "
       "Schemas given to Database::open",
       orm::structName(schema));
}

std::vector<std::string> Database::appTableNames() const { return state_->appTables; }

std::vector<std::string> Database::tableNames() const {
  std::vector<std::string> out;
  for (const auto& [name, core] : state_->tables) out.push_back(name);
  return out;
}


const std::filesystem::path& Database::path() const { return state_->env.path(); }
bool Database::changedElsewhere() const { return state_->stale.load(); }

}  // namespace capdb
