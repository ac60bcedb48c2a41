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

// Calls `f` with std::type_identity<T>{}, T the C++ type a field of type `which` has in a struct's
// data section: bool, int8_t to uint64_t, float, double, and uint16_t for an enum (its raw
// value); std::type_identity<void> for any other type (Void, Text, Data and other pointers). The
// one switch from Cap'n Proto's type to a scalar's layout, for reading and writing alike.
template <typename F>
decltype(auto) withScalarType(capnp::schema::Type::Which which, F&& f) {
  using W = capnp::schema::Type::Which;
  switch (which) {
    case W::BOOL: return f(std::type_identity<bool>{});
    case W::INT8: return f(std::type_identity<int8_t>{});
    case W::INT16: return f(std::type_identity<int16_t>{});
    case W::INT32: return f(std::type_identity<int32_t>{});
    case W::INT64: return f(std::type_identity<int64_t>{});
    case W::UINT8: return f(std::type_identity<uint8_t>{});
    case W::UINT16: case W::ENUM: return f(std::type_identity<uint16_t>{});
    case W::UINT32: return f(std::type_identity<uint32_t>{});
    case W::UINT64: return f(std::type_identity<uint64_t>{});
    case W::FLOAT32: return f(std::type_identity<float>{});
    case W::FLOAT64: return f(std::type_identity<double>{});
    default: return f(std::type_identity<void>{});
  }
}

// A scalar data field straight from a struct's data section (capnp's layout, little-endian):
// stored bits XOR the default's bits. `offset` counts units of T's size (bits for a bool). A
// section too short for it (an older layout) reads as the default.
template <typename T>
T scalarAt(kj::ArrayPtr<const kj::byte> data, uint32_t offset, uint64_t defaultBits) {
  if constexpr (std::is_same_v<T, bool>) {
    size_t byte = offset / 8;
    bool bit = byte < data.size() && ((data[byte] >> (offset % 8)) & 1);
    return bit != (defaultBits != 0);
  } else {
    using Bits = std::conditional_t<sizeof(T) == 1, uint8_t,
                 std::conditional_t<sizeof(T) == 2, uint16_t,
                 std::conditional_t<sizeof(T) == 4, uint32_t, uint64_t>>>;
    Bits stored = 0;
    size_t at = size_t{offset} * sizeof(T);
    if (at + sizeof(T) <= data.size()) std::memcpy(&stored, data.begin() + at, sizeof(T));
    return std::bit_cast<T>(static_cast<Bits>(stored ^ static_cast<Bits>(defaultBits)));
  }
}

// The reverse: stores `value` as scalarAt reads it; false when the section is too short for it.
template <typename T>
bool storeScalarAt(kj::ArrayPtr<kj::byte> data, uint32_t offset, uint64_t defaultBits, T value) {
  if constexpr (std::is_same_v<T, bool>) {
    size_t byte = offset / 8;
    if (byte >= data.size()) return false;
    bool bit = value != (defaultBits != 0);
    auto m = static_cast<kj::byte>(1u << (offset % 8));
    data[byte] = static_cast<kj::byte>(bit ? (data[byte] | m) : (data[byte] & ~m));
    return true;
  } else {
    using Bits = std::conditional_t<sizeof(T) == 1, uint8_t,
                 std::conditional_t<sizeof(T) == 2, uint16_t,
                 std::conditional_t<sizeof(T) == 4, uint32_t, uint64_t>>>;
    size_t at = size_t{offset} * sizeof(T);
    if (at + sizeof(T) > data.size()) return false;
    auto stored = static_cast<Bits>(std::bit_cast<Bits>(value) ^ static_cast<Bits>(defaultBits));
    std::memcpy(data.begin() + at, &stored, sizeof(T));
    return true;
  }
}

// Calls `visit` with the scalar leaf of `path` (path.direct) read from `data`, the data section of
// the struct holding it: a bool, an int64_t (signed integers), a uint64_t (unsigned integers and
// enums) or a double (floats); an engine::KeyNull for a Text or Data leaf.
template <typename Visit>
decltype(auto) visitScalarAt(kj::ArrayPtr<const kj::byte> data, const FieldPath& path, Visit&& visit) {
  return withScalarType(path.leafWhich, [&](auto type) -> decltype(auto) {
    using T = typename decltype(type)::type;
    if constexpr (std::is_void_v<T>) {
      return visit(engine::KeyNull{});
    } else {
      T v = scalarAt<T>(data, path.leafOffset, path.leafDefaultBits);
      if constexpr (std::is_same_v<T, bool>) return visit(v);
      else if constexpr (std::is_floating_point_v<T>) return visit(double{v});
      else if constexpr (std::is_signed_v<T>) return visit(int64_t{v});
      else return visit(uint64_t{v});
    }
  });
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
