// CRC32C against published check values, and the instruction against the table on random data of
// every length and alignment.
#include "engine/crc32c.h"

#include <gtest/gtest.h>

#include <random>
#include <string>

namespace capdb::engine {
namespace {

TEST(Crc32c, MatchesPublishedCheckValues) {
  // The standard check value (RFC 3720's CRC32C of "123456789") and RFC 3720 B.4's vectors.
  EXPECT_EQ(crc32c("123456789"), 0xE3069283u);
  EXPECT_EQ(crc32c(std::string(32, '\0')), 0x8A9136AAu);
  EXPECT_EQ(crc32c(std::string(32, '\xff')), 0x62A8AB43u);
  std::string ascending;
  for (int i = 0; i < 32; ++i) ascending.push_back(static_cast<char>(i));
  EXPECT_EQ(crc32c(ascending), 0x46DD794Eu);
  EXPECT_EQ(crc32c(""), 0u);
}

TEST(Crc32c, InstructionAndTableAgreeAtEveryLengthAndAlignment) {
  std::mt19937 rng(5);
  std::string bytes(300, '\0');
  for (char& c : bytes) c = static_cast<char>(rng());
  for (size_t start = 0; start < 9; ++start) {
    for (size_t n = 0; start + n <= bytes.size(); ++n) {
      ASSERT_EQ(crc32c(0, bytes.data() + start, n), crc32cPortable(0, bytes.data() + start, n))
          << start << "+" << n;
    }
  }
}

TEST(Crc32c, Continues) {
  std::string a = "capdb records ", b = "carry a checksum";
  EXPECT_EQ(crc32c(crc32c(a), b.data(), b.size()), crc32c(a + b));
}

TEST(Crc32c, EveryFlippedBitChangesIt) {
  std::string bytes = "id=7 name=Ada city=Paris";
  uint32_t crc = crc32c(bytes);
  for (size_t i = 0; i < bytes.size(); ++i) {
    for (int bit = 0; bit < 8; ++bit) {
      std::string damaged = bytes;
      damaged[i] = static_cast<char>(damaged[i] ^ (1 << bit));
      ASSERT_NE(crc32c(damaged), crc) << i << ":" << bit;
    }
  }
}

}  // namespace
}  // namespace capdb::engine
