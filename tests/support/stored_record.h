// Stored records opened up for tests that damage or relabel them on purpose: the message's
// words unpacked, and sealed again with a right checksum (docs/format.md, Records).
#pragma once

#include <kj/array.h>

#include <cstring>
#include <string>
#include <string_view>

#include "orm/packing.h"
#include "orm/record_codec.h"

namespace capdb::testing {

struct OpenRecord {
  uint32_t version = 0;
  std::string words;  // the unpacked segment
  bool packed = false;
};

// `stored` (a sound record) opened up; Corruption if it is not one.
inline OpenRecord openRecord(std::string_view stored) {
  orm::RecordHeader header = orm::readRecordHeader(stored, "test", "");
  OpenRecord out{header.version, {}, header.packed};
  if (!header.packed) {
    out.words.assign(header.body);
    return out;
  }
  kj::Array<capnp::word> words;
  size_t n = orm::unpack(header.body, words).value();
  out.words.assign(reinterpret_cast<const char*>(words.begin()), n * 8);
  return out;
}

// The stored form of `record`, with a right checksum whatever its words hold.
inline std::string sealRecord(const OpenRecord& record) {
  auto words = kj::heapArray<capnp::word>(record.words.size() / 8);
  std::memcpy(words.begin(), record.words.data(), words.size() * 8);
  orm::RecordEncoder encoder;
  encoder.setPacked(record.packed);
  return std::string(encoder.encodeSegment(record.version, words));
}

}  // namespace capdb::testing
