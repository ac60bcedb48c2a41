// Transactions (include/capdb/capdb.h): a read snapshot, and the write transaction that gathers
// catalog changes (record counts, sequences) and writes them once, at commit. Every transaction
// passes the fence between processes (db/database.cpp) as it begins.
#include <optional>

#include "capdb/capdb.h"
#include "db/database_state.h"
#include "engine/crash_point.h"
#include "engine/fail.h"
#include "orm/access.h"
#include "orm/table_core.h"

namespace capdb {
namespace {

using detail::Access;

// A write transaction over `etx`, owned (beginWrite) or borrowed (Database::write).
WriteTxn newWrite(Database& db, engine::WriteTxn* borrowed, std::optional<engine::WriteTxn> owned) {
  WriteTxn tx = Access::makeWrite();
  auto parts = std::make_unique<detail::TxnParts>();
  if (owned) {
    parts->ownedWrite.emplace(std::move(*owned));
    borrowed = &*parts->ownedWrite;
  }
  parts->write = borrowed;
  parts->txn = borrowed;
  parts->state = std::make_unique<orm::WriteState>();
  parts->state->encoder.setPacked(Access::state(db).packRecords);
  parts->db = &db;
  parts->joinMemoryBytes = Access::state(db).joinMemoryBytes;
  Access::ownParts(tx) = std::move(parts);
  Access::state(db).fence(*borrowed);
  return tx;
}

// Writes the gathered catalog changes into the transaction (before its commit). Throws when a
// write in the transaction failed part-way.
void flush(WriteTxn& tx) {
  detail::TxnParts& p = Access::parts(tx);
  orm::WriteState& state = *p.state;
  if (state.reshaping.empty())
    engine::crashPoint("write.commit");  // an app's write, not a migration's
  CAPDB_REQUIRE(state.failure.empty(), ErrorCode::InvalidArgument,
                "the transaction cannot commit: a write in it failed ({}); it was aborted",
                state.failure);
  for (const auto& [name, info] : state.touched) {
    Access::state(*p.db).catalog->writeTable(*p.write, info, state.reshaping.contains(name));
  }
}

// After a successful commit: publishes the catalog changes to the Database's cache.
void published(WriteTxn& tx) noexcept {
  detail::TxnParts& p = Access::parts(tx);
  internal::DatabaseState& db = Access::state(*p.db);
  std::lock_guard lock(db.catalogMutex);
  for (const auto& [name, info] : p.state->touched) db.catalog->publish(info);
  p.state->touched.clear();
}

}  // namespace

ReadTxn Database::read() const {
  ReadTxn tx = Access::makeRead();
  auto parts = std::make_unique<detail::TxnParts>();
  parts->read.emplace(state_->env.read());
  parts->txn = &*parts->read;
  parts->joinMemoryBytes = state_->joinMemoryBytes;
  const engine::Txn& etx = *parts->txn;
  Access::ownParts(tx) = std::move(parts);
  state_->fence(etx);
  return tx;
}

WriteTxn Database::beginWrite() {
  return newWrite(*this, nullptr, state_->env.beginWrite());
}

void Database::runWrite(kj::FunctionParam<void(WriteTxn&)> body) {
  // Thrown through env.write to abort the transaction when the body called abort().
  struct Aborted {};
  std::optional<WriteTxn> done;
  try {
    state_->env.write([&](engine::WriteTxn& etx) {
      WriteTxn tx = newWrite(*this, &etx, std::nullopt);
      body(tx);
      if (Access::parts(tx).state->aborted) throw Aborted{};  // InvalidArgument if body moved tx away
      flush(tx);
      done.emplace(std::move(tx));
    });
  } catch (const Aborted&) {
    return;
  }
  published(*done);
}

WriteTxn::WriteTxn(WriteTxn&& other) noexcept = default;

WriteTxn& WriteTxn::operator=(WriteTxn&& other) noexcept {
  if (this != &other) {
    abort();
    Txn::operator=(std::move(other));
  }
  return *this;
}

// An owned, uncommitted engine transaction aborts itself.
WriteTxn::~WriteTxn() = default;

void WriteTxn::commit() {
  CAPDB_REQUIRE(parts_ && parts_->ownedWrite.has_value(), ErrorCode::InvalidArgument,
                "commit() is for transactions from beginWrite(); Database::write commits its own");
  try {
    flush(*this);
    parts_->ownedWrite->commit();
  } catch (...) {
    abort();  // as the contract says: a failed commit leaves nothing open
    throw;
  }
  published(*this);
}

void WriteTxn::abort() noexcept {
  if (!parts_) return;
  if (parts_->ownedWrite)
    parts_->ownedWrite->abort();
  else if (parts_->state)
    parts_->state->aborted = true;
}

}  // namespace capdb
