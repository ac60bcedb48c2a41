#include "orm/record_check.h"

#include <capnp/dynamic.h>

namespace capdb::orm {

namespace {

// A union member is present when the discriminant (a UInt16 at `offset`, in 16-bit units, in
// the data section) holds `value`.
struct Condition {
  uint32_t offset;
  uint16_t value;
};

enum class Kind : uint8_t { Text, Data, List, Struct, StructList, Any };

// Reads every pointer of a list through the dynamic API (lists of lists and the like: rare).
void touchList(capnp::DynamicList::Reader list) {
  for (auto item : list) {
    switch (item.getType()) {
      case capnp::DynamicValue::LIST: touchList(item.as<capnp::DynamicList>()); break;
      case capnp::DynamicValue::TEXT: (void)item.as<capnp::Text>(); break;
      case capnp::DynamicValue::DATA: (void)item.as<capnp::Data>(); break;
      default: break;
    }
  }
}

}  // namespace

struct RecordCheck::Node {
  struct Pointer {
    uint32_t index;
    Kind kind;
    std::vector<Condition> when;
    capnp::ListSchema list;  // Kind::List
    Node* nested = nullptr;  // Kind::Struct, Kind::StructList
  };
  std::vector<Pointer> pointers;
};

RecordCheck::RecordCheck(capnp::StructSchema root) { root_ = build(root); }
RecordCheck::RecordCheck(RecordCheck&&) noexcept = default;
RecordCheck::~RecordCheck() = default;

RecordCheck::Node* RecordCheck::build(capnp::StructSchema schema) {
  uint64_t id = schema.getProto().getId();
  if (auto it = byId_.find(id); it != byId_.end()) return it->second;
  nodes_.push_back(std::make_unique<Node>());
  Node* node = nodes_.back().get();
  byId_[id] = node;  // before the fields, so that a recursive struct refers to itself

  // Adds the pointer fields of `s` (the struct or one of its groups) under `when`.
  auto addFields = [&](auto& self, capnp::StructSchema s, std::vector<Condition> when) -> void {
    uint32_t discOffset = s.getProto().getStruct().getDiscriminantOffset();
    for (auto field : s.getFields()) {
      auto proto = field.getProto();
      std::vector<Condition> cond = when;
      if (proto.getDiscriminantValue() != capnp::schema::Field::NO_DISCRIMINANT) {
        cond.push_back(Condition{discOffset, proto.getDiscriminantValue()});
      }
      if (proto.isGroup()) {
        self(self, field.getType().asStruct(), std::move(cond));
        continue;
      }
      uint32_t index = proto.getSlot().getOffset();
      capnp::Type type = field.getType();
      switch (type.which()) {
        case capnp::schema::Type::TEXT:
          node->pointers.push_back({index, Kind::Text, std::move(cond), {}, nullptr});
          break;
        case capnp::schema::Type::DATA:
          node->pointers.push_back({index, Kind::Data, std::move(cond), {}, nullptr});
          break;
        case capnp::schema::Type::STRUCT:
          node->pointers.push_back({index, Kind::Struct, std::move(cond), {}, nullptr});
          node->pointers.back().nested = build(type.asStruct());
          break;
        case capnp::schema::Type::LIST: {
          auto list = type.asList();
          if (list.getElementType().isStruct()) {
            node->pointers.push_back({index, Kind::StructList, std::move(cond), list, nullptr});
            node->pointers.back().nested = build(list.getElementType().asStruct());
          } else {
            node->pointers.push_back({index, Kind::List, std::move(cond), list, nullptr});
          }
          break;
        }
        case capnp::schema::Type::ANY_POINTER:
          // Anything may be there; its pointers must still be within bounds.
          node->pointers.push_back({index, Kind::Any, std::move(cond), {}, nullptr});
          break;
        default:
          break;  // scalars are read from the data section, always within bounds
      }
    }
  };
  addFields(addFields, schema, {});
  return node;
}

void RecordCheck::check(capnp::AnyStruct::Reader record) const { checkNode(*root_, record); }

void RecordCheck::checkNode(const Node& node, capnp::AnyStruct::Reader record) const {
  auto data = record.getDataSection();
  auto pointers = record.getPointerSection();
  for (const auto& p : node.pointers) {
    bool present = true;
    for (const Condition& c : p.when) {
      size_t at = size_t{c.offset} * 2;
      uint16_t disc = at + 2 <= data.size()
                          ? static_cast<uint16_t>(data[at] | (uint16_t{data[at + 1]} << 8))
                          : 0;
      if (disc != c.value) present = false;
    }
    if (!present || p.index >= pointers.size()) continue;
    capnp::AnyPointer::Reader ptr = pointers[p.index];
    if (ptr.isNull()) continue;
    switch (p.kind) {
      case Kind::Text: (void)ptr.getAs<capnp::Text>(); break;
      case Kind::Data: (void)ptr.getAs<capnp::Data>(); break;
      case Kind::Struct: checkNode(*p.nested, ptr.getAs<capnp::AnyStruct>()); break;
      case Kind::StructList:
        for (auto element : ptr.getAs<capnp::DynamicList>(p.list)) {
          checkNode(*p.nested, capnp::AnyStruct::Reader(element.as<capnp::DynamicStruct>()));
        }
        break;
      case Kind::List: touchList(ptr.getAs<capnp::DynamicList>(p.list)); break;
      case Kind::Any: (void)ptr.targetSize(); break;
    }
  }
}

}  // namespace capdb::orm
