// capdb/admin.h: status, schema diffs, verification and backups over the catalog and the
// tables' LMDB databases.
#include "capdb/admin.h"

#include <fmt/format.h>

#include <map>
#include <optional>
#include <set>

#include "engine/fail.h"
#include "engine/key_codec.h"
#include "engine/page_check.h"
#include "orm/catalog.h"
#include "orm/record_codec.h"
#include "orm/schema_diff.h"
#include "orm/schema_file.h"
#include "db/database_state.h"
#include "orm/disk_names.h"
#include "orm/table_core.h"
#include "orm/table_reader.h"

namespace capdb {
namespace {

std::string_view phaseName(orm::MigrationState::Phase p) {
  switch (p) {
    case orm::MigrationState::Phase::Check: return "check";
    case orm::MigrationState::Phase::Records: return "records";
    case orm::MigrationState::Phase::Indexes: return "indexes";
    case orm::MigrationState::Phase::Rekey: return "rekey";
    case orm::MigrationState::Phase::Install: return "install";
    case orm::MigrationState::Phase::Replace: return "replace";
  }
  return "?";
}

// The reverse pass over one index: every entry points to a record, and a record that can be read
// at the newest version gives that entry. Returns the entries. (An entry of a record that cannot
// be read at the newest version is covered by counting: see verify.)
uint64_t verifyIndexEntries(const engine::Txn& tx, const orm::TableCore& core,
                            const orm::IndexCore& index, VerifyReport& report) {
  const std::string& table = core.schema().name;
  orm::RecordDecoder decoder;
  uint64_t entries = 0;
  for (auto scan = tx.scan(index.db, engine::KeyRange::all()); scan.valid(); scan.next()) {
    ++entries;
    std::string_view pk = core.primaryKeyOfEntry(index, scan.key(), scan.value());
    auto bytes = tx.get(core.records(tx), pk);
    if (!bytes) {
      report.problems.push_back(fmt::format("table {}: index {} has an entry {} for record {}, "
                                            "which is not in the table",
                                            table, index.schema.name, engine::formatKey(scan.key()),
                                            engine::formatKey(pk)));
      continue;
    }
    try {
      auto record = core.decode(decoder, pk, *bytes);
      auto [key, value] = core.indexEntry(index, record, pk);
      if (key != scan.key() || value != scan.value()) {
        report.problems.push_back(fmt::format(
            "table {}: index {} has the entry {} for record {}, whose fields give {}", table,
            index.schema.name, engine::formatKey(scan.key()), engine::formatKey(pk),
            engine::formatKey(key)));
      }
    } catch (const Error&) {
      // A record at an old version that no step here reads, or a damaged one (reported by the
      // record pass).
    }
  }
  report.indexEntries += entries;
  return entries;
}

// One index as a record of an old version is checked against it without the migration's steps:
// its fields resolved by name in that version's schema, or why they cannot be.
struct OldIndex {
  std::optional<orm::IndexCore> index;
  std::string why;  // set when `index` is not
};

}  // namespace

Schemas parseSchemas(const std::filesystem::path& file,
                     std::span<const std::filesystem::path> importDirs) {
  orm::SchemaFile parsed = orm::parseSchemaFile(file, importDirs);
  CAPDB_REQUIRE(!parsed.tables.empty(), ErrorCode::InvalidArgument,
                "{} declares no table (no struct has $Db.table)", file.string());
  return Schemas(std::move(parsed.tables));
}

DatabaseStatus status(const Database& db) {
  DatabaseStatus out;
  out.path = db.path();
  std::error_code ec;
  auto size = std::filesystem::file_size(db.path() / "data.mdb", ec);
  out.fileBytes = ec ? 0 : size;
  auto info = internal::env(db).info();
  out.mapBytes = info.mapSize;
  out.usedBytes = info.usedBytes;
  auto tx = db.read();
  for (const auto& name : db.tableNames()) {
    const orm::TableCore& core = internal::core(db.table(name));
    auto t = core.catalog().readTable(internal::engineTxn(tx), name);
    if (!t) continue;
    TableStatus s;
    s.name = name;
    s.version = t->version;
    s.primaryKey = t->primaryKey;
    // A migration that an earlier format left installing records under their new keys has them
    // in two databases; it knows how many there are. (Migrations now fill the table's other
    // records database and swap it in: until then the table's own holds every record.)
    bool installing = t->migration && t->migration->phase == orm::MigrationState::Phase::Install;
    // Counted in the database itself: a table closed while it moves to new keys is still shown.
    s.records = installing ? t->migration->total
                           : internal::engineTxn(tx).count(core.records(tx));
    s.recordBytes = internal::engineTxn(tx).stat(core.records(tx)).bytes();
    for (const auto& [v, n] : t->counts) {
      if (n > 0) s.recordsByVersion[v] = n;
    }
    for (const auto& i : t->indexes) {
      IndexStatus is;
      is.name = i.name;
      is.fields = i.fields;
      is.unique = i.unique;
      is.ready = i.state == orm::IndexState::Ready;
      is.state = std::string(orm::indexStateName(i.state));
      if (i.state == orm::IndexState::Building) {
        is.done = i.done;
        is.total = s.records;
        is.checkpoint = i.checkpoint.empty() ? "" : engine::formatKey(i.checkpoint);
        is.waiting = i.held;
      }
      is.duplicates = i.duplicates;
      for (const auto& ic : core.indexes()) {
        if (ic.schema.name != i.name) continue;
        auto tree = internal::engineTxn(tx).stat(ic.db);
        is.entries = tree.entries;
        is.bytes = tree.bytes();
      }
      s.indexes.push_back(std::move(is));
    }
    if (t->migration) {
      s.migration = TableStatus::Migration{t->migration->fromVersion,
                                           std::string(phaseName(t->migration->phase)),
                                           t->migration->done, t->migration->total};
    }
    out.tables.push_back(std::move(s));
  }
  return out;
}

std::vector<TableDiff> diff(const Database& db, const Schemas& schemas) {
  std::vector<TableDiff> out;
  auto tx = db.read();
  for (const auto& app : schemas.tables) {
    TableDiff d;
    d.table = app.name;
    d.newVersion = app.version;
    auto table = db.findTable(app.name);
    auto info = table ? internal::core(*table).catalog().readTable(internal::engineTxn(tx), app.name) : std::nullopt;
    if (!info) {
      d.exists = false;
      out.push_back(std::move(d));
      continue;
    }
    d.storedVersion = info->version;
    auto stored = internal::core(*table).catalog().loadSchema(internal::engineTxn(tx), app.name, info->version);
    CAPDB_REQUIRE(stored.has_value(), ErrorCode::Corruption,
                  "table {}: the catalog lacks the schema of version {}", app.name, info->version);
    orm::SchemaDiff changes =
        orm::diffTables(orm::requireTable(stored->root(), stored->owner()), app);
    for (const auto& c : changes.changes) {
      bool index = c.kind == orm::ChangeKind::IndexAdded || c.kind == orm::ChangeKind::IndexRemoved ||
                   c.kind == orm::ChangeKind::IndexChanged;
      bool step = !c.wireCompatible && !index && c.kind != orm::ChangeKind::PrimaryKeyChanged;
      d.changes.push_back({std::string(orm::changeKindName(c.kind)), c.field, c.detail, step});
      d.needsStep = d.needsStep || step;
    }
    std::string text = changes.describe(app.name);
    size_t start = 0;
    while (start < text.size()) {
      size_t end = text.find('\n', start);
      if (end == std::string::npos) end = text.size();
      if (end > start) d.lines.push_back(text.substr(start, end - start));
      start = end + 1;
    }
    out.push_back(std::move(d));
  }
  return out;
}

VerifyReport verifyPages(const std::filesystem::path& path) {
  engine::PageReport pages = engine::checkPages(path);
  VerifyReport report;
  for (auto& d : pages.damage) report.problems.push_back("page damage: " + std::move(d));
  return report;
}

namespace {

// Checks one table for verify(): every record decodes at its version (through the migration's
// steps when this process has them), every ready index holds each record's entry and nothing
// more, and the catalog's per-version counts match the records.
class TableVerifier {
 public:
  TableVerifier(const orm::TableCore& core, const engine::Txn& txn, const orm::TableInfo& info,
                VerifyReport& report)
      : core_(core),
        txn_(txn),
        info_(info),
        report_(report),
        name_(core.schema().name),
        indexes_(core.indexes()),
        reader_(core.catalog(), name_),
        found_(indexes_.size(), 0),
        unchecked_(indexes_.size()) {
    // The catalog of this snapshot says what each index must hold: a ready index every record's
    // entry; a building one the entries of the records its build passed, and of any other that
    // has one (written meanwhile), but never an entry its record does not give.
    for (const auto& index : indexes_) {
      Expect e;
      for (const auto& ii : info_.indexes) {
        if (ii.name != index.schema.name) continue;
        if (ii.state == orm::IndexState::Failed) {
          e.skip = fmt::format("its build failed over duplicate keys");
        } else if (ii.state == orm::IndexState::Building && ii.held) {
          e.skip = "it keeps its entries for a migration that may still be undone";
        } else if (ii.state == orm::IndexState::Building) {
          e.building = true;
          e.checkpoint = ii.checkpoint;
        }
      }
      expect_.push_back(std::move(e));
    }
  }

