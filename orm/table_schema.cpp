#include "orm/table_schema.h"

#include <capdb/annotations.capnp.h>
#include <fmt/format.h>

#include <bit>
#include <map>
#include <set>
#include <utility>

#include "engine/fail.h"

namespace capdb::orm {
namespace {

// The annotation ids of include/capdb/annotations.capnp.
constexpr uint64_t kTable = 0xe741490b102a9ecfULL;
constexpr uint64_t kVersion = 0xa0c2257e0161f9e1ULL;
constexpr uint64_t kPrimaryKey = 0xa400af0b012cb92dULL;
constexpr uint64_t kAutoIncrement = 0xc0bffbd318805972ULL;
constexpr uint64_t kIndex = 0x9e7b0fce44cbd7faULL;
constexpr uint64_t kIndexed = 0x8023646d2950fc5cULL;
constexpr uint64_t kUnique = 0xa38e95f1f4d2e25fULL;

std::optional<capnp::schema::Value::Reader> findAnnotation(
    capnp::List<capnp::schema::Annotation>::Reader annotations, uint64_t id) {
  for (auto a : annotations) {
    if (a.getId() == id) return a.getValue();
  }
  return std::nullopt;
}

std::string_view sv(capnp::Text::Reader t) { return {t.begin(), t.size()}; }

std::optional<engine::KeyType> keyTypeOf(capnp::Type type) {
  using W = capnp::schema::Type::Which;
  switch (type.which()) {
    case W::BOOL: return engine::KeyType::Bool;
    case W::INT8: return engine::KeyType::Int8;
    case W::INT16: return engine::KeyType::Int16;
    case W::INT32: return engine::KeyType::Int32;
    case W::INT64: return engine::KeyType::Int64;
    case W::UINT8: return engine::KeyType::UInt8;
    case W::UINT16: return engine::KeyType::UInt16;
    case W::UINT32: return engine::KeyType::UInt32;
    case W::UINT64: return engine::KeyType::UInt64;
    case W::FLOAT32: return engine::KeyType::Float32;
    case W::FLOAT64: return engine::KeyType::Float64;
    case W::TEXT: return engine::KeyType::Text;
    case W::DATA: return engine::KeyType::Data;
    case W::ENUM: return engine::KeyType::UInt16;
    default: return std::nullopt;
  }
}

std::string_view typeName(capnp::Type type) {
  using W = capnp::schema::Type::Which;
  switch (type.which()) {
    case W::VOID: return "Void";
    case W::LIST: return "List";
    case W::STRUCT: return "a struct";
    case W::INTERFACE: return "an interface";
    case W::ANY_POINTER: return "AnyPointer";
    default: return "this type";
  }
}

bool isInteger(engine::KeyType t) {
  return t != engine::KeyType::Bool && t != engine::KeyType::Float32 &&
         t != engine::KeyType::Float64 && t != engine::KeyType::Text &&
         t != engine::KeyType::Data;
}

// Rejects fields that cannot be stored in a database: capabilities, at any depth.
void checkStorable(capnp::StructSchema schema, const std::string& table, std::string prefix,
                   std::set<uint64_t>& seen) {
  if (!seen.insert(schema.getProto().getId()).second) return;
  for (auto field : schema.getFields()) {
    std::string path = prefix + std::string(sv(field.getProto().getName()));
    capnp::Type type = field.getType();
    while (type.isList()) type = type.asList().getElementType();
    if (type.isInterface()) {
      fail(ErrorCode::InvalidArgument,
           "table {}: field {} is an interface; capabilities cannot be stored in a database",
           table, path);
    }
    if (type.isStruct()) checkStorable(type.asStruct(), table, path + ".", seen);
  }
}

}  // namespace

std::optional<uint64_t> scalarDefaultBits(capnp::schema::Value::Reader d) {
  using V = capnp::schema::Value;
  switch (d.which()) {
    case V::BOOL: return uint64_t{d.getBool()};
    case V::INT8: return static_cast<uint8_t>(d.getInt8());
    case V::INT16: return static_cast<uint16_t>(d.getInt16());
    case V::INT32: return static_cast<uint32_t>(d.getInt32());
    case V::INT64: return static_cast<uint64_t>(d.getInt64());
    case V::UINT8: return d.getUint8();
    case V::UINT16: return d.getUint16();
    case V::UINT32: return d.getUint32();
    case V::UINT64: return d.getUint64();
    case V::FLOAT32: return std::bit_cast<uint32_t>(d.getFloat32());
    case V::FLOAT64: return std::bit_cast<uint64_t>(d.getFloat64());
    case V::ENUM: return d.getEnum();
    default: return std::nullopt;
  }
}

namespace {

// Fills FieldPath's direct-access plan (see table_schema.h) when no step is in a union.
void planDirectAccess(FieldPath& path) {
  for (const auto& step : path.steps) {
    if (step.getProto().getDiscriminantValue() != capnp::schema::Field::NO_DISCRIMINANT) return;
  }
  for (size_t i = 0; i + 1 < path.steps.size(); ++i) {
    auto proto = path.steps[i].getProto();
    if (!proto.isGroup()) path.pointerSteps.push_back(proto.getSlot().getOffset());
  }
  auto slot = path.leaf().getProto().getSlot();
  path.leafOffset = slot.getOffset();
  auto d = slot.getDefaultValue();
  if (auto bits = scalarDefaultBits(d)) {
    path.leafDefaultBits = *bits;
  } else if ((d.isText() && d.hasText() && d.getText().size() > 0) ||
             (d.isData() && d.hasData() && d.getData().size() > 0)) {
    // A Text or Data key with a non-empty default reads that default when unset: leave such
    // fields to the dynamic path.
    path.pointerSteps.clear();
    return;
  }
  path.direct = true;
}

}  // namespace

bool pathsOverlap(std::string_view a, std::string_view b) {
  if (a.size() > b.size()) std::swap(a, b);
  return b.starts_with(a) && (b.size() == a.size() || b[a.size()] == '.');
}

std::string structName(capnp::Schema schema) {
  auto proto = schema.getProto();
  auto display = proto.getDisplayName();
  return std::string(display.begin() + proto.getDisplayNamePrefixLength(), display.end());
}

FieldPath resolveKeyPath(capnp::StructSchema schema, std::string_view dotted,
                         std::string_view role) {
  std::string owner = structName(schema);
  CAPDB_REQUIRE(!dotted.empty(), ErrorCode::InvalidArgument, "struct {}: {} names an empty field",
          owner, role);
  FieldPath path;
  path.dotted = std::string(dotted);
  capnp::StructSchema current = schema;
  size_t start = 0;
  for (;;) {
    size_t dot = dotted.find('.', start);
    std::string name(dotted.substr(start, dot == std::string_view::npos ? dotted.npos : dot - start));
    KJ_IF_MAYBE (field, current.findFieldByName(name)) {
      path.steps.push_back(*field);
      auto proto = field->getProto();
      bool last = dot == std::string_view::npos;
      if (proto.isGroup()) {
        CAPDB_REQUIRE(!last, ErrorCode::InvalidArgument,
                "struct {}: {} names {}, a group; name one of its fields ({}.<field>)", owner,
                role, dotted, dotted);
        current = field->getType().asStruct();
      } else {
        path.ordinals.push_back(proto.getOrdinal().getExplicit());
        capnp::Type type = field->getType();
        if (last) {
          auto keyType = keyTypeOf(type);
          CAPDB_REQUIRE(keyType.has_value(), ErrorCode::InvalidArgument,
                  "struct {}: {} names {}, which is {}; keys can only hold Bool, integers, "
                  "floats, enums, Text and Data",
                  owner, role, dotted, typeName(type));
          path.keyType = *keyType;
          path.leafWhich = type.which();
          planDirectAccess(path);
          return path;
        }
        CAPDB_REQUIRE(type.isStruct(), ErrorCode::InvalidArgument,
                "struct {}: {} names {}, but {} is {}, not a struct", owner, role, dotted, name,
                typeName(type));
        current = type.asStruct();
      }
      start = dot + 1;
    } else {
      fail(ErrorCode::InvalidArgument, "struct {}: {} names {}, which is not a field of {}", owner,
           role, dotted, structName(current));
    }
  }
}

std::optional<TableSchema> tableSchemaOf(capnp::StructSchema schema,
                                         std::shared_ptr<const void> owner) {
  auto proto = schema.getProto();
  auto annotations = proto.getAnnotations();
  auto tableName = findAnnotation(annotations, kTable);
  if (!tableName) return std::nullopt;

  std::string owning = structName(schema);
  TableSchema t;
  t.name = std::string(sv(tableName->getText()));
  t.schema = schema;
  t.owner = std::move(owner);
  CAPDB_REQUIRE(!t.name.empty(), ErrorCode::InvalidArgument, "struct {}: $Db.table names no table",
          owning);
  CAPDB_REQUIRE(t.name.find('\0') == std::string::npos && t.name.find(':') == std::string::npos,
          ErrorCode::InvalidArgument, "struct {}: table name '{}' may not hold ':' or NUL",
          owning, t.name);
  if (auto v = findAnnotation(annotations, kVersion)) t.version = v->getUint32();
  CAPDB_REQUIRE(t.version >= 1, ErrorCode::InvalidArgument, "table {} (struct {}): version must be >= 1",
          t.name, owning);
  std::set<uint64_t> seen;
  checkStorable(schema, t.name, "", seen);

  auto pk = findAnnotation(annotations, kPrimaryKey);
  CAPDB_REQUIRE(pk.has_value(), ErrorCode::InvalidArgument,
          "table {} (struct {}) has no primary key; add $Db.primaryKey([\"field\", ...])", t.name,
          owning);
  auto pkNames = pk->getList().getAs<capnp::List<capnp::Text>>();
  CAPDB_REQUIRE(pkNames.size() > 0, ErrorCode::InvalidArgument,
          "table {} (struct {}): $Db.primaryKey names no field", t.name, owning);
  std::set<std::string> pkSeen;
  for (auto name : pkNames) {
    CAPDB_REQUIRE(pkSeen.insert(std::string(sv(name))).second, ErrorCode::InvalidArgument,
            "struct {}: primary key names {} twice", owning, sv(name));
    t.primaryKey.push_back(resolveKeyPath(schema, sv(name), "primary key"));
  }

  // Field annotations: autoIncrement, indexed, unique (top-level fields only).
  for (auto field : schema.getFields()) {
    auto fproto = field.getProto();
    std::string fieldName(sv(fproto.getName()));
    auto fa = fproto.getAnnotations();
    if (findAnnotation(fa, kAutoIncrement)) {
      CAPDB_REQUIRE(!t.autoIncrement.has_value(), ErrorCode::InvalidArgument,
              "struct {}: more than one field is $Db.autoIncrement", owning);
      std::optional<size_t> position;
      for (size_t i = 0; i < t.primaryKey.size(); ++i) {
        if (t.primaryKey[i].dotted == fieldName) position = i;
      }
      CAPDB_REQUIRE(position.has_value(), ErrorCode::InvalidArgument,
              "struct {}: field {} is $Db.autoIncrement but not part of the primary key", owning,
              fieldName);
      CAPDB_REQUIRE(isInteger(t.primaryKey[*position].keyType) &&
                  !field.getType().isEnum(),
              ErrorCode::InvalidArgument,
              "struct {}: field {} is $Db.autoIncrement but not an integer", owning, fieldName);
      t.autoIncrement = position;
    }
    bool indexed = findAnnotation(fa, kIndexed).has_value();
    bool unique = findAnnotation(fa, kUnique).has_value();
    if (indexed || unique) {
      std::string name = t.name + "_" + fieldName;
      t.indexes.push_back(IndexSchema{
          name, {resolveKeyPath(schema, fieldName, "index " + name)}, unique});
    }
  }

  if (auto idx = findAnnotation(annotations, kIndex)) {
    for (auto index : idx->getList().getAs<capnp::List<capdb::annotations::Index>>()) {
      std::string name(sv(index.getName()));
      CAPDB_REQUIRE(!name.empty(), ErrorCode::InvalidArgument, "struct {}: an index has no name",
              owning);
      CAPDB_REQUIRE(index.getFields().size() > 0, ErrorCode::InvalidArgument,
              "struct {}: index {} names no field", owning, name);
      IndexSchema is{name, {}, index.getUnique()};
      for (auto f : index.getFields()) {
        is.fields.push_back(resolveKeyPath(schema, sv(f), "index " + name));
      }
      t.indexes.push_back(std::move(is));
    }
  }
  std::set<std::string> indexNames;
  for (const auto& index : t.indexes) {
    CAPDB_REQUIRE(indexNames.insert(index.name).second, ErrorCode::InvalidArgument,
            "struct {}: two indexes are named {}", owning, index.name);
    CAPDB_REQUIRE(index.name.find('\0') == std::string::npos && index.name.find(':') == std::string::npos,
            ErrorCode::InvalidArgument, "struct {}: index name '{}' may not hold ':' or NUL",
            owning, index.name);
  }
  return t;
}

TableSchema requireTable(capnp::StructSchema schema, std::shared_ptr<const void> owner) {
  auto t = tableSchemaOf(schema, std::move(owner));
  CAPDB_REQUIRE(t.has_value(), ErrorCode::InvalidArgument,
          "struct {} is not a table; annotate it with $Db.table(\"name\")", structName(schema));
  return std::move(*t);
}

void checkDistinctNames(std::span<const TableSchema> tables) {
  std::map<std::string, std::string> byName;
  for (const auto& t : tables) {
    auto [it, inserted] = byName.emplace(t.name, structName(t.schema));
    CAPDB_REQUIRE(inserted, ErrorCode::InvalidArgument, "structs {} and {} both declare table {}",
            it->second, structName(t.schema), t.name);
  }
}

}  // namespace capdb::orm

namespace capdb {

const IndexSchema* TableSchema::findIndex(std::string_view indexName) const {
  for (const auto& index : indexes) {
    if (index.name == indexName) return &index;
  }
  return nullptr;
}

TableSchema tableOf(capnp::StructSchema schema) { return orm::requireTable(schema); }

}  // namespace capdb
