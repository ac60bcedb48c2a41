// The key codec (engine/key_codec.h) and the key order (engine/key_compare.h).
//
// Each input is used twice:
// - as an encoded key: decoding it throws capdb::Error or succeeds; KeyDecoder::skip takes the
//   same bytes as next() and refuses the same inputs; what decodes, encoded again, decodes to the
//   same values.
// - as a recipe for two tuples of key values (a tag byte per value, then its payload): each
//   encodes and decodes back to itself (in its canonical form), and the byte order of the two
//   encodings, by compareKeyBytes and by std::string_view::compare, is the order of the tuples
//   by value; the prefix successor of the first encoding sorts after every key it prefixes.
// A violated property aborts with both sides printed.
#include <fmt/format.h>

#include <bit>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <iterator>
#include <string>
#include <string_view>
#include <vector>

#include "capdb/error.h"
#include "engine/key_codec.h"
#include "engine/key_compare.h"
#include "support/key_order.h"

namespace capdb::engine {
namespace {

std::string show(const std::vector<KeyValue>& values) {
  std::string out = "(";
  for (size_t i = 0; i < values.size(); ++i) {
    if (i) out += ", ";
    out += std::visit(
        [](const auto& x) -> std::string {
          using T = std::decay_t<decltype(x)>;
          if constexpr (std::is_same_v<T, KeyNull>) return "NULL";
          else if constexpr (std::is_same_v<T, bool>) return x ? "true" : "false";
          else if constexpr (std::is_same_v<T, int64_t>) return fmt::format("{}i", x);
          else if constexpr (std::is_same_v<T, uint64_t>) return fmt::format("{}u", x);
          else if constexpr (std::is_same_v<T, double>) return fmt::format("{:a}", x);
          else if constexpr (std::is_same_v<T, std::string>) return fmt::format("{:?}", x);
          else return fmt::format("x{:?}", x.bytes);
        },
        values[i]);
  }
  return out + ")";
}

std::string hex(std::string_view bytes) {
  std::string out;
  for (char c : bytes) out += fmt::format("{:02x}", static_cast<uint8_t>(c));
  return out;
}

[[noreturn]] void finding(const std::string& what) {
  fmt::print(stderr, "key_fuzz: {}\n", what);
  std::abort();
}

int sign(int c) { return (c > 0) - (c < 0); }

int compareValue(const KeyValue& a, const KeyValue& b) { return capdb::testing::compareKeyValues(a, b); }
int compareTuple(const std::vector<KeyValue>& a, const std::vector<KeyValue>& b) {
  return capdb::testing::compareKeyTuples(a, b);
}

// The form a value decodes as: integers that fit int64_t as int64_t, -0.0 as 0.0.
KeyValue canonical(const KeyValue& v) {
  if (auto* u = std::get_if<uint64_t>(&v); u && *u <= uint64_t{INT64_MAX}) {
    return static_cast<int64_t>(*u);
  }
  if (auto* d = std::get_if<double>(&v); d && *d == 0.0) return 0.0;
  return v;
}

bool sameValues(const std::vector<KeyValue>& a, const std::vector<KeyValue>& b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (a[i].index() != b[i].index() || compareValue(a[i], b[i]) != 0) return false;
  }
  return true;
}

// The bytes as an encoded key.
void decodeArbitrary(std::string_view bytes) {
  std::vector<KeyValue> values;
  try {
    values = decodeKey(bytes);
  } catch (const Error&) {
  }
  // skip() walks the same values as next(), and refuses where it does.
  KeyDecoder next(bytes), skipper(bytes);
  while (!next.done()) {
    bool nextOk = true, skipOk = true;
    try {
      next.next();
    } catch (const Error&) {
      nextOk = false;
    }
    try {
      skipper.skip();
    } catch (const Error&) {
      skipOk = false;
    }
    if (nextOk != skipOk || (nextOk && next.rest().size() != skipper.rest().size())) {
      finding(fmt::format("skip() and next() disagree at {} of {}", hex(skipper.rest()), hex(bytes)));
    }
    if (!nextOk) break;
  }
  if (values.empty()) return;
  KeyEncoder e;
  for (const auto& v : values) e.value(v);
  std::vector<KeyValue> again = decodeKey(e.bytes());
  if (!sameValues(values, again)) {
    finding(fmt::format("{} decodes to {}, which encodes to {}, which decodes to {}", hex(bytes),
                        show(values), hex(e.bytes()), show(again)));
  }
}

// Reads tuples of values from the input bytes.
class Recipe {
 public:
  explicit Recipe(std::string_view bytes) : rest_(bytes) {}