  void run() {
    for (auto scan = txn_.scan(core_.records(txn_), engine::KeyRange::all()); scan.valid();
         scan.next()) {
      ++report_.records;
      try {
        checkRecord(scan.key(), scan.value());
      } catch (const Error& e) {
        report_.problems.push_back(e.what());
        ++unreadable_;
      }
    }
    checkIndexTotals();
    if (throughSteps_ > 0) {
      report_.notes.push_back(fmt::format(
          "table {}: {} records at older schema versions were read through the migration steps "
          "and checked at version {}",
          name_, throughSteps_, core_.schema().version));
    }
    checkCounts();
  }

 private:
  // Every record decodes, fully checked, at the version it was written at, and has its entries.
  void checkRecord(std::string_view pk, std::string_view bytes) {
    uint32_t version = decoder_.decode(bytes, name_, pk);
    ++counts_[version];
    if (version == core_.schema().version) {
      auto record = core_.decode(decoder_, pk, bytes);
      if (core_.primaryKeyOf(record) != pk) {
        report_.problems.push_back(fmt::format("table {}: record {} holds the key fields {}",
                                               name_, engine::formatKey(pk),
                                               engine::formatKey(core_.primaryKeyOf(record))));
      }
      checkEntries(record, pk);
      return;
    }
    auto old = reader_.decode(txn_, pk, bytes);  // checked at its own version
    // An old record is read as the app reads it, through the migration's steps, when this
    // process has them (the app's, or the declarative ones the catalog keeps).
    std::optional<capnp::DynamicStruct::Reader> upgraded;
    if (core_.hasUpgrader()) {
      try {
        upgraded = core_.decode(decoder_, pk, bytes);
      } catch (const Error& e) {
        if (e.code() != ErrorCode::SchemaMismatch) throw;  // a step failed: a problem
      }
    }
    if (upgraded) {
      ++throughSteps_;
      checkEntries(*upgraded, pk);
      return;
    }
    // Without the steps: an index that stayed ready through the migration is over fields no
    // step writes (open rebuilds the others), so the old record's own fields give its entry.
    const auto& resolved = resolveOld(version);
    for (size_t i = 0; i < indexes_.size(); ++i) {
      if (!expect_[i].skip.empty()) continue;
      if (resolved[i].index) {
        checkEntry(i, *resolved[i].index, old.value, pk);
      } else {
        auto& u = unchecked_[i][version];
        ++u.first;
        u.second = resolved[i].why;
      }
    }
  }

