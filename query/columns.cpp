#include "query/columns.h"

#include <capnp/any.h>
#include <fmt/format.h>

#include <algorithm>

#include "engine/fail.h"
#include "orm/flat_record.h"
#include "orm/record_key.h"
#include "orm/schema_diff.h"

namespace capdb::query {
namespace {

using W = capnp::schema::Type::Which;

std::string_view sv(capnp::Text::Reader t) { return {t.begin(), t.size()}; }

char lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

size_t editDistance(std::string_view a, std::string_view b) {
  std::vector<size_t> prev(b.size() + 1), cur(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) prev[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    cur[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      size_t sub = prev[j - 1] + (lower(a[i - 1]) == lower(b[j - 1]) ? 0 : 1);
      cur[j] = std::min({prev[j] + 1, cur[j - 1] + 1, sub});
    }
    std::swap(prev, cur);
  }
  return prev[b.size()];
}

}  // namespace

bool equalsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (lower(a[i]) != lower(b[i])) return false;
  }
  return true;
}

std::optional<std::string> closest(std::string_view name, const std::vector<std::string>& candidates) {
  std::optional<std::string> best;
  size_t bestDistance = std::max<size_t>(2, name.size() / 3) + 1;
  for (const auto& c : candidates) {
    size_t d = editDistance(name, c);
    // A name cut short ("nameLen" for "nameLength") is as good as one typo.
    if (name.size() >= 3 && c.size() > name.size() &&
        equalsIgnoreCase(name, std::string_view(c).substr(0, name.size()))) {
      d = std::min<size_t>(d, 1);
    }
    if (d < bestDistance) {
      bestDistance = d;
      best = c;
    }
  }
  return best;
}

std::string didYouMean(std::string_view name, const std::vector<std::string>& candidates) {
  auto c = closest(name, candidates);
  return c ? fmt::format(" (did you mean '{}'?)", *c) : std::string();
}

TableColumns::TableColumns(const orm::TableSchema& table)
    : TableColumns(table.name, table.schema) {}

TableColumns::TableColumns(std::string table, capnp::StructSchema schema)
    : table_(std::move(table)), root_(schema) {
  add(schema, "", 0);
}

void TableColumns::add(capnp::StructSchema schema, const std::string& prefix, int depth) {
  auto fields = schema.getFields();
  std::vector<capnp::StructSchema::Field> ordered;
  for (auto f : fields) ordered.push_back(f);
  std::stable_sort(ordered.begin(), ordered.end(), [](const auto& a, const auto& b) {
    return a.getProto().getCodeOrder() < b.getProto().getCodeOrder();
  });
  for (const auto& field : ordered) {
    std::string name = prefix + std::string(sv(field.getProto().getName()));
    capnp::Type type = field.getType();
    if (field.getProto().isGroup() || type.isStruct()) {
      // Nested structs deeper than this are rare, and a recursive struct would never end.
      if (depth < 8) add(type.asStruct(), name + ".", depth + 1);
      else excluded_.emplace_back(name, "nested too deep");
      continue;
    }
    switch (type.which()) {
      case W::LIST: case W::ANY_POINTER: case W::INTERFACE: case W::VOID:
        excluded_.emplace_back(name, "a " + orm::typeName(type));
        continue;
      default: break;
    }
    Column c;
    c.name = name;
    c.path = orm::resolveKeyPath(root_, name, "column " + name);
    c.typeName = orm::typeName(type);
    switch (type.which()) {
      case W::TEXT: c.affinity = Affinity::Text; break;
      case W::DATA: c.affinity = Affinity::Blob; break;
      case W::ENUM:
        c.affinity = Affinity::Text;
        c.enumSchema = type.asEnum();
        break;
      default: c.affinity = Affinity::Numeric; break;
    }
    columns_.push_back(std::move(c));
  }
}

size_t TableColumns::resolve(std::string_view name) const {
  std::string_view n = name;
  if (n.size() > table_.size() + 1 && equalsIgnoreCase(n.substr(0, table_.size()), table_) &&
      n[table_.size()] == '.' && !find(n)) {
    n = n.substr(table_.size() + 1);
  }
  if (auto i = find(n)) return *i;
  for (const auto& [field, why] : excluded_) {
    CAPDB_REQUIRE(!equalsIgnoreCase(field, n), ErrorCode::InvalidArgument,
                  "{}.{} is {}; SQL reads scalar, Text, Data and enum fields", table_, field, why);
  }
  std::vector<std::string> names;
  for (const auto& c : columns_) names.push_back(c.name);
  fail(ErrorCode::InvalidArgument, "table {} has no column '{}'{}", table_, name,
       didYouMean(n, names));
}

