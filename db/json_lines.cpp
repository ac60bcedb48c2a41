// JSON Lines export and import of a table, through Cap'n Proto's JsonCodec.
#include <capnp/compat/json.h>
#include <capnp/message.h>
#include <fmt/format.h>

#include <cctype>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <istream>
#include <optional>
#include <ostream>

#include "capdb/capdb.h"
#include "engine/crash_point.h"
#include "engine/error_context.h"
#include "engine/fail.h"
#include "orm/access.h"
#include "orm/kj_error.h"
#include "orm/rewindable_input.h"
#include "orm/schema_diff.h"
#include "orm/table_core.h"

namespace capdb {
namespace {

// How a JSON value reads in a message: a string quoted, anything else as JSON writes it.
std::string shown(capnp::JsonValue::Reader v) {
  switch (v.which()) {
    case capnp::JsonValue::STRING: return fmt::format("\"{}\"", v.getString().cStr());
    case capnp::JsonValue::NUMBER: return fmt::format("{}", v.getNumber());
    case capnp::JsonValue::BOOLEAN: return v.getBoolean() ? "true" : "false";
    case capnp::JsonValue::NULL_: return "null";
    case capnp::JsonValue::ARRAY: return "an array";
    case capnp::JsonValue::OBJECT: return "an object";
    default: return "a value";
  }
}

// Whether text is a number as JSON writes one (an optional minus, digits, and with `fraction` a
// fraction and an exponent): no spaces, plus signs, hexadecimal or words, which strtod and
// strtoll would take but Cap'n Proto's codec does not.
bool plainNumber(std::string_view t, bool fraction) {
  size_t i = t.starts_with('-') ? 1 : 0;
  if (i == t.size() || !std::isdigit(static_cast<unsigned char>(t[i]))) return false;
  for (; i < t.size(); ++i) {
    char c = t[i];
    if (std::isdigit(static_cast<unsigned char>(c))) continue;
    if (!fraction) return false;
    bool sign = (c == '-' || c == '+') && (t[i - 1] == 'e' || t[i - 1] == 'E');
    if (c != '.' && c != 'e' && c != 'E' && !sign) return false;
  }
  return true;
}

// Why a scalar JSON value cannot be stored in a field of type `which`, or nullopt when it can (or
// the codec judges it: lists, structs, data, enums).
std::optional<std::string> scalarMismatch(capnp::JsonValue::Reader v, capnp::Type type) {
  using W = capnp::schema::Type;
  auto which = type.which();
  std::string typeName = orm::typeName(type);
  if (v.isNull()) return std::nullopt;
  switch (which) {
    case W::BOOL:
      if (!v.isBoolean()) return "is not a Bool (write true or false)";
      return std::nullopt;
    case W::TEXT:
      if (!v.isString()) return "is not Text (write a JSON string)";
      return std::nullopt;
    case W::FLOAT32: case W::FLOAT64: {
      if (v.isNumber()) return std::nullopt;
      if (!v.isString()) return fmt::format("is not a number ({})", typeName);
      std::string t = v.getString().cStr();
      if (t == "NaN" || t == "Infinity" || t == "-Infinity") return std::nullopt;
      if (!plainNumber(t, true)) return fmt::format("is not a number ({})", typeName);
      return std::nullopt;
    }
    case W::INT8: case W::INT16: case W::INT32: case W::INT64:
    case W::UINT8: case W::UINT16: case W::UINT32: case W::UINT64: {
      bool isUnsigned = which == W::UINT8 || which == W::UINT16 || which == W::UINT32 || which == W::UINT64;
      int bits = which == W::INT8 || which == W::UINT8     ? 8
                 : which == W::INT16 || which == W::UINT16 ? 16
                 : which == W::INT32 || which == W::UINT32 ? 32
                                                           : 64;
      std::string notInteger = fmt::format("is not an integer ({})", typeName);
      std::string outOfRange = fmt::format("is out of range for {}", typeName);
      if (v.isNumber()) {
        double d = v.getNumber();
        if (d != std::floor(d)) return notInteger;
        double lo = isUnsigned ? 0 : -std::ldexp(1.0, bits - 1);
        double hi = isUnsigned ? std::ldexp(1.0, bits) : std::ldexp(1.0, bits - 1);
        if (d < lo || d >= hi) return outOfRange;
        return std::nullopt;
      }
      if (!v.isString()) return notInteger;
      std::string t = v.getString().cStr();
      if (!plainNumber(t, false)) return notInteger;
      errno = 0;
      char* end = nullptr;
      if (isUnsigned) {
        if (t.empty() || t[0] == '-') return t.empty() ? notInteger : outOfRange;
        unsigned long long n = std::strtoull(t.c_str(), &end, 10);
        if (t.empty() || *end != '\0') return notInteger;
        if (errno == ERANGE || (bits < 64 && n >= (1ULL << bits))) return outOfRange;
      } else {
        long long n = std::strtoll(t.c_str(), &end, 10);
        if (t.empty() || *end != '\0') return notInteger;
        if (errno == ERANGE || (bits < 64 && (n < -(1LL << (bits - 1)) || n >= (1LL << (bits - 1))))) {
          return outOfRange;
        }
      }
      return std::nullopt;
    }
    default: return std::nullopt;
  }
}

// Checks every member of a JSON object against the schema before the codec sees it: JsonCodec
// skips members that name no field (an import must not drop data silently), and its own errors
// name neither the field nor the value. Returns what is wrong with the first bad member.
std::optional<std::string> badMember(capnp::JsonValue::Reader value, capnp::StructSchema schema,
                                     const std::string& prefix) {
  if (!value.isObject()) return std::nullopt;
  for (auto member : value.getObject()) {
    std::string name = prefix + member.getName().cStr();
    KJ_IF_MAYBE (field, schema.findFieldByName(member.getName())) {
      capnp::Type type = field->getType();
      auto v = member.getValue();
      if (type.isStruct()) {
        if (auto bad = badMember(v, type.asStruct(), name + ".")) return bad;
      } else if (type.isList() && type.asList().getElementType().isStruct() && v.isArray()) {
        for (auto element : v.getArray()) {
          auto inner = type.asList().getElementType().asStruct();
          if (auto bad = badMember(element, inner, name + "[].")) return bad;
        }
      } else if (auto why = scalarMismatch(v, type)) {
        return fmt::format("{} = {} {}", name, shown(v), *why);
      }
    } else {
      return fmt::format("{} is not a field of {}", name, orm::structName(schema));
    }
  }
  return std::nullopt;
}

}  // namespace

namespace {

// Writes one record as a line of JSON (in the export's error context).
void writeJsonLine(const capnp::JsonCodec& codec, capnp::DynamicStruct::Reader record,
                   std::ostream& out) {
  kj::String line = orm::translateKjIn(
      ErrorCode::Corruption, [&] { return codec.encode(record); }, "encoding a record as JSON");
  out.write(line.cStr(), static_cast<std::streamsize>(line.size()));
  out.put('\n');
}

}  // namespace

uint64_t DynamicTable::exportJsonLines(const Txn& tx, std::ostream& out) const {
  ErrorContext scope(name());
  capnp::JsonCodec codec;
  uint64_t n = 0;
  for (auto record : scan(tx)) {
    writeJsonLine(codec, record, out);
    ++n;
  }
  CAPDB_REQUIRE_IN(out.good(), ErrorCode::IoError, "writing the export failed");
  return n;
}

uint64_t DynamicTable::exportJsonLines(const Txn& tx, std::ostream& out,
                                       std::string_view where) const {
  if (where.empty()) return exportJsonLines(tx, out);
  ErrorContext scope(name());
  capnp::JsonCodec codec;
  uint64_t n = 0;
  Query q = query().where(SqlExpr::raw(std::string(where), 0));
  for (const auto& f : schema().primaryKey) q.orderBy(col(f.dotted));
  for (const Key& key : recordKeys(q, tx)) {
    auto row = get(tx, key);
    if (!row) continue;
    writeJsonLine(codec, row->get(), out);
    ++n;
  }
  CAPDB_REQUIRE_IN(out.good(), ErrorCode::IoError, "writing the export failed");
  return n;
}

namespace {

// A read-only stream over bytes in memory, without copying them.
class MemoryBuffer : public std::streambuf {
 public:
  explicit MemoryBuffer(std::string_view bytes) {
    char* begin = const_cast<char*>(bytes.data());
    setg(begin, begin, begin + bytes.size());
  }
};

// Inserts every line of `in` into `table` in tx (DynamicTable::importJsonLines).
uint64_t importLines(const DynamicTable& table, WriteTxn& tx, std::istream& in) {
  ErrorContext scope(table.name());
  const TableSchema& schema = table.schema();
  capnp::JsonCodec codec;
  std::string line;
  uint64_t lineNumber = 0, inserted = 0;
  while (std::getline(in, line)) {
    ++lineNumber;
    scope.setLine(lineNumber);
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    capnp::MallocMessageBuilder message;
    auto record = message.initRoot<capnp::DynamicStruct>(schema.schema);
    try {
      capnp::MallocMessageBuilder raw;
      auto json = raw.initRoot<capnp::JsonValue>();
      codec.decodeRaw(kj::ArrayPtr<const char>(line.data(), line.size()), json);
      CAPDB_REQUIRE_IN(json.isObject(), ErrorCode::InvalidArgument, "expected a JSON object");
      if (auto bad = badMember(json.asReader(), schema.schema, "")) {
        failIn(ErrorCode::InvalidArgument, "{}", *bad);
      }
      codec.decode(json.asReader(), record);
    } catch (const kj::Exception& e) {
      orm::failKj(ErrorCode::InvalidArgument, e);
    }
    engine::crashPoint("import.record");
    try {
      table.insert(tx, record.asReader());
    } catch (const engine::MapFull&) {
      throw;  // Database::write grows the map and runs the import again from its start
    } catch (const Error& e) {
      failIn(e.code(), "{}", e.what());
    }
    ++inserted;
  }
  scope.setLine(0);
  CAPDB_REQUIRE_IN(!in.bad(), ErrorCode::IoError, "reading the import failed at line {}",
                   lineNumber + 1);
  return inserted;
}

}  // namespace

uint64_t DynamicTable::importJsonLines(WriteTxn& tx, std::string_view jsonLines) const {
  MemoryBuffer buffer(jsonLines);
  std::istream in(&buffer);
  return internal::core(*this).bulkLoad(tx, [&] { return importLines(*this, tx, in); });
}

uint64_t Database::importJsonLines(std::string_view tableName, std::istream& in) {
  DynamicTable t = table(tableName);
  orm::RewindableInput input(in);
  return write([&](WriteTxn& tx) {
    return internal::core(t).bulkLoad(tx, [&] { return importLines(t, tx, input.rewind()); });
  });
}

}  // namespace capdb
