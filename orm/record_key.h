// Keys of records: the primary key and index keys, read from a record's fields.
#pragma once

#include <capnp/dynamic.h>

#include <bit>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <span>
#include <string>
#include <type_traits>

#include "engine/key_codec.h"
#include "orm/table_schema.h"

namespace capdb::orm {

// A scalar data field straight from a struct's data section (capnp's layout, little-endian):
// stored bits XOR the default's bits. A section too short for it (an older layout) reads as the
// default.
template <typename T>
T scalarAt(kj::ArrayPtr<const kj::byte> data, uint32_t offset, uint64_t defaultBits) {
  using Bits = std::conditional_t<sizeof(T) == 1, uint8_t,
               std::conditional_t<sizeof(T) == 2, uint16_t,
               std::conditional_t<sizeof(T) == 4, uint32_t, uint64_t>>>;
  Bits stored = 0;
  size_t at = size_t{offset} * sizeof(T);
  if (at + sizeof(T) <= data.size()) std::memcpy(&stored, data.begin() + at, sizeof(T));
  return std::bit_cast<T>(static_cast<Bits>(stored ^ static_cast<Bits>(defaultBits)));
}

// The reverse: stores `value` as scalarAt reads it; false when the section is too short for it.
template <typename T>
bool storeScalarAt(kj::ArrayPtr<kj::byte> data, uint32_t offset, uint64_t defaultBits, T value) {
  using Bits = std::conditional_t<sizeof(T) == 1, uint8_t,
               std::conditional_t<sizeof(T) == 2, uint16_t,
               std::conditional_t<sizeof(T) == 4, uint32_t, uint64_t>>>;
  size_t at = size_t{offset} * sizeof(T);
  if (at + sizeof(T) > data.size()) return false;
  auto stored = static_cast<Bits>(std::bit_cast<Bits>(value) ^ static_cast<Bits>(defaultBits));
  std::memcpy(data.begin() + at, &stored, sizeof(T));
  return true;
}

// Calls `visit` with the scalar leaf of `path` (path.direct) read from `data`, the data section of
// the struct holding it: a bool, an int64_t (signed integers), a uint64_t (unsigned integers and
// enums) or a double (floats); an engine::KeyNull for a Text or Data leaf.
template <typename Visit>
decltype(auto) visitScalarAt(kj::ArrayPtr<const kj::byte> data, const FieldPath& path, Visit&& visit) {
  using W = capnp::schema::Type::Which;
  uint32_t off = path.leafOffset;
  uint64_t def = path.leafDefaultBits;
  switch (path.leafWhich) {
    case W::BOOL: {
      size_t byte = off / 8;
      bool bit = byte < data.size() && ((data[byte] >> (off % 8)) & 1);
      return visit(bit != (def != 0));
    }
    case W::INT8: return visit(int64_t{scalarAt<int8_t>(data, off, def)});
    case W::INT16: return visit(int64_t{scalarAt<int16_t>(data, off, def)});
    case W::INT32: return visit(int64_t{scalarAt<int32_t>(data, off, def)});
    case W::INT64: return visit(scalarAt<int64_t>(data, off, def));
    case W::UINT8: return visit(uint64_t{scalarAt<uint8_t>(data, off, def)});
    case W::UINT16: case W::ENUM: return visit(uint64_t{scalarAt<uint16_t>(data, off, def)});
    case W::UINT32: return visit(uint64_t{scalarAt<uint32_t>(data, off, def)});
    case W::UINT64: return visit(scalarAt<uint64_t>(data, off, def));
    case W::FLOAT32: return visit(double{scalarAt<float>(data, off, def)});
    case W::FLOAT64: return visit(scalarAt<double>(data, off, def));
    default: return visit(engine::KeyNull{});
  }
}

// The value at `path` in `record`, as a key value. An unset Text, Data or struct on the way, or a
// union member that is not the active one, reads as NULL.
engine::KeyValue keyValueAt(capnp::DynamicStruct::Reader record, const FieldPath& path);

// Appends the values at `paths` to `key`.
void appendKey(engine::KeyEncoder& key, capnp::DynamicStruct::Reader record,
               std::span<const FieldPath> paths);

// A key value as an index key holds it: a NaN is NULL, as SQL reads it (SQLite stores NaN as
// NULL), so that `x IS NULL` finds it through an index and no range over numbers does. Primary
// keys keep what keyValueAt reads: an insert refuses a NaN there (TableCore::insert).
inline engine::KeyValue indexKeyValue(engine::KeyValue v) {
  if (auto* d = std::get_if<double>(&v); d && std::isnan(*d)) return engine::KeyNull{};
  return v;
}

}  // namespace capdb::orm