  std::vector<KeyValue> tuple() {
    std::vector<KeyValue> out;
    size_t n = byte() % 5;
    for (size_t i = 0; i < n; ++i) out.push_back(value());
    return out;
  }

 private:
  uint8_t byte() {
    if (rest_.empty()) return 0;
    auto b = static_cast<uint8_t>(rest_[0]);
    rest_.remove_prefix(1);
    return b;
  }
  uint64_t word(size_t n) {
    uint64_t v = 0;
    for (size_t i = 0; i < n; ++i) v = v << 8 | byte();
    return v;
  }
  std::string text() {
    size_t n = std::min<size_t>(byte() % 16, rest_.size());
    std::string s(rest_.substr(0, n));
    rest_.remove_prefix(n);
    return s;
  }
  KeyValue value() {
    uint8_t tag = byte();
    // The low bits pick the payload's width, so that small numbers come often.
    size_t width = 1 + (tag >> 3) % 8;
    switch (tag % 8) {
      case 0: return KeyNull{};
      case 1: return (tag & 0x10) != 0;
      case 2: {
        // Sign-extended from `width` bytes: small negatives and INT64_MIN alike.
        uint64_t v = word(width);
        if (width < 8 && (v >> (8 * width - 1)) & 1) v |= ~uint64_t{0} << (8 * width);
        return static_cast<int64_t>(v);
      }
      case 3: return word(width);
      case 4: return std::bit_cast<double>(word(8));
      case 5: {
        static constexpr double kSpecial[] = {0.0, -0.0, 1.0, -1.0, 0.5, 1e308, -1e308, 5e-324,
                                              -5e-324, INFINITY, -INFINITY, NAN};
        return kSpecial[byte() % std::size(kSpecial)];
      }
      case 6: return text();
      default: return KeyBytes{text()};
    }
  }

  std::string_view rest_;
};

std::string encode(const std::vector<KeyValue>& values) {
  KeyEncoder e;
  for (const auto& v : values) e.value(v);
  return e.bytes();
}

void checkRoundTrip(const std::vector<KeyValue>& values, const std::string& encoded) {
  std::vector<KeyValue> expected;
  for (const auto& v : values) expected.push_back(canonical(v));
  std::vector<KeyValue> decoded = decodeKey(encoded);
  if (!sameValues(expected, decoded)) {
    finding(fmt::format("{} encodes to {}, which decodes to {}", show(values), hex(encoded),
                        show(decoded)));
  }
}

void checkOrder(std::string_view bytes) {
  Recipe recipe(bytes);
  std::vector<KeyValue> a = recipe.tuple(), b = recipe.tuple();
  std::string ea = encode(a), eb = encode(b);
  checkRoundTrip(a, ea);
  checkRoundTrip(b, eb);
  int byValue = compareTuple(a, b);
  int byBytes = sign(compareKeyBytes(ea, eb));
  int byView = sign(std::string_view(ea).compare(eb));
  if (byValue != byBytes || byBytes != byView) {
    finding(fmt::format("{} vs {}: by value {}, compareKeyBytes {}, string_view {} ({} vs {})",
                        show(a), show(b), byValue, byBytes, byView, hex(ea), hex(eb)));
  }
  // The successor of a prefix sorts after every key with that prefix, and before any other key
  // that sorts after the prefix.
  if (!ea.empty()) {
    std::string next = prefixSuccessor(ea);
    if (!next.empty()) {
      bool prefixed = eb.compare(0, ea.size(), ea) == 0;
      int c = compareKeyBytes(next, eb);
      if (prefixed ? c <= 0 : (compareKeyBytes(ea, eb) < 0 && c > 0)) {
        finding(fmt::format("prefixSuccessor({}) = {} misplaces {}", hex(ea), hex(next), hex(eb)));
      }
    }
  }
}

}  // namespace
}  // namespace capdb::engine

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view bytes(reinterpret_cast<const char*>(data), size);
  capdb::engine::decodeArbitrary(bytes);
  capdb::engine::checkOrder(bytes);
  return 0;
}
