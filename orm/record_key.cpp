#include "orm/record_key.h"

#include <capnp/any.h>

namespace capdb::orm {
namespace {

bool isActive(capnp::DynamicStruct::Reader record, capnp::StructSchema::Field field) {
  if (field.getProto().getDiscriminantValue() == capnp::schema::Field::NO_DISCRIMINANT) return true;
  KJ_IF_MAYBE (active, record.which()) {
    return *active == field;
  }
  return false;
}

// Reads the key value straight from the struct's sections (capnp's layout, little-endian), with
// no dynamic-API lookups. See FieldPath::direct.
engine::KeyValue directValue(capnp::AnyStruct::Reader s, const FieldPath& path) {
  using W = capnp::schema::Type::Which;
  for (uint32_t index : path.pointerSteps) {
    auto pointers = s.getPointerSection();
    if (index >= pointers.size() || pointers[index].isNull()) return engine::KeyNull{};
    s = pointers[index].getAs<capnp::AnyStruct>();
  }
  uint32_t off = path.leafOffset;
  switch (path.leafWhich) {
    case W::TEXT: case W::DATA: {
      auto pointers = s.getPointerSection();
      if (off >= pointers.size() || pointers[off].isNull()) return engine::KeyNull{};
      if (path.leafWhich == W::TEXT) {
        auto t = pointers[off].getAs<capnp::Text>();
        return std::string(t.begin(), t.end());
      }
      auto d = pointers[off].getAs<capnp::Data>();
      return engine::KeyBytes{std::string(reinterpret_cast<const char*>(d.begin()), d.size())};
    }
    default:
      return visitScalarAt(s.getDataSection(), path, [](auto v) -> engine::KeyValue { return v; });
  }
}

}  // namespace

engine::KeyValue keyValueAt(capnp::DynamicStruct::Reader record, const FieldPath& path) {
  using W = capnp::schema::Type::Which;
  if (path.direct) return directValue(capnp::AnyStruct::Reader(record), path);
  capnp::DynamicStruct::Reader current = record;
  for (size_t i = 0; i + 1 < path.steps.size(); ++i) {
    const auto& step = path.steps[i];
    if (!isActive(current, step)) return engine::KeyNull{};
    if (!step.getProto().isGroup() && !current.has(step)) return engine::KeyNull{};
    current = current.get(step).as<capnp::DynamicStruct>();
  }
  const auto& leaf = path.leaf();
  if (!isActive(current, leaf)) return engine::KeyNull{};
  capnp::DynamicValue::Reader v = current.get(leaf);
  switch (path.leafWhich) {
    case W::BOOL: return v.as<bool>();
    case W::INT8: case W::INT16: case W::INT32: case W::INT64: return v.as<int64_t>();
    case W::UINT8: case W::UINT16: case W::UINT32: case W::UINT64: return v.as<uint64_t>();
    case W::FLOAT32: case W::FLOAT64: return v.as<double>();
    case W::ENUM: return static_cast<uint64_t>(v.as<capnp::DynamicEnum>().getRaw());
    case W::TEXT: {
      if (!current.has(leaf)) return engine::KeyNull{};
      auto t = v.as<capnp::Text>();
      return std::string(t.begin(), t.end());
    }
    case W::DATA: {
      if (!current.has(leaf)) return engine::KeyNull{};
      auto d = v.as<capnp::Data>();
      return engine::KeyBytes{std::string(reinterpret_cast<const char*>(d.begin()), d.size())};
    }
    default: return engine::KeyNull{};  // resolveKeyPath admits no other leaf type
  }
}

void appendKey(engine::KeyEncoder& key, capnp::DynamicStruct::Reader record,
               std::span<const FieldPath> paths) {
  for (const auto& path : paths) key.value(keyValueAt(record, path));
}

}  // namespace capdb::orm
