#include "engine/key_codec.h"

#include <fmt/format.h>

#include <bit>
#include <cmath>
#include <limits>

#include "engine/fail.h"

namespace capdb::engine {
namespace {

constexpr uint8_t kTagNull = 0x00;
constexpr uint8_t kTagData = 0x01;
constexpr uint8_t kTagText = 0x02;
constexpr uint8_t kTagIntZero = 0x14;  // 0x14 - 8 .. 0x14 + 8
constexpr uint8_t kTagFloat = 0x21;
constexpr uint8_t kTagFalse = 0x26;
constexpr uint8_t kTagTrue = 0x27;
constexpr uint64_t kSignBit = uint64_t{1} << 63;

int byteLength(uint64_t v) { return v == 0 ? 0 : (71 - std::countl_zero(v)) / 8; }

void appendBigEndian(std::string& out, uint64_t v, int n) {
  for (int i = n - 1; i >= 0; --i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xFF));
}

[[noreturn]] void malformed(std::string_view why) {
  fail(ErrorCode::Corruption, "malformed key: {}", why);
}

std::string decodeEscaped(std::string_view& rest) {
  std::string out;
  for (size_t i = 0;; ++i) {
    if (i >= rest.size()) malformed("unterminated text or data");
    auto c = static_cast<uint8_t>(rest[i]);
    if (c != 0x00) {
      out.push_back(rest[i]);
      continue;
    }
    if (i + 1 >= rest.size()) malformed("unterminated text or data");
    auto next = static_cast<uint8_t>(rest[i + 1]);
    if (next == 0x01) {
      rest.remove_prefix(i + 2);
      return out;
    }
    if (next != 0xFF) malformed("bad escape in text or data");
    out.push_back('\0');
    ++i;
  }
}

}  // namespace

KeyEncoder& KeyEncoder::null() {
  bytes_.push_back(static_cast<char>(kTagNull));
  return *this;
}

KeyEncoder& KeyEncoder::boolean(bool v) {
  bytes_.push_back(static_cast<char>(v ? kTagTrue : kTagFalse));
  return *this;
}

KeyEncoder& KeyEncoder::uint64(uint64_t v) {
  int n = byteLength(v);
  bytes_.push_back(static_cast<char>(kTagIntZero + n));
  appendBigEndian(bytes_, v, n);
  return *this;
}

KeyEncoder& KeyEncoder::int64(int64_t v) {
  if (v >= 0) return uint64(static_cast<uint64_t>(v));
  uint64_t magnitude = uint64_t{0} - static_cast<uint64_t>(v);  // exact for INT64_MIN too
  int n = byteLength(magnitude);
  bytes_.push_back(static_cast<char>(kTagIntZero - n));
  appendBigEndian(bytes_, ~magnitude, n);
  return *this;
}

KeyEncoder& KeyEncoder::float64(double v) {
  if (v == 0.0) v = 0.0;  // -0.0 == 0.0
  uint64_t bits = std::isnan(v) ? 0x7FF8000000000000ULL : std::bit_cast<uint64_t>(v);
  bits = (bits & kSignBit) ? ~bits : (bits | kSignBit);
  bytes_.push_back(static_cast<char>(kTagFloat));
  appendBigEndian(bytes_, bits, 8);
  return *this;
}

void KeyEncoder::escaped(uint8_t tag, std::string_view v) {
  bytes_.push_back(static_cast<char>(tag));
  for (char c : v) {
    bytes_.push_back(c);
    if (c == '\0') bytes_.push_back('\xFF');
  }
  bytes_.push_back('\0');
  bytes_.push_back('\x01');
}

KeyEncoder& KeyEncoder::text(std::string_view v) {
  escaped(kTagText, v);
  return *this;
}

KeyEncoder& KeyEncoder::data(std::string_view v) {
  escaped(kTagData, v);
  return *this;
}

KeyEncoder& KeyEncoder::raw(std::string_view encoded) {
  bytes_.append(encoded);
  return *this;
}

