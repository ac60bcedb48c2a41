#include "orm/record_codec.h"

#include <capnp/message.h>
#include <capnp/pretty-print.h>
#include <gtest/gtest.h>

#include <cstring>
#include <random>

#include "all_types.capnp.h"
#include "capdb/error.h"
#include "engine/key_codec.h"
#include "orm/record_check.h"
#include "orm/record_key.h"
#include "orm/table_schema.h"
#include "support/all_types_fill.h"

namespace capdb::orm {
namespace {

using capdb::test::AllTypes;

std::string text(capnp::DynamicStruct::Reader r) { return kj::str(r).cStr(); }

// Places `bytes` at an offset of `misalign` bytes from an 8-byte boundary.
struct Placed {
  std::vector<capnp::word> storage;
  std::string_view view;
  Placed(std::string_view bytes, size_t misalign) : storage(bytes.size() / 8 + 2) {
    char* base = reinterpret_cast<char*>(storage.data()) + misalign;
    std::memcpy(base, bytes.data(), bytes.size());
    view = std::string_view(base, bytes.size());
  }
};

TEST(RecordCodec, RoundTripsEveryFieldTypeAlignedAndNot) {
  auto schema = capnp::Schema::from<AllTypes>();
  RecordEncoder encoder;
  RecordDecoder decoder;
  for (uint64_t seed = 0; seed < 30; ++seed) {
    capnp::MallocMessageBuilder message;
    testing::fillAllTypes(message.initRoot<AllTypes>(), seed);
    std::string expected = text(message.getRoot<AllTypes>().asReader());
    std::string encoded(encoder.encode(3, message));
    for (size_t misalign : {0, 1, 2, 4}) {
      Placed placed(encoded, misalign);
      EXPECT_EQ(decoder.decode(placed.view, "all_types", "k"), 3u);
      EXPECT_EQ(decoder.copied(), misalign != 0);
      EXPECT_EQ(text(decoder.root(schema)), expected);
      auto typed = decoder.root<AllTypes>();
      EXPECT_EQ(typed.getU64(), 18000000000000000000ULL + seed);
      EXPECT_EQ(typed.getAddress().getZip(), std::to_string(10000 + seed));
      EXPECT_EQ(typed.getWithDefault(), 42);
    }
    // Encoding from a reader gives the same bytes as encoding the builder.
    EXPECT_EQ(encoder.encode(3, capnp::DynamicStruct::Reader(message.getRoot<AllTypes>().asReader())),
              encoded);
  }
}

TEST(RecordCodec, TheTraversalLimitGrowsWithTheRecord) {
  EXPECT_EQ(recordTraversalLimit(1024, 0), 1024u);
  EXPECT_EQ(recordTraversalLimit(1024, 16), 1024u);   // 64 x 16 = 1024
  EXPECT_EQ(recordTraversalLimit(1024, 17), 1088u);   // 64 x 17
  EXPECT_EQ(recordTraversalLimit(1024, UINT64_MAX / 2), UINT64_MAX);
  // A decoder whose floor is far below the record still reads the record, checked and then read
  // field by field: 1024 words allowed, a record of about 2000.
  capnp::ReaderOptions tight = recordReaderOptions();
  tight.traversalLimitInWords = 1024;
  capnp::MallocMessageBuilder message;
  std::string big(15000, 'b');
  auto root = message.initRoot<AllTypes>();
  root.setText(big);
  std::string encoded(RecordEncoder().encode(3, message));
  RecordDecoder decoder(tight);
  decoder.decode(encoded, "all_types", "k");
  RecordCheck check(capnp::Schema::from<AllTypes>());
  auto record = decoder.verifiedRoot(check, capnp::Schema::from<AllTypes>());
  for (int i = 0; i < 10; ++i) EXPECT_EQ(record.as<AllTypes>().getText().size(), big.size());
}

TEST(RecordCodec, HeaderCarriesTheVersion) {
  capnp::MallocMessageBuilder message;
  message.initRoot<AllTypes>().setId(7);
  RecordEncoder encoder;
  std::string bytes(encoder.encode(0x01020304, message));
  ASSERT_GE(bytes.size(), 16u);
  EXPECT_EQ(static_cast<uint8_t>(bytes[0]), kRecordTag);
  EXPECT_EQ(bytes[1], 1);
  EXPECT_EQ(bytes.substr(4, 4), std::string("\x04\x03\x02\x01", 4));
  RecordDecoder decoder;
  EXPECT_EQ(decoder.decode(bytes, "t", "k"), 0x01020304u);
}

void expectCorruption(RecordDecoder& decoder, std::string_view bytes, const char* why) {
  try {
    decoder.decode(bytes, "all_types", engine::KeyEncoder().uint64(9).bytes());
    FAIL() << "expected Corruption: " << why;
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::Corruption) << why << ": " << e.what();
    EXPECT_NE(std::string(e.what()).find("all_types"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("(9)"), std::string::npos) << e.what();
  }
}

TEST(RecordCodec, TruncatedAndGarbledValuesAreCorruption) {
  capnp::MallocMessageBuilder message;
  testing::fillAllTypes(message.initRoot<AllTypes>(), 5);
  RecordEncoder encoder;
  std::string good(encoder.encode(1, message));
  RecordDecoder decoder;
  expectCorruption(decoder, "", "empty");
  expectCorruption(decoder, good.substr(0, 7), "header cut");
  expectCorruption(decoder, good.substr(0, good.size() - 8), "last word cut");
  expectCorruption(decoder, good.substr(0, good.size() - 3), "not whole words");
  expectCorruption(decoder, good + std::string(8, '\0'), "trailing bytes");
  std::string badTag = good;
  badTag[0] = 'x';
  expectCorruption(decoder, badTag, "bad tag");
  std::string badSegments = good;
  badSegments[8] = '\x7f';  // claims 128 segments
  expectCorruption(decoder, badSegments, "segment table");
}

TEST(RecordCodec, RandomBytesNeverCrashAndNeverMisread) {
  std::mt19937_64 rng(11);
  RecordDecoder decoder;
  auto schema = capnp::Schema::from<AllTypes>();
  capnp::MallocMessageBuilder message;
  testing::fillAllTypes(message.initRoot<AllTypes>(), 1);
  RecordEncoder encoder;
  std::string good(encoder.encode(1, message));
  RecordCheck check(schema);
  int rejected = 0;
  for (int i = 0; i < 3000; ++i) {
    std::string bytes = good;
    if (i % 2 == 0) {
      for (char& c : bytes) c = static_cast<char>(rng());
      bytes[0] = static_cast<char>(kRecordTag);
      bytes[1] = 1;
    } else {
      for (int flips = 0; flips < 4; ++flips) {
        size_t at = kRecordHeaderSize + rng() % (bytes.size() - kRecordHeaderSize);
        bytes[at] = static_cast<char>(bytes[at] ^ (1 << (rng() % 8)));
      }
    }
    try {
      decoder.decode(bytes, "all_types", "k");
      // Accepted and verified bytes are a valid record: reading every field is safe.
      (void)text(decoder.verifiedRoot(check, schema));
    } catch (const Error& e) {
      ASSERT_EQ(e.code(), ErrorCode::Corruption) << e.what();
      ++rejected;
    }
  }
  EXPECT_GT(rejected, 1000);
}

TEST(RecordKey, ReadsNestedGroupAndUnsetValues) {
  TableSchema keyed = table<capdb::test::Keyed>();
  capnp::MallocMessageBuilder message;
  auto r = message.initRoot<capdb::test::Keyed>();
  r.setName("n");
  r.getPoint().setX(-3);
  engine::KeyEncoder key;
  appendKey(key, capnp::DynamicStruct::Reader(r.asReader()), keyed.primaryKey);
  // address is unset: address.zip is NULL.
  EXPECT_EQ(engine::formatKey(key.bytes()), "(NULL, -3, 'n')");
  r.initAddress().setZip("75001");
  key.clear();
  appendKey(key, capnp::DynamicStruct::Reader(r.asReader()), keyed.primaryKey);
  EXPECT_EQ(engine::formatKey(key.bytes()), "('75001', -3, 'n')");
}

// The direct read of key fields (FieldPath::direct) gives what the dynamic API gives, for every
// key-able type, defaults, groups, nested structs (set and unset) and union members.
TEST(RecordKey, DirectAccessMatchesTheDynamicApi) {
  auto schema = capnp::Schema::from<AllTypes>();
  const char* paths[] = {"b",     "i8",    "i16",   "i32",   "i64",         "u8",
                         "u16",   "u32",   "u64",   "f32",   "score",       "text",
                         "data",  "color", "address.zip",   "address.geo.lat", "point.x",
                         "withDefault", "count", "label", "shape.circle"};
  for (uint64_t seed = 0; seed < 6; ++seed) {
    capnp::MallocMessageBuilder message;
    auto r = message.initRoot<AllTypes>();
    if (seed > 0) testing::fillAllTypes(r, seed);  // seed 0: everything unset or default
    if (seed == 4) r.setWithDefault(0);
    capnp::DynamicStruct::Reader record = r.asReader();
    for (const char* p : paths) {
      FieldPath direct = resolveKeyPath(schema, p, "test");
      FieldPath dynamic = direct;
      dynamic.direct = false;
      EXPECT_EQ(keyValueAt(record, direct), keyValueAt(record, dynamic)) << p << " seed " << seed;
    }
  }
  EXPECT_TRUE(resolveKeyPath(schema, "withDefault", "test").direct);
  EXPECT_FALSE(resolveKeyPath(schema, "label", "test").direct);
}

}  // namespace
}  // namespace capdb::orm
