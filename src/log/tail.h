// The tail of a log: the position of the next frame to claim and the seq of the next DATA record,
// changed together by one 16-byte compare-and-swap so that every record's seq is exact.
// Protocol spec: docs/format.md section 3.2 and 5.
#pragma once

#include <atomic>
#include <cstdint>

#include "base/cas16.h"
#include "base/store16.h"

namespace shmbus::log {

// Positions are 64-bit byte offsets that never wrap (at 10 GB/s: 58 years), so a position is
// never reused and comparing positions has no ABA problem. Every tail change moves `position`
// forward, so two loads that return the same position saw the same tail.
struct alignas(16) Tail {
  std::atomic<uint64_t> position;
  std::atomic<uint64_t> seq;
};
static_assert(sizeof(Tail) == 16);
static_assert(std::atomic<uint64_t>::is_always_lock_free);

struct TailValue {
  uint64_t position;
  uint64_t seq;
  bool operator==(const TailValue&) const = default;
};

namespace detail {
inline base::U128 pack(TailValue v) noexcept { return base::pack128(v.position, v.seq); }
inline TailValue unpack(base::U128 raw) noexcept { return {base::low64(raw), base::high64(raw)}; }
}  // namespace detail

// One 16-byte CAS (cmpxchg16b: a full barrier, i.e. seq_cst). On failure `expected` receives
// the tail as it was. SYNC: tail (advance) — pairs with the acquire loads in read_tail_fast().
inline bool cas_tail(Tail& tail, TailValue& expected, TailValue desired) noexcept {
  base::U128 seen = detail::pack(expected);
  if (base::cas16(&tail, seen, detail::pack(desired))) return true;
  expected = detail::unpack(seen);
  return false;
}

// The tail moved by its only writer (a single-publisher topic): one 16-byte release store, no
// locked instruction; readers see it whole (base/store16.h). SYNC: tail (advance) — pairs with
// the acquire loads in read_tail_fast() and the CAS of read_tail_exact().
inline void store_tail(Tail& tail, TailValue value) noexcept { base::store16(&tail, detail::pack(value)); }

// Exact snapshot of both halves (a CAS that changes nothing). Costs a locked instruction: for
// slow paths (a lapped subscriber, stats).
inline TailValue read_tail_exact(Tail& tail) noexcept {
  base::U128 seen = 0;
  base::cas16(&tail, seen, 0);
  return detail::unpack(seen);
}

// A consistent snapshot without a locked instruction: position, seq, position again. Every tail
// change moves the position forward, so if both position reads agree, no change came between
// and the seq belongs to that position. SYNC: tail (read) — acquire pairs with cas_tail().
inline TailValue read_tail_fast(const Tail& tail) noexcept {
  for (;;) {
    const uint64_t position = tail.position.load(std::memory_order_acquire);
    const uint64_t seq = tail.seq.load(std::memory_order_acquire);
    if (tail.position.load(std::memory_order_acquire) == position) return {position, seq};
  }
}

}  // namespace shmbus::log
