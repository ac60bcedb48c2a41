// Arbitrary bytes as a stored record of the AllTypes table (tests/orm/schemas/all_types.capnp),
// read three ways that must agree, as tests/orm/flat_record_test.cpp compares them:
//
// - in place (orm::FlatRecord, through query::TableColumns::readFlat), column by column;
// - through Cap'n Proto's reader (orm::RecordDecoder::root), column by column, a fresh decode
//   each, a kj::Exception counting as "corrupt";
// - through the verified root (RecordDecoder::verifiedRoot with orm::RecordCheck), as a query
//   reads records from disk, every column.
//
// Findings, besides sanitizer reports: a column the in-place reader reads (not left to the
// decoder as Unsure) that Cap'n Proto's reader reads differently or refuses; a verified root whose
// column then throws a kj::Exception, or reads differently from the in-place reader; a
// kj::Exception or a std::exception other than capdb::Error out of the decoder's checks or the
// in-place reader; a value whose checksum is wrong that either reader accepts.
//
// The input is what follows a record's checksum (the version, LEB128, then the packed segment):
// the harness seals it with each tag (packed, and as it is) and a right checksum, so that the fuzzer reaches the
// message's own checks, and also reads it as it is, shifted by three bytes (LMDB only keeps
// values 2-byte aligned), where the checksum almost never holds.
#include <capnp/schema.h>
#include <fmt/format.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <optional>
#include <string>
#include <string_view>
#include <variant>

#include "all_types.capnp.h"
#include "capdb/capdb.h"
#include "engine/crc32c.h"
#include "orm/flat_record.h"
#include "query/columns.h"
#include "orm/record_check.h"
#include "orm/record_codec.h"

namespace capdb::orm {
namespace {

struct Fixture {
  capnp::StructSchema schema = capnp::Schema::from<capdb::test::AllTypes>();
  query::TableColumns columns{"all_types", schema};
  RecordCheck check{schema};
};

// A column's value as SQL text, or how reading it failed: "corrupt" for a kj::Exception, the
// error code's name for a capdb::Error, "unsure" for the in-place reader leaving it to the
// decoder.
template <typename Read>
std::string outcome(Read read) {
  try {
    return read();
  } catch (const kj::Exception&) {
    return "corrupt";
  } catch (const Error& e) {
    return std::string(errorCodeName(e.code()));
  }
}

[[noreturn]] void finding(const std::string& what) {
  fmt::print(stderr, "record_fuzz: {}\n", what);
  std::abort();
}

void compare(const Fixture& f, std::string_view value) {
  const auto& columns = f.columns;
  // Verified, as a query reads a record from disk: only capdb::Error may come out of the checks.
  std::string verifiedError;
  RecordDecoder verifier;
  std::optional<capnp::DynamicStruct::Reader> verified;
  try {
    verifier.decode(value, "all_types", "k");
    verified = verifier.verifiedRoot(f.check, f.schema);
  } catch (const Error& e) {
    verifiedError = errorCodeName(e.code());
  }

  FlatRecord flat;
  bool flatOk = flat.reset(value);
  for (size_t i = 0; i < columns.size(); ++i) {
    std::string fromVerified;
    if (verified) {
      try {
        fromVerified = columns.read(*verified, i).toSql();
      } catch (const Error& e) {
        fromVerified = errorCodeName(e.code());
      } catch (const kj::Exception& e) {
        finding(fmt::format("column {} of a verified record throws: {}", columns[i].name,
                            e.getDescription().cStr()));
      }
    }
    if (!columns[i].path.direct) continue;
    // In place; a kj::Exception here is not caught: the reader never calls Cap'n Proto.
    std::string in = "unsure";
    if (flatOk) {
      try {
        Value v;
        if (columns.readFlat(flat, i, v)) in = v.toSql();
      } catch (const Error& e) {
        in = errorCodeName(e.code());
      }
    }
    if (in == "unsure") continue;
    std::string decoded = outcome([&] {
      RecordDecoder decoder;
      decoder.decode(value, "all_types", "k", false);
      return columns.read(decoder.root(f.schema), i).toSql();
    });
    if (in != decoded) {
      finding(fmt::format("column {}: in place {}, Cap'n Proto's reader {}", columns[i].name, in,
                          decoded));
    }
    if (verified && in != fromVerified) {
      finding(fmt::format("column {}: in place {}, verified {}", columns[i].name, in, fromVerified));
    }
  }
}

}  // namespace
}  // namespace capdb::orm

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const auto* fixture = new capdb::orm::Fixture();
  std::string_view body(reinterpret_cast<const char*>(data), size);
  uint32_t crc = capdb::engine::crc32c(body);
  for (uint8_t tag : {capdb::orm::kPackedRecordTag, capdb::orm::kRecordTag}) {
    std::string sealed(1, static_cast<char>(tag));
    for (int i = 0; i < 4; ++i) sealed.push_back(static_cast<char>(crc >> (8 * i)));
    sealed.append(body);
    capdb::orm::compare(*fixture, sealed);
  }
  std::string shifted = "---" + std::string(body);
  std::string_view raw = std::string_view(shifted).substr(3);
  capdb::orm::RecordHeader header;
  if (!capdb::orm::tryReadRecordHeader(raw, header)) {
    capdb::orm::FlatRecord flat;
    if (flat.reset(raw)) capdb::orm::finding("the in-place reader took a value of a wrong checksum");
  }
  capdb::orm::compare(*fixture, raw);
  return 0;
}
