// Records on disk (format revision 2; docs/format.md has a worked example):
//
//   byte 0     the record format tag: 0xCF, the segment as it is; 0xCE, the segment packed
//   bytes 1-4  the CRC32C of every byte after these four, little-endian
//   then       the schema version the message was written at, LEB128 (one byte below 128)
//   then       the message's one segment, as it is or Cap'n Proto-packed (orm/packing.h); no
//              segment table
//
// Every reader checks the tag and the checksum before anything else (readRecordHeader), so a
// flipped byte anywhere in a record is Corruption naming its table and key.
#pragma once

#include <capnp/any.h>
#include <capnp/dynamic.h>
#include <capnp/message.h>
#include <capnp/serialize.h>

#include <cstring>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "orm/record_check.h"

namespace capdb::orm {

inline constexpr uint8_t kRecordTag = 0xCF;        // the segment as it is
inline constexpr uint8_t kPackedRecordTag = 0xCE;  // the segment packed
// The tag of format revision 1 (unpacked, no checksum), which no build reads: named in errors.
inline constexpr uint8_t kRevision1Tag = 0xCD;
// The tag and checksum; the version follows.
inline constexpr size_t kRecordFixedHeader = 5;

// A stored record's header, checked.
struct RecordHeader {
  uint32_t version = 0;
  std::string_view body;  // the segment, as stored (pointing into the value)
  bool packed = false;
};

// Reads and checks a stored record's header and checksum: false for a value that is not a whole
// record of this format with its checksum right.
bool tryReadRecordHeader(std::string_view bytes, RecordHeader& out);
// The same, throwing Corruption that names `table`, `key` and what is wrong.
RecordHeader readRecordHeader(std::string_view bytes, std::string_view table,
                              std::string_view key);
// The version in a stored record's header, its checksum not computed: false for a value whose
// header is malformed. What it reads may be damaged; a reader that goes on to use the record checks
// it (readRecordHeader) before it trusts anything else.
bool peekRecordVersion(std::string_view bytes, uint32_t& version);
// `bytes` (a stored record, checked as readRecordHeader checks it) labelled with `version`
// instead, its checksum recomputed; the message is not read. Used where a migration's steps leave
// a record as it is: its checksum is checked first, so a damaged record is never relabelled into
// a sound one.
std::string relabelRecord(std::string_view bytes, uint32_t version, std::string_view table,
                          std::string_view key);

// Encodes records into a buffer it reuses: after the first few records, encoding allocates
// nothing. Not thread-safe; use one per thread or transaction.
class RecordEncoder {
 public:
  RecordEncoder();

  // Encodes the message at `version`. The view is valid until the next call. A message of
  // several segments is first copied into one.
  std::string_view encode(uint32_t version, capnp::MessageBuilder& message);
  // Encodes a message given as its one segment (tests write segments by hand).
  std::string_view encodeSegment(uint32_t version, kj::ArrayPtr<const capnp::word> segment);
  // Whether the records it encodes are packed (Options::packRecords). Default false.
  void setPacked(bool packed) { packed_ = packed; }
  bool packed() const { return packed_; }
  // Copies `record` into a scratch message first (reusing its first segment), then encodes it.
  std::string_view encode(uint32_t version, capnp::DynamicStruct::Reader record);

 private:
  std::string buffer_;
  kj::Array<capnp::word> scratch_;
  bool packed_ = false;
};

// The root of a message whose root is set, read as `schema` (a struct, not a group): the same
// as getRoot<DynamicStruct>(schema).asReader() without its lookup of the schema's proto on every
// call, which shows in per-record loops. A reader only: a builder must come from
// getRoot<DynamicStruct>(schema), which grows a root stored smaller than `schema` (an older
// version's) before anything is written to it.
inline capnp::DynamicStruct::Reader readRootAs(capnp::MessageBuilder& message,
                                               capnp::StructSchema schema) {
  return message.getRoot<capnp::AnyStruct>().asReader().as<capnp::DynamicStruct>(schema);
}

// A struct schema with its section sizes, read once (StructSchema::getProto decodes the node).
struct StructLayout {
  explicit StructLayout(capnp::StructSchema s)
      : schema(s),
        dataWords(s.getProto().getStruct().getDataWordCount()),
        pointers(s.getProto().getStruct().getPointerCount()) {}
  capnp::StructSchema schema;
  uint16_t dataWords;
  uint16_t pointers;
};

// Initialises `message`'s root as an empty struct of `layout`'s size, viewed as its schema (no
// schema lookup, unlike initRoot<DynamicStruct>).
inline capnp::DynamicStruct::Builder initRoot(capnp::MessageBuilder& message,
                                              const StructLayout& layout) {
  return message.getRoot<capnp::AnyPointer>()
      .initAsAnyStruct(layout.dataWords, layout.pointers)
      .as<capnp::DynamicStruct>(layout.schema);
}

// Sets `message`'s root to a copy of `record` laid out at `layout`'s size, and returns it. A
// record stored at an older, smaller layout is copied section by section into a struct of the
// new size: setRoot followed by getRoot<DynamicStruct>(schema) would grow it by a second copy
// and leave the first behind as dead words in the encoded record. `record`'s fields must lie in
// the layout's schema as they do in its own (fields only added since). A record larger than the
// layout in a section (with fields of a newer version) keeps that section's size and fields.
capnp::DynamicStruct::Builder setRootAs(capnp::MessageBuilder& message,
                                        capnp::DynamicStruct::Reader record,
                                        const StructLayout& layout);

// ReaderOptions for records: the traversal limit bounds the work a hostile or damaged record
// can cause (at least 64 MiB of message; see recordTraversalLimit), the nesting limit the
// recursion depth.
capnp::ReaderOptions recordReaderOptions();

// How many words one reader may read from a record of `words` words when the options allow
// `limit`: the limit, or 64 times the record if that is more. The limit guards against a damaged
// record whose pointers lead to the same bytes again and again; growing it with the record keeps
// a record of any size readable when it is checked once and then read field by field, some
// fields more than once. The budget is the reader's for as long as the record is held (a Row's
// getters spend it too). Cap'n Proto charges lists of Void and of empty structs by their length,
// not their bytes: a record holding such a list longer than the limit does not read.
uint64_t recordTraversalLimit(uint64_t limit, uint64_t words);

// Decodes stored values. A decoded record is unpacked into this decoder's buffer, so it stays
// valid until the next decode() or reset() of this decoder, whatever happens to the stored bytes
// (a write to the transaction, its end). Not thread-safe.
class RecordDecoder {
 public:
  // `options.traversalLimitInWords` is a floor: each record may read recordTraversalLimit of it.
  explicit RecordDecoder(capnp::ReaderOptions options = recordReaderOptions());

