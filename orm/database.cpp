// Database, its transactions, rows, cursors and table handles (include/capdb/capdb.h).
// Opening is in orm/database_open.cpp.
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
#include "orm/database_state.h"
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

ReadTxn Database::read() const {
  ReadTxn tx(state_->env.read());
  state_->fence(tx.engine());
  return tx;
}

WriteTxn Database::beginWrite() { return WriteTxn(*this, state_->env.beginWrite()); }

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
    for (const auto& index : info->indexes) {
      core->setIndexReady(index.name, index.state == orm::IndexState::Ready);
    }
    was->second = *info;
  }
  generation.store(now, std::memory_order_release);
  checkedSnapshot.store(snapshot, std::memory_order_release);
}

std::optional<DynamicTable> Database::findTable(std::string_view name) const {
  auto it = state_->tables.find(name);
  if (it == state_->tables.end()) return std::nullopt;
  return DynamicTable(it->second.get());
}

DynamicTable Database::table(std::string_view name) const {
  auto it = state_->tables.find(name);
  if (it != state_->tables.end()) return DynamicTable(it->second.get());
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

DynamicTable Database::table(const std::string& structName, capnp::StructSchema schema) const {
  for (const auto& [name, core] : state_->tables) {
    if (core->schema().schema == schema) return DynamicTable(core.get());
  }
  fail(ErrorCode::InvalidArgument,
       "struct {} is not one of the tables this database was opened with; list it in the "
       "Schemas given to Database::open",
       structName);
}

std::vector<std::string> Database::appTableNames() const { return state_->appTables; }

std::vector<std::string> Database::tableNames() const {
  std::vector<std::string> out;
  for (const auto& [name, core] : state_->tables) out.push_back(name);
  return out;
}

uint64_t Database::migrate() { return migrate(state_->eager); }
const EagerOptions& Database::eagerOptions() const { return state_->eager; }

const std::filesystem::path& Database::path() const { return state_->env.path(); }
bool Database::changedElsewhere() const { return state_->stale.load(); }
engine::Env& Database::env() const { return state_->env; }

// ---- transactions ----

ReadTxn::ReadTxn(engine::ReadTxn txn) : txn_(std::move(txn)) { engineTxn_ = &txn_; }
ReadTxn::ReadTxn(ReadTxn&& other) noexcept : Txn(), txn_(std::move(other.txn_)) {
  engineTxn_ = &txn_;
}
ReadTxn& ReadTxn::operator=(ReadTxn&& other) noexcept {
  txn_ = std::move(other.txn_);
  engineTxn_ = &txn_;
  return *this;
}
ReadTxn::~ReadTxn() = default;

WriteTxn::WriteTxn(Database& db, engine::WriteTxn* borrowed)
    : db_(&db), writeTxn_(borrowed), state_(std::make_unique<orm::WriteState>()) {
  engineTxn_ = writeTxn_;
  db.state_->fence(*writeTxn_);
}

WriteTxn::WriteTxn(Database& db, engine::WriteTxn owned)
    : db_(&db), owned_(std::move(owned)), state_(std::make_unique<orm::WriteState>()) {
  writeTxn_ = &*owned_;
  engineTxn_ = writeTxn_;
  db.state_->fence(*writeTxn_);
}

WriteTxn::WriteTxn(WriteTxn&& other) noexcept
    : Txn(),
      db_(other.db_),
      owned_(std::move(other.owned_)),
      writeTxn_(owned_ ? &*owned_ : other.writeTxn_),
      state_(std::move(other.state_)) {
  engineTxn_ = writeTxn_;
  other.owned_.reset();
  other.writeTxn_ = nullptr;
  other.engineTxn_ = nullptr;
}

WriteTxn& WriteTxn::operator=(WriteTxn&& other) noexcept {
  if (this != &other) {
    abort();
    db_ = other.db_;
    owned_ = std::move(other.owned_);
    writeTxn_ = owned_ ? &*owned_ : other.writeTxn_;
    engineTxn_ = writeTxn_;
    state_ = std::move(other.state_);
    other.owned_.reset();
    other.writeTxn_ = nullptr;
    other.engineTxn_ = nullptr;
  }
  return *this;
}

WriteTxn::~WriteTxn() = default;  // an owned, uncommitted engine transaction aborts itself

bool WriteTxn::abortRequested() const { return state_->aborted; }

void WriteTxn::flush() {
  if (state_->reshaping.empty()) engine::crashPoint("write.commit");  // an app's write, not a migration's
  CAPDB_REQUIRE(state_->failure.empty(), ErrorCode::InvalidArgument,
                "the transaction cannot commit: a write in it failed ({}); it was aborted",
                state_->failure);
  for (const auto& [name, info] : state_->touched) {
    db_->state_->catalog->writeTable(*writeTxn_, info, state_->reshaping.contains(name));
  }
}

void WriteTxn::published() noexcept {
  std::lock_guard lock(db_->state_->catalogMutex);
  for (const auto& [name, info] : state_->touched) db_->state_->catalog->publish(info);
  state_->touched.clear();
}

void WriteTxn::commit() {
  CAPDB_REQUIRE(owned_.has_value(), ErrorCode::InvalidArgument,
          "commit() is for transactions from beginWrite(); Database::write commits its own");
  flush();
  owned_->commit();
  published();
}

void WriteTxn::abort() noexcept {
  if (owned_) owned_->abort();
  else if (state_) state_->aborted = true;
}

// ---- rows and cursors ----

namespace {
constexpr size_t kPooledDecoders = 32;
// Set when this thread's pool is destroyed (at thread exit), so that a row destroyed later
// deletes its decoder instead of returning it. A bool has no destructor: it stays readable.
thread_local bool decoderPoolGone = false;
struct DecoderPool {
  std::vector<std::unique_ptr<orm::RecordDecoder>> decoders;
  ~DecoderPool() { decoderPoolGone = true; }
};
thread_local DecoderPool decoderPoolHolder;
}  // namespace

std::unique_ptr<orm::RecordDecoder, DynamicRow::Recycle> DynamicRow::takeDecoder() {
  if (decoderPoolGone || decoderPoolHolder.decoders.empty()) {
    return std::unique_ptr<orm::RecordDecoder, Recycle>(new orm::RecordDecoder());
  }
  auto& pool = decoderPoolHolder.decoders;
  auto decoder = std::move(pool.back());
  pool.pop_back();
  return std::unique_ptr<orm::RecordDecoder, Recycle>(decoder.release());
}

void DynamicRow::Recycle::operator()(orm::RecordDecoder* decoder) const noexcept {
  std::unique_ptr<orm::RecordDecoder> owned(decoder);
  if (!decoderPoolGone && decoderPoolHolder.decoders.size() < kPooledDecoders) {
    owned->reset();
    owned->copyAlways(false);
    decoderPoolHolder.decoders.push_back(std::move(owned));
  }
}

DynamicRow::DynamicRow(DynamicRow&&) noexcept = default;
DynamicRow& DynamicRow::operator=(DynamicRow&&) noexcept = default;
DynamicRow::~DynamicRow() = default;

RecordCursor::RecordCursor(std::unique_ptr<orm::RecordScan> scan) : scan_(std::move(scan)) {}
RecordCursor::RecordCursor(RecordCursor&&) noexcept = default;
RecordCursor& RecordCursor::operator=(RecordCursor&&) noexcept = default;
RecordCursor::~RecordCursor() = default;
bool RecordCursor::valid() const { return scan_->valid(); }
capnp::DynamicStruct::Reader RecordCursor::record() const { return scan_->record(); }
std::string_view RecordCursor::primaryKey() const { return scan_->primaryKey(); }
void RecordCursor::next() { scan_->next(); }

// ---- DynamicTable ----

const TableSchema& DynamicTable::schema() const { return core_->schema(); }
const std::string& DynamicTable::name() const { return core_->schema().name; }
uint64_t DynamicTable::insert(WriteTxn& tx, const Edit& fill) const { return core_->insert(tx, fill); }
uint64_t DynamicTable::insert(WriteTxn& tx, capnp::DynamicStruct::Reader record) const {
  return core_->insert(tx, record);
}
bool DynamicTable::update(WriteTxn& tx, capnp::DynamicStruct::Reader record) const {
  return core_->update(tx, record);
}
bool DynamicTable::update(WriteTxn& tx, const Key& key, const Edit& edit) const {
  return core_->update(tx, key, edit);
}
bool DynamicTable::upsert(WriteTxn& tx, capnp::DynamicStruct::Reader record) const {
  return core_->upsert(tx, record);
}
bool DynamicTable::remove(WriteTxn& tx, const Key& key) const { return core_->remove(tx, key); }
std::optional<DynamicRow> DynamicTable::get(const Txn& tx, const Key& key) const {
  return core_->get(tx, key);
}
RecordCursor DynamicTable::scan(const Txn& tx, const Range& range, Direction direction) const {
  return core_->scan(tx, range, direction);
}
RecordCursor DynamicTable::find(const Txn& tx, std::string_view index, const Range& range,
                                Direction direction) const {
  return core_->find(tx, index, range, direction);
}
uint64_t DynamicTable::count(const Txn& tx) const { return core_->count(tx); }
Key DynamicTable::indexKey(std::string_view index, capnp::DynamicStruct::Reader record) const {
  return core_->indexKey(index, record);
}

}  // namespace capdb
