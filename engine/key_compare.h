// The order of keys: unsigned bytes, then the shorter first (LMDB's own order, and
// std::string_view::compare's), eight bytes at a time. LMDB's tables use it as their comparator
// (engine/lmdb_error.cpp, openDbi) and scans use it for their bounds.
#pragma once

#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string_view>

namespace capdb::engine {

inline uint64_t loadBigEndian(const unsigned char* p) {
  uint64_t v;
  std::memcpy(&v, p, sizeof v);
  if constexpr (std::endian::native == std::endian::little) v = __builtin_bswap64(v);
  return v;
}

// <0, 0 or >0 as `a` sorts before, with or after `b`.
inline int compareKeyBytes(const void* a, size_t aSize, const void* b, size_t bSize) {
  auto* p = static_cast<const unsigned char*>(a);
  auto* q = static_cast<const unsigned char*>(b);
  size_t n = aSize < bSize ? aSize : bSize;
  for (; n >= 8; n -= 8, p += 8, q += 8) {
    uint64_t x = loadBigEndian(p), y = loadBigEndian(q);
    if (x != y) return x < y ? -1 : 1;
  }
  for (; n > 0; --n, ++p, ++q) {
    if (*p != *q) return *p < *q ? -1 : 1;
  }
  return aSize < bSize ? -1 : (aSize > bSize ? 1 : 0);
}

inline int compareKeyBytes(std::string_view a, std::string_view b) {
  return compareKeyBytes(a.data(), a.size(), b.data(), b.size());
}

}  // namespace capdb::engine
