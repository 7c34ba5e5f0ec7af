// One 16-byte compare-and-swap (x86-64 cmpxchg16b, a full barrier: seq_cst), the one primitive
// behind the tail's {position, seq} and the frame's claim pair {commit word, seq}.
#pragma once

#include <cstdint>

namespace shmbus::base {

__extension__ typedef unsigned __int128 U128;  // the width of one cmpxchg16b

inline constexpr U128 pack128(uint64_t low, uint64_t high) noexcept { return static_cast<U128>(high) << 64 | low; }
inline constexpr uint64_t low64(U128 v) noexcept { return static_cast<uint64_t>(v); }
inline constexpr uint64_t high64(U128 v) noexcept { return static_cast<uint64_t>(v >> 64); }

// Replaces the 16 bytes at `at` (16-byte aligned) with `desired` if they equal `expected`; on
// failure `expected` receives what was there. Always inlined, so a caller's no_sanitize
// attribute (the dead-claim scan, log/abandoned_claim.h) covers the instruction too.
[[gnu::always_inline]] inline bool cas16(void* at, U128& expected, U128 desired) noexcept {
  const U128 seen = __sync_val_compare_and_swap(static_cast<U128*>(at), expected, desired);
  if (seen == expected) return true;
  expected = seen;
  return false;
}

}  // namespace shmbus::base
