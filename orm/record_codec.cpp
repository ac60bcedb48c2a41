#include "orm/record_codec.h"

#include <capnp/any.h>
#include <kj/io.h>

#include <algorithm>
#include <cstring>

#include "engine/fail.h"
#include "engine/key_codec.h"
#include "engine/crc32c.h"
#include "orm/kj_error.h"
#include "orm/packing.h"

namespace capdb::orm {
namespace {

constexpr size_t kScratchWords = 1024;  // 8 KiB: most records fit in the first segment

[[noreturn]] void corrupt(std::string_view table, std::string_view key, std::string_view why) {
  fail(ErrorCode::Corruption, "table {}, record {}: {}", table, engine::formatKey(key), why);
}

bool parseHeader(std::string_view bytes, RecordHeader& out, std::string* why, bool checksum = true) {
  auto* b = reinterpret_cast<const uint8_t*>(bytes.data());
  auto explain = [&](std::string text) {
    if (why != nullptr) *why = std::move(text);
    return false;
  };
  if (bytes.size() < kRecordFixedHeader + 2) {
    return explain(fmt::format("value of {} bytes is too short for a record", bytes.size()));
  }
  if (b[0] != kRecordTag && b[0] != kPackedRecordTag) {
    if (b[0] == kRevision1Tag) {
      return explain("record in format revision 1 (unpacked, no checksum), which this build "
                     "does not read");
    }
    return explain(fmt::format("unknown record format (tag 0x{:02x})", b[0]));
  }
  uint32_t stored = uint32_t{b[1]} | uint32_t{b[2]} << 8 | uint32_t{b[3]} << 16 |
                    uint32_t{b[4]} << 24;
  uint32_t computed =
      checksum ? engine::crc32c(0, b + kRecordFixedHeader, bytes.size() - kRecordFixedHeader) : stored;
  if (stored != computed) {
    return explain(fmt::format(
        "checksum mismatch (stored {:08x}, computed {:08x}): the record's bytes are damaged",
        stored, computed));
  }
  uint64_t version = 0;
  size_t at = kRecordFixedHeader;
  for (int shift = 0;; shift += 7) {
    if (at == bytes.size() || shift > 28) return explain("malformed schema version");
    uint8_t byte = b[at++];
    version |= uint64_t{byte & 0x7fu} << shift;
    if ((byte & 0x80) == 0) break;
  }
  if (version > UINT32_MAX) return explain("malformed schema version");
  if (at == bytes.size()) return explain("no message after the schema version");
  out.version = static_cast<uint32_t>(version);
  out.body = bytes.substr(at);
  out.packed = b[0] == kPackedRecordTag;
  if (!out.packed && out.body.size() % sizeof(capnp::word) != 0) {
    return explain(fmt::format("message of {} bytes is not whole words", out.body.size()));
  }
  return true;
}

void writeHeader(std::string& out, uint32_t version, bool packed) {
  out.assign(kRecordFixedHeader, '\0');
  out[0] = static_cast<char>(packed ? kPackedRecordTag : kRecordTag);
  do {
    uint8_t byte = version & 0x7f;
    version >>= 7;
    out.push_back(static_cast<char>(version != 0 ? byte | 0x80 : byte));
  } while (version != 0);
}

// Sets the checksum of a record whose header and message are written.
void seal(std::string& out) {
  uint32_t crc = engine::crc32c(0, out.data() + kRecordFixedHeader, out.size() - kRecordFixedHeader);
  for (int i = 0; i < 4; ++i) out[1 + i] = static_cast<char>(crc >> (8 * i));
}

}  // namespace

bool tryReadRecordHeader(std::string_view bytes, RecordHeader& out) {
  return parseHeader(bytes, out, nullptr);
}

bool peekRecordVersion(std::string_view bytes, uint32_t& version) {
  RecordHeader header;
  if (!parseHeader(bytes, header, nullptr, false)) return false;
  version = header.version;
  return true;
}

RecordHeader readRecordHeader(std::string_view bytes, std::string_view table,
                              std::string_view key) {
  RecordHeader header;
  std::string why;
  if (!parseHeader(bytes, header, &why)) corrupt(table, key, why);
  return header;
}

std::string relabelRecord(std::string_view bytes, uint32_t version, std::string_view table,
                          std::string_view key) {
  RecordHeader header = readRecordHeader(bytes, table, key);
  std::string out;
  writeHeader(out, version, header.packed);
  out.append(header.body);
  seal(out);
  return out;
}

RecordEncoder::RecordEncoder() : scratch_(kj::heapArray<capnp::word>(kScratchWords)) {
  std::memset(scratch_.begin(), 0, scratch_.size() * sizeof(capnp::word));
}

std::string_view RecordEncoder::encodeSegment(uint32_t version,
                                              kj::ArrayPtr<const capnp::word> segment) {
  CAPDB_REQUIRE(segment.size() <= kMaxUnpackedWords, ErrorCode::InvalidArgument,
                "a record of {} bytes is larger than the 2 GiB a record may hold",
                segment.size() * sizeof(capnp::word));
  writeHeader(buffer_, version, packed_);
  if (packed_) {
    packWords(segment, buffer_);
  } else {
    buffer_.append(reinterpret_cast<const char*>(segment.begin()), segment.size() * sizeof(capnp::word));
  }
  seal(buffer_);
  return buffer_;
}

std::string_view RecordEncoder::encode(uint32_t version, capnp::MessageBuilder& message) {
  auto segments = message.getSegmentsForOutput();
  if (segments.size() == 1) return encodeSegment(version, segments[0]);
  // A record that outgrew its first segment: copied into one segment of the message's size (a
  // copy drops the far pointers and their landing pads, so it is never larger).
  size_t words = capnp::computeSerializedSizeInWords(segments);
  capnp::MallocMessageBuilder flat(static_cast<uint>(words), capnp::AllocationStrategy::FIXED_SIZE);
  flat.getRoot<capnp::AnyPointer>().set(message.getRoot<capnp::AnyPointer>().asReader());
  auto one = flat.getSegmentsForOutput();
  CAPDB_REQUIRE(one.size() == 1, ErrorCode::Internal,
                "a record of {} words did not fit one segment of that size", words);
  return encodeSegment(version, one[0]);
}

std::string_view RecordEncoder::encode(uint32_t version, capnp::DynamicStruct::Reader record) {
  // The builder zeroes the part of the scratch segment it used when it is destroyed, so the
  // scratch can serve the next record.
  capnp::MallocMessageBuilder message(scratch_);
  message.setRoot(record);
  return encode(version, message);
}

namespace {

// A pointer word (little-endian, as on the wire): its kind in the low two bits, for a list the
// word offset to its content in the rest of the low half, and the element size and count in the
// high half.
constexpr uint64_t kPointerKind = 3, kListPointer = 1;
constexpr unsigned kElementSizeShift = 32, kByteElements = 2;

uint64_t pointerWord(const void* at) {
  uint64_t w;
  std::memcpy(&w, at, sizeof w);
  return w;
}

// Copies the blobs (Text and Data) the pointers of `from` hold into `to`'s message as one span
// of words, and sets `to`'s pointers to them: one copy where Cap'n Proto would walk and copy
// each pointer. Only when every pointer of `from` is null or a blob, and the span lands in the
// struct's segment; otherwise false, with `to`'s pointers left for a copy one by one.
bool copyBlobs(capnp::MessageBuilder& message, capnp::AnyStruct::Reader from,
               capnp::AnyStruct::Builder to) {
  static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "pointer words are read in place");
  constexpr size_t kWord = sizeof(capnp::word);
  auto srcPointers = from.getPointerSection();
  const size_t n = srcPointers.size();
  if (n == 0 || n > to.getPointerSection().size()) return false;
  // Where each pointer's bytes lie, read through the reader (which checks they are within the
  // message), and the span of words that holds them all.
  constexpr size_t kMostPointers = 64;
  if (n > kMostPointers) return false;
  uint64_t words[kMostPointers];  // the pointers as they lie
  const capnp::byte* begin[kMostPointers];
  const char* srcWords = reinterpret_cast<const char*>(from.getDataSection().end());
  const capnp::byte* lo = nullptr;
  const capnp::byte* hi = nullptr;
  size_t blobWords = 0;
  for (size_t i = 0; i < n; ++i) {
    uint64_t w = words[i] = pointerWord(srcWords + i * kWord);
    begin[i] = nullptr;
    if (w == 0) continue;
    if ((w & kPointerKind) != kListPointer || ((w >> kElementSizeShift) & 7) != kByteElements) {
      return false;  // a struct, a list of other elements, a far pointer or a capability
    }
    capnp::Data::Reader bytes = srcPointers[i].getAs<capnp::Data>();
    size_t blob = (bytes.size() + kWord - 1) / kWord;  // in words
    begin[i] = bytes.begin();
    if (lo == nullptr || begin[i] < lo) lo = begin[i];
    if (hi == nullptr || begin[i] + blob * kWord > hi) hi = begin[i] + blob * kWord;
    blobWords += blob;
  }
  if (lo == nullptr) return false;  // no blob: the pointers are null, a plain copy is as quick
  const size_t spanBytes = static_cast<size_t>(hi - lo);
  // Words between the blobs (left by an edit that replaced one) are copied too, up to as many
  // as the blobs hold; more, and each blob is copied alone.
  if (spanBytes > 2 * blobWords * kWord + 8 * kWord) return false;
  // The span, copied as one list of bytes through the first pointer, then each pointer set to
  // its blob's place in the copy: the same element size and count, a new offset. The copy must
  // lie in the struct's segment for the offsets to hold (it does unless the segment is full).
  auto copy = to.getPointerSection()[0].initAs<capnp::Data>(static_cast<unsigned>(spanBytes));
  if (message.getSegmentsForOutput().size() != 1) return false;
  std::memcpy(copy.begin(), lo, spanBytes);
  char* dstWords = reinterpret_cast<char*>(to.getDataSection().end());
  for (size_t i = 0; i < n; ++i) {
    uint64_t w = words[i];
    if (begin[i] != nullptr) {
      const capnp::byte* target = copy.begin() + (begin[i] - lo);
      auto offset = static_cast<int64_t>(target - reinterpret_cast<const capnp::byte*>(
                                                      dstWords + (i + 1) * kWord)) /
                    static_cast<int64_t>(kWord);
      w = (w & ~uint64_t{0xffffffff}) |
          (static_cast<uint32_t>(static_cast<int32_t>(offset) * 4) | kListPointer);
    }
    std::memcpy(dstWords + i * kWord, &w, kWord);
  }
  return true;
}

}  // namespace

