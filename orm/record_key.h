// Keys of records: the primary key and index keys, read from a record's fields.
#pragma once

#include <capnp/dynamic.h>

#include <bit>
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

// The value at `path` in `record`, as a key value. An unset Text, Data or struct on the way, or a
// union member that is not the active one, reads as NULL.
engine::KeyValue keyValueAt(capnp::DynamicStruct::Reader record, const FieldPath& path);

// Appends the values at `paths` to `key`.
void appendKey(engine::KeyEncoder& key, capnp::DynamicStruct::Reader record,
               std::span<const FieldPath> paths);

}  // namespace capdb::orm
