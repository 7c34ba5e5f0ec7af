// An asymmetric Dekker fence: the fast side (a single publisher, after every record) pays a
// compiler barrier, the slow side (a subscriber about to sleep) pays a system call that makes
// every CPU running a registered process execute a full barrier (membarrier(2),
// MEMBARRIER_CMD_GLOBAL_EXPEDITED), which is what the fast side's missing fence would have done.
//
// Why it is enough, in the numbered steps of base/futex.h: the publisher's 1 (store the record)
// and 2 (load sleepers) may be reordered by its CPU's store buffer. The sleeper does a
// (sleepers += 1), then heavy_fence(), then b (re-check). If 2 ran after the barrier the
// membarrier forced on the publisher's CPU, it sees a; if before, 1 came before that barrier too
// and is visible to b. Either way one of them sees the other.
#pragma once

namespace shmbus::base {

// Fast side, once per process (setup path): true if this process's CPUs now take part in
// heavy_fence(), so light_fence() is enough. False (old kernel, seccomp): use a full fence.
bool register_for_heavy_fence() noexcept;

// Fast side: orders nothing on the CPU, only the compiler; valid after register_for_heavy_fence().
inline void light_fence() noexcept { asm volatile("" ::: "memory"); }

// Slow side: a full barrier on every CPU that runs a registered process (microseconds).
// Falls back to nothing when the kernel has no membarrier: then no process could register, and
// every fast side uses a full fence of its own.
void heavy_fence() noexcept;

}  // namespace shmbus::base
