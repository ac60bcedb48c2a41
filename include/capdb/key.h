// Keys: the values of a primary key or an index key (Key), ranges of them (Range) and the
// direction of a scan. docs/format.md describes how keys are encoded on disk.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <variant>
#include <vector>

namespace capdb {

// The type a key column was declared with: decoding a key with its types returns the exact
// alternative of KeyValue for each column (an Int8 column as int64_t, a UInt16 one as uint64_t).
enum class KeyType : uint8_t {
  Bool, Int8, Int16, Int32, Int64, UInt8, UInt16, UInt32, UInt64, Float32, Float64, Text, Data,
};

// A NULL in a key; it sorts before every other value.
struct KeyNull {
  friend bool operator==(KeyNull, KeyNull) = default;
};

// A Data value: bytes, distinct from Text so that the two never compare equal.
struct KeyBytes {
  std::string bytes;
  friend bool operator==(const KeyBytes&, const KeyBytes&) = default;
};

// One value of a key. Signed integer columns hold int64_t, unsigned ones uint64_t, floating
// ones double.
using KeyValue = std::variant<KeyNull, bool, int64_t, uint64_t, double, std::string, KeyBytes>;

// The order in which a scan visits keys.
enum class Direction { Forward, Backward };

// A key: the values of a primary key or an index key, in order. Fewer values than the key has
// make a prefix. Key{42}, Key{"Paris", 31}, Key{nullptr} (NULL).
class Key {
 public:
  Key() = default;
  template <typename First, typename... Rest,
            typename = std::enable_if_t<!std::is_same_v<std::decay_t<First>, Key>>>
  Key(First&& first, Rest&&... rest) {
    values.reserve(1 + sizeof...(Rest));
    values.push_back(toValue(std::forward<First>(first)));
    (values.push_back(toValue(std::forward<Rest>(rest))), ...);
  }
  static Key fromValues(std::vector<KeyValue> v) {
    Key k;
    k.values = std::move(v);
    return k;
  }

  std::vector<KeyValue> values;

 private:
  template <typename V>
  static KeyValue toValue(V&& v) {
    using D = std::decay_t<V>;
    if constexpr (std::is_same_v<D, KeyValue>) return v;
    else if constexpr (std::is_same_v<D, std::nullptr_t>) return KeyNull{};
    else if constexpr (std::is_same_v<D, bool>) return v;
    else if constexpr (std::is_enum_v<D>) return static_cast<uint64_t>(v);
    else if constexpr (std::is_integral_v<D> && std::is_signed_v<D>) return static_cast<int64_t>(v);
    else if constexpr (std::is_integral_v<D>) return static_cast<uint64_t>(v);
    else if constexpr (std::is_floating_point_v<D>) return static_cast<double>(v);
    else if constexpr (std::is_same_v<D, KeyBytes>) return v;
    else return std::string(std::string_view(v));
  }
};

// A range of keys. Bounds with fewer values than the key cover every key that starts with them:
// Range::prefix(Key{"Paris"}) over (city, age) is everyone in Paris;
// Range::between(Key{"Paris", 30}, Key{"Paris", 40}) the ages 30..40 there.
struct Range {
  std::optional<Key> lower;
  bool lowerInclusive = true;
  std::optional<Key> upper;
  bool upperInclusive = true;

  static Range all() { return {}; }
  static Range prefix(Key key) { return Range{key, true, key, true}; }
  static Range between(Key lo, Key hi, bool loInclusive = true, bool hiInclusive = true) {
    return Range{std::move(lo), loInclusive, std::move(hi), hiInclusive};
  }
  static Range atLeast(Key lo) { return Range{std::move(lo), true, std::nullopt, true}; }
  static Range greaterThan(Key lo) { return Range{std::move(lo), false, std::nullopt, true}; }
  static Range atMost(Key hi) { return Range{std::nullopt, true, std::move(hi), true}; }
  static Range lessThan(Key hi) { return Range{std::nullopt, true, std::move(hi), false}; }
};

// The stored (memcmp-ordered) encoding of key values: equal encodings, equal keys (integers of
// any width compare by value). Throws nothing; the result may be longer than a key can be.
std::string encodeKey(std::span<const KeyValue> values);
// A readable rendering of an encoded key, e.g. ('Paris', 31), as capdb's messages print keys.
// Bytes that are not a key render as their hex.
std::string formatKey(std::string_view encoded);

}  // namespace capdb
