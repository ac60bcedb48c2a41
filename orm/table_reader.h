// TableReader: reads a table's records with nothing but the catalog, at whatever schema version
// each was written. What the capdb tool and any app without the table's .capnp use.
#pragma once

#include <capnp/dynamic.h>

#include <map>
#include <string>
#include <string_view>

#include "engine/env.h"
#include "orm/catalog.h"
#include "orm/record_codec.h"
#include "orm/stored_schema.h"
#include "orm/table_schema.h"

namespace capdb::orm {

class TableReader {
 public:
  // Throws InvalidArgument when the catalog has no such table.
  TableReader(const Catalog& catalog, std::string_view table);

  const TableInfo& info() const { return *info_; }

  struct Record {
    uint32_t version;
    capnp::DynamicStruct::Reader value;  // valid until the next read or the transaction's end
  };
  // Decodes a stored value. Throws Corruption naming the table and key when the bytes are
  // damaged or written at a version the catalog lacks.
  Record decode(const engine::Txn& txn, std::string_view key, std::string_view bytes);
  // The schema of one stored version (loaded from the catalog once, then cached).
  const StoredSchema& schemaAt(const engine::Txn& txn, uint32_t version, std::string_view key = {});

 private:
  const Catalog* catalog_;
  const TableInfo* info_;
  std::map<uint32_t, StoredSchema> schemas_;
  std::map<uint32_t, RecordCheck> checks_;
  RecordDecoder decoder_;
};

}  // namespace capdb::orm
