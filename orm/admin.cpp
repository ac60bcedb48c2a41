// capdb/admin.h: status, schema diffs, verification and backups over the catalog and the
// tables' LMDB databases.
#include "capdb/admin.h"

#include <fmt/format.h>

#include <set>

#include "engine/fail.h"
#include "engine/key_codec.h"
#include "orm/catalog.h"
#include "orm/record_codec.h"
#include "orm/schema_diff.h"
#include "orm/schema_file.h"
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
  }
  return "?";
}

// Checks one index both ways against the records; adds what is wrong to `report`.
void verifyIndex(const engine::Txn& tx, const orm::TableCore& core, const orm::IndexCore& index,
                 VerifyReport& report) {
  const std::string& table = core.schema().name;
  orm::RecordDecoder decoder;
  for (auto scan = tx.scan(index.db, engine::KeyRange::all()); scan.valid(); scan.next()) {
    ++report.indexEntries;
    std::string_view pk = core.primaryKeyOfEntry(index, scan.key(), scan.value());
    auto bytes = tx.get(core.records(), pk);
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
      // The record itself is reported by the record pass.
    }
  }
}

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
  auto info = db.env().info();
  out.mapBytes = info.mapSize;
  out.usedBytes = info.usedBytes;
  auto tx = db.read();
  for (const auto& name : db.tableNames()) {
    const orm::TableCore& core = db.table(name).core();
    auto t = core.catalog().readTable(tx.engine(), name);
    if (!t) continue;
    TableStatus s;
    s.name = name;
    s.version = t->version;
    s.primaryKey = t->primaryKey;
    // Half-way to new primary keys the records lie in two databases; the migration knows them.
    bool moving = t->migration && t->migration->rekey;
    s.records = moving ? t->migration->total : core.count(tx);
    for (const auto& [v, n] : t->counts) {
      if (n > 0) s.recordsByVersion[v] = n;
    }
    for (const auto& i : t->indexes) {
      s.indexes.push_back({i.name, i.fields, i.unique, i.state == orm::IndexState::Ready});
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
    auto info = table ? table->core().catalog().readTable(tx.engine(), app.name) : std::nullopt;
    if (!info) {
      d.exists = false;
      out.push_back(std::move(d));
      continue;
    }
    d.storedVersion = info->version;
    auto stored = table->core().catalog().loadSchema(tx.engine(), app.name, info->version);
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

VerifyReport verify(const Database& db) {
  VerifyReport report;
  auto tx = db.read();
  for (const auto& name : db.tableNames()) {
    const orm::TableCore& core = db.table(name).core();
    auto info = core.catalog().readTable(tx.engine(), name);
    if (!info) continue;
    if (info->migration && info->migration->rekey) {
      report.notes.push_back(fmt::format(
          "table {}: not checked; a migration is moving its records to new primary keys", name));
      continue;
    }
    orm::TableReader reader(core.catalog(), name);
    orm::RecordDecoder decoder;
    std::map<uint32_t, uint64_t> counts;
    uint64_t older = 0;
    for (auto scan = tx.engine().scan(core.records(), engine::KeyRange::all()); scan.valid();
         scan.next()) {
      ++report.records;
      std::string_view pk = scan.key();
      try {
        // Every record decodes, fully checked, at the version it was written at: the table's
        // own reader for the newest version, the catalog's schemas for older ones.
        uint32_t version = decoder.decode(scan.value(), name, pk);
        if (version != core.schema().version) {
          reader.decode(tx.engine(), pk, scan.value());
          ++counts[version];
          ++older;
          continue;
        }
        auto record = core.decode(decoder, pk, scan.value());
        ++counts[version];
        if (core.primaryKeyOf(record) != pk) {
          report.problems.push_back(fmt::format("table {}: record {} holds the key fields {}",
                                                name, engine::formatKey(pk),
                                                engine::formatKey(core.primaryKeyOf(record))));
        }
        for (const auto& index : core.indexes()) {
          if (!index.ready) continue;
          auto [key, value] = core.indexEntry(index, record, pk);
          auto found = tx.engine().get(index.db, key);
          if (!found || *found != value) {
            report.problems.push_back(fmt::format("table {}: record {} has no entry {} in index {}",
                                                  name, engine::formatKey(pk),
                                                  engine::formatKey(key), index.schema.name));
          }
        }
      } catch (const Error& e) {
        report.problems.push_back(e.what());
      }
    }
    for (const auto& index : core.indexes()) {
      if (!index.ready) {
        report.notes.push_back(fmt::format("table {}: index {} is being rebuilt; not checked", name,
                                           index.schema.name));
        continue;
      }
      if (older == 0) verifyIndex(tx.engine(), core, index, report);
    }
    if (older > 0) {
      report.notes.push_back(fmt::format(
          "table {}: {} records are at older schema versions; their index entries depend on the "
          "app's migration steps and were not checked",
          name, older));
    }
    std::map<uint32_t, uint64_t> cataloged;
    for (const auto& [v, n] : info->counts) {
      if (n > 0) cataloged[v] = n;
    }
    if (cataloged != counts) {
      auto show = [](const std::map<uint32_t, uint64_t>& m) {
        std::string s;
        for (const auto& [v, n] : m) s += fmt::format("{}v{}: {}", s.empty() ? "" : ", ", v, n);
        return s.empty() ? std::string("none") : s;
      };
      report.problems.push_back(fmt::format("table {}: the catalog counts {} records per version, "
                                            "the table holds {}",
                                            name, show(cataloged), show(counts)));
    }
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
  db.env().copyTo(dest, compact);
}

}  // namespace capdb
