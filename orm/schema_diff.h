// The one schema diff: the changes between two versions of a table, matched by ordinal, each
// classified as wire-compatible (Cap'n Proto reads an old record correctly as the new type) or
// not. Open-time checks, migrations and `capdb diff` all use it.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "orm/table_schema.h"

namespace capdb::orm {

enum class ChangeKind {
  FieldAdded,
  FieldRemoved,
  FieldRenamed,
  TypeChanged,
  DefaultChanged,
  MovedIntoUnion,
  MovedOutOfUnion,
  MovedIntoGroup,
  MovedOutOfGroup,
  PrimaryKeyChanged,
  IndexAdded,
  IndexRemoved,
  IndexChanged,
};

std::string_view changeKindName(ChangeKind kind);

struct SchemaChange {
  ChangeKind kind;
  std::string field;   // the field's path in the new version (the old one when removed), or the
                       // index name for index changes; empty for the primary key
  std::string detail;  // e.g. "type Float64 -> Int64"
  // Old records read correctly as the new type with no step. Index changes are compatible for
  // records but need the index (re)built.
  bool wireCompatible = false;
};

struct SchemaDiff {
  std::vector<SchemaChange> changes;

  bool empty() const { return changes.empty(); }
  // True when no change needs a new version: the same version may read old records as they are.
  bool wireCompatible() const;
  // True when old records read correctly as the new version without a step: every change is
  // wire-compatible, or changes the primary key (which needs a new version, and moves every record
  // to its new key, but changes no record's bytes).
  bool readsAcross() const;
  // One line per change: "people.score: type changed Float64 -> Int64 (needs a step)".
  std::string describe(std::string_view table) const;
};

// The changes from `from` to `to`.
SchemaDiff diffTables(const TableSchema& from, const TableSchema& to);

// Cap'n Proto's name of a type, e.g. "List(Text)", "UInt8", "Address".
std::string typeName(capnp::Type type);

}  // namespace capdb::orm
