// Schemas: the tables an app declares, as capdb reads them from Cap'n Proto structs and their
// $Db annotations (capdb/annotations.capnp; docs/format.md).
#pragma once

#include <capnp/schema.h>

#include <cstdint>
#include <initializer_list>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "capdb/key.h"

namespace capdb {

// A path from a table's struct to a scalar leaf: "age", or "address.zip" through a group or a
// struct-typed field.
struct FieldPath {
  std::string dotted;                               // as written in the schema
  std::vector<capnp::StructSchema::Field> steps;    // one field per dotted component
  std::vector<uint16_t> ordinals;                   // the steps' ordinals (groups: code order)
  KeyType keyType = KeyType::Int64;         // how the leaf is encoded in keys
  // The leaf's Cap'n Proto type, resolved once (StructSchema::Field::getType is not free).
  capnp::schema::Type::Which leafWhich = capnp::schema::Type::VOID;
  // Direct access, when no step is a union member: the pointer indexes of the struct-typed steps
  // to follow, then the leaf's slot offset (in units of its size; a pointer index for Text and
  // Data) and its default's bits (scalars are stored XORed with their default).
  bool direct = false;
  std::vector<uint32_t> pointerSteps;
  uint32_t leafOffset = 0;
  uint64_t leafDefaultBits = 0;

  const capnp::StructSchema::Field& leaf() const { return steps.back(); }
};

struct IndexSchema {
  std::string name;
  std::vector<FieldPath> fields;
  bool unique = false;
};

struct TableSchema {
  std::string name;
  uint32_t version = 1;
  capnp::StructSchema schema;
  std::vector<FieldPath> primaryKey;
  // The autoIncrement field: the primary-key field (by position in primaryKey) that gets the
  // next value of the table's sequence when inserted as 0.
  std::optional<size_t> autoIncrement;
  std::vector<IndexSchema> indexes;
  // Keeps the loader or parser that owns `schema` alive; empty for compiled-in schemas.
  std::shared_ptr<const void> owner;

  const IndexSchema* findIndex(std::string_view indexName) const;
};

// The table declared by a struct with $Db.table: its name, version, primary key and indexes.
// Throws InvalidArgument naming the struct and the field when the annotations are misused (no
// $Db.table, no primary key, a key naming no field or a List field, autoIncrement on a
// non-integer, an index over a missing field, ...).
TableSchema tableOf(capnp::StructSchema schema);

// The table declared by a generated Cap'n Proto type: table<Person>().
template <typename T>
TableSchema table() {
  return tableOf(capnp::Schema::from<T>());
}

// The tables an app declares: Schemas{table<Person>(), table<Order>()}.
struct Schemas {
  std::vector<TableSchema> tables;
  Schemas() = default;
  Schemas(std::initializer_list<TableSchema> list) : tables(list) {}
  explicit Schemas(std::vector<TableSchema> list) : tables(std::move(list)) {}
};

}  // namespace capdb
