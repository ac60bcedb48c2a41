#include "orm/table_reader.h"

#include "engine/fail.h"

namespace capdb::orm {

TableReader::TableReader(const Catalog& catalog, std::string_view table)
    : catalog_(&catalog), info_(catalog.table(table)) {
  CAPDB_REQUIRE(info_ != nullptr, ErrorCode::InvalidArgument, "no table named {}", table);
}

const StoredSchema& TableReader::schemaAt(const engine::Txn& txn, uint32_t version,
                                          std::string_view key) {
  auto it = schemas_.find(version);
  if (it != schemas_.end()) return it->second;
  auto loaded = catalog_->loadSchema(txn, info_->name, version);
  if (!loaded) {
    fail(ErrorCode::Corruption,
         "table {}, record {}: written at schema version {}, which the catalog does not hold",
         info_->name, key.empty() ? std::string("?") : engine::formatKey(key), version);
  }
  return schemas_.emplace(version, std::move(*loaded)).first->second;
}

TableReader::Record TableReader::decode(const engine::Txn& txn, std::string_view key,
                                        std::string_view bytes) {
  uint32_t version = decoder_.decode(bytes, info_->name, key);
  const StoredSchema& schema = schemaAt(txn, version, key);
  auto check = checks_.find(version);
  if (check == checks_.end()) check = checks_.emplace(version, RecordCheck(schema.root())).first;
  return Record{version, decoder_.verifiedRoot(check->second, schema.root())};
}

}  // namespace capdb::orm