  void checkEntries(capnp::DynamicStruct::Reader record, std::string_view pk) {
    for (size_t i = 0; i < indexes_.size(); ++i) {
      if (expect_[i].skip.empty()) checkEntry(i, indexes_[i], record, pk);
    }
  }

  // `index` is index i as the record's version resolves it.
  void checkEntry(size_t i, const orm::IndexCore& index, capnp::DynamicStruct::Reader record,
                  std::string_view pk) {
    auto [key, value] = core_.indexEntry(index, record, pk);
    auto entry = txn_.get(indexes_[i].db, key);
    const Expect& e = expect_[i];
    bool required = !e.building || (!e.checkpoint.empty() && pk <= std::string_view(e.checkpoint));
    // A building index that has not reached this record yet: it may lack the entry, or hold the
    // key for another record (a duplicate the build will find).
    if (!required && (!entry || *entry != value)) return;
    if (!entry || *entry != value) {
      report_.problems.push_back(fmt::format("table {}: record {} has no entry {} in index {}",
                                             name_, engine::formatKey(pk), engine::formatKey(key),
                                             indexes_[i].schema.name));
    } else {
      ++found_[i];
    }
  }

  // The indexes resolved in an old version's schema, once per version.
  const std::vector<OldIndex>& resolveOld(uint32_t version) {
    auto it = oldIndexes_.find(version);
    if (it != oldIndexes_.end()) return it->second;
    std::vector<OldIndex> out;
    capnp::StructSchema old = reader_.schemaAt(txn_, version).root();
    for (const auto& index : indexes_) {
      OldIndex o;
      orm::IndexSchema schema{index.schema.name, {}, index.schema.unique};
      try {
        for (const auto& f : index.schema.fields) {
          schema.fields.push_back(orm::resolveKeyPath(old, f.dotted, "index " + index.schema.name));
          if (schema.fields.back().keyType != f.keyType) {
            o.why = fmt::format("field {} has another key type at version {}", f.dotted, version);
            break;
          }
        }
      } catch (const Error&) {
        o.why = fmt::format("version {} has no field named as the index's fields ({})", version,
                            index.schema.fields.size() == 1 ? index.schema.fields[0].dotted
                                                            : std::string("one of them"));
      }
      if (o.why.empty()) o.index.emplace(orm::IndexCore{std::move(schema), index.db, orm::IndexState::Ready});
      out.push_back(std::move(o));
    }
    return oldIndexes_.emplace(version, std::move(out)).first->second;
  }