KeyEncoder& KeyEncoder::value(const KeyValue& v) {
  std::visit(
      [this](const auto& x) {
        using T = std::decay_t<decltype(x)>;
        if constexpr (std::is_same_v<T, KeyNull>) null();
        else if constexpr (std::is_same_v<T, bool>) boolean(x);
        else if constexpr (std::is_same_v<T, int64_t>) int64(x);
        else if constexpr (std::is_same_v<T, uint64_t>) uint64(x);
        else if constexpr (std::is_same_v<T, double>) float64(x);
        else if constexpr (std::is_same_v<T, std::string>) text(x);
        else data(x.bytes);
      },
      v);
  return *this;
}

std::string KeyEncoder::release() && {
  checkKeySize(bytes_, "key");
  return std::move(bytes_);
}


std::string_view KeyDecoder::skip() {
  // The same checks as next(), without building the value: a skipped Text costs a scan for its
  // terminator, not a string.
  std::string_view before = rest_;
  if (rest_.empty()) malformed("no more values");
  auto tag = static_cast<uint8_t>(rest_[0]);
  size_t n = 0;
  if (tag == kTagText || tag == kTagData) {
    for (size_t i = 1;; ++i) {
      i = rest_.find('\0', i);
      if (i == std::string_view::npos || i + 1 >= rest_.size()) malformed("unterminated text or data");
      auto next = static_cast<uint8_t>(rest_[i + 1]);
      if (next == 0x01) {
        n = i + 2;
        break;
      }
      if (next != 0xFF) malformed("bad escape in text or data");
      ++i;
    }
  } else if (tag == kTagNull || tag == kTagFalse || tag == kTagTrue) {
    n = 1;
  } else if (tag == kTagFloat) {
    if (rest_.size() < 9) malformed("truncated float");
    n = 9;
  } else {
    if (tag < kTagIntZero - 8 || tag > kTagIntZero + 8) malformed(fmt::format("unknown tag 0x{:02x}", tag));
    n = 1 + static_cast<size_t>(tag >= kTagIntZero ? tag - kTagIntZero : kTagIntZero - tag);
    if (rest_.size() < n) malformed("truncated integer");
    if (tag < kTagIntZero && n == 9) {
      // The one range check next() makes on a negative integer's payload.
      uint64_t payload = 0;
      for (size_t i = 1; i < n; ++i) payload = (payload << 8) | static_cast<uint8_t>(rest_[i]);
      if (~payload > kSignBit) malformed("negative integer out of range");
    }
  }
  rest_.remove_prefix(n);
  return before.substr(0, n);
}

KeyValue KeyDecoder::next() {
  if (rest_.empty()) malformed("no more values");
  auto tag = static_cast<uint8_t>(rest_[0]);
  rest_.remove_prefix(1);
  switch (tag) {
    case kTagNull: return KeyNull{};
    case kTagFalse: return false;
    case kTagTrue: return true;
    case kTagText: return decodeEscaped(rest_);
    case kTagData: return KeyBytes{decodeEscaped(rest_)};
    case kTagFloat: {
      if (rest_.size() < 8) malformed("truncated float");
      uint64_t bits = 0;
      for (int i = 0; i < 8; ++i) bits = (bits << 8) | static_cast<uint8_t>(rest_[i]);
      rest_.remove_prefix(8);
      bits = (bits & kSignBit) ? (bits & ~kSignBit) : ~bits;
      return std::bit_cast<double>(bits);
    }
    default: break;
  }
  if (tag < kTagIntZero - 8 || tag > kTagIntZero + 8) malformed(fmt::format("unknown tag 0x{:02x}", tag));
  int n = tag >= kTagIntZero ? tag - kTagIntZero : kTagIntZero - tag;
  if (rest_.size() < static_cast<size_t>(n)) malformed("truncated integer");
  uint64_t payload = 0;
  for (int i = 0; i < n; ++i) payload = (payload << 8) | static_cast<uint8_t>(rest_[i]);
  rest_.remove_prefix(n);
  if (tag >= kTagIntZero) {
    if (payload > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) return payload;
    return static_cast<int64_t>(payload);
  }
  uint64_t mask = n == 8 ? ~uint64_t{0} : (uint64_t{1} << (8 * n)) - 1;
  uint64_t magnitude = ~payload & mask;
  if (magnitude > kSignBit) malformed("negative integer out of range");
  return static_cast<int64_t>(uint64_t{0} - magnitude);
}

