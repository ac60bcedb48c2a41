// JSON Lines export and import of a table, through Cap'n Proto's JsonCodec.
#include <capnp/compat/json.h>
#include <capnp/message.h>
#include <fmt/format.h>

#include <istream>
#include <ostream>

#include "capdb/capdb.h"
#include "engine/fail.h"
#include "orm/table_core.h"

namespace capdb {

uint64_t DynamicTable::exportJsonLines(const Txn& tx, std::ostream& out) const {
  capnp::JsonCodec codec;
  uint64_t n = 0;
  for (auto record : scan(tx)) {
    kj::String line = codec.encode(record);
    out.write(line.cStr(), static_cast<std::streamsize>(line.size()));
    out.put('\n');
    ++n;
  }
  require(out.good(), ErrorCode::IoError, "table {}: writing the export failed", name());
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
      codec.decode(kj::ArrayPtr<const char>(line.data(), line.size()), record);
    } catch (const kj::Exception& e) {
      fail(ErrorCode::InvalidArgument, "table {}, line {}: {}", name(), lineNumber,
           std::string_view(e.getDescription().cStr()));
    }
    try {
      insert(tx, record.asReader());
    } catch (const Error& e) {
      throw Error(e.code(), fmt::format("table {}, line {}: {}", name(), lineNumber, e.what()));
    }
    ++inserted;
  }
  require(!in.bad(), ErrorCode::IoError, "table {}: reading the import failed at line {}", name(),
          lineNumber + 1);
  return inserted;
}

}  // namespace capdb