  // Every index holds as many entries as its records give: more are stale entries.
  void checkIndexTotals() {
    for (size_t i = 0; i < indexes_.size(); ++i) {
      const auto& index = indexes_[i];
      if (!expect_[i].skip.empty()) {
        report_.notes.push_back(fmt::format("table {}: index {} not checked: {}", name_,
                                            index.schema.name, expect_[i].skip));
        continue;
      }
      uint64_t entries = verifyIndexEntries(txn_, core_, index, report_);
      uint64_t notChecked = 0;
      for (const auto& [version, u] : unchecked_[i]) {
        notChecked += u.first;
        report_.notes.push_back(fmt::format(
            "table {}: index {}: the entries of {} records at version {} were not checked: {}, "
            "and the app's migration steps, which give them, are not here",
            name_, index.schema.name, u.first, version, u.second));
      }
      // Every record checked has its own entry, so an index with more entries than that (and no
      // record left unchecked) holds entries no record gives: stale ones.
      if (notChecked == 0 && entries > found_[i] + unreadable_) {
        report_.problems.push_back(fmt::format(
            "table {}: index {} has {} entries, {} more than its records give (stale entries)",
            name_, index.schema.name, entries, entries - found_[i] - unreadable_));
      }
    }
  }

  void checkCounts() {
    std::map<uint32_t, uint64_t> cataloged;
    for (const auto& [v, n] : info_.counts) {
      if (n > 0) cataloged[v] = n;
    }
    if (cataloged == counts_) return;
    auto show = [](const std::map<uint32_t, uint64_t>& m) {
      std::string s;
      for (const auto& [v, n] : m) s += fmt::format("{}v{}: {}", s.empty() ? "" : ", ", v, n);
      return s.empty() ? std::string("none") : s;
    };
    report_.problems.push_back(fmt::format(
        "table {}: the catalog counts {} records per version, the table holds {}", name_,
        show(cataloged), show(counts_)));
  }