capnp::DynamicStruct::Builder setRootAs(capnp::MessageBuilder& message,
                                        capnp::DynamicStruct::Reader record,
                                        const StructLayout& layout) {
  capnp::AnyStruct::Reader from(record);
  auto src = from.getDataSection();
  auto srcPointers = from.getPointerSection();
  // Each section at the larger of the two sizes: a record with fields of a newer version keeps
  // them.
  auto dataWords = static_cast<uint16_t>(
      std::max<size_t>(layout.dataWords, (src.size() + sizeof(capnp::word) - 1) / sizeof(capnp::word)));
  auto pointers = static_cast<uint16_t>(std::max<size_t>(layout.pointers, srcPointers.size()));
  auto to = message.getRoot<capnp::AnyPointer>().initAsAnyStruct(dataWords, pointers);
  std::memcpy(to.getDataSection().begin(), src.begin(), src.size());
  auto dstPointers = to.getPointerSection();
  if (!copyBlobs(message, from, to)) {
    for (unsigned i = 0; i < srcPointers.size(); ++i) dstPointers[i].set(srcPointers[i]);
  }
  return to.as<capnp::DynamicStruct>(layout.schema);
}

capnp::ReaderOptions recordReaderOptions() {
  capnp::ReaderOptions options;
  options.traversalLimitInWords = 8 * 1024 * 1024;
  options.nestingLimit = 64;
  return options;
}