std::optional<size_t> TableColumns::find(std::string_view dotted) const {
  for (size_t i = 0; i < columns_.size(); ++i) {
    if (columns_[i].name == dotted) return i;
  }
  std::optional<size_t> found;
  for (size_t i = 0; i < columns_.size(); ++i) {
    if (equalsIgnoreCase(columns_[i].name, dotted)) {
      if (found) return std::nullopt;  // ambiguous without the exact case
      found = i;
    }
  }
  return found;
}

template <typename T>
Value TableColumns::scalarValue(T v, size_t column) const {
  const Column& c = columns_[column];
  if constexpr (std::is_same_v<T, engine::KeyNull>) {
    return Value();
  } else if constexpr (std::is_same_v<T, bool>) {
    return Value(int64_t{v});
  } else if constexpr (std::is_same_v<T, int64_t>) {
    return Value(v);
  } else if constexpr (std::is_same_v<T, uint64_t>) {
    if (c.enumSchema) {
      auto enumerants = c.enumSchema->getEnumerants();
      if (v < enumerants.size()) return Value(std::string(sv(enumerants[v].getProto().getName())));
      return Value(static_cast<int64_t>(v));
    }
    CAPDB_REQUIRE(v <= static_cast<uint64_t>(INT64_MAX), ErrorCode::InvalidArgument,
                  "{}.{} holds {}, above 2^63-1: SQL cannot read it as INTEGER", table_, c.name, v);
    return Value(static_cast<int64_t>(v));
  } else {
    static_assert(std::is_same_v<T, double>);
    if (v != v) return Value();  // NaN reads as NULL, as in SQLite
    return Value(v);
  }
}

Value TableColumns::fromKey(engine::KeyValue key, size_t column) const {
  return std::visit(
      [&](auto& v) -> Value {
        using T = std::decay_t<decltype(v)>;
        if constexpr (std::is_same_v<T, std::string>) {
          return Value(std::move(v));
        } else if constexpr (std::is_same_v<T, engine::KeyBytes>) {
          return Value(Blob{std::move(v.bytes)});
        } else {
          return scalarValue(v, column);
        }
      },
      key);
}

bool TableColumns::readFlat(const orm::FlatRecord& record, size_t column, Value& out) const {
  using W = capnp::schema::Type::Which;
  using Read = orm::FlatRecord::Read;
  const orm::FieldPath& path = columns_[column].path;
  orm::FlatRecord::Struct s;
  Read r = record.leafStruct(path, s);
  if (r == Read::Value && (path.leafWhich == W::TEXT || path.leafWhich == W::DATA)) {
    std::string_view bytes;
    r = record.blob(s, path.leafOffset, path.leafWhich == W::TEXT, bytes);
    if (r == Read::Value) {
      if (path.leafWhich == W::TEXT) out.setText(bytes);
      else out = Value(Blob{std::string(bytes)});
      return true;
    }
  } else if (r == Read::Value) {
    out = orm::visitScalarAt(record.data(s), path, [&](auto v) { return scalarValue(v, column); });
    return true;
  }
  if (r == Read::Null) {
    out = Value();
    return true;
  }
  return false;
}

Value TableColumns::read(capnp::DynamicStruct::Reader record, size_t column) const {
  using W = capnp::schema::Type::Which;
  const orm::FieldPath& path = columns_[column].path;
  if (path.direct && path.pointerSteps.empty() && path.leafWhich != W::TEXT &&
      path.leafWhich != W::DATA) {
    // A scalar of the root struct (or of a group in it, not a union member): read where it lies
    // in the data section, without the dynamic API's lookups.
    return orm::visitScalarAt(capnp::AnyStruct::Reader(record).getDataSection(), path,
                              [&](auto v) { return scalarValue(v, column); });
  }
  return fromKey(orm::keyValueAt(record, path), column);
}

}  // namespace capdb::query
