#include "orm/packing.h"

#include <algorithm>
#include <array>
#include <cstring>

#if defined(__x86_64__)
#include <tmmintrin.h>
#endif

namespace capdb::orm {
namespace {

uint64_t load64(const void* p) {
  uint64_t v;
  std::memcpy(&v, p, sizeof v);
  return v;
}

// One bit per non-zero byte of `w`, byte 0 in bit 0, without a branch: each byte's high bit is
// set when the byte is not zero, and a multiply gathers the eight high bits into the top byte.
unsigned tagOf(uint64_t w) {
  constexpr uint64_t kLow7 = 0x7f7f7f7f7f7f7f7fULL;
  uint64_t high = (((w & kLow7) + kLow7) | w) & ~kLow7;
  return static_cast<unsigned>(((high >> 7) * 0x0102040810204080ULL) >> 56);
}

// For each tag: the bytes it takes, and for each byte of the word the position of its byte among
// them (8: a zero byte). Unpacking a word is then eight loads without a branch (the bits of a tag
// do not predict well), where a 64-bit popcount without the instruction calls into libgcc.
struct TagLayout {
  uint8_t count = 0;
  uint8_t from[8] = {};
};

constexpr std::array<TagLayout, 256> makeLayouts() {
  std::array<TagLayout, 256> out{};
  for (unsigned tag = 0; tag < 256; ++tag) {
    uint8_t n = 0;
    for (unsigned b = 0; b < 8; ++b) out[tag].from[b] = (tag >> b) & 1 ? n++ : 8;
    out[tag].count = n;
  }
  return out;
}

constexpr std::array<TagLayout, 256> kLayouts = makeLayouts();

// One word of `tag` from the bytes at `p`, of which `left` remain.
inline uint64_t unpackWord(unsigned tag, const uint8_t* p, size_t left) {
  const TagLayout& layout = kLayouts[tag];
  // The word's bytes and a zero after them; near the end of the input only what is left.
  uint8_t bytes[9] = {};
  std::memcpy(bytes, p, left >= 8 ? 8 : left);
  bytes[layout.count] = 0;
  uint64_t w = 0;
#pragma GCC unroll 8
  for (int b = 0; b < 8; ++b) w |= uint64_t{bytes[layout.from[b]]} << (8 * b);
  return w;
}

// Unpacks `packed` into `buffer`, grown as needed; `word(tag, p, left)` unpacks one word of a tag
// other than 0x00 and 0xff whose bytes are all there. One pass: each word's tag says where the
// next one starts, so the words are a chain of dependent loads, walked once.
template <typename Word>
[[gnu::always_inline]] inline std::optional<size_t> unpackWith(std::string_view packed,
                                                               kj::Array<capnp::word>& buffer,
                                                               Word&& word) {
  constexpr size_t kMostWordsPerTag = 256;  // a tag and the run it may start
  auto* p = reinterpret_cast<const uint8_t*>(packed.data());
  size_t size = packed.size(), at = 0, n = 0;
  // Kept in locals: stores through `out` might otherwise make the compiler reload the buffer.
  auto* out = reinterpret_cast<uint8_t*>(buffer.begin());
  size_t capacity = buffer.size();
  while (at < size) {
    if (capacity - n < kMostWordsPerTag) {
      if (n > kMaxUnpackedWords) return std::nullopt;
      auto bigger = kj::heapArray<capnp::word>(std::max(2 * capacity, n + 2 * kMostWordsPerTag));
      if (n > 0) std::memcpy(bigger.begin(), out, n * sizeof(capnp::word));  // `out` may be null
      buffer = std::move(bigger);
      out = reinterpret_cast<uint8_t*>(buffer.begin());
      capacity = buffer.size();
    }
    uint8_t* o = out + 8 * n;
    unsigned tag = p[at++];
    if (tag == 0xff) {
      if (size - at < 9) return std::nullopt;
      size_t run = p[at + 8];
      if ((size - at - 9) / 8 < run) return std::nullopt;
      std::memcpy(o, p + at, 8);
      std::memcpy(o + 8, p + at + 9, 8 * run);
      at += 9 + 8 * run;
      n += 1 + run;
    } else if (tag == 0) {
      if (at == size) return std::nullopt;
      size_t run = p[at++];
      std::memset(o, 0, 8 + 8 * run);
      n += 1 + run;
    } else {
      size_t count = word.count(tag);
      if (size - at < count) return std::nullopt;
      uint64_t w = word(tag, p + at, size - at);
      std::memcpy(o, &w, 8);
      at += count;
      ++n;
    }
  }
  return n;
}

// The non-zero bytes of `w`, in order, written at `o` (eight bytes written, `count` kept).
template <typename Compress>
[[gnu::always_inline]] inline void packWith(kj::ArrayPtr<const capnp::word> words, std::string& out,
                                            Compress&& compress) {
  size_t at = out.size();
  out.resize(at + maxPackedSize(words.size()) + 8);  // 8: room for the last word's whole store
  auto* o = reinterpret_cast<uint8_t*>(out.data());
  auto* in = reinterpret_cast<const uint8_t*>(words.begin());
  size_t n = words.size();
  for (size_t i = 0; i < n;) {
    uint64_t w = load64(in + 8 * i);
    unsigned tag = tagOf(w);
    o[at++] = static_cast<uint8_t>(tag);
    compress(w, tag, o + at);
    at += kLayouts[tag].count;
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
      while (i < n && run < 255 && kLayouts[tagOf(load64(in + 8 * i))].count >= 7) ++i, ++run;
      o[at++] = static_cast<uint8_t>(run);
      std::memcpy(o + at, in + 8 * start, 8 * run);
      at += 8 * run;
    }
  }
  out.resize(at);
}

void compressWord(uint64_t w, unsigned tag, uint8_t* o) {
  uint8_t bytes[8];
  size_t k = 0;
  for (int b = 0; b < 8; ++b) {
    bytes[k] = static_cast<uint8_t>(w >> (8 * b));
    k += (tag >> b) & 1;
  }
  std::memcpy(o, bytes, 8);
}

#if defined(__x86_64__)
// The same with SSSE3's byte shuffle (one load, one shuffle by the tag's mask, one store) and
// popcnt; kShuffle says whether the CPU has both.
struct alignas(16) ShuffleMask {
  uint8_t bytes[16];
};

constexpr std::array<ShuffleMask, 256> makeMasks() {
  std::array<ShuffleMask, 256> out{};
  for (unsigned tag = 0; tag < 256; ++tag) {
    for (unsigned b = 0; b < 16; ++b) {
      uint8_t from = b < 8 ? kLayouts[tag].from[b] : 8;
      out[tag].bytes[b] = from == 8 ? 0x80 : from;  // 0x80: a zero byte
    }
  }
  return out;
}

constexpr std::array<ShuffleMask, 256> kMasks = makeMasks();

// The inverse: for each tag, the positions of its non-zero bytes, first to last.
constexpr std::array<ShuffleMask, 256> makeCompressMasks() {
  std::array<ShuffleMask, 256> out{};
  for (unsigned tag = 0; tag < 256; ++tag) {
    unsigned k = 0;
    for (unsigned b = 0; b < 8; ++b) {
      if ((tag >> b) & 1) out[tag].bytes[k++] = static_cast<uint8_t>(b);
    }
    for (; k < 16; ++k) out[tag].bytes[k] = 0x80;
  }
  return out;
}

constexpr std::array<ShuffleMask, 256> kCompressMasks = makeCompressMasks();

struct ShuffledCompress {
  __attribute__((target("ssse3"))) void operator()(uint64_t w, unsigned tag, uint8_t* o) const {
    __m128i in = _mm_cvtsi64_si128(static_cast<long long>(w));
    __m128i mask = _mm_load_si128(reinterpret_cast<const __m128i*>(kCompressMasks[tag].bytes));
    _mm_storel_epi64(reinterpret_cast<__m128i*>(o), _mm_shuffle_epi8(in, mask));
  }
};

__attribute__((target("ssse3"))) void packShuffled(kj::ArrayPtr<const capnp::word> words,
                                                   std::string& out) {
  packWith(words, out, ShuffledCompress());
}

struct ShuffledWord {
  // The popcnt instruction: the next tag's position waits on this count, word after word.
  __attribute__((target("ssse3,popcnt"))) size_t count(unsigned tag) const {
    return static_cast<size_t>(__builtin_popcount(tag));
  }
  __attribute__((target("ssse3,popcnt"))) uint64_t operator()(unsigned tag, const uint8_t* p,
                                                       size_t left) const {
    // A word takes at most 8 bytes: loaded as 8, or (at the end of the input) copied.
    __m128i in;
    if (left >= 8) {
      in = _mm_loadl_epi64(reinterpret_cast<const __m128i*>(p));
    } else {
      alignas(16) uint8_t last[16] = {};
      std::memcpy(last, p, left);
      in = _mm_load_si128(reinterpret_cast<const __m128i*>(last));
    }
    __m128i mask = _mm_load_si128(reinterpret_cast<const __m128i*>(kMasks[tag].bytes));
    return static_cast<uint64_t>(_mm_cvtsi128_si64(_mm_shuffle_epi8(in, mask)));
  }
};

__attribute__((target("ssse3,popcnt"))) std::optional<size_t> unpackShuffled(
    std::string_view packed, kj::Array<capnp::word>& buffer) {
  return unpackWith(packed, buffer, ShuffledWord());
}

bool detectShuffle() {
  __builtin_cpu_init();
  return __builtin_cpu_supports("ssse3") && __builtin_cpu_supports("popcnt");
}

const bool kShuffle = detectShuffle();
#endif

}  // namespace


std::optional<size_t> unpackedWords(std::string_view packed) {
  auto* p = reinterpret_cast<const uint8_t*>(packed.data());
  size_t size = packed.size(), at = 0, words = 0;
  while (at < size) {
    unsigned tag = p[at++];
    size_t bytes = kLayouts[tag].count;
    if (size - at < bytes) return std::nullopt;
    at += bytes;
    ++words;
    if (words > kMaxUnpackedWords) return std::nullopt;
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

void packWords(kj::ArrayPtr<const capnp::word> words, std::string& out) {
#if defined(__x86_64__)
  if (kShuffle) return packShuffled(words, out);
#endif
  packWith(words, out, compressWord);
}

std::optional<size_t> unpack(std::string_view packed, kj::Array<capnp::word>& buffer) {
#if defined(__x86_64__)
  if (kShuffle) return unpackShuffled(packed, buffer);
#endif
  struct {
    size_t count(unsigned tag) const { return kLayouts[tag].count; }
    uint64_t operator()(unsigned tag, const uint8_t* p, size_t left) const {
      return unpackWord(tag, p, left);
    }
  } scalar;
  return unpackWith(packed, buffer, scalar);
}

}  // namespace capdb::orm
