// capdb's packing of one segment against Cap'n Proto's packed serialization: the same words come
// back either way, the sizes match, and a cut packed stream is refused, never read past its end.
#include "orm/packing.h"

#include <capnp/message.h>
#include <capnp/serialize-packed.h>
#include <capnp/serialize.h>
#include <gtest/gtest.h>
#include <kj/io.h>

#include <cstring>
#include <random>

#include "all_types.capnp.h"
#include "support/all_types_fill.h"

namespace capdb::orm {
namespace {

using capdb::test::AllTypes;

kj::Array<capnp::word> wordsOf(const std::string& bytes) {
  auto words = kj::heapArray<capnp::word>(bytes.size() / 8);
  std::memcpy(words.begin(), bytes.data(), words.size() * 8);
  return words;
}

std::string bytesOf(kj::ArrayPtr<const capnp::word> words) {
  return std::string(reinterpret_cast<const char*>(words.begin()), words.size() * 8);
}

// `packed` unpacked, checking that unpack and unpackedWords agree.
std::string unpacked(std::string_view packed) {
  kj::Array<capnp::word> buffer;
  auto n = unpack(packed, buffer);
  EXPECT_TRUE(n.has_value());
  EXPECT_EQ(n, unpackedWords(packed));
  return bytesOf(buffer.slice(0, n.value_or(0)));
}

// Words of every kind packing treats apart: zero, full, sparse, runs of each.
std::string randomWords(std::mt19937& rng, size_t count) {
  std::string bytes;
  for (size_t i = 0; i < count;) {
    size_t run = 1 + rng() % (rng() % 4 == 0 ? 300 : 3);
    int kind = static_cast<int>(rng() % 4);
    for (size_t r = 0; r < run && i < count; ++r, ++i) {
      for (int b = 0; b < 8; ++b) {
        int density = kind == 0 ? 0 : kind == 1 ? 100 : kind == 2 ? 90 : 30;
        bytes.push_back(static_cast<int>(rng() % 100) < density ? static_cast<char>(1 + rng() % 255)
                                                                 : '\0');
      }
    }
  }
  return bytes;
}

TEST(Packing, RoundTripsAndMatchesCapnProto) {
  std::mt19937 rng(7);
  for (int round = 0; round < 400; ++round) {
    std::string bytes = randomWords(rng, 1 + rng() % 700);
    auto words = wordsOf(bytes);
    std::string packed;
    packWords(words, packed);
    ASSERT_LE(packed.size(), maxPackedSize(words.size()));
    ASSERT_EQ(unpacked(packed), bytes) << round;

    // Cap'n Proto packs the segment table word, then the segment: strip the table's packed bytes
    // and the rest is a packed segment capdb reads, and capdb's packing is as small.
    capnp::word table[1];
    uint32_t header[2] = {0, static_cast<uint32_t>(words.size())};
    std::memcpy(table, header, 8);
    kj::VectorOutputStream capnpOut;
    {
      kj::ArrayPtr<const capnp::word> both[1] = {words};
      capnp::writePackedMessage(capnpOut, kj::arrayPtr(both, 1));
    }
    std::string tablePacked;
    packWords(kj::arrayPtr(table, 1), tablePacked);
    auto capnpBytes = capnpOut.getArray();
    std::string capnpPacked(reinterpret_cast<const char*>(capnpBytes.begin()), capnpBytes.size());
    ASSERT_EQ(capnpPacked.substr(0, tablePacked.size()), tablePacked);
    std::string segmentPacked = capnpPacked.substr(tablePacked.size());
    ASSERT_EQ(unpacked(segmentPacked), bytes) << round;
    EXPECT_LE(packed.size(), segmentPacked.size()) << round;

    // And Cap'n Proto reads what capdb packs.
    std::string whole = tablePacked + packed;
    kj::ArrayInputStream in(kj::arrayPtr(reinterpret_cast<const kj::byte*>(whole.data()), whole.size()));
    capnp::PackedMessageReader reader(in);
    ASSERT_EQ(bytesOf(reader.getSegment(0)), bytes) << round;
  }
}

TEST(Packing, ARecordPacksToAboutHalf) {
  capnp::MallocMessageBuilder message;
  testing::fillAllTypes(message.initRoot<AllTypes>(), 3);
  auto segment = message.getSegmentsForOutput()[0];
  std::string packed;
  packWords(segment, packed);
  EXPECT_LT(packed.size(), segment.size() * 8 * 3 / 4);
  EXPECT_EQ(unpacked(packed), bytesOf(segment));
}

TEST(Packing, CutStreamsAreRefused) {
  std::mt19937 rng(9);
  for (int round = 0; round < 200; ++round) {
    auto words = wordsOf(randomWords(rng, 1 + rng() % 300));
    std::string packed;
    packWords(words, packed);
    // Every cut that ends inside a word, a run's count or a run's bytes is refused; a cut at a
    // word boundary is a shorter stream.
    for (size_t cut = 0; cut < packed.size(); ++cut) {
      std::string_view part = std::string_view(packed).substr(0, cut);
      kj::Array<capnp::word> buffer;
      auto n = unpack(part, buffer);
      ASSERT_EQ(n, unpackedWords(part)) << cut;
      if (n) {
        ASSERT_LT(*n, words.size());
        ASSERT_EQ(bytesOf(buffer.slice(0, *n)), bytesOf(words.slice(0, *n)));
      }
    }
  }
  EXPECT_EQ(unpackedWords(std::string_view("\x00", 1)), std::nullopt);  // zero word, no count
  EXPECT_EQ(unpackedWords(std::string_view("\xff\x01\x02", 3)), std::nullopt);
  EXPECT_EQ(unpackedWords(std::string_view("\x03\x01", 2)), std::nullopt);
  EXPECT_EQ(unpackedWords(""), 0u);
  kj::Array<capnp::word> buffer;
  EXPECT_EQ(unpack(std::string_view("\x00", 1), buffer), std::nullopt);
  EXPECT_EQ(unpack(std::string_view("\xff\x01\x02", 3), buffer), std::nullopt);
  EXPECT_EQ(unpack(std::string_view("\x03\x01", 2), buffer), std::nullopt);
}

}  // namespace
}  // namespace capdb::orm
