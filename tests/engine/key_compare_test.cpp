// engine/key_compare.h against std::string_view::compare (unsigned bytes, then the shorter first)
// on every pair of short keys over a small alphabet, and on random keys of every length up to 40:
// keys that share long prefixes and differ in one byte anywhere, in an 8-byte word or in the
// tail after the last whole word.
#include "engine/key_compare.h"

#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

namespace capdb::engine {
namespace {

int sign(int c) { return (c > 0) - (c < 0); }

void expectSameOrder(const std::string& a, const std::string& b) {
  ASSERT_EQ(sign(compareKeyBytes(a, b)), sign(std::string_view(a).compare(b)))
      << "keys of " << a.size() << " and " << b.size() << " bytes";
}

TEST(KeyCompare, EveryPairOfShortKeys) {
  // Every key of 0 to 4 bytes over {0x00, 0x01, 0x7f, 0x80, 0xff}: 781 keys, 609,961 pairs.
  const unsigned char alphabet[] = {0x00, 0x01, 0x7f, 0x80, 0xff};
  std::vector<std::string> keys{""};
  for (size_t begin = 0, length = 1; length <= 4; ++length) {
    size_t end = keys.size();
    for (size_t i = begin; i < end; ++i) {
      for (unsigned char c : alphabet) keys.push_back(keys[i] + static_cast<char>(c));
    }
    begin = end;
  }
  ASSERT_EQ(keys.size(), 781u);
  for (const auto& a : keys) {
    for (const auto& b : keys) expectSameOrder(a, b);
  }
}

TEST(KeyCompare, KeysDifferingInOneByteAnywhere) {
  std::mt19937 rng(3);
  for (int round = 0; round < 20000; ++round) {
    size_t length = rng() % 41;
    std::string a(length, '\0');
    for (auto& c : a) c = static_cast<char>(rng() % 4 == 0 ? 0xff : rng());
    std::string b = a;
    if (length > 0) b[rng() % length] = static_cast<char>(rng());
    if (rng() % 3 == 0) b.resize(rng() % (length + 3), static_cast<char>(rng()));
    expectSameOrder(a, b);
    expectSameOrder(b, a);
    expectSameOrder(a, a);
  }
}

}  // namespace
}  // namespace capdb::engine
