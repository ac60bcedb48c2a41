// TableSchema: what capdb reads from a Cap'n Proto struct and its $Db annotations.
//
// Two ways in, one result: a compiled struct (capnp::Schema::from<T>(), see table<T>()), a
// struct parsed at run time (orm/schema_file.h), or one loaded from the catalog
// (orm/stored_schema.h) all give the same TableSchema.
#pragma once

#include <capnp/schema.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "engine/key_codec.h"

namespace capdb::orm {

// A path from a table's struct to a scalar leaf: "age", or "address.zip" through a group or a
// struct-typed field.
struct FieldPath {
  std::string dotted;                               // as written in the schema
  std::vector<capnp::StructSchema::Field> steps;    // one field per dotted component
  std::vector<uint16_t> ordinals;                   // the steps' ordinals (groups: code order)
  engine::KeyType keyType = engine::KeyType::Int64; // how the leaf is encoded in keys
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

// The table declared by a struct: its $Db.table name, version, primary key and indexes.
// Throws InvalidArgument naming the struct and the field when the annotations are misused (no
// primary key, a key naming no field or a List field, autoIncrement on a non-integer, an index
// over a missing field, ...). Returns nullopt for a struct without $Db.table.
std::optional<TableSchema> tableSchemaOf(capnp::StructSchema schema,
                                         std::shared_ptr<const void> owner = {});

// Like tableSchemaOf, but a struct without $Db.table is an InvalidArgument error.
TableSchema requireTable(capnp::StructSchema schema, std::shared_ptr<const void> owner = {});

// The table declared by a generated Cap'n Proto type.
template <typename T>
TableSchema table() {
  return requireTable(capnp::Schema::from<T>());
}

// Throws InvalidArgument when two tables share a name.
void checkDistinctNames(std::span<const TableSchema> tables);

// Resolves a dotted path in `schema`; throws InvalidArgument naming `structName` and the
// path when a component is missing or the leaf cannot be part of a key. `role` says what the
// path is for ("primary key", "index by_city"), for the message.
FieldPath resolveKeyPath(capnp::StructSchema schema, std::string_view dotted,
                         std::string_view role);

// The struct's short name, as written in the .capnp file ("Person").
std::string structName(capnp::Schema schema);

// A scalar or enum default's bits as they are XORed into the field's stored bits (floats by their
// IEEE bits); nullopt for a Void or pointer default.
std::optional<uint64_t> scalarDefaultBits(capnp::schema::Value::Reader value);

}  // namespace capdb::orm
