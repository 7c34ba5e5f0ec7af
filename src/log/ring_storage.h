// A memory topic's log: one power-of-two ring, reused lap after lap. A journal's segment chain
// offers the same four calls, so claim/read/unblock code is shared (templates on Storage).
#pragma once

#include <bit>
#include <cstddef>
#include <cstdint>

namespace shmbus::log {

class RingStorage {
 public:
  RingStorage() = default;
  // REQUIRES: capacity is a power of two; data points at `capacity` mapped bytes.
  RingStorage(std::byte* data, uint64_t capacity) noexcept
      : data_(data), mask_(capacity - 1), shift_(static_cast<uint32_t>(std::countr_zero(capacity))) {}

  std::byte* frame(uint64_t position) const noexcept { return data_ + (position & mask_); }
  // Bytes from `position` to the end of its lap: a frame never straddles that end.
  uint64_t room(uint64_t position) const noexcept { return mask_ + 1 - (position & mask_); }
  // Low 16 bits of the lap number: tells this lap's commit words from left-overs of older laps.
  uint16_t epoch(uint64_t position) const noexcept { return static_cast<uint16_t>(position >> shift_); }
  uint64_t lap_bytes() const noexcept { return mask_ + 1; }
  // First position of the lap that holds `position` (always a frame start: nothing straddles).
  uint64_t lap_start(uint64_t position) const noexcept { return position & ~mask_; }

 private:
  std::byte* data_ = nullptr;
  uint64_t mask_ = 0;
  uint32_t shift_ = 0;
};

}  // namespace shmbus::log