  const orm::TableCore& core_;
  const engine::Txn& txn_;
  const orm::TableInfo& info_;
  VerifyReport& report_;
  const std::string& name_;
  const std::vector<orm::IndexCore>& indexes_;
  orm::TableReader reader_;
  orm::RecordDecoder decoder_;
  std::map<uint32_t, uint64_t> counts_;
  // Per index: the records whose entry was found, and the records (by version) that could not be
  // checked against it, with the reason.
  std::vector<uint64_t> found_;
  std::vector<std::map<uint32_t, std::pair<uint64_t, std::string>>> unchecked_;
  std::map<uint32_t, std::vector<OldIndex>> oldIndexes_;  // by stored version
  // Per index, from the catalog: not checked (and why), or building up to a checkpoint.
  struct Expect {
    std::string skip;
    bool building = false;
    std::string checkpoint;
  };
  std::vector<Expect> expect_;
  uint64_t throughSteps_ = 0;
  uint64_t unreadable_ = 0;  // records reported as problems: their entries are not counted
};

}  // namespace

VerifyReport verify(const Database& db) {
  // Damaged pages first: LMDB would abort on some of them, and nothing above them can be trusted.
  VerifyReport report = verifyPages(db.path());
  if (!report.ok()) return report;
  auto tx = db.read();
  for (const auto& name : db.tableNames()) {
    const orm::TableCore& core = internal::core(db.table(name));
    auto info = core.catalog().readTable(internal::engineTxn(tx), name);
    if (!info) continue;
    // The records database that does not hold the records is empty, unless a migration that may
    // still be undone is filling it.
    bool filling = info->migration && !info->migration->before.empty();
    const auto& other = core.recordTrees().tree(1 - info->recordsTree);
    if (!filling && other && internal::engineTxn(tx).count(*other) > 0) {
      report.problems.push_back(fmt::format(
          "table {}: {} holds {} entries, but the table's records are in {} and no migration is "
          "writing there",
          name, other->name, internal::engineTxn(tx).count(*other),
          orm::tableDbName(name, info->recordsTree)));
    }
    if (info->migration && info->migration->rekey) {
      report.notes.push_back(fmt::format(
          "table {}: not checked; a migration is moving its records to new primary keys", name));
      continue;
    }
    TableVerifier(core, internal::engineTxn(tx), *info, report).run();
  }
  return report;
}

void backup(const Database& db, const std::filesystem::path& dest, bool compact) {
  std::error_code ec;
  if (std::filesystem::exists(dest, ec)) {
    CAPDB_REQUIRE(std::filesystem::is_directory(dest, ec) && std::filesystem::is_empty(dest, ec),
                  ErrorCode::InvalidArgument, "backup: {} exists and is not an empty directory",
                  dest.string());
  } else {
    std::filesystem::create_directories(dest, ec);
    CAPDB_REQUIRE(!ec, ErrorCode::IoError, "backup: cannot create {}: {}", dest.string(),
                  ec.message());
  }
  internal::env(db).copyTo(dest, compact);
}

}  // namespace capdb
