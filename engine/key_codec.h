// Memcomparable keys: the byte order (memcmp, then length) of encoded keys is the order of the
// values they encode. Used for primary keys and index keys; LMDB's default byte-wise
// comparator then sorts records in key order.
//
// Encoding of one value (a tag byte, then a payload):
//   NULL   0x00                                       sorts before everything
//   Data   0x01 bytes 0x00 0x01                       0x00 in the bytes becomes 0x00 0xFF
//   Text   0x02 bytes 0x00 0x01                       same escaping as Data
//   Int    0x0C..0x1C                                 0x14 is zero; 0x14+n a positive value in n
//                                                     big-endian bytes; 0x14-n a negative value
//                                                     whose magnitude needs n bytes, stored as the
//                                                     ones' complement of the magnitude
//   Float  0x21 + 8 bytes                             IEEE-754 double, sign-flipped so that bytes
//                                                     sort as numbers; -0.0 is 0.0; NaN sorts last
//                                                     (index keys hold NaN as NULL instead:
//                                                     orm::indexKeyValue)
//   Bool   0x26 (false), 0x27 (true)
// Signed and unsigned integers of every width share one encoding and compare by value, so a key
// stays valid when a column widens (Int32 -> Int64). Float32 is stored as the double it equals.
// Every encoding is self-delimiting and none is a prefix of another, so a composite key sorts like
// a tuple (("ab", 1) before ("abc", 0)) and the encoding of the first k values is a byte prefix of
// exactly the keys whose first k values are those.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "capdb/key.h"

namespace capdb::engine {

// LMDB's compile-time key limit (mdb_env_get_maxkeysize with the default MDB_MAXKEYSIZE).
inline constexpr size_t kMaxKeySize = 511;

// The value types are public (capdb/key.h): an app builds keys from them.
using capdb::KeyBytes;
using capdb::KeyNull;
using capdb::KeyType;
using capdb::KeyValue;

// Appends encoded values to a key. Chain calls; take the bytes with bytes() or release().
class KeyEncoder {
 public:
  KeyEncoder() = default;

  KeyEncoder& null();
  KeyEncoder& boolean(bool v);
  KeyEncoder& int64(int64_t v);
  KeyEncoder& uint64(uint64_t v);
  KeyEncoder& float64(double v);
  KeyEncoder& text(std::string_view v);
  KeyEncoder& data(std::string_view v);
  KeyEncoder& value(const KeyValue& v);
  // Appends bytes that are already an encoded key (for example a primary key behind an index key).
  KeyEncoder& raw(std::string_view encoded);

  const std::string& bytes() const& { return bytes_; }
  // The encoded key. Throws InvalidArgument naming the size if it exceeds kMaxKeySize.
  std::string release() &&;
  void clear() { bytes_.clear(); }

 private:
  void escaped(uint8_t tag, std::string_view v);
  std::string bytes_;
};

using capdb::encodeKey;  // declared in capdb/key.h

// Reads values back from an encoded key, one at a time. Malformed bytes throw Corruption.
class KeyDecoder {
 public:
  explicit KeyDecoder(std::string_view bytes) : rest_(bytes) {}

  bool done() const { return rest_.empty(); }
  // The next value, in its canonical alternative: int64_t for integers that fit, uint64_t for
  // larger ones, double for floats.
  KeyValue next();
  // The next value, converted to the alternative `type` decodes as. Throws Corruption when the
  // stored value does not fit the type.
  KeyValue next(KeyType type);
  // Skips one value; returns the bytes it occupied.
  std::string_view skip();
  // Bytes not yet decoded.
  std::string_view rest() const { return rest_; }

 private:
  std::string_view rest_;
};

std::vector<KeyValue> decodeKey(std::string_view bytes);
std::vector<KeyValue> decodeKey(std::string_view bytes, std::span<const KeyType> types);

// The smallest byte string greater than every string that starts with `prefix`, or an empty
// string when there is none (prefix empty or all 0xFF).
std::string prefixSuccessor(std::string_view prefix);

// Throws InvalidArgument naming `what` and the size when the key is empty or longer than
// kMaxKeySize.
void checkKeySize(std::string_view key, std::string_view what);

using capdb::formatKey;  // declared in capdb/key.h

}  // namespace capdb::engine
