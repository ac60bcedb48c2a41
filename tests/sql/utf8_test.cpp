// The character walk of query/utf8.h at its boundaries. Every count below is what SQLite 3.40.1
// gives for length(cast(x'...' as text)) on the same bytes, and every LIKE result what it gives
// for the same match.
#include "query/utf8.h"

#include <gtest/gtest.h>

#include <string>
#include <string_view>
#include <vector>

#include "query/value_ops.h"

namespace capdb::query {
namespace {

using namespace std::string_literals;

// The characters of s, as the walk splits them.
std::vector<std::string> split(std::string_view s) {
  std::vector<std::string> out;
  for (size_t i = 0; i < s.size();) {
    size_t next = nextChar(s, i);
    out.emplace_back(s.substr(i, next - i));
    i = next;
  }
  return out;
}

using Chars = std::vector<std::string>;

TEST(Utf8, AsciiIsOneByteACharacter) {
  EXPECT_EQ(split("abc"), (Chars{"a", "b", "c"}));
  EXPECT_EQ(charCount(""), 0u);
  EXPECT_EQ(charCount("a\0b"s), 3u);  // NUL is a character here; SQL functions cut at it first
}

TEST(Utf8, WholeSequencesAreOneCharacter) {
  EXPECT_EQ(split("a\xC3\xA9z"), (Chars{"a", "\xC3\xA9", "z"}));                  // é
  EXPECT_EQ(split("\xE2\x82\xAC!"), (Chars{"\xE2\x82\xAC", "!"}));                // €
  EXPECT_EQ(split("\xF0\x9F\x98\x80\xC3\xA9"), (Chars{"\xF0\x9F\x98\x80", "\xC3\xA9"}));  // 😀é
  EXPECT_EQ(charCount("h\xC3\xA9llo"), 5u);
}

TEST(Utf8, ASequenceCutShortAtTheEndIsOneCharacter) {
  EXPECT_EQ(split("a\xE2\x82"), (Chars{"a", "\xE2\x82"}));
  EXPECT_EQ(split("\xE2\x82\xAC\xE2\x82"), (Chars{"\xE2\x82\xAC", "\xE2\x82"}));
  EXPECT_EQ(split("\xF0"), (Chars{"\xF0"}));
}

TEST(Utf8, ALeadByteBeforeANonContinuationByteIsOneCharacter) {
  EXPECT_EQ(split("\xC3" "A"), (Chars{"\xC3", "A"}));
}

TEST(Utf8, AStrayContinuationByteIsACharacterOfItsOwn) {
  EXPECT_EQ(split("\x80"), (Chars{"\x80"}));
  EXPECT_EQ(split("a\x80" "b"), (Chars{"a", "\x80", "b"}));
  EXPECT_EQ(split("a\x80\x80"), (Chars{"a", "\x80", "\x80"}));
}

TEST(Utf8, ALeadByteTakesEveryContinuationByteAfterIt) {
  // Overlong forms and sequences longer than their lead byte announces are not split.
  EXPECT_EQ(split("\xC0\x80"), (Chars{"\xC0\x80"}));
  EXPECT_EQ(split("\xF8\x80\x80\x80\x80"), (Chars{"\xF8\x80\x80\x80\x80"}));
  EXPECT_EQ(split("\xC3\x80\x80\x80" "b"), (Chars{"\xC3\x80\x80\x80", "b"}));
}

TEST(Utf8, IsContinuationByte) {
  EXPECT_FALSE(isContinuationByte('a'));
  EXPECT_TRUE(isContinuationByte('\x80'));
  EXPECT_TRUE(isContinuationByte('\xBF'));
  EXPECT_FALSE(isContinuationByte('\xC0'));
  EXPECT_FALSE(isContinuationByte('\x7F'));
}

TEST(Utf8, LikeUnderscoreMatchesOneCharacterOfTheWalk) {
  EXPECT_TRUE(likeMatch("h\xC3\xA9llo", "h_llo"));
  EXPECT_TRUE(likeMatch("a\x80\x80" "b", "a__b"));
  EXPECT_FALSE(likeMatch("a\x80\x80" "b", "a_b"));
  EXPECT_TRUE(likeMatch("a\xC3\x80\x80", "a_"));
  EXPECT_TRUE(likeMatch("\xE2\x82", "_"));
  EXPECT_TRUE(likeMatch("x\x80y", "%y"));
}

}  // namespace
}  // namespace capdb::query
