// StoredSchema: one version of a table's schema as the catalog keeps it, a
// CodeGeneratorRequest holding the table's struct and every node it depends on (nested structs,
// groups, enums, list element types, and capdb's annotation declarations with their value types),
// loaded into a capnp::SchemaLoader of its own: one loader holds one version of a node id, and
// two versions of a table may be incompatible.
#pragma once

#include <capnp/schema-loader.h>
#include <capnp/schema.h>
#include <kj/array.h>

#include <memory>
#include <string>
#include <string_view>

#include "capdb/error.h"

namespace capdb::orm {

class StoredSchema {
 public:
  // Collects `root` and its dependencies. Throws InvalidArgument if a dependency cannot be
  // resolved (the completeness check that SchemaLoader would otherwise skip by filling in an
  // empty placeholder).
  static StoredSchema fromSchema(std::string_view table, uint32_t version,
                                 capnp::StructSchema root);
  // Loads a stored version from the catalog's bytes (copied). Throws Corruption naming `table`
  // and `version` when the bytes are not a complete stored schema.
  static StoredSchema fromBytes(std::string_view bytes, std::string_view table, uint32_t version);

  const std::string& table() const { return table_; }
  uint32_t version() const { return version_; }
  // The table's struct, owned by this object's loader (keep owner() alive while using it).
  capnp::StructSchema root() const { return root_; }
  std::shared_ptr<const void> owner() const { return loader_; }
  // The catalog encoding (a catalog::StoredSchema message as a flat array). Deterministic: the
  // same schema always gives the same bytes.
  std::string_view bytes() const {
    return {reinterpret_cast<const char*>(words_.begin()), words_.size() * sizeof(capnp::word)};
  }

  // Whether Cap'n Proto itself accepts `to` as an upgrade of `from`: both are loaded, old first,
  // into one SchemaLoader, which checks every node it has seen before for compatibility.
  static bool capnpAcceptsUpgrade(const StoredSchema& from, const StoredSchema& to);

 private:
  StoredSchema() = default;
  void load(std::string_view table, uint32_t version, ErrorCode onError);

  std::string table_;
  uint32_t version_ = 0;
  kj::Array<capnp::word> words_;
  std::shared_ptr<capnp::SchemaLoader> loader_;
  capnp::StructSchema root_;
};

}  // namespace capdb::orm