KeyValue KeyDecoder::next(KeyType type) {
  KeyValue v = next();
  if (std::holds_alternative<KeyNull>(v)) return v;
  auto mismatch = [&]() -> KeyValue { malformed(fmt::format("value does not fit column type {}", static_cast<int>(type))); };
  switch (type) {
    case KeyType::Bool:
      return std::holds_alternative<bool>(v) ? v : mismatch();
    case KeyType::Int8: case KeyType::Int16: case KeyType::Int32: case KeyType::Int64:
      if (std::holds_alternative<int64_t>(v)) return v;
      return mismatch();
    case KeyType::UInt8: case KeyType::UInt16: case KeyType::UInt32: case KeyType::UInt64:
      if (auto* u = std::get_if<uint64_t>(&v)) return *u;
      if (auto* i = std::get_if<int64_t>(&v); i && *i >= 0) return static_cast<uint64_t>(*i);
      return mismatch();
    case KeyType::Float32: case KeyType::Float64:
      return std::holds_alternative<double>(v) ? v : mismatch();
    case KeyType::Text:
      return std::holds_alternative<std::string>(v) ? v : mismatch();
    case KeyType::Data:
      return std::holds_alternative<KeyBytes>(v) ? v : mismatch();
  }
  return mismatch();
}

std::vector<KeyValue> decodeKey(std::string_view bytes) {
  std::vector<KeyValue> out;
  KeyDecoder d(bytes);
  while (!d.done()) out.push_back(d.next());
  return out;
}

std::vector<KeyValue> decodeKey(std::string_view bytes, std::span<const KeyType> types) {
  std::vector<KeyValue> out;
  KeyDecoder d(bytes);
  for (KeyType t : types) out.push_back(d.next(t));
  if (!d.done()) malformed(fmt::format("{} bytes left after {} values", d.rest().size(), types.size()));
  return out;
}

std::string prefixSuccessor(std::string_view prefix) {
  std::string s(prefix);
  while (!s.empty() && static_cast<uint8_t>(s.back()) == 0xFF) s.pop_back();
  if (!s.empty()) s.back() = static_cast<char>(static_cast<uint8_t>(s.back()) + 1);
  return s;
}

void checkKeySize(std::string_view key, std::string_view what) {
  CAPDB_REQUIRE(!key.empty(), ErrorCode::InvalidArgument, "{} is empty; keys need at least one byte", what);
  CAPDB_REQUIRE(key.size() <= kMaxKeySize, ErrorCode::InvalidArgument,
          "{} is {} bytes, longer than the {}-byte limit of LMDB keys", what, key.size(), kMaxKeySize);
}


}  // namespace capdb::engine

namespace capdb {

using engine::KeyEncoder;
using engine::decodeKey;

std::string encodeKey(std::span<const KeyValue> values) {
  KeyEncoder e;
  for (const auto& v : values) e.value(v);
  return std::move(e).release();
}

std::string formatKey(std::string_view encoded) {
  std::vector<KeyValue> values;
  try {
    values = decodeKey(encoded);
  } catch (const Error&) {
    std::string hex = "0x";
    for (char c : encoded) hex += fmt::format("{:02x}", static_cast<uint8_t>(c));
    return hex;
  }
  std::string out = "(";
  for (size_t i = 0; i < values.size(); ++i) {
    if (i) out += ", ";
    std::visit(
        [&out](const auto& x) {
          using T = std::decay_t<decltype(x)>;
          if constexpr (std::is_same_v<T, KeyNull>) out += "NULL";
          else if constexpr (std::is_same_v<T, bool>) out += x ? "TRUE" : "FALSE";
          else if constexpr (std::is_same_v<T, std::string>) out += fmt::format("'{}'", x);
          else if constexpr (std::is_same_v<T, KeyBytes>) {
            out += "x'";
            for (char c : x.bytes) out += fmt::format("{:02x}", static_cast<uint8_t>(c));
            out += "'";
          } else out += fmt::format("{}", x);
        },
        values[i]);
  }
  return out + ")";
}

}  // namespace capdb
