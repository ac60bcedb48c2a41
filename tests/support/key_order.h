// The order of key values as the key codec promises it (engine/key_codec.h), written out plainly
// as an oracle for the codec's byte order: NULL first; then by type (Data, Text, integers,
// floats, Bool); integers by value whatever their alternative (int64_t or uint64_t); floats by
// value with -0.0 equal to 0.0 and NaN last; Text and Data by unsigned bytes, then length. Tuples
// compare value by value, a shorter prefix first.
#pragma once

#include <cmath>
#include <cstdint>
#include <string_view>
#include <variant>
#include <vector>

#include "engine/key_codec.h"

namespace capdb::testing {

inline int keyRank(const engine::KeyValue& v) {
  switch (v.index()) {
    case 0: return 0;  // NULL
    case 6: return 1;  // Data
    case 5: return 2;  // Text
    case 2: case 3: return 3;  // integers
    case 4: return 4;  // floats
    default: return 5;  // Bool
  }
}

// -1, 0 or 1.
inline int compareKeyValues(const engine::KeyValue& a, const engine::KeyValue& b) {
  int ra = keyRank(a), rb = keyRank(b);
  if (ra != rb) return ra < rb ? -1 : 1;
  auto sign = [](int c) { return (c > 0) - (c < 0); };
  switch (ra) {
    case 0: return 0;
    case 1:
      return sign(std::string_view(std::get<engine::KeyBytes>(a).bytes)
                      .compare(std::get<engine::KeyBytes>(b).bytes));
    case 2: return sign(std::string_view(std::get<std::string>(a)).compare(std::get<std::string>(b)));
    case 3: {
      // As (negative, magnitude): every int64_t and uint64_t value.
      auto key = [](const engine::KeyValue& v) -> std::pair<bool, uint64_t> {
        if (auto* u = std::get_if<uint64_t>(&v)) return {false, *u};
        int64_t i = std::get<int64_t>(v);
        return {i < 0, static_cast<uint64_t>(i)};
      };
      auto [na, ma] = key(a);
      auto [nb, mb] = key(b);
      if (na != nb) return na ? -1 : 1;
      return ma == mb ? 0 : (ma < mb ? -1 : 1);  // two's complement keeps negatives in order
    }
    case 4: {
      double x = std::get<double>(a), y = std::get<double>(b);
      if (std::isnan(x) || std::isnan(y)) return int{std::isnan(x)} - int{std::isnan(y)};
      return x == y ? 0 : (x < y ? -1 : 1);
    }
    default: return int{std::get<bool>(a)} - int{std::get<bool>(b)};
  }
}

inline int compareKeyTuples(const std::vector<engine::KeyValue>& a,
                            const std::vector<engine::KeyValue>& b) {
  for (size_t i = 0; i < a.size() && i < b.size(); ++i) {
    if (int c = compareKeyValues(a[i], b[i])) return c;
  }
  return a.size() == b.size() ? 0 : (a.size() < b.size() ? -1 : 1);
}

}  // namespace capdb::testing
