// Reaching into the public handles (include/capdb/*.h keeps their insides opaque): the one
// friend of every public class, detail::Access, and the functions the layers call through it.
// Internal to the library.
#pragma once

#include <memory>
#include <optional>

#include "capdb/capdb.h"
#include "engine/txn.h"

namespace capdb::orm {
struct WriteState;
}

namespace capdb::detail {

// A transaction's insides (Txn::parts_). A ReadTxn owns its engine snapshot; a WriteTxn owns its
// engine transaction (beginWrite) or borrows the one Database::write runs.
struct TxnParts {
  TxnParts();
  ~TxnParts();
  std::optional<engine::ReadTxn> read;
  std::optional<engine::WriteTxn> ownedWrite;
  engine::WriteTxn* write = nullptr;
  const engine::Txn* txn = nullptr;  // read's or write's
  std::unique_ptr<orm::WriteState> state;  // write transactions only
  Database* db = nullptr;            // write transactions only
  uint64_t joinMemoryBytes = 0;      // the Database's Options::joinMemoryBytes
};

// What a DynamicTable handle points to: an orm::TableCore.
class TableHandle {
 protected:
  TableHandle() = default;
  ~TableHandle() = default;
};

struct Access {
  // The parts of a live transaction; InvalidArgument for one moved from.
  static TxnParts& parts(const Txn& tx) {
    if (tx.parts_ == nullptr) [[unlikely]] movedFrom();
    return *tx.parts_;
  }
  [[noreturn]] static void movedFrom();
  static std::unique_ptr<TxnParts>& ownParts(Txn& tx) { return tx.parts_; }
  static ReadTxn makeRead() { return ReadTxn(); }
  static WriteTxn makeWrite() { return WriteTxn(); }

  static TableHandle* handle(const DynamicTable& t) { return t.handle_; }
  static const TableHandle* handle(const Query& q) { return q.table_; }
  // The tables a query joins to its own, in order.
  static std::vector<const TableHandle*> joined(const Query& q) {
    std::vector<const TableHandle*> out;
    for (const auto& j : q.joins_) out.push_back(j.table);
    return out;
  }
  static DynamicTable table(TableHandle* h) { return DynamicTable(h); }

  using RowRecycle = DynamicRow::Recycle;
  static DynamicRow makeRow() { return DynamicRow(); }
  static std::unique_ptr<RowDecoder, RowRecycle>& decoder(DynamicRow& r) {
    return r.decoder_;
  }
  static capnp::DynamicStruct::Reader& reader(DynamicRow& r) { return r.reader_; }
  static uint32_t& version(DynamicRow& r) { return r.version_; }
  static RecordCursor makeCursor(std::unique_ptr<CursorImpl> scan) {
    return RecordCursor(std::move(scan));
  }

  using DatabaseState = Database::State;
  static Database::State& state(const Database& db) { return *db.state_; }
  // Defined where PreparedStatement is (db/statement.cpp).
  static Statement makeStatement(Database& db, std::unique_ptr<PreparedStatement> prepared);
  static PreparedStatement& prepared(const Statement& s) { return *s.prepared_; }
  static Database& database(const Statement& s) { return *s.db_; }
};

}  // namespace capdb::detail

namespace capdb::internal {

// The engine transaction under a capdb transaction.
inline const engine::Txn& engineTxn(const Txn& tx) { return *detail::Access::parts(tx).txn; }
inline engine::WriteTxn& engineWrite(WriteTxn& tx) { return *detail::Access::parts(tx).write; }
// What a write transaction gathers for the catalog (orm/table_core.h).
inline orm::WriteState& writeState(WriteTxn& tx) { return *detail::Access::parts(tx).state; }

}  // namespace capdb::internal
