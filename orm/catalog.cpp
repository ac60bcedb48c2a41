#include "orm/catalog.h"

#include <capnp/message.h>
#include <capnp/serialize.h>
#include <orm/catalog.capnp.h>

#include <fmt/format.h>

#include <cstring>
#include <tuple>

#include "engine/fail.h"
#include "engine/key_codec.h"
#include "orm/disk_names.h"
#include "orm/kj_error.h"

namespace capdb::orm {
namespace {

// Copies value bytes into aligned words: LMDB does not align values.
kj::Array<capnp::word> aligned(std::string_view bytes) {
  auto words = kj::heapArray<capnp::word>((bytes.size() + 7) / 8);
  if (!bytes.empty()) std::memcpy(words.begin(), bytes.data(), bytes.size());
  return words;
}

std::string toBytes(capnp::MessageBuilder& message) {
  auto words = capnp::messageToFlatArray(message);
  auto bytes = words.asBytes();
  return std::string(reinterpret_cast<const char*>(bytes.begin()), bytes.size());
}

std::string str(capnp::Text::Reader t) { return std::string(t.begin(), t.end()); }

TableInfo decodeTable(catalog::TableEntry::Reader e) {
  TableInfo t;
  t.id = e.getId();
  t.name = str(e.getName());
  t.version = e.getVersion();
  for (auto f : e.getPrimaryKey()) t.primaryKey.push_back(str(f));
  t.autoIncrement = str(e.getAutoIncrement());
  t.sequence = e.getSequence();
  t.recordsTree = e.getRecordsTree();
  t.recordsSince = e.getRecordsSince();
  for (auto i : e.getIndexes()) {
    IndexInfo info;
    info.name = str(i.getName());
    info.unique = i.getUnique();
    switch (i.getState()) {
      case catalog::IndexState::READY: info.state = IndexState::Ready; break;
      case catalog::IndexState::BUILDING: info.state = IndexState::Building; break;
      case catalog::IndexState::FAILED: info.state = IndexState::Failed; break;
      default:
        fail(ErrorCode::Corruption, "table {}: index {} has an unknown state {}", t.name,
             info.name, static_cast<unsigned>(i.getState()));
    }
    info.distinctKeys = i.getDistinctKeys();
    auto cp = i.getCheckpoint();
    info.checkpoint.assign(reinterpret_cast<const char*>(cp.begin()), cp.size());
    info.done = i.getDone();
    info.held = i.getHeld();
    info.readySince = i.getReadySince();
    for (auto d : i.getDuplicates()) info.duplicates.push_back(str(d));
    for (auto f : i.getFields()) info.fields.push_back(str(f));
    t.indexes.push_back(std::move(info));
  }
  for (auto c : e.getCounts()) t.counts[c.getVersion()] = c.getRecords();
  if (e.hasMigration()) {
    auto m = e.getMigration();
    auto cp = m.getCheckpoint();
    MigrationState::Phase phase = MigrationState::Phase::Records;
    if (m.getPhase() == catalog::MigrationPhase::INDEXES) phase = MigrationState::Phase::Indexes;
    if (m.getPhase() == catalog::MigrationPhase::CHECK) phase = MigrationState::Phase::Check;
    if (m.getPhase() == catalog::MigrationPhase::REKEY) phase = MigrationState::Phase::Rekey;
    if (m.getPhase() == catalog::MigrationPhase::INSTALL) phase = MigrationState::Phase::Install;
    if (m.getPhase() == catalog::MigrationPhase::REPLACE) phase = MigrationState::Phase::Replace;
    t.migration = MigrationState{
        phase, std::string(reinterpret_cast<const char*>(cp.begin()), cp.size()), m.getTotal(),
        m.getDone(), m.getFromVersion(), {}, m.getRekey(), m.getStepless(), {}, {}};
    t.migration->stepsBelow = m.getStepsBelow();
    for (auto step : m.getSqlSteps()) t.migration->sqlSteps.push_back(str(step));
    auto before = m.getBefore();
    t.migration->before.assign(reinterpret_cast<const char*>(before.begin()), before.size());
    for (auto name : m.getDropIndexes()) t.migration->dropIndexes.push_back(str(name));
  }
  return t;
}

std::string encodeTable(const TableInfo& t) {
  capnp::MallocMessageBuilder message;
  auto e = message.initRoot<catalog::TableEntry>();
  e.setId(t.id);
  e.setName(t.name);
  e.setVersion(t.version);
  auto pk = e.initPrimaryKey(static_cast<unsigned>(t.primaryKey.size()));
  for (unsigned i = 0; i < pk.size(); ++i) pk.set(i, t.primaryKey[i]);
  e.setAutoIncrement(t.autoIncrement);
  e.setSequence(t.sequence);
  e.setRecordsTree(t.recordsTree);
  e.setRecordsSince(t.recordsSince);
  auto indexes = e.initIndexes(static_cast<unsigned>(t.indexes.size()));
  for (unsigned i = 0; i < indexes.size(); ++i) {
    const IndexInfo& info = t.indexes[i];
    auto ie = indexes[i];
    ie.setName(info.name);
    auto fields = ie.initFields(static_cast<unsigned>(info.fields.size()));
    for (unsigned j = 0; j < fields.size(); ++j) fields.set(j, info.fields[j]);
    ie.setUnique(info.unique);
    switch (info.state) {
      case IndexState::Ready: ie.setState(catalog::IndexState::READY); break;
      case IndexState::Building: ie.setState(catalog::IndexState::BUILDING); break;
      case IndexState::Failed: ie.setState(catalog::IndexState::FAILED); break;
    }
    ie.setDistinctKeys(info.distinctKeys);
    ie.setCheckpoint(kj::arrayPtr(reinterpret_cast<const kj::byte*>(info.checkpoint.data()),
                                  info.checkpoint.size()));
    ie.setDone(info.done);
    ie.setHeld(info.held);
    ie.setReadySince(info.readySince);
    if (!info.duplicates.empty()) {
      auto dups = ie.initDuplicates(static_cast<unsigned>(info.duplicates.size()));
      for (unsigned j = 0; j < dups.size(); ++j) dups.set(j, info.duplicates[j]);
    }
  }
  unsigned nonzero = 0;
  for (const auto& [v, n] : t.counts) nonzero += n != 0;
  auto counts = e.initCounts(nonzero);
  unsigned i = 0;
  for (const auto& [v, n] : t.counts) {
    if (n == 0) continue;
    counts[i].setVersion(v);
    counts[i].setRecords(n);
    ++i;
  }
  if (t.migration) {
    auto m = e.initMigration();
    switch (t.migration->phase) {
      case MigrationState::Phase::Check: m.setPhase(catalog::MigrationPhase::CHECK); break;
      case MigrationState::Phase::Records: m.setPhase(catalog::MigrationPhase::RECORDS); break;
      case MigrationState::Phase::Indexes: m.setPhase(catalog::MigrationPhase::INDEXES); break;
      case MigrationState::Phase::Rekey: m.setPhase(catalog::MigrationPhase::REKEY); break;
      case MigrationState::Phase::Install: m.setPhase(catalog::MigrationPhase::INSTALL); break;
      case MigrationState::Phase::Replace: m.setPhase(catalog::MigrationPhase::REPLACE); break;
    }
    m.setRekey(t.migration->rekey);
    m.setStepless(t.migration->stepless);
    m.setStepsBelow(t.migration->stepsBelow);
    m.setFromVersion(t.migration->fromVersion);
    m.setCheckpoint(kj::arrayPtr(reinterpret_cast<const kj::byte*>(t.migration->checkpoint.data()),
                                 t.migration->checkpoint.size()));
    m.setTotal(t.migration->total);
    m.setDone(t.migration->done);
    if (!t.migration->sqlSteps.empty()) {
      auto steps = m.initSqlSteps(static_cast<unsigned>(t.migration->sqlSteps.size()));
      for (size_t i = 0; i < t.migration->sqlSteps.size(); ++i) {
        steps.set(static_cast<unsigned>(i), t.migration->sqlSteps[i]);
      }
    }
    if (!t.migration->before.empty()) {
      m.setBefore(kj::arrayPtr(reinterpret_cast<const kj::byte*>(t.migration->before.data()),
                               t.migration->before.size()));
    }
    if (!t.migration->dropIndexes.empty()) {
      auto names = m.initDropIndexes(static_cast<unsigned>(t.migration->dropIndexes.size()));
      for (size_t i = 0; i < t.migration->dropIndexes.size(); ++i) {
        names.set(static_cast<unsigned>(i), t.migration->dropIndexes[i]);
      }
    }
  }
  return toBytes(message);
}

}  // namespace

uint64_t TableInfo::records() const {
  uint64_t n = 0;
  for (const auto& [v, c] : counts) n += c;
  return n;
}

Catalog Catalog::create(engine::WriteTxn& txn) {
  Catalog c(txn.createDb(kCatalogDbName));
  bool fresh = !txn.get(c.db_, catalogFormatKey());
  if (!fresh) c.readAll(txn);  // refuses a format it cannot read
  if (fresh || c.format_ != kFormatVersion) {
    // New, or of an older format this build reads: from here on only builds that know where a
    // table's records are may open it.
    capnp::MallocMessageBuilder message;
    message.initRoot<catalog::Header>().setFormatVersion(kFormatVersion);
    txn.put(c.db_, catalogFormatKey(), toBytes(message));
    c.format_ = kFormatVersion;
  }
  return c;
}

std::optional<Catalog> Catalog::load(const engine::Txn& txn) {
  auto db = txn.openDb(kCatalogDbName);
  if (!db) return std::nullopt;
  Catalog c(std::move(*db));
  c.readAll(txn);
  return c;
}

void Catalog::readAll(const engine::Txn& txn) {
  auto header = txn.get(db_, catalogFormatKey());
  CAPDB_REQUIRE(header.has_value(), ErrorCode::Corruption, "the catalog has no format header");
  auto words = aligned(*header);
  uint32_t format = translateKj(
      ErrorCode::Corruption,
      [&] {
        capnp::FlatArrayMessageReader reader(words);
        return reader.getRoot<catalog::Header>().getFormatVersion();
      },
      "reading the catalog header");
  CAPDB_REQUIRE(format >= kOldestFormatRead && format <= kFormatVersion, ErrorCode::Unsupported,
          "the database was written in capdb catalog format {}{}; this build of capdb reads "
          "formats {} to {} only (records packed, each with a checksum): export the data with the "
          "build that wrote it (capdb export) and import it into a new database",
          format, format == 1 ? " (records unpacked, without checksums)" : "", kOldestFormatRead,
          kFormatVersion);
  format_ = format;

  tables_.clear();
  std::string prefix = catalogTablePrefix();
  for (auto [key, value] : txn.scan(db_, engine::KeyRange::prefix(prefix))) {
    auto entryWords = aligned(value);
    TableInfo t = translateKj(
        ErrorCode::Corruption,
        [&] {
          capnp::FlatArrayMessageReader reader(entryWords);
          return decodeTable(reader.getRoot<catalog::TableEntry>());
        },
        "reading catalog entry {}", engine::formatKey(key));
    std::string name = t.name;
    tables_.emplace(std::move(name), std::move(t));
  }
}

const TableInfo* Catalog::table(std::string_view name) const {
  auto it = tables_.find(name);
  return it == tables_.end() ? nullptr : &it->second;
}

std::string Catalog::encodeEntry(const TableInfo& table) { return encodeTable(table); }

TableInfo Catalog::decodeEntry(std::string_view bytes) {
  auto words = aligned(bytes);
  return translateKj(
      ErrorCode::Corruption,
      [&] {
        capnp::FlatArrayMessageReader reader(words);
        return decodeTable(reader.getRoot<catalog::TableEntry>());
      },
      "reading a saved catalog entry");
}

uint32_t Catalog::nextTableId() const {
  uint32_t next = 1;
  for (const auto& [name, t] : tables_) next = std::max(next, t.id + 1);
  return next;
}

void Catalog::putTable(engine::WriteTxn& txn, const TableInfo& table) {
  writeTable(txn, table);
  tables_[table.name] = table;
}

void Catalog::writeTable(engine::WriteTxn& txn, const TableInfo& table, bool reshaping) const {
  std::optional<TableInfo> before;
  if (reshaping) before = readTable(txn, table.name);
  txn.put(db_, catalogTableKey(table.name), encodeTable(table));
  if (reshaping && (!before || !sameShape(*before, table))) bumpGeneration(txn);
}

std::string_view indexStateName(IndexState state) {
  switch (state) {
    case IndexState::Ready: return "ready";
    case IndexState::Building: return "building";
    case IndexState::Failed: return "failed";
  }
  return "unknown";
}

bool Catalog::sameShape(const TableInfo& a, const TableInfo& b) {
  auto indexShape = [](const TableInfo& t) {
    std::vector<std::tuple<std::string, std::vector<std::string>, bool, IndexState>> out;
    for (const auto& i : t.indexes) out.emplace_back(i.name, i.fields, i.unique, i.state);
    return out;
  };
  auto migrationShape = [](const TableInfo& t) {
    if (!t.migration) return std::tuple<bool, int, bool, uint32_t>{false, 0, false, 0};
    return std::tuple<bool, int, bool, uint32_t>{true, static_cast<int>(t.migration->phase),
                                                 t.migration->rekey, t.migration->fromVersion};
  };
  return a.id == b.id && a.version == b.version && a.primaryKey == b.primaryKey &&
         a.recordsTree == b.recordsTree && a.autoIncrement == b.autoIncrement && indexShape(a) == indexShape(b) &&
         migrationShape(a) == migrationShape(b);
}

uint64_t Catalog::generation(const engine::Txn& txn) const {
  auto value = txn.get(db_, catalogGenerationKey());
  if (!value) return 0;
  CAPDB_REQUIRE(value->size() == sizeof(uint64_t), ErrorCode::Corruption,
                "the catalog's generation is {} bytes, not {}", value->size(), sizeof(uint64_t));
  uint64_t g = 0;
  for (size_t i = 0; i < sizeof g; ++i) {
    g |= uint64_t{static_cast<unsigned char>((*value)[i])} << (8 * i);
  }
  return g;
}

void Catalog::bumpGeneration(engine::WriteTxn& txn) const {
  uint64_t g = generation(txn) + 1;
  std::string bytes(sizeof g, '\0');
  for (size_t i = 0; i < sizeof g; ++i) bytes[i] = static_cast<char>(g >> (8 * i));
  txn.put(db_, catalogGenerationKey(), bytes);
}

void Catalog::reload(const engine::Txn& txn) {
  Catalog fresh(db_);
  fresh.readAll(txn);
  for (auto& [name, info] : fresh.tables_) tables_[name] = std::move(info);
}

std::optional<TableInfo> Catalog::readTable(const engine::Txn& txn, std::string_view name) const {
  auto value = txn.get(db_, catalogTableKey(name));
  if (!value) return std::nullopt;
  auto words = aligned(*value);
  return translateKj(
      ErrorCode::Corruption,
      [&] {
        capnp::FlatArrayMessageReader reader(words);
        return decodeTable(reader.getRoot<catalog::TableEntry>());
      },
      "reading catalog entry of table {}", name);
}

void Catalog::putSchema(engine::WriteTxn& txn, const StoredSchema& schema) {
  std::string key = catalogSchemaKey(schema.table(), schema.version());
  auto before = txn.get(db_, key);
  if (before && *before == schema.bytes()) return;
  txn.put(db_, key, schema.bytes());
  bumpGeneration(txn);
}

void Catalog::eraseSchema(engine::WriteTxn& txn, std::string_view table, uint32_t version) const {
  txn.erase(db_, catalogSchemaKey(table, version));
  bumpGeneration(txn);
}

std::optional<StoredSchema> Catalog::loadSchema(const engine::Txn& txn, std::string_view table,
                                                uint32_t version) const {
  auto bytes = txn.get(db_, catalogSchemaKey(table, version));
  if (!bytes) return std::nullopt;
  return StoredSchema::fromBytes(*bytes, table, version);
}

std::vector<uint32_t> Catalog::schemaVersions(const engine::Txn& txn,
                                              std::string_view table) const {
  std::vector<uint32_t> out;
  std::string prefix = catalogSchemaPrefix(table);
  for (auto [key, value] : txn.scan(db_, engine::KeyRange::prefix(prefix))) {
    engine::KeyDecoder d(key.substr(prefix.size()));
    auto v = d.next(engine::KeyType::UInt32);
    out.push_back(static_cast<uint32_t>(std::get<uint64_t>(v)));
  }
  return out;
}

}  // namespace capdb::orm