  // Checks the header and the checksum, unpacks the message and returns the schema version the
  // record was written at. Throws Corruption naming `table` and `key` for a truncated, garbled or
  // unknown-format value. `table` and `key` must stay valid until verifiedRoot returns: its
  // errors name them too.
  // `checkRoot` false skips checking the root pointer here, for a caller that reads the root
  // inside its own kj::Exception handler (TableCore::decode's unverified reads).
  uint32_t decode(std::string_view bytes, std::string_view table, std::string_view key,
                  bool checkRoot = true);

  // The decoded record's root, read as `schema` (the schema of the version decode() returned).
  // Not checked: a damaged record may throw kj::Exception when its fields are read. Use
  // verifiedRoot for anything read from disk.
  capnp::DynamicStruct::Reader root(capnp::StructSchema schema) const;
  // The root after `check` (built for `schema`) has followed every pointer the schema declares,
  // checking each against the value's bounds, the ReaderOptions limits and the declared kind, so
  // that a damaged record (a pointer out of bounds, a struct where Text should be) is Corruption
  // here, naming the table and key, rather than an exception when a field is read.
  capnp::DynamicStruct::Reader verifiedRoot(const RecordCheck& check,
                                            capnp::StructSchema schema) const;
  template <typename T>
  typename T::Reader root() const {
    return reader_->getRoot<T>();
  }
  // Forgets the decoded record, keeping the buffer for the next one unless it grew past 1 MiB
  // (a pooled decoder does not hold on to the copy of one large record).
  void reset() noexcept {
    reader_.reset();
    upgraded_.reset();
    if (buffer_.size() > kKeptBufferWords) buffer_ = nullptr;
  }
  // The schema version of the last decoded record.
  uint32_t version() const { return version_; }
  // A fresh message for the upgraded form of the last decoded record (see orm/upgrader.h); valid
  // until the next decode.
  capnp::MallocMessageBuilder& upgraded() {
    upgraded_.reset();  // zeroes what it used of the scratch segment
    if (upgradeScratch_.size() == 0) {
      upgradeScratch_ = kj::heapArray<capnp::word>(1024);
      std::memset(upgradeScratch_.begin(), 0, upgradeScratch_.size() * sizeof(capnp::word));
    }
    upgraded_.emplace(upgradeScratch_);
    return *upgraded_;
  }
  // The upgraded form of the last decoded record, if it was upgraded.
  capnp::MallocMessageBuilder* upgradedMessage() { return upgraded_ ? &*upgraded_ : nullptr; }

 private:
  capnp::ReaderOptions options_;
  static constexpr size_t kKeptBufferWords = size_t{1} << 17;  // 1 MiB
  // The last record, unpacked, in its first words; grows geometrically. Not a std::vector:
  // capnp::word is not copyable, and clang refuses std::vector<capnp::word>::resize.
  kj::Array<capnp::word> buffer_;
  kj::ArrayPtr<const capnp::word> segments_[1];
  // getRoot is not const in capnp; reading the root does not change the decoded record.
  mutable std::optional<capnp::SegmentArrayMessageReader> reader_;
  uint32_t version_ = 0;
  kj::Array<capnp::word> upgradeScratch_;  // declared before upgraded_, which zeroes it
  std::optional<capnp::MallocMessageBuilder> upgraded_;
  std::string_view table_;
  std::string_view key_;
};

}  // namespace capdb::orm
