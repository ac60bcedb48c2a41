#include "orm/record_codec.h"

#include <capnp/any.h>
#include <kj/io.h>

#include <algorithm>
#include <cstring>

#include "engine/fail.h"
#include "engine/key_codec.h"
#include "orm/kj_error.h"

namespace capdb::orm {
namespace {

constexpr size_t kScratchWords = 1024;  // 8 KiB: most records fit in the first segment

[[noreturn]] void corrupt(std::string_view table, std::string_view key, std::string_view why) {
  fail(ErrorCode::Corruption, "table {}, record {}: {}", table, engine::formatKey(key), why);
}

}  // namespace

RecordEncoder::RecordEncoder() : scratch_(kj::heapArray<capnp::word>(kScratchWords)) {
  std::memset(scratch_.begin(), 0, scratch_.size() * sizeof(capnp::word));
}

std::string_view RecordEncoder::encode(uint32_t version, capnp::MessageBuilder& message) {
  auto segments = message.getSegmentsForOutput();
  size_t words = capnp::computeSerializedSizeInWords(segments);
  buffer_.resize(kRecordHeaderSize + words * sizeof(capnp::word));
  auto* out = reinterpret_cast<kj::byte*>(buffer_.data());
  out[0] = kRecordTag;
  out[1] = kRecordRevision;
  out[2] = out[3] = 0;
  for (int i = 0; i < 4; ++i) out[4 + i] = static_cast<kj::byte>(version >> (8 * i));
  kj::ArrayOutputStream stream(kj::arrayPtr(out + kRecordHeaderSize, words * sizeof(capnp::word)));
  capnp::writeMessage(stream, segments);
  return buffer_;
}

std::string_view RecordEncoder::encode(uint32_t version, capnp::DynamicStruct::Reader record) {
  // The builder zeroes the part of the scratch segment it used when it is destroyed, so the
  // scratch can serve the next record.
  capnp::MallocMessageBuilder message(scratch_);
  message.setRoot(record);
  return encode(version, message);
}

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
  for (unsigned i = 0; i < srcPointers.size(); ++i) dstPointers[i].set(srcPointers[i]);
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
  if (bytes.size() < kRecordHeaderSize + sizeof(capnp::word)) {
    corrupt(table, key, fmt::format("value of {} bytes is too short for a record", bytes.size()));
  }
  auto* b = reinterpret_cast<const uint8_t*>(bytes.data());
  if (b[0] != kRecordTag || b[1] != kRecordRevision) {
    corrupt(table, key,
            fmt::format("unknown record format (tag 0x{:02x}, revision {})", b[0], b[1]));
  }
  uint32_t version = 0;
  for (int i = 0; i < 4; ++i) version |= static_cast<uint32_t>(b[4 + i]) << (8 * i);
  std::string_view body = bytes.substr(kRecordHeaderSize);
  if (body.size() % sizeof(capnp::word) != 0) {
    corrupt(table, key, fmt::format("message of {} bytes is not whole words", body.size()));
  }
  const capnp::word* words = reinterpret_cast<const capnp::word*>(body.data());
  size_t count = body.size() / sizeof(capnp::word);
  copied_ = copyAlways_ || reinterpret_cast<uintptr_t>(body.data()) % alignof(capnp::word) != 0;
  if (copied_) {
    if (buffer_.size() < count) {
      buffer_ = kj::heapArray<capnp::word>(std::max(count, 2 * buffer_.size()));
    }
    std::memcpy(buffer_.begin(), body.data(), body.size());
    words = buffer_.begin();
  }
  try {
    capnp::ReaderOptions options = options_;
    options.traversalLimitInWords = recordTraversalLimit(options_.traversalLimitInWords, count);
    reader_.emplace(kj::arrayPtr(words, count), options);
    if (reader_->getEnd() != words + count) {
      corrupt(table, key, "bytes follow the message");
    }
    if (checkRoot) (void)reader_->getRoot<capnp::AnyPointer>().getPointerType();  // in bounds
  } catch (const kj::Exception& e) {
    reader_.reset();
    corrupt(table, key, e.getDescription().cStr());
  }
  version_ = version;
  return version;
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
