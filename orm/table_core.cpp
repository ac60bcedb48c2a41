#include "orm/table_core.h"

#include <capnp/any.h>
#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <cmath>

#include "engine/fail.h"
#include "engine/key_codec.h"
#include "orm/kj_error.h"
#include "orm/record_key.h"

namespace capdb::orm {
namespace {

// Refuses a NaN in a primary-key field, which SQL reads as NULL. Kept as a float, the key would
// sort above +inf, where a primary-key range finds what a full scan reads as NULL; made NULL, it
// would not be the key get(Key{NaN}) looks up, nor that of a record stored before.
void refuseNanKey(const TableSchema& schema, capnp::DynamicStruct::Reader record) {
  using W = capnp::schema::Type::Which;
  for (const auto& path : schema.primaryKey) {
    if (path.leafWhich != W::FLOAT32 && path.leafWhich != W::FLOAT64) continue;
    engine::KeyValue v = keyValueAt(record, path);
    auto* d = std::get_if<double>(&v);
    CAPDB_REQUIRE_IN(d == nullptr || !std::isnan(*d), ErrorCode::InvalidArgument,
                  "primary key field {} is NaN; a primary key cannot hold NaN, which "
                  "SQL reads as NULL", path.dotted);
  }
}

// Marks the transaction failed when an operation throws part-way, then rethrows.
template <typename Fn>
auto guarded(WriteTxn& tx, Fn&& fn) -> decltype(fn()) {
  CAPDB_REQUIRE(internal::writeState(tx).failure.empty(), ErrorCode::InvalidArgument,
                "this write transaction already failed ({}); it can only be aborted",
                internal::writeState(tx).failure);
  try {
    return fn();
  } catch (const engine::MapFull&) {
    throw;  // the whole transaction runs again in a bigger map
  } catch (const std::exception& e) {
    internal::writeState(tx).failure = e.what();
    throw;
  }
}

}  // namespace

// ---- RecordScan ----

RecordScan::RecordScan(const TableCore& table, const engine::Txn& txn, engine::Scan scan,
                       const IndexCore* index, bool decode)
    : table_(table), scan_(std::move(scan)), index_(index), decode_(decode) {
  if (index_ != nullptr) records_.emplace(txn.cursor(table.records(txn)));
  load();
}

void RecordScan::restart(engine::KeyRange range) {
  scan_.restart(std::move(range));
  load();
}

void RecordScan::next() {
  scan_.next();
  load();
}

void RecordScan::load() {
  valid_ = scan_.valid();
  if (!valid_) return;
  if (index_ == nullptr) {
    pk_ = scan_.key();
    value_ = scan_.value();
  } else {
    pk_ = table_.primaryKeyOfEntry(*index_, scan_.key(), scan_.value());
    CAPDB_REQUIRE(records_->seekExact(pk_), ErrorCode::Corruption,
            "index {} of table {} points to {}, which is not in the table", index_->schema.name,
            table_.schema().name, engine::formatKey(pk_));
    value_ = records_->value();
  }
  if (decode_) record_ = table_.decode(decoder_, pk_, value_, true);
}

// ---- RecordTrees ----

RecordTrees::RecordTrees(engine::Db tree0, std::optional<engine::Db> tree1, uint32_t tree,
                         uint64_t since)
    : trees_{std::move(tree0), std::move(tree1)},
      latest_((uint64_t{tree & 1} << 63) | (since & kSince)) {
  CAPDB_REQUIRE(trees_[tree & 1].has_value(), ErrorCode::Corruption,
                "the records database {} is missing", tree);
  swaps_.emplace_back(0, tree & 1);
}

RecordTrees::RecordTrees(const RecordTrees& other)
    : trees_{other.trees_[0], other.trees_[1]}, latest_(other.latest_.load()) {
  std::lock_guard lock(other.mutex_);
  swaps_ = other.swaps_;
}

bool RecordTrees::swap(uint32_t tree, uint64_t since) {
  tree &= 1;
  if (!trees_[tree]) return false;
  std::lock_guard lock(mutex_);
  if (since <= latest().second) return true;  // known already
  swaps_.emplace_back(since, tree);
  latest_.store((uint64_t{tree} << 63) | (since & kSince), std::memory_order_release);
  return true;
}

const engine::Db& RecordTrees::before(uint64_t snapshot) const {
  std::lock_guard lock(mutex_);
  auto it = std::upper_bound(swaps_.begin(), swaps_.end(), snapshot,
                             [](uint64_t s, const auto& swap) { return s < swap.first; });
  // swaps_ starts at snapshot 0: some swap is at or before every snapshot.
  return *trees_[std::prev(it)->second];
}

// ---- TableCore ----

const engine::Db& TableCore::records(const Txn& tx) const { return records(internal::engineTxn(tx)); }

TableCore::TableCore(TableSchema schema, RecordTrees records, std::vector<IndexCore> indexes,
                     const Catalog& catalog)
    : schema_(std::move(schema)),
      trees_(std::move(records)),
      indexes_(std::move(indexes)),
      catalog_(&catalog),
      check_(schema_.schema),
      layout_(schema_.schema) {}

std::string TableCore::primaryKeyOf(capnp::DynamicStruct::Reader record) const {
  ErrorContext scope = context();
  engine::KeyEncoder key;
  appendKey(key, record, schema_.primaryKey);
  std::string bytes = key.bytes();
  CAPDB_REQUIRE_IN(bytes.size() <= engine::kMaxKeySize, ErrorCode::InvalidArgument,
          "primary key {} is {} bytes, longer than the {}-byte key limit", engine::formatKey(bytes), bytes.size(), engine::kMaxKeySize);
  return bytes;
}

std::string TableCore::encodePrimaryKey(const Key& key) const {
  ErrorContext scope = context();
  CAPDB_REQUIRE_IN(key.values.size() == schema_.primaryKey.size(), ErrorCode::InvalidArgument,
          "the primary key has {} values, {} given", schema_.primaryKey.size(), key.values.size());
  engine::KeyEncoder e;
  for (const auto& v : key.values) e.value(v);
  return std::move(e).release();
}

std::pair<std::string, std::string> TableCore::indexEntry(const IndexCore& index,
                                                          capnp::DynamicStruct::Reader record,
                                                          std::string_view pk) const {
  ErrorContext scope = context();
  engine::KeyEncoder key;
  bool hasNull = false;
  for (const auto& path : index.schema.fields) {
    engine::KeyValue v = indexKeyValue(keyValueAt(record, path));
    hasNull = hasNull || std::holds_alternative<engine::KeyNull>(v);
    key.value(v);
  }
  // A unique index maps its key to the primary key; a non-unique one (and a unique one whose key
  // holds a NULL, which SQL lets repeat) maps (key, primary key) to nothing.
  bool unique = index.schema.unique && !hasNull;
  std::string value;
  if (unique) value.assign(pk);
  else key.raw(pk);
  std::string bytes = key.bytes();
  CAPDB_REQUIRE_IN(bytes.size() <= engine::kMaxKeySize, ErrorCode::InvalidArgument,
          "key of index {} for record {} is {} bytes, longer than the {}-byte limit", index.schema.name, engine::formatKey(pk), bytes.size(),
          engine::kMaxKeySize);
  return {std::move(bytes), std::move(value)};
}

Key TableCore::indexKey(std::string_view index, capnp::DynamicStruct::Reader record) const {
  requireOwnStruct(record);
  const IndexSchema* schema = schema_.findIndex(index);
  if (schema == nullptr) failNoIndex(index);
  std::vector<engine::KeyValue> values;
  values.reserve(schema->fields.size());
  for (const auto& f : schema->fields) values.push_back(keyValueAt(record, f));
  return Key::fromValues(std::move(values));
}

std::string_view TableCore::primaryKeyOfEntry(const IndexCore& index, std::string_view key,
                                              std::string_view value) const {
  if (!value.empty()) return value;
  engine::KeyDecoder d(key);
  for (size_t i = 0; i < index.schema.fields.size(); ++i) d.skip();
  return d.rest();
}

capnp::DynamicStruct::Reader TableCore::decode(RecordDecoder& decoder, std::string_view pk,
                                               std::string_view bytes, bool verify) const {
  ErrorContext scope = context(pk);
  requireAvailable();
  // The root is read below inside a handler of its own, or checked with the whole record.
  uint32_t version = decoder.decode(bytes, schema_.name, pk, /*checkRoot=*/false);
  if (version == schema_.version) [[likely]] {
    if (verify) return decoder.verifiedRoot(check_, schema_.schema);
    try {
      return decoder.root(schema_.schema);
    } catch (const kj::Exception& e) {
      failKj(ErrorCode::Corruption, e);
    }
  }
  const OldVersion* stored = nullptr;
  for (const auto& o : oldVersions_) {
    if (o.version == version) stored = &o;
  }
  if (upgrader_ == nullptr || stored == nullptr) {
    failIn(ErrorCode::SchemaMismatch,
         "stored at schema version {}, but the table is at version {} and "
         "no migration plan reads that version", version, schema_.version);
  }
  auto old = decoder.verifiedRoot(stored->check, stored->readAs);
  if (stored->readAs == schema_.schema) return old;  // wire-compatible: the bytes read as the newest
  capnp::MallocMessageBuilder& out = decoder.upgraded();
  auto record = upgrader_->upgrade(version, old, pk, out).as<capnp::DynamicStruct>(schema_.schema);
  if (!stored->keyCheck) return record;
  std::string newPk = primaryKeyOf(record);
  if (newPk != pk) {
    failIn(ErrorCode::MigrationFailed,
         "the migration from version {} changed the primary key to {}; a "
         "step that changes the key must name the key's fields in StepOptions::writes, so that "
         "the migration moves each record to its new key (eager mode)", version, engine::formatKey(newPk));
  }
  return record;
}

void TableCore::setUpgrader(std::shared_ptr<const Upgrader> upgrader,
                            const std::set<uint32_t>& versions, bool keysMove) {
  upgrader_ = std::move(upgrader);
  oldVersions_.clear();
  std::vector<std::string> keyFields;
  for (const auto& f : schema_.primaryKey) keyFields.push_back(f.dotted);
  for (uint32_t v : versions) {
    capnp::StructSchema readAs = upgrader_->readSchema(v);
    oldVersions_.push_back(OldVersion{v, readAs, RecordCheck(readAs),
                                      !keysMove && upgrader_->mayChangeKey(v, keyFields)});
  }
}

void TableCore::setIndexState(std::string_view name, IndexState state, uint64_t readyFrom,
                              uint64_t stamp) const {
  std::lock_guard lock(indexStateMutex_);
  for (IndexCore& index : indexes_) {
    if (index.schema.name == name) index.state.set(state, readyFrom, stamp);
  }
}

engine::KeyRange TableCore::toKeyRange(const Range& range) {
  auto encode = [](const std::optional<Key>& k) -> std::optional<std::string> {
    if (!k || k->values.empty()) return std::nullopt;
    engine::KeyEncoder e;
    for (const auto& v : k->values) e.value(v);
    return std::move(e).release();
  };
  return toKeyRange(encode(range.lower), range.lowerInclusive, encode(range.upper),
                    range.upperInclusive);
}

engine::KeyRange TableCore::toKeyRange(std::optional<std::string> lower, bool lowerInclusive,
                                       std::optional<std::string> upper, bool upperInclusive) {
  // A bound with fewer values than the key covers every key that starts with them, so an
  // exclusive lower and an inclusive upper bound move past all such keys.
  engine::KeyRange r;
  if (lower) {
    if (lowerInclusive) {
      r.lower = engine::Bound{std::move(*lower), true};
    } else {
      std::string succ = engine::prefixSuccessor(*lower);
      if (succ.empty()) return engine::KeyRange::between("\xff", false, "\xff", false);
      r.lower = engine::Bound{std::move(succ), true};
    }
  }
  if (upper) {
    if (upperInclusive) {
      std::string succ = engine::prefixSuccessor(*upper);
      if (!succ.empty()) r.upper = engine::Bound{std::move(succ), false};
    } else {
      r.upper = engine::Bound{std::move(*upper), false};
    }
  }
  return r;
}

TableInfo& TableCore::touch(WriteTxn& tx, bool migrating) const {
  ErrorContext scope = context();
  auto& touched = internal::writeState(tx).touched;
  if (migrating) internal::writeState(tx).reshaping.insert(schema_.name);
  auto it = touched.find(schema_.name);
  if (it != touched.end()) return it->second;
  requireAvailable();
  auto info = catalog_->readTable(internal::engineTxn(tx), schema_.name);
  CAPDB_REQUIRE(info.has_value(), ErrorCode::Internal, "table {} is missing from the catalog",
          schema_.name);
  if (!migrating) {
    // Another process may have undone the migration to this table's version, or moved the records
    // to new keys, since this table was opened.
    CAPDB_REQUIRE_IN(info->version >= schema_.version, ErrorCode::SchemaMismatch,
                  "the database is at schema version {}, older than this table's {}: a "
                  "migration was undone since it was opened; reopen the database", info->version, schema_.version);
    CAPDB_REQUIRE_IN(info->version <= schema_.version, ErrorCode::SchemaMismatch,
                  "another process upgraded it from schema version {} to {} since this "
                  "process opened it; reopen the database with the app's schema at version {}", schema_.version, info->version, info->version);
    CAPDB_REQUIRE_IN(!(info->migration && info->migration->rekey), ErrorCode::Busy,
                  "a migration is moving its records to new primary keys; writes wait "
                  "until it finishes");
    // While a migration may still be undone, the indexes it rebuilds keep their old entries
    // for the undo, which a write with the new version's entries would spoil, and an undo
    // could not keep a record written at the new version: writes wait for its checks and its
    // rewrite. Indexes that are building otherwise take writes.
    if (info->migration && !info->migration->before.empty()) {
      std::string checked;
      for (const IndexInfo& ii : info->indexes) {
        if (ii.unique && ii.state == IndexState::Building) {
          checked += (checked.empty() ? "" : ", ") + ii.name;
        }
      }
      if (info->migration->phase == MigrationState::Phase::Check) {
        failIn(ErrorCode::Busy,
               "a migration is checking unique index {} for duplicate keys and may still be "
               "undone; writes wait until its checks end (the eager migration, capdb upgrade, runs "
               "them)", checked.empty() ? std::string("?") : checked);
      }
      failIn(ErrorCode::Busy,
             "a migration is rewriting its records and may still be undone; writes wait until "
             "its rewrite ends (the eager migration, capdb upgrade, runs it)");
    }
    std::vector<std::string> key;
    for (const auto& f : schema_.primaryKey) key.push_back(f.dotted);
    CAPDB_REQUIRE_IN(info->primaryKey == key, ErrorCode::SchemaMismatch,
                  "the database's primary key is ({}), this table's ({}): a migration "
                  "to another key ran (or was undone) since the table was opened; reopen the "
                  "database with the schema that matches it", fmt::join(info->primaryKey, ", "), fmt::join(key, ", "));
  }
  return touched.emplace(schema_.name, std::move(*info)).first->second;
}

void TableCore::failUnavailable() const {
  ErrorContext scope = context();
  const Unavailable* u = unavailable_.load(std::memory_order_acquire);
  failIn(u->code, "{}", u->why);
}

void TableCore::setUnavailable(ErrorCode code, std::string why) const {
  std::lock_guard lock(unavailableMutex_);
  if (unavailableOwned_) return;
  unavailableOwned_ = std::make_unique<Unavailable>(Unavailable{code, std::move(why)});
  unavailable_.store(unavailableOwned_.get(), std::memory_order_release);
}

uint64_t TableCore::highestAutoIncrement(const engine::Txn& txn) const {
  return highestAutoIncrement(txn, records(txn));
}

uint64_t TableCore::highestAutoIncrement(const engine::Txn& txn, const engine::Db& tree) const {
  if (!schema_.autoIncrement) return 0;
  size_t position = *schema_.autoIncrement;
  uint64_t highest = 0;
  auto take = [&](std::string_view key) {
    engine::KeyDecoder d(key);
    for (size_t i = 0; i < position; ++i) d.skip();
    auto v = d.next();
    if (auto* u = std::get_if<uint64_t>(&v)) highest = std::max(highest, *u);
    if (auto* i = std::get_if<int64_t>(&v); i && *i > 0) highest = std::max(highest, uint64_t(*i));
  };
  if (schema_.primaryKey.size() == 1) {
    engine::Cursor c = txn.cursor(tree);
    if (c.last()) take(c.key());
  } else {
    for (auto [key, value] : txn.scan(tree, engine::KeyRange::all())) take(key);
  }
  return highest;
}

void TableCore::requireOwnStruct(capnp::DynamicStruct::Reader record) const {
  ErrorContext scope = context();
  CAPDB_REQUIRE_IN(record.getSchema().getProto().getId() == schema_.schema.getProto().getId(),
                ErrorCode::InvalidArgument, "the record is a {}, not a {}", structName(record.getSchema()), structName(schema_.schema));
}

uint64_t TableCore::insert(WriteTxn& tx, const Edit& fill) const {
  ErrorContext scope = context();
  // The shared scratch segment serves one builder at a time; an insert nested in a fill (a
  // parent inserted while building its child) builds on the heap.
  WriteState& state = internal::writeState(tx);
  bool useScratch = !state.scratchInUse;
  std::optional<capnp::MallocMessageBuilder> message;
  if (useScratch) message.emplace(state.scratch());
  else message.emplace();
  state.scratchInUse = state.scratchInUse || useScratch;
  struct Release {
    WriteState& s;
    bool used;
    ~Release() {
      if (used) s.scratchInUse = false;
    }
  } release{state, useScratch};
  auto record = message->initRoot<capnp::DynamicStruct>(schema_.schema);
  translateKjIn(ErrorCode::InvalidArgument, [&] { fill(record); }, "building a record");
  return guarded(tx, [&] { return insertBuilt(tx, *message); });
}

uint64_t TableCore::insert(WriteTxn& tx, capnp::DynamicStruct::Reader record) const {
  ErrorContext scope = context();
  requireOwnStruct(record);
  capnp::MallocMessageBuilder message;
  translateKjIn(ErrorCode::InvalidArgument, [&] { message.setRoot(record); },
              "copying the record");
  return guarded(tx, [&] { return insertBuilt(tx, message); });
}

uint64_t TableCore::insertBuilt(WriteTxn& tx, capnp::MessageBuilder& message) const {
  ErrorContext scope = context();
  auto record = message.getRoot<capnp::DynamicStruct>(schema_.schema);
  TableInfo& info = touch(tx);
  uint64_t autoValue = 0;
  bool assigned = false;
  if (schema_.autoIncrement) {
    const FieldPath& path = schema_.primaryKey[*schema_.autoIncrement];
    auto field = path.leaf();
    using W = capnp::schema::Type::Which;
    bool isSigned = path.leafWhich == W::INT8 || path.leafWhich == W::INT16 ||
                    path.leafWhich == W::INT32 || path.leafWhich == W::INT64;
    auto current = record.asReader().get(field);
    if (isSigned) {
      int64_t v = current.as<int64_t>();
      CAPDB_REQUIRE_IN(v >= 0, ErrorCode::InvalidArgument,
              "autoIncrement field {} is {}; it must be 0 (assign the next value) or "
              "positive", path.dotted, v);
      autoValue = static_cast<uint64_t>(v);
    } else {
      autoValue = current.as<uint64_t>();
    }
    if (autoValue == 0) {
      assigned = true;
      autoValue = info.sequence + 1;
      if (isSigned && autoValue > static_cast<uint64_t>(INT64_MAX)) {
        failIn(ErrorCode::Full, "the autoIncrement sequence of {} is exhausted at {}", path.dotted, info.sequence);
      }
      // The value must fit the field: a UInt8 sequence ends at 255.
      try {
        if (isSigned) record.set(field, static_cast<int64_t>(autoValue));
        else record.set(field, autoValue);
      } catch (const kj::Exception&) {
        failIn(ErrorCode::Full, "the autoIncrement sequence of {} is exhausted at {}", path.dotted, info.sequence);
      }
    }
    info.sequence = std::max(info.sequence, autoValue);
  }
  auto reader = record.asReader();
  refuseNanKey(schema_, reader);
  std::string pk = primaryKeyOf(reader);
  engine::WriteTxn& etx = internal::engineWrite(tx);
  std::string_view encoded = internal::writeState(tx).encoder.encode(schema_.version, message);
  // The sequence is at least every key the table holds, so a key it assigns to a one-field
  // primary key is past the last one: append (MDB_APPEND) rather than search the tree.
  bool appended = false;
  if (assigned && schema_.primaryKey.size() == 1) {
    engine::Cursor last = etx.cursor(records(etx));
    if (!last.last() || last.key() < std::string_view(pk)) {
      etx.append(records(etx), pk, encoded);
      appended = true;
    }
  }
  if (!appended && !etx.insert(records(etx), pk, encoded)) {
    failIn(ErrorCode::ConstraintViolation, "a record with primary key {} already exists", engine::formatKey(pk));
  }
  addIndexEntries(tx, reader, pk);
  ++info.counts[schema_.version];
  return autoValue;
}

void TableCore::addIndexEntries(WriteTxn& tx, capnp::DynamicStruct::Reader record,
                                std::string_view pk) const {
  engine::WriteTxn& etx = internal::engineWrite(tx);
  auto& deferred = internal::writeState(tx).deferred;
  bool defer = deferred && deferred->table == this;
  for (size_t i = 0; i < indexes_.size(); ++i) {
    const IndexCore& index = indexes_[i];
    if (!index.maintained()) continue;  // a failed build: neither maintained nor read
    auto entry = indexEntry(index, record, pk);
    if (defer && entry.second.empty()) {
      auto& run = deferred->runs[i];
      run.keys.emplace_back(static_cast<uint32_t>(run.arena.size()),
                            static_cast<uint32_t>(entry.first.size()));
      run.arena.append(entry.first);
      deferred->bytes += entry.first.size() + sizeof(run.keys.back());
      continue;
    }
    putIndexEntry(etx, index, entry, pk, ErrorCode::ConstraintViolation);
  }
  if (defer && deferred->bytes > DeferredEntries::kMaxBytes) {
    writeDeferred(tx);
    deferIndexEntries(tx);
  }
}

void TableCore::deferIndexEntries(WriteTxn& tx) const {
  auto& deferred = internal::writeState(tx).deferred;
  deferred.emplace();
  deferred->table = this;
  deferred->runs.resize(indexes_.size());
}

void TableCore::abandonDeferred(WriteTxn& tx, std::exception_ptr why) const {
  WriteState& state = internal::writeState(tx);
  state.deferred.reset();
  try {
    std::rethrow_exception(why);
  } catch (const engine::MapFull&) {
    // The whole transaction runs again in a bigger map.
  } catch (const std::exception& e) {
    if (state.failure.empty()) state.failure = e.what();
  } catch (...) {
    if (state.failure.empty()) state.failure = "a bulk load failed part-way";
  }
}

void TableCore::writeDeferred(WriteTxn& tx) const {
  auto& deferred = internal::writeState(tx).deferred;
  if (!deferred || deferred->table != this) return;
  engine::WriteTxn& etx = internal::engineWrite(tx);
  std::vector<std::pair<std::string_view, std::string_view>> entries;
  for (size_t i = 0; i < indexes_.size(); ++i) {
    auto& run = deferred->runs[i];
    if (run.keys.empty()) continue;
    std::string_view arena(run.arena);
    auto key = [&](const std::pair<uint32_t, uint32_t>& k) { return arena.substr(k.first, k.second); };
    std::sort(run.keys.begin(), run.keys.end(),
              [&](const auto& a, const auto& b) { return key(a) < key(b); });
    entries.clear();
    for (const auto& k : run.keys) entries.emplace_back(key(k), std::string_view());
    // Keys hold the primary key, which the load inserted once each: no two are equal.
    if (etx.count(indexes_[i].db) == 0) {
      etx.appendMany(indexes_[i].db, entries);
    } else {
      etx.putMany(indexes_[i].db, entries);
    }
  }
  deferred.reset();
}

void TableCore::putIndexEntry(engine::WriteTxn& txn, const IndexCore& index,
                              const std::pair<std::string, std::string>& entry,
                              std::string_view pk, ErrorCode code) const {
  ErrorContext scope = context();
  const auto& [key, value] = entry;
  if (value.empty()) {
    txn.put(index.db, key, value);
    return;
  }
  if (txn.insert(index.db, key, value)) return;
  auto owner = txn.get(index.db, key);
  if (owner && *owner == value) return;  // already there, for this very record
  failIn(code,
       "unique index {} already holds key {} for record {}; record {} cannot have it "
       "too", index.schema.name, engine::formatKey(key),
       owner ? engine::formatKey(*owner) : std::string("?"), engine::formatKey(pk));
}

void TableCore::eraseIndexEntry(engine::WriteTxn& txn, const IndexCore& index,
                                const std::pair<std::string, std::string>& entry) const {
  const auto& [key, value] = entry;
  if (value.empty()) {
    txn.erase(index.db, key);
    return;
  }
  // A unique entry's key does not hold the primary key: while the index builds, the key may be
  // another record's (a duplicate the build has not reached yet), whose entry must stay.
  auto owner = txn.get(index.db, key);
  if (owner && *owner == value) txn.erase(index.db, key);
}

void TableCore::replace(WriteTxn& tx, std::string_view pk, capnp::DynamicStruct::Reader old,
                        uint32_t oldVersion, capnp::MessageBuilder& message) const {
  TableInfo& info = touch(tx);  // before anything is written: it may refuse the write
  auto updated = readRootAs(message, schema_.schema);
  engine::WriteTxn& etx = internal::engineWrite(tx);
  // Everything is computed before anything is written: `old` may point into a page that the
  // first write changes. Only the index entries whose keys changed are touched.
  std::vector<std::pair<const IndexCore*, std::pair<std::string, std::string>>> removed, added;
  for (const IndexCore& index : indexes_) {
    if (!index.maintained()) continue;
    auto before = indexEntry(index, old, pk);
    auto after = indexEntry(index, updated, pk);
    if (before == after) continue;
    removed.emplace_back(&index, std::move(before));
    added.emplace_back(&index, std::move(after));
  }
  std::string encoded(internal::writeState(tx).encoder.encode(schema_.version, message));
  for (auto& [index, entry] : removed) eraseIndexEntry(etx, *index, entry);
  for (auto& [index, entry] : added) {
    putIndexEntry(etx, *index, entry, pk, ErrorCode::ConstraintViolation);
  }
  etx.put(records(etx), pk, encoded);
  if (oldVersion != schema_.version) {
    --info.counts[oldVersion];
    ++info.counts[schema_.version];
  }
}

bool TableCore::update(WriteTxn& tx, capnp::DynamicStruct::Reader record) const {
  ErrorContext scope = context();
  requireOwnStruct(record);
  touch(tx);  // first: a refused write must not read as "no such record"
  capnp::MallocMessageBuilder message;
  translateKjIn(ErrorCode::InvalidArgument, [&] { message.setRoot(record); },
              "copying the record");
  return guarded(tx, [&] {
    auto reader = readRootAs(message, schema_.schema);
    std::string pk = primaryKeyOf(reader);
    auto stored = internal::engineTxn(tx).get(records(tx), pk);
    if (!stored) return false;
    RecordDecoder& decoder = internal::writeState(tx).decoder;
    auto old = decode(decoder, pk, *stored);
    replace(tx, pk, old, decoder.version(), message);
    return true;
  });
}

bool TableCore::update(WriteTxn& tx, const Key& key, const Edit& edit) const {
  ErrorContext scope = context();
  touch(tx);  // first: a refused write must not read as "no such record"
  std::string pk = encodePrimaryKey(key);
  auto stored = internal::engineTxn(tx).get(records(tx), pk);
  if (!stored) return false;
  // A decoder of its own: `edit` may read or write this table, which would reuse a shared one.
  RecordDecoder decoder;
  auto old = decode(decoder, pk, *stored);
  capnp::MallocMessageBuilder message;
  // Copying also follows pointers the app's schema does not know (fields of a newer version).
  capnp::DynamicStruct::Builder builder;
  {
    ErrorContext record = context(pk);
    translateKjIn(ErrorCode::Corruption, [&] { builder = setRootAs(message, old, layout_); }, "");
  }
  translateKjIn(ErrorCode::InvalidArgument, [&] { edit(builder); }, "editing a record");
  // `edit` may have written to this transaction: read the stored record again for the index
  // entries to replace.
  stored = internal::engineTxn(tx).get(records(tx), pk);
  CAPDB_REQUIRE_IN(stored.has_value(), ErrorCode::InvalidArgument,
                "record {} was removed by its own edit function", engine::formatKey(pk));
  old = decode(decoder, pk, *stored);
  std::string newPk = primaryKeyOf(builder.asReader());
  CAPDB_REQUIRE_IN(newPk == pk, ErrorCode::InvalidArgument,
          "an update may not change the primary key ({} -> {}); remove the record and "
          "insert it under the new key", engine::formatKey(pk), engine::formatKey(newPk));
  guarded(tx, [&] { replace(tx, pk, old, decoder.version(), message); });
  return true;
}

bool TableCore::upsert(WriteTxn& tx, capnp::DynamicStruct::Reader record) const {
  if (update(tx, record)) return false;
  insert(tx, record);
  return true;
}

bool TableCore::remove(WriteTxn& tx, const Key& key) const {
  // First: a refused write must neither erase anything nor read as "no such record".
  TableInfo& info = touch(tx);
  std::string pk = encodePrimaryKey(key);
  engine::WriteTxn& etx = internal::engineWrite(tx);
  auto stored = etx.get(records(etx), pk);
  if (!stored) return false;
  RecordDecoder& decoder = internal::writeState(tx).decoder;
  auto old = decode(decoder, pk, *stored);
  // All entries first: `old` may point into a page that the first erase changes. A failed index
  // is not kept, so its entry is not even computed (its key may not fit).
  std::vector<std::pair<const IndexCore*, std::pair<std::string, std::string>>> entries;
  for (const IndexCore& index : indexes_) {
    if (index.maintained()) entries.emplace_back(&index, indexEntry(index, old, pk));
  }
  uint32_t version = decoder.version();
  guarded(tx, [&] {
    for (const auto& [index, entry] : entries) eraseIndexEntry(etx, *index, entry);
    etx.erase(records(etx), pk);
  });
  --info.counts[version];
  return true;
}

std::optional<DynamicRow> TableCore::get(const Txn& tx, const Key& key) const {
  requireAvailable();
  std::string pk = encodePrimaryKey(key);
  auto stored = internal::engineTxn(tx).get(records(tx), pk);
  if (!stored) return std::nullopt;
  DynamicRow row = detail::Access::makeRow();
  auto& decoder = detail::Access::decoder(row);
  decoder = takeRowDecoder();
  // The row's decoder holds the record unpacked: it outlives later writes of the transaction.
  detail::Access::reader(row) = decode(*decoder, pk, *stored);
  detail::Access::version(row) = decoder->version();
  return row;
}

RecordCursor TableCore::scan(const Txn& tx, const Range& range, Direction direction) const {
  requireAvailable();
  return detail::Access::makeCursor(std::make_unique<detail::CursorImpl>(
      *this, internal::engineTxn(tx), internal::engineTxn(tx).scan(records(tx), toKeyRange(range), direction), nullptr));
}

const IndexCore& TableCore::index(std::string_view name) const {
  for (const IndexCore& index : indexes_) {
    if (index.schema.name == name) return index;
  }
  failNoIndex(name);
}

const IndexCore& TableCore::requireIndex(std::string_view name, uint64_t snapshot) const {
  ErrorContext scope = context();
  const IndexCore& ic = index(name);
  CAPDB_REQUIRE_IN(ic.state.get() != IndexState::Failed, ErrorCode::SchemaMismatch,
                   "index {} failed its build (a unique index over duplicate keys; "
                   "capdb status lists them)", name);
  CAPDB_REQUIRE_IN(ic.state.get() != IndexState::Building, ErrorCode::Busy,
                   "index {} is still being built; Database::drain() or migrate() (capdb "
                   "upgrade --mode eager) finishes it", name);
  CAPDB_REQUIRE_IN(ic.readyAt(snapshot), ErrorCode::Busy,
                   "index {} was completed after this transaction's snapshot; read it in a "
                   "newer transaction", name);
  return ic;
}

void TableCore::failNoIndex(std::string_view name) const {
  std::string known;
  for (const auto& index : schema_.indexes) known += (known.empty() ? "" : ", ") + index.name;
  fail(ErrorCode::InvalidArgument, "table {} has no index {} (its indexes: {})", schema_.name,
       name, known.empty() ? "none" : known);
}

RecordCursor TableCore::find(const Txn& tx, std::string_view index, const Range& range,
                             Direction direction) const {
  ErrorContext scope = context();
  requireAvailable();
  const IndexCore& ic = requireIndex(index, internal::engineTxn(tx).snapshotId());
  for (const auto* bound : {&range.lower, &range.upper}) {
    CAPDB_REQUIRE_IN(!*bound || (*bound)->values.size() <= ic.schema.fields.size(),
            ErrorCode::InvalidArgument, "index {} has {} fields, a bound gives {}", index, ic.schema.fields.size(), (*bound)->values.size());
  }
  // The index holds a NaN as NULL (indexEntry): so does a bound.
  Range bounds = range;
  for (auto* bound : {&bounds.lower, &bounds.upper}) {
    if (!*bound) continue;
    for (auto& v : (*bound)->values) v = indexKeyValue(std::move(v));
  }
  return detail::Access::makeCursor(std::make_unique<detail::CursorImpl>(
      *this, internal::engineTxn(tx), internal::engineTxn(tx).scan(ic.db, toKeyRange(bounds), direction), &ic));
}

uint64_t TableCore::count(const Txn& tx) const {
  requireAvailable();
  return internal::engineTxn(tx).count(records(tx));
}

}  // namespace capdb::orm
