// A stored record read in place: the fields of a record (one Cap'n Proto segment, packed) read
// straight from its unpacked words, with no message reader. Every pointer it follows is checked against the segment's bounds and its kind, as Cap'n
// Proto's reader checks them; anything it does not read the way Cap'n Proto would (a value of
// far pointer, a damaged pointer) it reports as Unsure, and the caller reads
// that record through RecordDecoder, which reads it or names what is wrong with it.
//
// It does not count what it reads against a traversal limit, as Cap'n Proto's reader does
// (orm::recordTraversalLimit): that limit guards against a damaged message whose pointers lead to
// the same bytes again and again, and here every read is already bounded by the record's size.
// So it may read a record that Cap'n Proto's reader, asked for many fields, would refuse for the
// work; never one it would refuse as malformed.
#pragma once

#include <capnp/common.h>
#include <kj/array.h>
#include <kj/common.h>

#include <cstdint>
#include <string_view>

#include "orm/table_schema.h"

namespace capdb::orm {

class FlatRecord {
 public:
  enum class Read : uint8_t {
    Value,   // read
    Null,    // unset Text or Data, or an unset struct on the way
    Unsure,  // read it through RecordDecoder instead
  };

  // A struct's sections, as word positions in the segment.
  struct Struct {
    uint64_t data = 0;
    uint32_t dataWords = 0;
    uint32_t pointers = 0;
  };

  // Takes a stored value (header and message) and checks its checksum; a packed record is
  // unpacked into this object's buffer. True when it is a whole record whose root is a struct in
  // bounds; false otherwise (read it through RecordDecoder, which names what is wrong; nothing
  // may be read from this object until the next reset). What the reads return points into the
  // buffer or, for a record that is not packed, into the value's bytes, which must outlive the
  // reads; either way valid until the next reset.
  bool reset(std::string_view value);
  uint32_t version() const { return version_; }

  // The struct holding `path`'s leaf (path.direct), following its pointer steps from the root.
  Read leafStruct(const FieldPath& path, Struct& out) const;
  // The struct's data section (a section shorter than a field reads as the field's default).
  kj::ArrayPtr<const kj::byte> data(const Struct& s) const {
    return {segment_ + s.data * 8, size_t{s.dataWords} * 8};
  }
  // The Text (without its NUL) or Data at pointer `index` of `s`; the view points into the value.
  Read blob(const Struct& s, uint32_t index, bool text, std::string_view& out) const;

 private:
  bool parse(std::string_view value);
  // The struct the pointer at word `position` points to: Null for a null pointer, Unsure for
  // another kind or one out of the segment.
  Read structAt(uint64_t position, Struct& out) const;
  uint64_t word(uint64_t position) const;

  kj::Array<capnp::word> buffer_;  // the unpacked segment in its first words_ words; grows
  const kj::byte* segment_ = nullptr;
  uint64_t words_ = 0;  // the segment's size in words
  Struct root_;
  uint32_t version_ = 0;
};

}  // namespace capdb::orm
