// The executor: runs a planned statement in a transaction. SELECT streams rows from the access
// path through the filter into aggregation or projection, then sorts, de-duplicates and limits;
// INSERT, UPDATE and DELETE go through the object layer, so indexes stay consistent.
#pragma once

#include <vector>

#include "capdb/capdb.h"
#include <algorithm>
#include <functional>

#include "query/binder.h"
#include "query/columns.h"
#include "query/eval.h"
#include "query/planner.h"
#include "orm/table_core.h"

namespace capdb::query {

// Decodes the record a RecordRow reads in place, for a column it cannot read there.
class RecordSource {
 public:
  // noexcept(false) like the Cap'n Proto readers an implementation holds (an override may not
  // be laxer than the base, and clang holds implicit destructors to that).
  virtual ~RecordSource() noexcept(false) = default;
  virtual capnp::DynamicStruct::Reader decode() = 0;
};

// A record's columns, read on first use: in place (orm::FlatRecord) where they can be, otherwise
// from the decoded record.
class RecordRow : public RowAccess {
 public:
  explicit RecordRow(const TableColumns& columns)
      : columns_(columns), values_(columns.size()), have_(columns.size(), 0) {}
  // A decoded record, valid until the next reset.
  void reset(capnp::DynamicStruct::Reader record) {
    record_ = record;
    flat_ = nullptr;
    std::fill(have_.begin(), have_.end(), 0);
  }
  // A record read in place; `source` decodes it if a column cannot be read in place. Both must
  // stay valid until the next reset.
  void reset(const orm::FlatRecord& flat, RecordSource& source) {
    flat_ = &flat;
    source_ = &source;
    std::fill(have_.begin(), have_.end(), 0);
  }
  const Value& column(size_t i) override {
    if (!have_[i]) {
      read(i, values_[i]);
      have_[i] = 1;
    }
    return values_[i];
  }
  Value take(size_t i) override {
    if (!have_[i]) {
      Value v;
      read(i, v);
      return v;
    }
    have_[i] = 0;
    return std::move(values_[i]);
  }

 private:
  // `out` may hold an earlier record's value, whose storage a Text read in place reuses.
  void read(size_t i, Value& out) {
    if (flat_ != nullptr) {
      if (columns_.readFlat(*flat_, i, out)) return;
      record_ = source_->decode();
      flat_ = nullptr;
    }
    out = columns_.read(record_, i);
  }

  const TableColumns& columns_;
  capnp::DynamicStruct::Reader record_;
  const orm::FlatRecord* flat_ = nullptr;
  RecordSource* source_ = nullptr;
  std::vector<Value> values_;
  std::vector<uint8_t> have_;
};

struct Executable {
  const BoundStatement* bound;
  const Plan* plan;
  const TableColumns* columns;
  const orm::TableCore* table;
  // A join: each table of FROM (BoundStatement::sources), and how much memory a hash join may
  // hold.
  const std::vector<const orm::TableCore*>* tables = nullptr;
  uint64_t joinMemoryBytes = 0;
};

ResultSet runSelect(const Executable& x, const Txn& tx, const std::vector<Value>& params);
uint64_t runInsert(const Executable& x, WriteTxn& tx, const std::vector<Value>& params);
uint64_t runUpdate(const Executable& x, WriteTxn& tx, const std::vector<Value>& params);
uint64_t runDelete(const Executable& x, WriteTxn& tx, const std::vector<Value>& params);

// Sets a column of a record being built to `v`, checking that it fits (docs/sql.md, Writes).
// Throws InvalidArgument naming table.column and the value.
void setColumn(capnp::DynamicStruct::Builder record, const TableColumns& columns, size_t column,
               const Value& v);

// Calls `visit` for every row (one table's record, or a join's combination of records, in the
// EvalContext) that the plan reads and the WHERE selects; false from `visit` stops it.
void forEachRow(const Executable& x, const Txn& tx, EvalContext& ctx,
                const std::function<bool()>& visit);

// Calls `visit(record, primaryKey)` for every record the plan's access path and WHERE select.
// The record is valid during the call only.
void forEachMatch(const Executable& x, const Txn& tx, EvalContext& ctx,
                  const std::function<bool(RowAccess& row, std::string_view pk)>& visit);

}  // namespace capdb::query
