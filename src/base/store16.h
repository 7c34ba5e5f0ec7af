// One 16-byte store that readers see whole, for words with a single writer (the tail of a
// single-publisher topic): the writer needs no locked instruction, and a reader's 16-byte CAS or
// its position-seq-position loads (log/tail.h) never see half of it.
//
// On x86-64 an aligned 16-byte SSE store is atomic on every processor that enumerates AVX
// (Intel SDM vol. 3A 9.1.1; AMD APM vol. 2 7.3.2). Elsewhere, and under ThreadSanitizer (which
// cannot see an inline-assembly store), the store is a cmpxchg16b loop: correct, not fast.
#pragma once

#include <cstdint>

#include "base/cas16.h"

namespace shmbus::base {

// True if store16() is a plain store on this machine (set once, before main).
extern const bool kPlainStore16;

// Replaces the 16 bytes at `at` (16-byte aligned) with `value` as one release store.
// REQUIRES: the caller is the only writer of those bytes (a reader's CAS that changes nothing is
// fine).
[[gnu::always_inline]] inline void store16(void* at, U128 value) noexcept {
#if defined(__x86_64__) && !defined(__SANITIZE_THREAD__)
  if (kPlainStore16) {
    // Release: x86 keeps stores in order, so the "memory" clobber (the compiler's barrier) is all
    // that keeps earlier stores (a record's bytes) before this one.
    using V = long long __attribute__((vector_size(16)));
    const V v = {static_cast<long long>(low64(value)), static_cast<long long>(high64(value))};
    asm volatile("movdqa %1, %0" : "=m"(*static_cast<V*>(at)) : "x"(v) : "memory");
    return;
  }
#endif
  U128 seen = 0;  // the first CAS fails and tells us what is there
  while (!cas16(at, seen, value)) {
  }
}

}  // namespace shmbus::base
