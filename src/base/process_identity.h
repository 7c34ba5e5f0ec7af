// Who owns a slot: a token that survives pid reuse, and a liveness check for it.
#pragma once

#include <cstdint>
#include <string>

namespace shmbus::base {

// pid | (process start time in clock ticks since boot, low 32 bits) << 32. Never 0.
uint64_t self_token() noexcept;
inline uint32_t token_pid(uint64_t token) noexcept { return static_cast<uint32_t>(token); }

// False only when the owner is certainly gone: no such pid, or the pid now belongs to a process
// that started at another time. A process we may not signal (another user) counts as alive.
bool owner_alive(uint64_t token) noexcept;

// A suffix for temporary file names that no other thread or process uses at the same time
// ("PID.TID"): creators racing in one process must not share a temporary file.
std::string unique_suffix();

// CLOCK_MONOTONIC and CLOCK_REALTIME in nanoseconds (vDSO: no syscall).
int64_t monotonic_ns() noexcept;
int64_t realtime_ns() noexcept;
// CLOCK_MONOTONIC_COARSE: a few ns (no TSC read), a few ms behind; for heartbeats on hot paths,
// which are judged against timeouts of seconds.
int64_t coarse_monotonic_ns() noexcept;
// CLOCK_REALTIME_COARSE: the same for wall-clock deadlines (queue leases and due times: a few ms
// late at worst, never early, since the coarse clock lags).
int64_t coarse_realtime_ns() noexcept;

// The CPU's spin-wait hint (~20 ns on current x86).
inline void cpu_relax() noexcept {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#endif
}

}  // namespace shmbus::base
