// FieldNames, StepRecord and StepBuilder (include/capdb/migrations.h): a step's by-name field
// access with each name resolved once per schema.
#include <capnp/any.h>

#include <algorithm>
#include <optional>
#include <string>

#include "capdb/migrations.h"
#include "engine/fail.h"
#include "orm/record_key.h"

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
  W type = slot.getType().which();
  if (type == W::VOID || type == W::ENUM || type == W::DATA || type == W::LIST ||
      type == W::STRUCT || type == W::INTERFACE || type == W::ANY_POINTER) {
    return d;
  }
  // A Text's default is read through Cap'n Proto when the pointer is null: no bits to keep.
  d.mask = orm::scalarDefaultBits(slot.getDefaultValue()).value_or(0);
  d.offset = slot.getOffset();
  d.type = type;
  return d;
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
  // directOf gives no enum: d.type is a number or a Bool here.
  return orm::withScalarType(d.type, [&](auto type) -> std::optional<capnp::DynamicValue::Reader> {
    using T = typename decltype(type)::type;
    if constexpr (std::is_void_v<T>) {
      return std::nullopt;
    } else {
      return capnp::DynamicValue::Reader(orm::scalarAt<T>(data, d.offset, d.mask));
    }
  });
}

// Writes a number or Bool into the data section; false when it must go through Cap'n Proto (a
// Text, or a section too short for the field). value.as<T>() converts and range-checks exactly
// as DynamicStruct::Builder::set does.
bool writeDirect(capnp::DynamicStruct::Builder record, const FieldNames::Direct& d,
                 const capnp::DynamicValue::Reader& value) {
  auto data = capnp::AnyStruct::Builder(record).getDataSection();
  return orm::withScalarType(d.type, [&](auto type) {
    using T = typename decltype(type)::type;
    if constexpr (std::is_void_v<T>) {
      return false;
    } else {
      return orm::storeScalarAt(data, d.offset, d.mask, value.as<T>());
    }
  });
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
