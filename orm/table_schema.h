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

#include "capdb/schema.h"
#include "engine/key_codec.h"

namespace capdb::orm {

// The schema types are public (capdb/schema.h): an app lists its tables with them.
using capdb::FieldPath;
using capdb::IndexSchema;
using capdb::TableSchema;
using capdb::table;

// The table declared by a struct: its $Db.table name, version, primary key and indexes.
// Throws InvalidArgument naming the struct and the field when the annotations are misused (no
// primary key, a key naming no field or a List field, autoIncrement on a non-integer, an index
// over a missing field, ...). Returns nullopt for a struct without $Db.table.
std::optional<TableSchema> tableSchemaOf(capnp::StructSchema schema,
                                         std::shared_ptr<const void> owner = {});

// Like tableSchemaOf, but a struct without $Db.table is an InvalidArgument error.
TableSchema requireTable(capnp::StructSchema schema, std::shared_ptr<const void> owner = {});

// Throws InvalidArgument when two tables share a name.
void checkDistinctNames(std::span<const TableSchema> tables);

// Resolves a dotted path in `schema`; throws InvalidArgument naming `structName` and the
// path when a component is missing or the leaf cannot be part of a key. `role` says what the
// path is for ("primary key", "index by_city"), for the message.
FieldPath resolveKeyPath(capnp::StructSchema schema, std::string_view dotted,
                         std::string_view role);

// Whether two dotted field paths overlap: they are the same path, or one names a group or struct
// that holds the other ("address" and "address.zip"; not "address" and "addresses"). A step that
// sets one may change the other.
bool pathsOverlap(std::string_view a, std::string_view b);

// The struct's short name, as written in the .capnp file ("Person").
std::string structName(capnp::Schema schema);

// A scalar or enum default's bits as they are XORed into the field's stored bits (floats by their
// IEEE bits); nullopt for a Void or pointer default.
std::optional<uint64_t> scalarDefaultBits(capnp::schema::Value::Reader value);

}  // namespace capdb::orm
