#include "orm/stored_schema.h"

#include <capdb/annotations.capnp.h>
#include <capnp/message.h>
#include <capnp/serialize.h>
#include <fmt/format.h>
#include <orm/catalog.capnp.h>

#include <cstring>
#include <map>
#include <optional>
#include <set>
#include <vector>

#include "engine/fail.h"
#include "orm/kj_error.h"

namespace capdb::orm {
namespace {

using capnp::schema::Node;
using capnp::schema::Type;

// The declarations of capdb's annotations, from the compiled annotations.capnp.
const capnp::_::RawSchema* const kAnnotationDecls[] = {
    &capnp::schemas::s_e741490b102a9ecf, &capnp::schemas::s_a0c2257e0161f9e1,
    &capnp::schemas::s_a400af0b012cb92d, &capnp::schemas::s_c0bffbd318805972,
    &capnp::schemas::s_9e7b0fce44cbd7fa, &capnp::schemas::s_8023646d2950fc5c,
    &capnp::schemas::s_a38e95f1f4d2e25f,
};

std::optional<Node::Reader> builtinAnnotation(uint64_t id) {
  for (const auto* raw : kAnnotationDecls) {
    if (raw->id == id) return capnp::readMessageUnchecked<Node>(raw->encodedNode);
  }
  return std::nullopt;
}

void addAnnotations(capnp::List<capnp::schema::Annotation>::Reader annotations,
                    std::map<uint64_t, Node::Reader>& nodes) {
  for (auto a : annotations) {
    if (auto decl = builtinAnnotation(a.getId())) {
      nodes.emplace(a.getId(), *decl);
      if (a.getId() == 0x9e7b0fce44cbd7faULL) {  // $Db.index's value type
        auto index = capnp::Schema::from<capdb::annotations::Index>();
        nodes.emplace(index.getProto().getId(), index.getProto());
      }
    }
  }
}

void collect(capnp::Schema schema, std::map<uint64_t, Node::Reader>& nodes);

void collectType(capnp::Type type, std::map<uint64_t, Node::Reader>& nodes) {
  while (type.isList()) type = type.asList().getElementType();
  if (type.isStruct()) collect(type.asStruct(), nodes);
  if (type.isEnum()) collect(type.asEnum(), nodes);
}

void collect(capnp::Schema schema, std::map<uint64_t, Node::Reader>& nodes) {
  auto proto = schema.getProto();
  if (!nodes.emplace(proto.getId(), proto).second) return;
  addAnnotations(proto.getAnnotations(), nodes);
  if (proto.isStruct()) {
    for (auto field : schema.asStruct().getFields()) {
      addAnnotations(field.getProto().getAnnotations(), nodes);
      collectType(field.getType(), nodes);
    }
  } else if (proto.isEnum()) {
    for (auto e : schema.asEnum().getEnumerants()) addAnnotations(e.getProto().getAnnotations(), nodes);
  }
}

// Every node id a node refers to and a reader of it needs: field types (through lists), groups,
// and capdb's annotation declarations.
void referencedIds(Node::Reader node, std::vector<std::pair<uint64_t, std::string>>& out) {
  auto noteType = [&](Type::Reader type, const std::string& where) {
    while (type.isList()) type = type.getList().getElementType();
    if (type.isStruct()) out.emplace_back(type.getStruct().getTypeId(), where);
    if (type.isEnum()) out.emplace_back(type.getEnum().getTypeId(), where);
    if (type.isInterface()) out.emplace_back(type.getInterface().getTypeId(), where);
  };
  auto noteAnnotations = [&](capnp::List<capnp::schema::Annotation>::Reader anns,
                             const std::string& where) {
    for (auto a : anns) {
      if (builtinAnnotation(a.getId())) out.emplace_back(a.getId(), where + " (annotation)");
    }
  };
  std::string nodeName = node.getDisplayName();
  noteAnnotations(node.getAnnotations(), nodeName);
  if (node.isStruct()) {
    for (auto field : node.getStruct().getFields()) {
      std::string where = nodeName + "." + std::string(field.getName().cStr());
      noteAnnotations(field.getAnnotations(), where);
      if (field.isGroup()) out.emplace_back(field.getGroup().getTypeId(), where);
      else noteType(field.getSlot().getType(), where);
    }
  }
  if (node.isAnnotation()) noteType(node.getAnnotation().getType(), nodeName);
}

// Throws `code` unless every id the nodes refer to is among them.
void checkComplete(capnp::List<Node>::Reader nodes, std::string_view table, uint32_t version,
                   ErrorCode code) {
  std::set<uint64_t> present;
  for (auto n : nodes) present.insert(n.getId());
  std::vector<std::pair<uint64_t, std::string>> refs;
  for (auto n : nodes) referencedIds(n, refs);
  for (const auto& [id, where] : refs) {
    CAPDB_REQUIRE(present.count(id) > 0, code,
            "schema of table {} version {} lacks node 0x{:016x}, needed by {}", table, version, id,
            where);
  }
}

}  // namespace

StoredSchema StoredSchema::fromSchema(std::string_view table, uint32_t version,
                                      capnp::StructSchema root) {
  std::map<uint64_t, Node::Reader> nodes;
  collect(root, nodes);

  capnp::MallocMessageBuilder message;
  auto stored = message.initRoot<catalog::StoredSchema>();
  stored.setTable(capnp::Text::Reader(table.data(), table.size()));
  stored.setVersion(version);
  stored.setRootId(root.getProto().getId());
  auto list = stored.initRequest().initNodes(static_cast<unsigned>(nodes.size()));
  unsigned i = 0;
  for (const auto& [id, node] : nodes) {  // sorted by id
    // Copy the canonical form: the compiler and the parser lay out equal nodes differently
    // (struct sizes in lists), and stored bytes must depend on the schema alone.
    kj::Array<capnp::word> canonical = capnp::canonicalize(node);
    list.setWithCaveats(i, capnp::readMessageUnchecked<Node>(canonical.begin()));
    // Display names start with the path of the .capnp file as the compiler or parser saw it;
    // keep only the file's name, so that the stored bytes do not depend on where the schema was
    // compiled from, and compiled and parsed schemas store the same bytes.
    auto out = list[i++];
    std::string display = out.getDisplayName().cStr();
    size_t colon = display.find(':');
    size_t slash = display.rfind('/', colon);
    if (colon != std::string::npos && slash != std::string::npos) {
      uint32_t prefix = out.getDisplayNamePrefixLength();
      out.setDisplayName(display.substr(slash + 1));
      out.setDisplayNamePrefixLength(prefix - static_cast<uint32_t>(slash + 1));
    }
  }

  // Renaming left the old names behind in the message; a copy holds only what is reachable.
  capnp::MallocMessageBuilder clean;
  clean.setRoot(message.getRoot<catalog::StoredSchema>().asReader());
  StoredSchema s;
  s.words_ = capnp::messageToFlatArray(clean);
  s.load(table, version, ErrorCode::InvalidArgument);
  return s;
}

StoredSchema StoredSchema::fromBytes(std::string_view bytes, std::string_view table,
                                     uint32_t version) {
  CAPDB_REQUIRE(bytes.size() % sizeof(capnp::word) == 0, ErrorCode::Corruption,
          "schema of table {} version {}: {} bytes is not a whole number of words", table, version,
          bytes.size());
  StoredSchema s;
  s.words_ = kj::heapArray<capnp::word>(bytes.size() / sizeof(capnp::word));
  std::memcpy(s.words_.begin(), bytes.data(), bytes.size());
  s.load(table, version, ErrorCode::Corruption);
  return s;
}

void StoredSchema::load(std::string_view table, uint32_t version, ErrorCode onError) {
  std::string what = fmt::format("schema of table {} version {}", table, version);
  translateKj(
      onError,
      [&] {
    capnp::FlatArrayMessageReader reader(words_);
    auto stored = reader.getRoot<catalog::StoredSchema>();
    table_ = stored.getTable();
    version_ = stored.getVersion();
    uint64_t rootId = stored.getRootId();
    CAPDB_REQUIRE(table_ == table && version_ == version, onError,
            "{}: the stored bytes are for table {} version {}", what, table_, version_);
    auto nodes = stored.getRequest().getNodes();
    checkComplete(nodes, table, version, onError);
    loader_ = std::make_shared<capnp::SchemaLoader>();
    for (auto node : nodes) loader_->load(node);
    KJ_IF_MAYBE (schema, loader_->tryGet(rootId)) {
      CAPDB_REQUIRE(schema->getProto().isStruct(), onError, "{}: the root node is not a struct", what);
      root_ = schema->asStruct();
    } else {
      fail(onError, "{}: the root node 0x{:016x} is missing", what, rootId);
    }
  }, "{}", what);
}

bool StoredSchema::capnpAcceptsUpgrade(const StoredSchema& from, const StoredSchema& to) {
  capnp::SchemaLoader loader;
  try {
    for (const StoredSchema* s : {&from, &to}) {
      capnp::FlatArrayMessageReader reader(s->words_);
      for (auto node : reader.getRoot<catalog::StoredSchema>().getRequest().getNodes()) {
        loader.load(node);
      }
    }
    return true;
  } catch (const kj::Exception&) {
    return false;
  }
}

}  // namespace capdb::orm
