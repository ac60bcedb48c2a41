#include "orm/schema_diff.h"

#include <capnp/any.h>
#include <capnp/serialize.h>
#include <fmt/format.h>

#include <cstring>
#include <map>
#include <set>

namespace capdb::orm {
namespace {

constexpr uint16_t kNoDiscriminant = 0xffff;

// A slot field, flattened out of groups, keyed by its container struct's path and its ordinal
// (groups share their parent's ordinal space; a struct-typed field opens a new one).
struct Slot {
  std::string path;       // dotted, through groups and struct fields
  std::string groupPath;  // the groups between the container and the field
  capnp::StructSchema::Field field;
  uint16_t discriminant = kNoDiscriminant;
  uint64_t unionScope = 0;  // the id of the struct or group whose union holds the field
};

using SlotMap = std::map<std::pair<std::string, uint16_t>, Slot>;

std::string sv(capnp::Text::Reader t) { return std::string(t.begin(), t.end()); }

void flatten(capnp::StructSchema schema, const std::string& container, const std::string& prefix,
             const std::string& groups, SlotMap& out, std::set<uint64_t>& onPath) {
  uint64_t id = schema.getProto().getId();
  for (auto field : schema.getFields()) {
    auto proto = field.getProto();
    std::string name = sv(proto.getName());
    if (proto.isGroup()) {
      flatten(field.getType().asStruct(), container, prefix + name + ".",
              groups + name + ".", out, onPath);
      continue;
    }
    Slot slot{prefix + name, groups, field, proto.getDiscriminantValue(), id};
    uint16_t ordinal = proto.getOrdinal().getExplicit();
    capnp::Type type = field.getType();
    while (type.isList()) type = type.asList().getElementType();
    if (type.isStruct()) {
      auto nested = type.asStruct();
      uint64_t nestedId = nested.getProto().getId();
      if (onPath.insert(nestedId).second) {
        std::string nestedContainer = container + "/" + std::to_string(ordinal);
        std::string nestedPrefix = slot.path + (field.getType().isList() ? "[]." : ".");
        flatten(nested, nestedContainer, nestedPrefix, "", out, onPath);
        onPath.erase(nestedId);
      }
    }
    out.emplace(std::make_pair(container, ordinal), std::move(slot));
  }
}

// Types compare by kind and, for named types, by id: schemas from different loaders never share
// pointers, so capnp::Type's operator== cannot be used across versions.
bool sameType(capnp::Type a, capnp::Type b) {
  if (a.which() != b.which()) return false;
  if (a.isList()) return sameType(a.asList().getElementType(), b.asList().getElementType());
  if (a.isStruct()) return a.asStruct().getProto().getId() == b.asStruct().getProto().getId();
  if (a.isEnum()) return a.asEnum().getProto().getId() == b.asEnum().getProto().getId();
  if (a.isInterface()) return a.asInterface().getProto().getId() == b.asInterface().getProto().getId();
  return true;
}

// Type changes that are compatible in themselves: one struct for another (their fields are
// compared one by one), and lists of such structs. Cap'n Proto's SchemaLoader refuses every
// other change of type, including Text <-> Data (a Text's bytes end in a NUL that Data would
// keep) and enum <-> UInt16, so capdb does too.
bool interchangeable(capnp::Type a, capnp::Type b) {
  // A struct's fields are compared one by one; the struct itself may be renamed or re-declared.
  if (a.isStruct() && b.isStruct()) return true;
  if (a.isList() && b.isList()) {
    return sameType(a.asList().getElementType(), b.asList().getElementType()) ||
           (a.asList().getElementType().isStruct() && b.asList().getElementType().isStruct());
  }
  return false;
}

bool sameDefault(capnp::StructSchema::Field a, capnp::StructSchema::Field b) {
  auto da = a.getProto().getSlot().getDefaultValue();
  auto db = b.getProto().getSlot().getDefaultValue();
  kj::Array<capnp::word> wa = capnp::canonicalize(da), wb = capnp::canonicalize(db);
  auto ca = wa.asBytes(), cb = wb.asBytes();
  return ca.size() == cb.size() && std::memcmp(ca.begin(), cb.begin(), ca.size()) == 0;
}

std::string pathsOf(const std::vector<FieldPath>& fields) {
  std::string out;
  for (const auto& f : fields) out += (out.empty() ? "" : ", ") + f.dotted;
  return "(" + out + ")";
}

// Key identity by ordinals, so a renamed field is still the same key column.
std::vector<std::vector<uint16_t>> identity(const std::vector<FieldPath>& fields) {
  std::vector<std::vector<uint16_t>> out;
  for (const auto& f : fields) {
    auto ids = f.ordinals;
    ids.push_back(static_cast<uint16_t>(f.keyType));
    out.push_back(std::move(ids));
  }
  return out;
}

}  // namespace

std::string typeName(capnp::Type type) {
  using W = capnp::schema::Type::Which;
  switch (type.which()) {
    case W::VOID: return "Void";
    case W::BOOL: return "Bool";
    case W::INT8: return "Int8";
    case W::INT16: return "Int16";
    case W::INT32: return "Int32";
    case W::INT64: return "Int64";
    case W::UINT8: return "UInt8";
    case W::UINT16: return "UInt16";
    case W::UINT32: return "UInt32";
    case W::UINT64: return "UInt64";
    case W::FLOAT32: return "Float32";
    case W::FLOAT64: return "Float64";
    case W::TEXT: return "Text";
    case W::DATA: return "Data";
    case W::LIST: return "List(" + typeName(type.asList().getElementType()) + ")";
    case W::ENUM: return structName(type.asEnum());
    case W::STRUCT: return structName(type.asStruct());
    case W::INTERFACE: return structName(type.asInterface());
    case W::ANY_POINTER: return "AnyPointer";
  }
  return "?";
}

std::string_view changeKindName(ChangeKind kind) {
  switch (kind) {
    case ChangeKind::FieldAdded: return "field added";
    case ChangeKind::FieldRemoved: return "field removed";
    case ChangeKind::FieldRenamed: return "field renamed";
    case ChangeKind::TypeChanged: return "type changed";
    case ChangeKind::DefaultChanged: return "default changed";
    case ChangeKind::MovedIntoUnion: return "moved into a union";
    case ChangeKind::MovedOutOfUnion: return "moved out of a union";
    case ChangeKind::MovedIntoGroup: return "moved into a group";
    case ChangeKind::MovedOutOfGroup: return "moved out of a group";
    case ChangeKind::PrimaryKeyChanged: return "primary key changed";
    case ChangeKind::IndexAdded: return "index added";
    case ChangeKind::IndexRemoved: return "index removed";
    case ChangeKind::IndexChanged: return "index changed";
  }
  return "?";
}

bool SchemaDiff::wireCompatible() const {
  for (const auto& c : changes) {
    if (!c.wireCompatible) return false;
  }
  return true;
}

bool SchemaDiff::readsAcross() const {
  for (const auto& c : changes) {
    if (!c.wireCompatible && c.kind != ChangeKind::PrimaryKeyChanged) return false;
  }
  return true;
}

std::string SchemaDiff::describe(std::string_view table) const {
  std::string out;
  for (const auto& c : changes) {
    std::string_view how = c.wireCompatible ? "wire-compatible"
                           : c.kind == ChangeKind::PrimaryKeyChanged
                               ? "needs a new version; every record moves to its new key, eagerly"
                               : "needs a step";
    out += fmt::format("{}{}{}: {}{}{} ({})\n", table, c.field.empty() ? "" : ".", c.field,
                       changeKindName(c.kind), c.detail.empty() ? "" : " ", c.detail, how);
  }
  return out;
}

SchemaDiff diffTables(const TableSchema& from, const TableSchema& to) {
  SchemaDiff diff;
  auto add = [&](ChangeKind kind, std::string field, std::string detail, bool compatible) {
    diff.changes.push_back(SchemaChange{kind, std::move(field), std::move(detail), compatible});
  };

  SlotMap oldSlots, newSlots;
  std::set<uint64_t> onPath;
  flatten(from.schema, "", "", "", oldSlots, onPath);
  flatten(to.schema, "", "", "", newSlots, onPath);

  for (const auto& [key, o] : oldSlots) {
    auto it = newSlots.find(key);
    if (it == newSlots.end()) {
      add(ChangeKind::FieldRemoved, o.path,
          fmt::format("({}); old records keep its bytes, unread",
                      typeName(o.field.getType())),
          true);
      continue;
    }
    const Slot& n = it->second;
    auto op = o.field.getProto(), np = n.field.getProto();
    std::string oldName = sv(op.getName()), newName = sv(np.getName());
    if (oldName != newName) add(ChangeKind::FieldRenamed, n.path, "from " + o.path, true);
    capnp::Type ot = o.field.getType(), nt = n.field.getType();
    bool offsetKept = op.getSlot().getOffset() == np.getSlot().getOffset();
    if (!sameType(ot, nt)) {
      bool compatible = interchangeable(ot, nt) && offsetKept;
      add(ChangeKind::TypeChanged, n.path, typeName(ot) + " -> " + typeName(nt), compatible);
    } else if (!sameDefault(o.field, n.field)) {
      add(ChangeKind::DefaultChanged, n.path, "", false);
    }
    if (o.discriminant == kNoDiscriminant && n.discriminant != kNoDiscriminant) {
      // A field may join a new union retroactively if old records, whose discriminant reads 0,
      // read as this member.
      add(ChangeKind::MovedIntoUnion, n.path,
          fmt::format("as member {}", n.discriminant),
          n.discriminant == 0 && offsetKept);
    } else if (o.discriminant != kNoDiscriminant && n.discriminant == kNoDiscriminant) {
      add(ChangeKind::MovedOutOfUnion, n.path, "", false);
    } else if (o.discriminant != n.discriminant) {
      add(ChangeKind::MovedIntoUnion, n.path,
          fmt::format("member {} -> {}", o.discriminant, n.discriminant), false);
    }
    if (o.groupPath != n.groupPath) {
      bool into = n.groupPath.size() > o.groupPath.size();
      add(into ? ChangeKind::MovedIntoGroup : ChangeKind::MovedOutOfGroup, n.path,
          "from " + o.path, offsetKept && (into || sameType(ot, nt)));
    }
    if (sameType(ot, nt) && !offsetKept) {
      add(ChangeKind::TypeChanged, n.path, "moved to another offset", false);
    }
  }
  for (const auto& [key, n] : newSlots) {
    if (!oldSlots.count(key)) add(ChangeKind::FieldAdded, n.path, typeName(n.field.getType()), true);
  }

  if (identity(from.primaryKey) != identity(to.primaryKey)) {
    add(ChangeKind::PrimaryKeyChanged, "",
        pathsOf(from.primaryKey) + " -> " + pathsOf(to.primaryKey), false);
  }
  for (const auto& oi : from.indexes) {
    const IndexSchema* ni = to.findIndex(oi.name);
    if (ni == nullptr) {
      add(ChangeKind::IndexRemoved, oi.name, pathsOf(oi.fields), true);
    } else if (identity(oi.fields) != identity(ni->fields) || oi.unique != ni->unique) {
      add(ChangeKind::IndexChanged, oi.name,
          fmt::format("{}{} -> {}{}", oi.unique ? "unique " : "", pathsOf(oi.fields),
                      ni->unique ? "unique " : "", pathsOf(ni->fields)),
          true);
    }
  }
  for (const auto& ni : to.indexes) {
    if (!from.findIndex(ni.name)) {
      add(ChangeKind::IndexAdded, ni.name, (ni.unique ? "unique " : "") + pathsOf(ni.fields), true);
    }
  }
  return diff;
}

}  // namespace capdb::orm
