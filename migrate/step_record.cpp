// FieldNames, StepRecord and StepBuilder (include/capdb/migrations.h): a step's by-name field
// access with each name resolved once per schema.
#include <capnp/any.h>

#include <algorithm>
#include <cstring>
#include <optional>
#include <string>

#include "capdb/migrations.h"
#include "engine/fail.h"

namespace capdb {
namespace {

std::string_view text(capnp::Text::Reader t) { return {t.begin(), t.size()}; }

[[noreturn]] void noField(capnp::StructSchema schema, std::string_view name) {
  fail(ErrorCode::InvalidArgument, "{} has no field named '{}'",
       text(schema.getProto().getDisplayName()), name);
}

// Without a FieldNames: Cap'n Proto's own lookup, with capdb's error.
capnp::StructSchema::Field lookUp(capnp::StructSchema schema, std::string_view name) {
  KJ_IF_MAYBE (field, schema.findFieldByName(std::string(name))) {
    return *field;
  }
  noField(schema, name);
}

using W = capnp::schema::Type::Which;

// Where a field can be read and written directly, or type VOID when it cannot.
FieldNames::Direct directOf(capnp::StructSchema::Field field) {
  FieldNames::Direct d;
  auto proto = field.getProto();
  if (proto.isGroup() || proto.getDiscriminantValue() != capnp::schema::Field::NO_DISCRIMINANT) {
    return d;
  }
  auto slot = proto.getSlot();
  auto def = slot.getDefaultValue();
  d.offset = slot.getOffset();
  switch (slot.getType().which()) {
    case W::BOOL: d.mask = def.getBool(); break;
    case W::INT8: d.mask = static_cast<uint8_t>(def.getInt8()); break;
    case W::INT16: d.mask = static_cast<uint16_t>(def.getInt16()); break;
    case W::INT32: d.mask = static_cast<uint32_t>(def.getInt32()); break;
    case W::INT64: d.mask = static_cast<uint64_t>(def.getInt64()); break;
    case W::UINT8: d.mask = def.getUint8(); break;
    case W::UINT16: d.mask = def.getUint16(); break;
    case W::UINT32: d.mask = def.getUint32(); break;
    case W::UINT64: d.mask = def.getUint64(); break;
    case W::FLOAT32: {
      float f = def.getFloat32();
      uint32_t bits;
      std::memcpy(&bits, &f, sizeof bits);
      d.mask = bits;
      break;
    }
    case W::FLOAT64: {
      double f = def.getFloat64();
      std::memcpy(&d.mask, &f, sizeof d.mask);
      break;
    }
    case W::TEXT: break;  // an unset Text reads its default through Cap'n Proto
    default: return d;
  }
  d.type = slot.getType().which();
  return d;
}

size_t sizeOf(W type) {
  switch (type) {
    case W::INT8: case W::UINT8: return 1;
    case W::INT16: case W::UINT16: return 2;
    case W::INT32: case W::UINT32: case W::FLOAT32: return 4;
    default: return 8;
  }
}

// The stored bits of a field of `size` bytes (little-endian), XORed with its default: a data
// section too short for it (an older layout) reads as the default.
uint64_t load(kj::ArrayPtr<const kj::byte> data, const FieldNames::Direct& d, size_t size) {
  size_t at = size_t{d.offset} * size;
  uint64_t bits = 0;
  if (at + size <= data.size()) {
    for (size_t i = 0; i < size; ++i) bits |= uint64_t{data[at + i]} << (8 * i);
  }
  return bits ^ d.mask;
}

std::optional<capnp::DynamicValue::Reader> readDirect(capnp::DynamicStruct::Reader record,
                                                      const FieldNames::Direct& d) {
  capnp::AnyStruct::Reader s(record);
  if (d.type == W::TEXT) {
    auto pointers = s.getPointerSection();
    if (d.offset >= pointers.size() || pointers[d.offset].isNull()) return std::nullopt;
    return capnp::DynamicValue::Reader(pointers[d.offset].getAs<capnp::Text>());
  }
  auto data = s.getDataSection();
  if (d.type == W::BOOL) {
    size_t byte = d.offset / 8;
    bool bit = byte < data.size() && ((data[byte] >> (d.offset % 8)) & 1);
    return capnp::DynamicValue::Reader(bit != (d.mask != 0));
  }
  uint64_t bits = load(data, d, sizeOf(d.type));
  switch (d.type) {
    case W::INT8: return capnp::DynamicValue::Reader(static_cast<int8_t>(bits));
    case W::INT16: return capnp::DynamicValue::Reader(static_cast<int16_t>(bits));
    case W::INT32: return capnp::DynamicValue::Reader(static_cast<int32_t>(bits));
    case W::INT64: return capnp::DynamicValue::Reader(static_cast<int64_t>(bits));
    case W::UINT8: return capnp::DynamicValue::Reader(static_cast<uint8_t>(bits));
    case W::UINT16: return capnp::DynamicValue::Reader(static_cast<uint16_t>(bits));
    case W::UINT32: return capnp::DynamicValue::Reader(static_cast<uint32_t>(bits));
    case W::UINT64: return capnp::DynamicValue::Reader(bits);
    case W::FLOAT32: {
      auto narrow = static_cast<uint32_t>(bits);
      float f;
      std::memcpy(&f, &narrow, sizeof f);
      return capnp::DynamicValue::Reader(f);
    }
    case W::FLOAT64: {
      double f;
      std::memcpy(&f, &bits, sizeof f);
      return capnp::DynamicValue::Reader(f);
    }
    default: return std::nullopt;
  }
}

// Writes a number or Bool into the data section; false when it must go through Cap'n Proto (a
// Text, or a section too short for the field).
bool writeDirect(capnp::DynamicStruct::Builder record, const FieldNames::Direct& d,
                 const capnp::DynamicValue::Reader& value) {
  if (d.type == W::TEXT) return false;
  auto data = capnp::AnyStruct::Builder(record).getDataSection();
  if (d.type == W::BOOL) {
    size_t byte = d.offset / 8;
    if (byte >= data.size()) return false;
    bool bit = value.as<bool>() != (d.mask != 0);
    auto m = static_cast<kj::byte>(1u << (d.offset % 8));
    data[byte] = static_cast<kj::byte>(bit ? (data[byte] | m) : (data[byte] & ~m));
    return true;
  }
  size_t size = sizeOf(d.type);
  size_t at = size_t{d.offset} * size;
  if (at + size > data.size()) return false;
  uint64_t bits = 0;
  switch (d.type) {  // as<T>() converts and range-checks exactly as DynamicStruct::Builder::set
    case W::INT8: bits = static_cast<uint8_t>(value.as<int8_t>()); break;
    case W::INT16: bits = static_cast<uint16_t>(value.as<int16_t>()); break;
    case W::INT32: bits = static_cast<uint32_t>(value.as<int32_t>()); break;
    case W::INT64: bits = static_cast<uint64_t>(value.as<int64_t>()); break;
    case W::UINT8: bits = value.as<uint8_t>(); break;
    case W::UINT16: bits = value.as<uint16_t>(); break;
    case W::UINT32: bits = value.as<uint32_t>(); break;
    case W::UINT64: bits = value.as<uint64_t>(); break;
    case W::FLOAT32: {
      float f = value.as<float>();
      uint32_t narrow;
      std::memcpy(&narrow, &f, sizeof narrow);
      bits = narrow;
      break;
    }
    case W::FLOAT64: {
      double f = value.as<double>();
      std::memcpy(&bits, &f, sizeof bits);
      break;
    }
    default: return false;
  }
  bits ^= d.mask;
  for (size_t i = 0; i < size; ++i) data[at + i] = static_cast<kj::byte>(bits >> (8 * i));
  return true;
}

}  // namespace

FieldNames::FieldNames(capnp::StructSchema schema) : schema_(schema) {
  for (auto field : schema.getFields()) {
    byName_.emplace_back(std::string(text(field.getProto().getName())), Entry{field, directOf(field)});
  }
  std::sort(byName_.begin(), byName_.end(),
            [](const auto& a, const auto& b) { return a.first < b.first; });
}

const FieldNames::Entry& FieldNames::entry(std::string_view name) const {
  auto it = std::lower_bound(byName_.begin(), byName_.end(), name,
                             [](const auto& entry, std::string_view n) { return entry.first < n; });
  if (it == byName_.end() || it->first != name) noField(schema_, name);
  return it->second;
}

capnp::DynamicValue::Reader StepRecord::get(std::string_view name) const {
  if (names_ == nullptr) return record_.get(lookUp(record_.getSchema(), name));
  const FieldNames::Entry& e = names_->entry(name);
  if (e.direct.type != W::VOID) {
    if (auto v = readDirect(record_, e.direct)) return *v;
  }
  return record_.get(e.field);
}

void StepBuilder::set(std::string_view name, const capnp::DynamicValue::Reader& value) {
  if (names_ == nullptr) return record_.set(lookUp(record_.getSchema(), name), value);
  const FieldNames::Entry& e = names_->entry(name);
  if (e.direct.type != W::VOID && writeDirect(record_, e.direct, value)) return;
  record_.set(e.field, value);
}

capnp::StructSchema::Field StepRecord::find(std::string_view name) const {
  return names_ ? names_->find(name) : lookUp(record_.getSchema(), name);
}

capnp::StructSchema::Field StepBuilder::find(std::string_view name) const {
  return names_ ? names_->find(name) : lookUp(record_.getSchema(), name);
}

}  // namespace capdb
