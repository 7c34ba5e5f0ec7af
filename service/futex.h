// Sleeping on a 32-bit atomic until another thread changes it, with a bound (std::atomic::wait
// has none): how a Client's waiting requester sleeps until its reply is there.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>

namespace shmbus::service::detail {

// Sleeps while `word` holds `expected`, at most `timeout` (and may return early, spuriously).
void futex_wait(std::atomic<uint32_t>& word, uint32_t expected, std::chrono::nanoseconds timeout) noexcept;
// Wakes the threads sleeping on `word`.
void futex_wake_all(std::atomic<uint32_t>& word) noexcept;

}  // namespace shmbus::service::detail
