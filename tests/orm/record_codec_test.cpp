#include "orm/record_codec.h"

#include <capnp/message.h>
#include <capnp/pretty-print.h>
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <cstring>
#include <random>

#include "all_types.capnp.h"
#include "person.capnp.h"
#include "capdb/error.h"
#include "engine/crc32c.h"
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

TEST(RecordCodec, RoundTripsEveryFieldTypeAlignedAndNotPackedAndNot) {
  auto schema = capnp::Schema::from<AllTypes>();
  RecordEncoder encoder;
  RecordDecoder decoder;
  for (uint64_t seed = 0; seed < 30; ++seed) {
    encoder.setPacked(seed % 2 == 1);
    capnp::MallocMessageBuilder message;
    testing::fillAllTypes(message.initRoot<AllTypes>(), seed);
    std::string expected = text(message.getRoot<AllTypes>().asReader());
    std::string encoded(encoder.encode(3, message));
    for (size_t misalign : {0, 1, 2, 4}) {
      Placed placed(encoded, misalign);
      EXPECT_EQ(decoder.decode(placed.view, "all_types", "k"), 3u);
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

TEST(RecordCodec, ARecordOfSeveralSegmentsIsStoredAsOne) {
  // One-word segments put every object in a segment of its own, reached through far pointers.
  capnp::MallocMessageBuilder message(1, capnp::AllocationStrategy::FIXED_SIZE);
  testing::fillAllTypes(message.initRoot<AllTypes>(), 1);
  ASSERT_GT(message.getSegmentsForOutput().size(), 1u);
  capnp::MallocMessageBuilder flat;
  testing::fillAllTypes(flat.initRoot<AllTypes>(), 1);
  ASSERT_EQ(flat.getSegmentsForOutput().size(), 1u);
  RecordEncoder encoder;
  std::string several(encoder.encode(1, message));
  RecordDecoder decoder;
  decoder.decode(several, "all_types", "k");
  EXPECT_EQ(text(decoder.root(capnp::Schema::from<AllTypes>())),
            text(flat.getRoot<AllTypes>().asReader()));
}

TEST(RecordCodec, HeaderCarriesTheVersionAndTheChecksum) {
  capnp::MallocMessageBuilder message;
  message.initRoot<AllTypes>().setId(7);
  RecordEncoder encoder;
  std::string bytes(encoder.encode(0x01020304, message));
  EXPECT_EQ(static_cast<uint8_t>(bytes[0]), kRecordTag);
  uint32_t crc = engine::crc32c(std::string_view(bytes).substr(kRecordFixedHeader));
  EXPECT_EQ(bytes.substr(1, 4), std::string(reinterpret_cast<const char*>(&crc), 4));
  EXPECT_EQ(bytes.substr(5, 4), "\x84\x86\x88\x08");  // LEB128
  RecordDecoder decoder;
  EXPECT_EQ(decoder.decode(bytes, "t", "k"), 0x01020304u);
  // A small version takes one byte.
  std::string small(encoder.encode(1, message));
  EXPECT_EQ(small[5], '\x01');
  EXPECT_EQ(decoder.decode(small, "t", "k"), 1u);
  // Relabelling changes the version and keeps the message.
  std::string relabelled = relabelRecord(bytes, 1, "t", "k");
  EXPECT_EQ(relabelled, small);
}

TEST(RecordCodec, TheWorkedExampleOfTheFormatDocument) {
  // docs/format.md, Records: people at version 1, (id = 1, name = "Ada", age = 36, city = "Paris").
  capnp::MallocMessageBuilder message;
  auto p = message.initRoot<capdb::test::Person>();
  p.setId(1);
  p.setName("Ada");
  p.setAge(36);
  p.setCity("Paris");
  RecordEncoder encoder;
  encoder.setPacked(true);
  std::string bytes(encoder.encode(1, message));
  std::string hex;
  for (char c : bytes) hex += fmt::format("{:02x} ", static_cast<uint8_t>(c));
  EXPECT_EQ(hex,
            "ce 11 4f 97 27 01 50 02 03 01 01 01 24 11 09 22 00 00 11 05 32 07 41 64 61 1f 50 61 "
            "72 69 73 ");
  // As it is: the tag, the checksum, the version and the message's eight words.
  encoder.setPacked(false);
  std::string flat(encoder.encode(1, message));
  EXPECT_EQ(flat.size(), 70u);
  EXPECT_EQ(static_cast<uint8_t>(flat[0]), 0xcf);
  EXPECT_EQ(flat[5], '\x01');
}

// Recomputes a record's checksum after its bytes were changed on purpose.
std::string resealed(std::string bytes) {
  uint32_t crc = engine::crc32c(std::string_view(bytes).substr(kRecordFixedHeader));
  std::memcpy(bytes.data() + 1, &crc, 4);
  return bytes;
}

void expectCorruption(RecordDecoder& decoder, std::string_view bytes, const char* why,
                      const char* says = "") {
  try {
    decoder.decode(bytes, "all_types", engine::KeyEncoder().uint64(9).bytes());
    FAIL() << "expected Corruption: " << why;
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::Corruption) << why << ": " << e.what();
    EXPECT_NE(std::string(e.what()).find("all_types"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("(9)"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find(says), std::string::npos) << e.what();
  }
}

TEST(RecordCodec, TruncatedAndGarbledValuesAreCorruption) {
  capnp::MallocMessageBuilder message;
  testing::fillAllTypes(message.initRoot<AllTypes>(), 5);
  RecordEncoder encoder;
  std::string good(encoder.encode(1, message));
  RecordDecoder decoder;
  expectCorruption(decoder, "", "empty", "too short");
  expectCorruption(decoder, good.substr(0, 4), "header cut", "too short");
  expectCorruption(decoder, good.substr(0, good.size() - 1), "last byte cut", "checksum");
  expectCorruption(decoder, good + std::string(8, '\0'), "trailing bytes", "checksum");
  std::string badTag = good;
  badTag[0] = 'x';
  expectCorruption(decoder, badTag, "bad tag", "unknown record format");
  std::string revision1 = good;
  revision1[0] = static_cast<char>(kRevision1Tag);
  expectCorruption(decoder, revision1, "old format", "format revision 1");
  std::string badCrc = good;
  badCrc[2] = static_cast<char>(badCrc[2] ^ 1);
  expectCorruption(decoder, badCrc, "checksum flipped", "checksum mismatch");
  // With the checksum made right again, the message's own checks still hold.
  expectCorruption(decoder, resealed(good.substr(0, good.size() - 1)), "packing cut", "");
  expectCorruption(decoder, resealed(good.substr(0, 6)), "no message", "");
  std::string longVersion = good.substr(0, 5) + "\x80\x80\x80\x80\x80\x01" + good.substr(6);
  expectCorruption(decoder, resealed(longVersion), "version too long", "malformed schema version");
}

TEST(RecordCodec, EveryChangedByteIsCorruption) {
  // CRC32C catches every burst of up to 32 bits: each byte of a record changed to any other value
  // is Corruption, never a record that reads.
  capnp::MallocMessageBuilder message;
  testing::fillAllTypes(message.initRoot<AllTypes>(), 2);
  RecordDecoder decoder;
  std::mt19937 rng(3);
  for (bool packed : {false, true}) {
    RecordEncoder encoder;
    encoder.setPacked(packed);
    std::string good(encoder.encode(1, message));
    for (size_t at = 0; at < good.size(); ++at) {
      std::string bytes = good;
      bytes[at] = static_cast<char>(bytes[at] ^ (1 + rng() % 255));
      expectCorruption(decoder, bytes, "changed byte");
    }
  }
}

TEST(RecordCodec, DamagedMessagesWithRightChecksumsNeverCrashAndNeverMisread) {
  // Behind the checksum, the reader still checks every pointer: random packed bytes and damaged
  // words, each sealed with a right checksum, are Corruption or a record safe to read whole.
  std::mt19937_64 rng(11);
  RecordDecoder decoder;
  auto schema = capnp::Schema::from<AllTypes>();
  capnp::MallocMessageBuilder message;
  testing::fillAllTypes(message.initRoot<AllTypes>(), 1);
  auto segment = message.getSegmentsForOutput()[0];
  RecordEncoder encoder;
  RecordCheck check(schema);
  int rejected = 0;
  for (int i = 0; i < 3000; ++i) {
    encoder.setPacked(i % 4 < 2);
    std::string good(encoder.encode(1, message));
    std::string bytes;
    if (i % 2 == 0) {
      bytes = good;
      for (size_t at = 6; at < bytes.size(); ++at) bytes[at] = static_cast<char>(rng());
      bytes = resealed(bytes);
    } else {
      auto words = kj::heapArray<capnp::word>(segment.size());
      std::memcpy(words.begin(), segment.begin(), segment.size() * sizeof(capnp::word));
      auto* raw = reinterpret_cast<uint8_t*>(words.begin());
      for (int flips = 0; flips < 4; ++flips) {
        size_t at = rng() % (words.size() * sizeof(capnp::word));
        raw[at] = static_cast<uint8_t>(raw[at] ^ (1 << (rng() % 8)));
      }
      bytes = std::string(encoder.encodeSegment(1, words));
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

// setRootAs copies a record whose pointers are all Text or Data (or null) as one span of words;
// any other record, pointer by pointer. Either way the copy reads as the record, at the wider
// layout, in one segment, and no larger than Cap'n Proto's own copy.
capnp::DynamicStruct::Reader copiedAs(capnp::MessageBuilder& into, capnp::DynamicStruct::Reader record,
                                      uint16_t moreData, uint16_t morePointers) {
  StructLayout wider(record.getSchema());
  wider.dataWords = static_cast<uint16_t>(wider.dataWords + moreData);
  wider.pointers = static_cast<uint16_t>(wider.pointers + morePointers);
  return setRootAs(into, record, wider).asReader();
}

size_t wordsOf(capnp::MessageBuilder& message) {
  size_t words = 0;
  for (auto segment : message.getSegmentsForOutput()) words += segment.size();
  return words;
}

TEST(SetRootAs, CopiesTextsAsOneSpanAtAWiderLayout) {
  using capdb::test::Person;
  for (int unset = -1; unset < 3; ++unset) {
    capnp::MallocMessageBuilder message;
    auto p = message.initRoot<Person>();
    p.setId(7);
    p.setAge(40);
    // Written last field first: the texts lie in the opposite order to their pointers.
    if (unset != 2) p.setCity("a city whose name is longer than a word or two");
    if (unset != 1) p.setEmail("");  // an empty text is one byte, its NUL
    if (unset != 0) p.setName("Ada Lovelace");
    capnp::DynamicStruct::Reader record = p.asReader();
    capnp::MallocMessageBuilder copy;
    auto got = copiedAs(copy, record, 1, 2);
    EXPECT_EQ(text(got), text(record)) << "unset " << unset;
    ASSERT_EQ(copy.getSegmentsForOutput().size(), 1u);
    // Copied as one span, the texts keep the order they lie in (a copy pointer by pointer
    // would lay them out in the pointers' order).
    if (unset == -1) {
      auto copied = capnp::AnyStruct::Reader(got).getPointerSection();
      EXPECT_GT(copied[0].getAs<capnp::Text>().begin(), copied[2].getAs<capnp::Text>().begin());
    }
    // The same words as the record's, plus the sections' three more.
    EXPECT_EQ(wordsOf(copy), wordsOf(message) + 3) << "unset " << unset;
    EXPECT_EQ(capnp::AnyStruct::Reader(got).getPointerSection().size(), 5u);
    EXPECT_TRUE(capnp::AnyStruct::Reader(got).getPointerSection()[4].isNull());
    // The copy's blobs are its own: a change to it leaves the record as it was.
    auto again = copy.getRoot<capnp::AnyStruct>().as<capnp::DynamicStruct>(record.getSchema());
    again.set("city", "Paris");
    EXPECT_EQ(text(got).find("Paris") != std::string::npos, true);
    EXPECT_EQ(text(record).find("Paris"), std::string::npos);
  }
}

// A person whose city of `firstCity` bytes was replaced by a shorter one, which leaves the old
// city's words (zeroed) between the other texts.
capnp::DynamicStruct::Reader withCityReplaced(capnp::MessageBuilder& message, size_t firstCity) {
  auto p = message.initRoot<capdb::test::Person>();
  p.setName("first");
  p.setCity(std::string(firstCity, 'c'));
  p.setEmail("e@example.com");
  p.setCity("short");
  return p.asReader();
}

TEST(SetRootAs, CopiesTheWordsLeftBetweenTextsOnlyWhenFew) {
  capnp::MallocMessageBuilder message;
  capnp::DynamicStruct::Reader record = withCityReplaced(message, 20);
  capnp::MallocMessageBuilder copy;
  EXPECT_EQ(text(copiedAs(copy, record, 0, 0)), text(record));
  EXPECT_EQ(wordsOf(copy), wordsOf(message));  // the three dead words with them
  // Many dead words: each text is copied alone, and the copy drops them.
  capnp::MallocMessageBuilder sparse;
  capnp::DynamicStruct::Reader large = withCityReplaced(sparse, 4000);
  capnp::MallocMessageBuilder compact;
  EXPECT_EQ(text(copiedAs(compact, large, 0, 0)), text(large));
  EXPECT_LT(wordsOf(compact), wordsOf(sparse) - 400);
}

TEST(SetRootAs, CopiesOtherPointersOneByOneAndSpillsIntoNewSegments) {
  for (uint64_t seed = 0; seed < 5; ++seed) {
    capnp::MallocMessageBuilder message;
    testing::fillAllTypes(message.initRoot<AllTypes>(), seed);  // structs and lists
    capnp::DynamicStruct::Reader record = message.getRoot<AllTypes>().asReader();
    capnp::MallocMessageBuilder copy;
    EXPECT_EQ(text(copiedAs(copy, record, 2, 1)), text(record));
  }
  // Texts too large for the first segment of the message copied into: a span that would land in
  // another segment is not used, and the copy is still whole.
  using capdb::test::Person;
  capnp::MallocMessageBuilder message;
  auto p = message.initRoot<Person>();
  p.setName(std::string(3000, 'n'));
  p.setCity(std::string(3000, 'c'));
  capnp::DynamicStruct::Reader record = p.asReader();
  kj::Array<capnp::word> scratch = kj::heapArray<capnp::word>(256);
  std::memset(scratch.begin(), 0, scratch.size() * sizeof(capnp::word));
  capnp::MallocMessageBuilder copy(scratch);
  EXPECT_EQ(text(copiedAs(copy, record, 0, 0)), text(record));
  EXPECT_GT(copy.getSegmentsForOutput().size(), 1u);
  RecordEncoder encoder;
  RecordDecoder decoder;
  decoder.decode(encoder.encode(2, copy), "people", "k");
  EXPECT_EQ(text(decoder.root(record.getSchema())), text(record));
}

TEST(SetRootAs, ATextOutsideTheRecordIsCorruptionNotARead) {
  using capdb::test::Person;
  capnp::MallocMessageBuilder message;
  auto p = message.initRoot<Person>();
  p.setName("Ada");
  p.setCity("London");
  auto segment = message.getSegmentsForOutput()[0];
  auto words = kj::heapArray<capnp::word>(segment.size());
  std::memcpy(words.begin(), segment.begin(), segment.size() * sizeof(capnp::word));
  // The root struct follows the root pointer; its data section is one word, then the pointers:
  // the name's offset is pointed far past the message's end.
  auto* name = reinterpret_cast<uint8_t*>(words.begin() + 1 + 2);
  name[1] = 0x7f;
  RecordEncoder encoder;
  RecordDecoder decoder;
  decoder.decode(encoder.encodeSegment(1, words), "people", "k");
  capnp::DynamicStruct::Reader record = decoder.root(capnp::Schema::from<Person>());
  capnp::MallocMessageBuilder copy;
  EXPECT_THROW(copiedAs(copy, record, 0, 0), kj::Exception);
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