uint64_t recordTraversalLimit(uint64_t limit, uint64_t words) {
  constexpr uint64_t kReadsPerWord = 64;
  if (words <= limit / kReadsPerWord) return limit;
  return words > UINT64_MAX / kReadsPerWord ? UINT64_MAX : words * kReadsPerWord;
}

RecordDecoder::RecordDecoder(capnp::ReaderOptions options) : options_(options) {}

uint32_t RecordDecoder::decode(std::string_view bytes, std::string_view table,
                               std::string_view key, bool checkRoot) {
  reader_.reset();
  upgraded_.reset();
  table_ = table;
  key_ = key;
  RecordHeader header = readRecordHeader(bytes, table, key);
  std::optional<size_t> count;
  if (header.packed) {
    count = unpack(header.body, buffer_);
    if (!count) corrupt(table, key, "the packed message is cut short, or unpacks to more than 2 GiB");
  } else {
    count = header.body.size() / sizeof(capnp::word);
    if (buffer_.size() < *count) {
      buffer_ = kj::heapArray<capnp::word>(std::max(*count, 2 * buffer_.size()));
    }
    std::memcpy(buffer_.begin(), header.body.data(), header.body.size());
  }
  segments_[0] = buffer_.slice(0, *count);
  try {
    capnp::ReaderOptions options = options_;
    options.traversalLimitInWords = recordTraversalLimit(options_.traversalLimitInWords, *count);
    reader_.emplace(kj::arrayPtr(segments_, 1), options);
    if (checkRoot) (void)reader_->getRoot<capnp::AnyPointer>().getPointerType();  // in bounds
  } catch (const kj::Exception& e) {
    reader_.reset();
    corrupt(table, key, e.getDescription().cStr());
  }
  version_ = header.version;
  return header.version;
}

capnp::DynamicStruct::Reader RecordDecoder::root(capnp::StructSchema schema) const {
  // getRoot<DynamicStruct>(schema) reads the schema's proto to refuse groups on every call; a
  // record's schema is a table's struct, never a group, so the root is read as AnyStruct.
  return reader_->getRoot<capnp::AnyStruct>().as<capnp::DynamicStruct>(schema);
}

capnp::DynamicStruct::Reader RecordDecoder::verifiedRoot(const RecordCheck& check,
                                                          capnp::StructSchema schema) const {
  capnp::AnyStruct::Reader any;
  try {
    any = reader_->getRoot<capnp::AnyStruct>();
    check.check(any);
  } catch (const kj::Exception& e) {
    corrupt(table_, key_, fmt::format("does not match its schema: {}", e.getDescription().cStr()));
  }
  return any.as<capnp::DynamicStruct>(schema);
}

}  // namespace capdb::orm
