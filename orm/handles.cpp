// The public handles over a table's core (include/capdb/capdb.h): transactions' shared parts,
// rows, cursors and DynamicTable, which forwards to orm::TableCore.
#include <memory>
#include <vector>

#include "capdb/capdb.h"
#include "engine/key_codec.h"
#include "orm/access.h"
#include "orm/table_core.h"

namespace capdb {

namespace detail {
TxnParts::TxnParts() = default;
TxnParts::~TxnParts() = default;

void Access::movedFrom() {
  throw Error(ErrorCode::InvalidArgument, "transaction used after it was moved from");
}
}  // namespace detail

// ---- transactions ----

Txn::Txn() = default;
Txn::Txn(Txn&&) noexcept = default;
Txn& Txn::operator=(Txn&&) noexcept = default;
Txn::~Txn() = default;

ReadTxn::ReadTxn(ReadTxn&& other) noexcept = default;
ReadTxn& ReadTxn::operator=(ReadTxn&& other) noexcept = default;
ReadTxn::~ReadTxn() = default;
void ReadTxn::release() noexcept {
  if (parts_ && parts_->read) parts_->read->release();
}

// ---- rows and cursors ----

namespace {
constexpr size_t kPooledDecoders = 32;
// Set when this thread's pool is destroyed (at thread exit), so that a row destroyed later
// deletes its decoder instead of returning it. A bool has no destructor: it stays readable.
thread_local bool decoderPoolGone = false;
struct DecoderPool {
  std::vector<std::unique_ptr<detail::RowDecoder>> decoders;
  ~DecoderPool() { decoderPoolGone = true; }
};
thread_local DecoderPool decoderPoolHolder;
}  // namespace

std::unique_ptr<detail::RowDecoder, detail::Access::RowRecycle> orm::takeRowDecoder() {
  using Recycle = detail::Access::RowRecycle;
  if (decoderPoolGone || decoderPoolHolder.decoders.empty()) {
    return std::unique_ptr<detail::RowDecoder, Recycle>(new detail::RowDecoder());
  }
  auto& pool = decoderPoolHolder.decoders;
  auto decoder = std::move(pool.back());
  pool.pop_back();
  return std::unique_ptr<detail::RowDecoder, Recycle>(decoder.release());
}

void DynamicRow::Recycle::operator()(detail::RowDecoder* decoder) const noexcept {
  std::unique_ptr<detail::RowDecoder> owned(decoder);
  if (!decoderPoolGone && decoderPoolHolder.decoders.size() < kPooledDecoders) {
    owned->reset();
    decoderPoolHolder.decoders.push_back(std::move(owned));
  }
}

DynamicRow::DynamicRow(DynamicRow&&) noexcept = default;
DynamicRow& DynamicRow::operator=(DynamicRow&&) noexcept = default;
DynamicRow::~DynamicRow() = default;

RecordCursor::RecordCursor(std::unique_ptr<detail::CursorImpl> scan) : scan_(std::move(scan)) {}
RecordCursor::RecordCursor(RecordCursor&&) noexcept = default;
RecordCursor& RecordCursor::operator=(RecordCursor&&) noexcept = default;
RecordCursor::~RecordCursor() = default;
bool RecordCursor::valid() const { return scan_->valid(); }
capnp::DynamicStruct::Reader RecordCursor::record() const { return scan_->record(); }
std::string_view RecordCursor::primaryKey() const { return scan_->primaryKey(); }
Key RecordCursor::key() const { return Key::fromValues(engine::decodeKey(scan_->primaryKey())); }
void RecordCursor::next() { scan_->next(); }

namespace {
orm::TableCore& core(const DynamicTable* t) { return internal::core(*t); }
}  // namespace

// ---- DynamicTable ----

const TableSchema& DynamicTable::schema() const { return core(this).schema(); }
const std::string& DynamicTable::name() const { return core(this).schema().name; }
uint64_t DynamicTable::insert(WriteTxn& tx, const Edit& fill) const { return core(this).insert(tx, fill); }
uint64_t DynamicTable::insert(WriteTxn& tx, capnp::DynamicStruct::Reader record) const {
  return core(this).insert(tx, record);
}
bool DynamicTable::update(WriteTxn& tx, capnp::DynamicStruct::Reader record) const {
  return core(this).update(tx, record);
}
bool DynamicTable::update(WriteTxn& tx, const Key& key, const Edit& edit) const {
  return core(this).update(tx, key, edit);
}
bool DynamicTable::upsert(WriteTxn& tx, capnp::DynamicStruct::Reader record) const {
  return core(this).upsert(tx, record);
}
bool DynamicTable::remove(WriteTxn& tx, const Key& key) const { return core(this).remove(tx, key); }
std::optional<DynamicRow> DynamicTable::get(const Txn& tx, const Key& key) const {
  return core(this).get(tx, key);
}
RecordCursor DynamicTable::scan(const Txn& tx, const Range& range, Direction direction) const {
  return core(this).scan(tx, range, direction);
}
RecordCursor DynamicTable::find(const Txn& tx, std::string_view index, const Range& range,
                                Direction direction) const {
  return core(this).find(tx, index, range, direction);
}
uint64_t DynamicTable::count(const Txn& tx) const { return core(this).count(tx); }
Key DynamicTable::indexKey(std::string_view index, capnp::DynamicStruct::Reader record) const {
  return core(this).indexKey(index, record);
}

}  // namespace capdb
