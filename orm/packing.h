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

// The most bytes packing `words` words can take.
constexpr size_t maxPackedSize(size_t words) { return words * 8 + (words + 1) / 2 + 2; }

// Appends the packed form of `words` to `out`.
void packWords(kj::ArrayPtr<const capnp::word> words, std::string& out);

// The number of words `packed` unpacks to, or nullopt when it is not a whole packed stream (it
// ends inside a word, a run's count or a run's bytes).
std::optional<size_t> unpackedWords(std::string_view packed);

// Unpacks `packed` into `out`, which must hold exactly unpackedWords(packed) words.
void unpackWords(std::string_view packed, kj::ArrayPtr<capnp::word> out);

}  // namespace capdb::orm
