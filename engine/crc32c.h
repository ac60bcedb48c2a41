// CRC32C (the Castagnoli polynomial, as in iSCSI, ext4 and LevelDB's block trailers): the checksum
// every stored record carries (docs/format.md). Computed with the CPU's CRC32 instruction where
// there is one (SSE 4.2 on x86-64, checked once at run time) and a table otherwise; both give the
// same value.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace capdb::engine {

// The CRC32C of `size` bytes at `data`, continuing from `crc` (the CRC32C of the bytes before
// them; 0 for none): crc32c(crc32c(0, a), b) == crc32c(0, a + b).
uint32_t crc32c(uint32_t crc, const void* data, size_t size);

inline uint32_t crc32c(std::string_view bytes) { return crc32c(0, bytes.data(), bytes.size()); }

// Whether crc32c uses the CPU's instruction.
bool crc32cIsHardware();

// The table version alone, for tests that compare it with the instruction.
uint32_t crc32cPortable(uint32_t crc, const void* data, size_t size);

}  // namespace capdb::engine
