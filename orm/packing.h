// Cap'n Proto's packed encoding (https://capnproto.org/encoding.html#packing) of one segment, with
// no segment table: how a stored record holds its message (docs/format.md). Cap'n Proto's own
// packing works on whole messages through streams (writePackedMessage, PackedMessageReader);
// records need one segment packed into a buffer the encoder reuses, and unpacked into a buffer the
// reader reuses, bounds-checked without exceptions. tests/orm/packing_test.cpp checks both
// directions against Cap'n Proto's implementation.
#pragma once

#include <capnp/common.h>
#include <kj/array.h>

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace capdb::orm {

// The most words a record may unpack to (2 GiB): a packed stream is refused past it, so that a
// damaged or hostile record cannot make a reader allocate without bound (packing shrinks zero
// words up to 1024 times).
inline constexpr size_t kMaxUnpackedWords = size_t{1} << 28;

// The most bytes packing `words` words can take.
constexpr size_t maxPackedSize(size_t words) { return words * 8 + (words + 1) / 2 + 2; }

// Appends the packed form of `words` to `out`.
void packWords(kj::ArrayPtr<const capnp::word> words, std::string& out);

// The number of words `packed` unpacks to, or nullopt when it is not a whole packed stream (it
// ends inside a word, a run's count or a run's bytes) or unpacks to more than kMaxUnpackedWords
// (give or take a run).
std::optional<size_t> unpackedWords(std::string_view packed);

// Unpacks `packed` into the first words of `buffer`, which it replaces by a larger one (keeping
// nothing) when it is too small, and returns the number of words; nullopt, as unpackedWords, for
// a stream that is not whole (then the buffer holds garbage). A buffer kept from one call to the
// next stops allocating once it fits the largest record.
std::optional<size_t> unpack(std::string_view packed, kj::Array<capnp::word>& buffer);

}  // namespace capdb::orm
