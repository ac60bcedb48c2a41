// JSON Lines export and import of a table, through Cap'n Proto's JsonCodec.
#include <capnp/compat/json.h>
#include <capnp/message.h>
#include <fmt/format.h>

#include <istream>
#include <optional>
#include <ostream>

#include "capdb/capdb.h"
#include "engine/fail.h"
#include "orm/kj_error.h"
#include "orm/table_core.h"

namespace capdb {
namespace {

// JsonCodec skips object members that name no field; an import must not drop data silently, so
// every member is checked against the schema first. Returns the first unknown member's path.
std::optional<std::string> unknownMember(capnp::JsonValue::Reader value, capnp::StructSchema schema,
                                         const std::string& prefix) {
  if (!value.isObject()) return std::nullopt;
  for (auto member : value.getObject()) {
    std::string name = member.getName().cStr();
    KJ_IF_MAYBE (field, schema.findFieldByName(member.getName())) {
      capnp::Type type = field->getType();
      auto v = member.getValue();
      if (type.isStruct()) {
        if (auto bad = unknownMember(v, type.asStruct(), prefix + name + ".")) return bad;
      } else if (type.isList() && type.asList().getElementType().isStruct() && v.isArray()) {
        for (auto element : v.getArray()) {
          auto inner = type.asList().getElementType().asStruct();
          if (auto bad = unknownMember(element, inner, prefix + name + "[].")) return bad;
        }
      }
    } else {
      return prefix + name;
    }
  }
  return std::nullopt;
}

}  // namespace

namespace {

// Writes one record as a line of JSON.
void writeJsonLine(const capnp::JsonCodec& codec, capnp::DynamicStruct::Reader record,
                   const std::string& table, std::ostream& out) {
  kj::String line = orm::translateKj(
      ErrorCode::Corruption, [&] { return codec.encode(record); },
      "table {}: encoding a record as JSON", table);
  out.write(line.cStr(), static_cast<std::streamsize>(line.size()));
  out.put('\n');
}

}  // namespace

uint64_t DynamicTable::exportJsonLines(const Txn& tx, std::ostream& out) const {
  capnp::JsonCodec codec;
  uint64_t n = 0;
  for (auto record : scan(tx)) {
    writeJsonLine(codec, record, name(), out);
    ++n;
  }
  CAPDB_REQUIRE(out.good(), ErrorCode::IoError, "table {}: writing the export failed", name());
  return n;
}

uint64_t DynamicTable::exportJsonLines(const Txn& tx, std::ostream& out,
                                       std::string_view where) const {
  if (where.empty()) return exportJsonLines(tx, out);
  capnp::JsonCodec codec;
  uint64_t n = 0;
  Query q = query().where(SqlExpr::raw(std::string(where), 0));
  for (const auto& f : schema().primaryKey) q.orderBy(col(f.dotted));
  for (const Key& key : recordKeys(q, tx)) {
    auto row = get(tx, key);
    if (!row) continue;
    writeJsonLine(codec, row->get(), name(), out);
    ++n;
  }
  CAPDB_REQUIRE(out.good(), ErrorCode::IoError, "table {}: writing the export failed", name());
  return n;
}

uint64_t DynamicTable::importJsonLines(WriteTxn& tx, std::istream& in) const {
  capnp::JsonCodec codec;
  std::string line;
  uint64_t lineNumber = 0, inserted = 0;
  while (std::getline(in, line)) {
    ++lineNumber;
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    capnp::MallocMessageBuilder message;
    auto record = message.initRoot<capnp::DynamicStruct>(schema().schema);
    try {
      capnp::MallocMessageBuilder raw;
      auto json = raw.initRoot<capnp::JsonValue>();
      codec.decodeRaw(kj::ArrayPtr<const char>(line.data(), line.size()), json);
      CAPDB_REQUIRE(json.isObject(), ErrorCode::InvalidArgument,
              "table {}, line {}: expected a JSON object", name(), lineNumber);
      if (auto bad = unknownMember(json.asReader(), schema().schema, "")) {
        fail(ErrorCode::InvalidArgument, "table {}, line {}: {} is not a field of {}", name(),
             lineNumber, *bad, orm::structName(schema().schema));
      }
      codec.decode(json.asReader(), record);
    } catch (const kj::Exception& e) {
      fail(ErrorCode::InvalidArgument, "table {}, line {}: {}", name(), lineNumber,
           std::string_view(e.getDescription().cStr()));
    }
    try {
      insert(tx, record.asReader());
    } catch (const engine::MapFull&) {
      throw;  // Database::write grows the map and runs the import again
    } catch (const Error& e) {
      throw Error(e.code(), fmt::format("table {}, line {}: {}", name(), lineNumber, e.what()));
    }
    ++inserted;
  }
  CAPDB_REQUIRE(!in.bad(), ErrorCode::IoError, "table {}: reading the import failed at line {}", name(),
          lineNumber + 1);
  return inserted;
}

}  // namespace capdb
