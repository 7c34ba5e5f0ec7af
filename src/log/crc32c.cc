#include "log/crc32c.h"

#include <isa-l/crc.h>

#include <array>
#include <cstring>

#if defined(__x86_64__)
#include <nmmintrin.h>
#endif

namespace shmbus::log {
namespace {

constexpr uint32_t kPolynomial = 0x82F63B78;  // Castagnoli, reflected

constexpr std::array<uint32_t, 256> make_table() {
  std::array<uint32_t, 256> table{};
  for (uint32_t i = 0; i < 256; ++i) {
    uint32_t c = i;
    for (int k = 0; k < 8; ++k) c = (c >> 1) ^ ((c & 1) ? kPolynomial : 0);
    table[i] = c;
  }
  return table;
}
constexpr std::array<uint32_t, 256> kTable = make_table();

// Below this, one stream of crc32 instructions beats ISA-L's setup (measured: 8 ns against 20
// for an 80-byte record; ISA-L wins from ~200 bytes on, 28 ns against 93 for 1 KiB).
constexpr size_t kShortBytes = 256;

#if defined(__x86_64__)
__attribute__((target("sse4.2"))) uint32_t crc32c_short(std::span<const std::byte> bytes, uint32_t crc) noexcept {
  uint64_t c = ~crc;
  const std::byte* p = bytes.data();
  size_t n = bytes.size();
  for (; n >= 8; p += 8, n -= 8) {
    uint64_t word;
    std::memcpy(&word, p, 8);
    c = _mm_crc32_u64(c, word);
  }
  uint32_t c32 = static_cast<uint32_t>(c);
  for (; n > 0; ++p, --n) c32 = _mm_crc32_u8(c32, static_cast<uint8_t>(*p));
  return ~c32;
}

bool cpu_has_sse42() noexcept {
  static const bool has = __builtin_cpu_supports("sse4.2");
  return has;
}
#endif

}  // namespace

uint32_t crc32c_portable(std::span<const std::byte> bytes, uint32_t crc) noexcept {
  uint32_t c = ~crc;
  for (std::byte b : bytes) c = kTable[(c ^ static_cast<uint8_t>(b)) & 0xff] ^ (c >> 8);
  return ~c;
}

uint32_t crc32c(std::span<const std::byte> bytes, uint32_t crc) noexcept {
#if defined(__x86_64__)
  if (bytes.size() < kShortBytes && cpu_has_sse42()) return crc32c_short(bytes, crc);
#endif
  // ISA-L takes the CRC register as it is (not inverted) and an int length; it only reads.
  auto* p = reinterpret_cast<unsigned char*>(const_cast<std::byte*>(bytes.data()));
  uint32_t c = ~crc;
  constexpr size_t kMaxChunk = size_t{1} << 30;
  for (size_t left = bytes.size(); left > 0;) {
    const size_t n = left < kMaxChunk ? left : kMaxChunk;
    c = crc32_iscsi(p, static_cast<int>(n), c);
    p += n;
    left -= n;
  }
  return ~c;
}

}  // namespace shmbus::log
