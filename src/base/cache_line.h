// Padding constants for shared-memory layouts: fixed numbers, never the compiler-dependent
// std::hardware_destructive_interference_size.
#pragma once

#include <cstddef>

namespace shmbus::base {

inline constexpr size_t kCacheLine = 64;
inline constexpr size_t kHotPad = 128;  // two lines: keeps the adjacent-line prefetcher off hot words

}  // namespace shmbus::base
