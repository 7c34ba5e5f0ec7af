// The reference a user would write instead of shmbus: a single-producer single-consumer ring of
// fixed-size slots in shared memory, as rigtorp's SPSCQueue.h (each index on its own cache line,
// each side keeping a cached copy of the other's index so it reads the other's line only when
// its copy says full or empty). No headers, no timestamps, no subscribers table, no crash
// safety: what shmbus does beyond this is what the `shmbus bench` ratio against it prices.
//
//   0         64        128       192       256
//   +---------+---------+---------+---------+--------------------------- - -
//   | write_  | read_   | read_   | write_  | slots: kSlots x kSlotBytes
//   |         | cache_  |         | cache_  |
//   +---------+---------+---------+---------+--------------------------- - -
//    producer  producer  consumer  consumer   (who stores each line)
//
// Indices are 64-bit counts of slots ever pushed and popped; they never wrap (2^64 slots at
// 1e9 a second is 584 years), so `write - read` is the fill level without an ABA case.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstring>

namespace shmbus::bench {

constexpr size_t kCacheLine = 64;

template <size_t kSlotBytes, size_t kSlots>
class NaiveRing {
  static_assert(kSlots > 0 && (kSlots & (kSlots - 1)) == 0, "a power of two: the slot is index & (kSlots - 1)");
  static_assert(kSlotBytes % 8 == 0);

 public:
  // Producer only. Copies one message in; false if the ring is full.
  bool try_push(const std::byte* message) noexcept {
    // Relaxed: only this thread stores write_.
    const uint64_t write = write_.load(std::memory_order_relaxed);
    if (write - read_cache_ == kSlots) {
      // Acquire: pairs with the release in pop(); the consumer is done reading the slot we reuse.
      read_cache_ = read_.load(std::memory_order_acquire);
      if (write - read_cache_ == kSlots) return false;
    }
    std::memcpy(slots_[write & (kSlots - 1)], message, kSlotBytes);
    // Release: publishes the slot's bytes; pairs with the acquire in front().
    write_.store(write + 1, std::memory_order_release);
    return true;
  }

  // Consumer only. The oldest message, or nullptr if the ring is empty; valid until pop().
  const std::byte* front() noexcept {
    // Relaxed: only this thread stores read_.
    const uint64_t read = read_.load(std::memory_order_relaxed);
    if (read == write_cache_) {
      // Acquire: pairs with the release in try_push(); the slot's bytes are then visible.
      write_cache_ = write_.load(std::memory_order_acquire);
      if (read == write_cache_) return nullptr;
    }
    return slots_[read & (kSlots - 1)];
  }

  // Consumer only. REQUIRES: front() returned a message.
  void pop() noexcept {
    const uint64_t read = read_.load(std::memory_order_relaxed);  // relaxed: only we store it
    // Release: our reads of the slot happen before the producer may overwrite it; pairs with
    // the acquire in try_push().
    read_.store(read + 1, std::memory_order_release);
  }

  // Touches every page (as shmbus prefaults its rings), so no measurement pays page faults.
  void prefault() noexcept { std::memset(slots_, 0, sizeof slots_); }

 private:
  alignas(kCacheLine) std::atomic<uint64_t> write_{0};
  alignas(kCacheLine) uint64_t read_cache_ = 0;  // the producer's copy of read_
  alignas(kCacheLine) std::atomic<uint64_t> read_{0};
  alignas(kCacheLine) uint64_t write_cache_ = 0;  // the consumer's copy of write_
  alignas(kCacheLine) std::byte slots_[kSlots][kSlotBytes];

  static_assert(std::atomic<uint64_t>::is_always_lock_free, "shared between processes: no hidden lock");
};

}  // namespace shmbus::bench
