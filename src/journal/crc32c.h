// CRC32C (Castagnoli), the checksum of journal records: SSE4.2's crc32 instruction where the CPU
// has it (~0.1 ns/byte), a table otherwise. Same results either way (tests/journal/crc32c_test.cc).
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

namespace shmbus::journal {

// Continues a CRC: pass the previous result as `crc` (0 to start). Not finalized/inverted
// twice: crc32c(b, crc32c(a)) == crc32c(a ++ b).
uint32_t crc32c(std::span<const std::byte> bytes, uint32_t crc = 0) noexcept;

// The portable implementation, exposed so tests can compare it with the hardware one.
uint32_t crc32c_portable(std::span<const std::byte> bytes, uint32_t crc = 0) noexcept;

// True if crc32c() uses the CPU instruction.
bool crc32c_is_hardware() noexcept;

}  // namespace shmbus::journal
