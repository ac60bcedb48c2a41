#include "orm/packing.h"

#include <bit>
#include <cstring>

namespace capdb::orm {
namespace {

uint64_t load64(const void* p) {
  uint64_t v;
  std::memcpy(&v, p, sizeof v);
  return v;
}

// One bit per non-zero byte of `w`, byte 0 in bit 0.
unsigned tagOf(uint64_t w) {
  unsigned tag = 0;
  for (int i = 0; i < 8; ++i) tag |= ((w >> (8 * i)) & 0xff) != 0 ? 1u << i : 0u;
  return tag;
}

}  // namespace

void packWords(kj::ArrayPtr<const capnp::word> words, std::string& out) {
  size_t at = out.size();
  out.resize(at + maxPackedSize(words.size()));
  auto* o = reinterpret_cast<uint8_t*>(out.data());
  auto* in = reinterpret_cast<const uint8_t*>(words.begin());
  size_t n = words.size();
  for (size_t i = 0; i < n;) {
    uint64_t w = load64(in + 8 * i);
    unsigned tag = tagOf(w);
    o[at++] = static_cast<uint8_t>(tag);
    for (int b = 0; b < 8; ++b) {
      if (tag & (1u << b)) o[at++] = static_cast<uint8_t>(w >> (8 * b));
    }
    ++i;
    if (tag == 0) {
      // A run of zero words after this one.
      size_t run = 0;
      while (i < n && run < 255 && load64(in + 8 * i) == 0) ++i, ++run;
      o[at++] = static_cast<uint8_t>(run);
    } else if (tag == 0xff) {
      // Words copied as they are after this one, while they have at most one zero byte (packing
      // them would save at most a byte each), as Cap'n Proto's packer does.
      size_t start = i, run = 0;
      while (i < n && run < 255 && std::popcount(tagOf(load64(in + 8 * i))) >= 7) ++i, ++run;
      o[at++] = static_cast<uint8_t>(run);
      std::memcpy(o + at, in + 8 * start, 8 * run);
      at += 8 * run;
    }
  }
  out.resize(at);
}

std::optional<size_t> unpackedWords(std::string_view packed) {
  auto* p = reinterpret_cast<const uint8_t*>(packed.data());
  size_t size = packed.size(), at = 0, words = 0;
  while (at < size) {
    unsigned tag = p[at++];
    size_t bytes = static_cast<size_t>(std::popcount(tag));
    if (size - at < bytes) return std::nullopt;
    at += bytes;
    ++words;
    if (tag == 0 || tag == 0xff) {
      if (at == size) return std::nullopt;
      size_t run = p[at++];
      words += run;
      if (tag == 0xff) {
        if ((size - at) / 8 < run) return std::nullopt;
        at += 8 * run;
      }
    }
  }
  return words;
}

void unpackWords(std::string_view packed, kj::ArrayPtr<capnp::word> out) {
  auto* p = reinterpret_cast<const uint8_t*>(packed.data());
  auto* o = reinterpret_cast<uint8_t*>(out.begin());
  size_t size = packed.size(), at = 0;
  while (at < size) {
    unsigned tag = p[at++];
    if (tag == 0xff) {
      std::memcpy(o, p + at, 8);
      at += 8;
      o += 8;
      size_t run = p[at++];
      std::memcpy(o, p + at, 8 * run);
      at += 8 * run;
      o += 8 * run;
      continue;
    }
    uint64_t w = 0;
    for (int b = 0; b < 8; ++b) {
      if (tag & (1u << b)) w |= uint64_t{p[at++]} << (8 * b);
    }
    std::memcpy(o, &w, 8);
    o += 8;
    if (tag == 0) {
      size_t run = p[at++];
      std::memset(o, 0, 8 * run);
      o += 8 * run;
    }
  }
}

}  // namespace capdb::orm
