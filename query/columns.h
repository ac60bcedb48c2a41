// A table's SQL columns: every scalar, Text, Data and enum field of its struct, nested fields by
// dotted path (docs/sql.md, Columns), and how to read one from a record.
#pragma once

#include <capnp/dynamic.h>

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "capdb/query.h"
#include "engine/key_codec.h"
#include "orm/flat_record.h"
#include "query/value_ops.h"
#include "orm/table_schema.h"

namespace capdb::query {

struct Column {
  std::string name;  // dotted path
  orm::FieldPath path;
  Affinity affinity = Affinity::None;
  std::optional<capnp::EnumSchema> enumSchema;
  std::string typeName;  // Cap'n Proto's: "UInt8", "Text", the enum's name
  bool isEnum() const { return enumSchema.has_value(); }
};

class TableColumns {
 public:
  explicit TableColumns(const orm::TableSchema& table);
  TableColumns(std::string table, capnp::StructSchema schema);

  const std::string& table() const { return table_; }
  const std::vector<Column>& all() const { return columns_; }
  const Column& operator[](size_t i) const { return columns_[i]; }
  size_t size() const { return columns_.size(); }

  // The column a name refers to: exact match first, then case-insensitive; a name starting with
  // the table's name and a dot is also accepted. Throws InvalidArgument naming the column (with
  // the closest name), or saying why a field that exists is not a column (a List, say).
  size_t resolve(std::string_view name) const;
  // The column of a primary-key or index field path.
  std::optional<size_t> find(std::string_view dotted) const;

  // The column's value in `record` (a reader at the table's newest version).
  Value read(capnp::DynamicStruct::Reader record, size_t column) const;
  // The column's value in a record read in place (at the table's newest version). False when
  // the record cannot be read in place there: read it with read() from the decoded record, which
  // reads it or throws naming what is wrong. `out` may hold the column's value of an earlier
  // record: its storage is reused.
  bool readFlat(const orm::FlatRecord& record, size_t column, Value& out) const;
  // A key value (decoded from an index or primary key) as the column's SQL value.
  Value fromKey(engine::KeyValue key, size_t column) const;

 private:
  void add(capnp::StructSchema schema, const std::string& prefix, int depth);
  // A scalar read from a record or a key (bool, int64_t, uint64_t, double or KeyNull) as the
  // column's SQL value: an enum's name, NULL for NaN; a UInt64 above 2^63-1 throws.
  template <typename T>
  Value scalarValue(T v, size_t column) const;

  std::string table_;
  capnp::StructSchema root_;
  std::vector<Column> columns_;
  // Fields that exist but are not columns, with the reason.
  std::vector<std::pair<std::string, std::string>> excluded_;
};

// The closest of `candidates` to `name` by edit distance (case-insensitive), if any is close
// enough to suggest.
std::optional<std::string> closest(std::string_view name, const std::vector<std::string>& candidates);
// "" or " (did you mean 'x'?)".
std::string didYouMean(std::string_view name, const std::vector<std::string>& candidates);

bool equalsIgnoreCase(std::string_view a, std::string_view b);

}  // namespace capdb::query
