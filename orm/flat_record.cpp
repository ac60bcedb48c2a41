#include "orm/flat_record.h"

#include <bit>
#include <algorithm>
#include <cstring>
#include <optional>

#include "orm/packing.h"
#include "orm/record_codec.h"

namespace capdb::orm {
namespace {

static_assert(std::endian::native == std::endian::little,
              "records are read in place as Cap'n Proto lays them out: little-endian");

// A pointer's target: `position` + 1 + its signed 30-bit offset, in words; false when it would
// fall before the segment.
bool target(uint64_t position, uint64_t pointer, uint64_t& out) {
  int64_t offset = static_cast<int32_t>(static_cast<uint32_t>(pointer)) >> 2;
  int64_t at = static_cast<int64_t>(position) + 1 + offset;
  if (at < 0) return false;
  out = static_cast<uint64_t>(at);
  return true;
}

}  // namespace

uint64_t FlatRecord::word(uint64_t position) const {
  uint64_t v;
  std::memcpy(&v, segment_ + position * 8, sizeof v);
  return v;
}

bool FlatRecord::reset(std::string_view value) {
  if (!parse(value)) {
    segment_ = nullptr;
    words_ = 0;
    root_ = Struct{};
    version_ = 0;
    return false;
  }
  return true;
}

bool FlatRecord::parse(std::string_view value) {
  RecordHeader header;
  if (!tryReadRecordHeader(value, header)) return false;
  version_ = header.version;
  if (header.packed) {
    std::optional<size_t> count = unpack(header.body, buffer_);
    if (!count || *count == 0) return false;
    segment_ = reinterpret_cast<const kj::byte*>(buffer_.begin());
    words_ = *count;
  } else {
    // Read where it lies: every read below copies what it reads, so alignment does not matter.
    if (header.body.empty()) return false;
    segment_ = reinterpret_cast<const kj::byte*>(header.body.data());
    words_ = header.body.size() / 8;
  }
  switch (structAt(0, root_)) {
    case Read::Value: return true;
    case Read::Null:
      root_ = Struct{};  // a null root reads as the struct's defaults
      return true;
    case Read::Unsure: return false;
  }
  return false;
}

FlatRecord::Read FlatRecord::structAt(uint64_t position, Struct& out) const {
  uint64_t p = word(position);
  if (p == 0) return Read::Null;
  if ((p & 3) != 0 || !target(position, p, out.data)) return Read::Unsure;
  out.dataWords = static_cast<uint32_t>((p >> 32) & 0xffff);
  out.pointers = static_cast<uint32_t>(p >> 48);
  return out.data + out.dataWords + out.pointers <= words_ ? Read::Value : Read::Unsure;
}

FlatRecord::Read FlatRecord::leafStruct(const FieldPath& path, Struct& out) const {
  if (!path.direct) return Read::Unsure;
  Struct s = root_;
  for (uint32_t index : path.pointerSteps) {
    if (index >= s.pointers) return Read::Null;  // a field newer than the struct's layout
    Read r = structAt(s.data + s.dataWords + index, s);
    if (r != Read::Value) return r;
  }
  out = s;
  return Read::Value;
}

FlatRecord::Read FlatRecord::blob(const Struct& s, uint32_t index, bool text,
                                  std::string_view& out) const {
  if (index >= s.pointers) return Read::Null;
  uint64_t at = s.data + s.dataWords + index;
  uint64_t p = word(at);
  if (p == 0) return Read::Null;
  constexpr uint64_t kByteElements = 2;
  uint64_t start = 0;
  if ((p & 3) != 1 || ((p >> 32) & 7) != kByteElements || !target(at, p, start)) return Read::Unsure;
  uint64_t count = p >> 35;
  if (start + (count + 7) / 8 > words_) return Read::Unsure;
  auto* bytes = reinterpret_cast<const char*>(segment_ + start * 8);
  if (text) {
    // Text ends with a NUL that is not part of it.
    if (count == 0 || bytes[count - 1] != '\0') return Read::Unsure;
    --count;
  }
  out = std::string_view(bytes, count);
  return Read::Value;
}

}  // namespace capdb::orm
