#include "engine/key_codec.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <random>

#include "capdb/error.h"
#include "support/key_order.h"

namespace capdb::engine {
namespace {

using Tuple = std::vector<KeyValue>;

int compareValues(const KeyValue& a, const KeyValue& b) { return capdb::testing::compareKeyValues(a, b); }
int compareTuples(const Tuple& a, const Tuple& b) { return capdb::testing::compareKeyTuples(a, b); }

int sign(int c) { return (c > 0) - (c < 0); }

std::string enc(const Tuple& t) { return encodeKey(t); }

TEST(KeyCodec, RoundTripsEveryType) {
  const Tuple values = {KeyNull{},
                        false,
                        true,
                        int64_t{0},
                        int64_t{-1},
                        int64_t{1},
                        int64_t{-128},
                        int64_t{127},
                        int64_t{-129},
                        std::numeric_limits<int64_t>::min(),
                        std::numeric_limits<int64_t>::max(),
                        std::numeric_limits<uint64_t>::max(),
                        uint64_t{1} << 63,
                        0.0,
                        -1.5,
                        std::numeric_limits<double>::infinity(),
                        -std::numeric_limits<double>::infinity(),
                        std::numeric_limits<double>::denorm_min(),
                        std::numeric_limits<double>::max(),
                        std::string(),
                        std::string("hello"),
                        std::string("a\0b\0", 4),
                        std::string("\xff\xff\x00", 3),
                        KeyBytes{},
                        KeyBytes{std::string("\0\0\1", 3)}};
  for (const KeyValue& v : values) {
    Tuple one{v};
    EXPECT_EQ(decodeKey(enc(one)), one) << formatKey(enc(one));
  }
  EXPECT_EQ(decodeKey(enc(values)), values);
}

TEST(KeyCodec, SkipStepsOverExactlyOneValueAsNextDoes) {
  const Tuple values = {KeyNull{}, true, int64_t{-1}, std::numeric_limits<int64_t>::min(),
                        std::numeric_limits<uint64_t>::max(), -1.5, std::string("a\0b\0", 4),
                        std::string(), KeyBytes{std::string("\0\0\1", 3)}};
  std::string key = enc(values);
  KeyDecoder skipping(key), reading(key);
  for (const KeyValue& v : values) {
    std::string_view skipped = skipping.skip();
    std::string_view before = reading.rest();
    EXPECT_EQ(reading.next(), v);
    EXPECT_EQ(skipped, before.substr(0, before.size() - reading.rest().size()));
    EXPECT_EQ(skipping.rest(), reading.rest());
  }
  EXPECT_TRUE(skipping.rest().empty());
}

TEST(KeyCodec, DecodesWithColumnTypes) {
  std::vector<KeyType> types = {KeyType::UInt8, KeyType::Int16, KeyType::Float32, KeyType::Text,
                                KeyType::Data,  KeyType::Bool,  KeyType::UInt64};
  Tuple in = {uint64_t{200}, int64_t{-300}, double{1.5f}, std::string("x"), KeyBytes{"y"}, true,
              uint64_t{5}};
  Tuple out = decodeKey(enc(in), types);
  EXPECT_EQ(out, in);
  // A UInt column decodes a small value as uint64_t even though the encoding is shared.
  EXPECT_TRUE(std::holds_alternative<uint64_t>(out[6]));
  // A value that does not fit the declared type is Corruption, not a wrong answer.
  Tuple negative = {int64_t{-1}};
  std::vector<KeyType> unsignedType = {KeyType::UInt32};
  EXPECT_THROW(decodeKey(enc(negative), unsignedType), Error);
}

TEST(KeyCodec, SignedAndUnsignedIntegersShareOneOrder) {
  EXPECT_EQ(enc({int64_t{5}}), enc({uint64_t{5}}));
  EXPECT_LT(enc({int64_t{-1}}), enc({uint64_t{0}}));
  EXPECT_LT(enc({std::numeric_limits<int64_t>::max()}), enc({uint64_t{1} << 63}));
}

TEST(KeyCodec, FloatSpecialValues) {
  EXPECT_EQ(enc({-0.0}), enc({0.0}));
  double nan = std::numeric_limits<double>::quiet_NaN();
  EXPECT_EQ(enc({nan}), enc({-nan}));
  EXPECT_GT(enc({nan}), enc({std::numeric_limits<double>::infinity()}));
  EXPECT_LT(enc({-std::numeric_limits<double>::infinity()}), enc({std::numeric_limits<double>::lowest()}));
}

TEST(KeyCodec, NullSortsFirst) {
  for (const KeyValue& v : Tuple{false, int64_t{-5}, std::numeric_limits<int64_t>::min(),
                                 -std::numeric_limits<double>::infinity(), std::string(),
                                 KeyBytes{}}) {
    EXPECT_LT(enc({KeyNull{}}), enc({v}));
  }
}

TEST(KeyCodec, CompositeKeysSortLikeTuples) {
  EXPECT_LT(enc({std::string("ab"), int64_t{1}}), enc({std::string("abc"), int64_t{0}}));
  EXPECT_LT(enc({std::string("a"), int64_t{9}}), enc({std::string("a\0", 2), int64_t{0}}));
  EXPECT_LT(enc({std::string("a")}), enc({std::string("a"), KeyNull{}}));
}

KeyValue randomValue(std::mt19937_64& rng) {
  auto pickText = [&](size_t maxLen) {
    // A small alphabet with NUL and 0xFF makes ties and escapes frequent.
    static const char alphabet[] = {'\0', '\x01', 'a', 'b', '\x7f', '\xfe', '\xff'};
    std::string s(rng() % (maxLen + 1), ' ');
    for (char& c : s) c = alphabet[rng() % sizeof(alphabet)];
    return s;
  };
  switch (rng() % 12) {
    case 0: return KeyNull{};
    case 1: return rng() % 2 == 0;
    case 2: return static_cast<int64_t>(rng());  // any int64
    case 3: return static_cast<int64_t>(rng() % 1000) - 500;
    case 4: return static_cast<int64_t>(static_cast<int8_t>(rng()));
    case 5: return rng();  // any uint64
    case 6: return static_cast<uint64_t>(rng() % 70000);
    case 7: {
      double d = std::bit_cast<double>(rng());
      return d;  // any bit pattern: NaNs, infinities, denormals, -0.0
    }
    case 8: return static_cast<double>(static_cast<float>(static_cast<int64_t>(rng() % 200) - 100) / 8);
    case 9: return pickText(6);
    case 10: return KeyBytes{pickText(6)};
    default: return std::string(rng() % 2 ? "same" : "");
  }
}

TEST(KeyCodec, ByteOrderEqualsValueOrderForRandomValues) {
  std::mt19937_64 rng(20261125);
  for (int i = 0; i < 20000; ++i) {
    Tuple a{randomValue(rng)}, b{randomValue(rng)};
    std::string ea = enc(a), eb = enc(b);
    ASSERT_EQ(sign(ea.compare(eb)), sign(compareValues(a[0], b[0])))
        << formatKey(ea) << " vs " << formatKey(eb);
  }
}

TEST(KeyCodec, ByteOrderEqualsTupleOrderForRandomTuples) {
  std::mt19937_64 rng(7);
  std::vector<Tuple> tuples;
  for (int i = 0; i < 5000; ++i) {
    Tuple t;
    size_t n = 1 + rng() % 4;
    for (size_t j = 0; j < n; ++j) t.push_back(randomValue(rng));
    tuples.push_back(std::move(t));
  }
  std::vector<std::pair<std::string, size_t>> encoded;
  for (size_t i = 0; i < tuples.size(); ++i) encoded.emplace_back(enc(tuples[i]), i);
  std::sort(encoded.begin(), encoded.end());
  for (size_t i = 1; i < encoded.size(); ++i) {
    const Tuple& prev = tuples[encoded[i - 1].second];
    const Tuple& cur = tuples[encoded[i].second];
    ASSERT_LE(compareTuples(prev, cur), 0) << formatKey(encoded[i - 1].first) << " then "
                                           << formatKey(encoded[i].first);
    // Equal encodings only for equal tuples.
    if (encoded[i - 1].first == encoded[i].first) {
      ASSERT_EQ(compareTuples(prev, cur), 0);
    }
  }
  for (const Tuple& t : tuples) {
    Tuple back = decodeKey(enc(t));
    ASSERT_EQ(back.size(), t.size());
    for (size_t j = 0; j < t.size(); ++j) ASSERT_EQ(compareValues(back[j], t[j]), 0);
  }
}

TEST(KeyCodec, PrefixOfFirstValuesSelectsExactlyThoseKeys) {
  std::mt19937_64 rng(99);
  for (int i = 0; i < 5000; ++i) {
    Tuple a{randomValue(rng), randomValue(rng)};
    Tuple b{randomValue(rng), randomValue(rng), randomValue(rng)};
    if (i % 3 == 0) b[0] = a[0];
    std::string prefix = enc({a[0]});
    std::string kb = enc(b);
    bool hasPrefix = kb.compare(0, prefix.size(), prefix) == 0;
    ASSERT_EQ(hasPrefix, compareValues(a[0], b[0]) == 0) << formatKey(prefix) << " / " << formatKey(kb);
    // And the prefix range [prefix, successor) holds exactly those keys.
    std::string succ = prefixSuccessor(prefix);
    bool inRange = kb >= prefix && (succ.empty() || kb < succ);
    ASSERT_EQ(inRange, hasPrefix);
  }
}

TEST(KeyCodec, PrefixSuccessor) {
  EXPECT_EQ(prefixSuccessor("ab"), "ac");
  EXPECT_EQ(prefixSuccessor(std::string("a\xff\xff")), "b");
  EXPECT_EQ(prefixSuccessor(std::string("\xff")), "");
  EXPECT_EQ(prefixSuccessor(""), "");
}

TEST(KeyCodec, TooLongKeyIsInvalidArgumentNamingItsSize) {
  KeyEncoder e;
  e.text(std::string(600, 'x'));
  try {
    std::move(e).release();
    FAIL() << "expected an error";
  } catch (const Error& err) {
    EXPECT_EQ(err.code(), ErrorCode::InvalidArgument);
    EXPECT_NE(std::string(err.what()).find("603 bytes"), std::string::npos) << err.what();
  }
  KeyEncoder ok;
  ok.text(std::string(kMaxKeySize - 3, 'x'));
  EXPECT_EQ(std::move(ok).release().size(), kMaxKeySize);
}

TEST(KeyCodec, MalformedBytesAreCorruption) {
  for (std::string bad : {std::string("\x02""abc", 4), std::string("\x16\x01", 2),
                          std::string("\x21\x00", 2), std::string("\x7f", 1),
                          std::string("\x02""a\x00\x05", 4),
                          std::string("\x0c\0\0\0\0\0\0\0\0", 9)}) {
    try {
      decodeKey(bad);
      FAIL() << "expected Corruption for " << formatKey(bad);
    } catch (const Error& err) {
      EXPECT_EQ(err.code(), ErrorCode::Corruption);
    }
    try {
      KeyDecoder(bad).skip();
      FAIL() << "expected skip to find " << formatKey(bad) << " corrupt";
    } catch (const Error& err) {
      EXPECT_EQ(err.code(), ErrorCode::Corruption);
    }
  }
}

TEST(KeyCodec, FormatsKeysForMessages) {
  EXPECT_EQ(formatKey(enc({std::string("Paris"), int64_t{31}, KeyNull{}, true})),
            "('Paris', 31, NULL, TRUE)");
}

}  // namespace
}  // namespace capdb::engine
