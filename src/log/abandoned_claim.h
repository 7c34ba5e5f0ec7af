// Claims whose pair was never written: how far they reach and how they are voided (layout 5).
//
// A claim moves the tail {p, s} -> {p + frame, s + 1} (or {lap end, s} for padding) and writes the
// frame's pair only at commit. A claimer that dies in between leaves bytes with no length, but the
// next element of the chain of tail values bounds them: the first pair after p of this lap that is
// a record with a later seq s' (its claim started where ours ended), else the tail itself, else
// the next lap's first record (or, if that claimer died too, the next one of that lap, or the
// tail). Between p and that boundary q lie exactly k = s' - s claims that took a seq (a padding
// claim takes none and only ever ends at a lap end). They are voided as k voided paddings (one
// seq each; where the original frames began does not matter, since nobody reads a voided body),
// or as one plain padding when k = 0. With k > 1 (or two laps) the pair at p is poisoned first,
// then every 16-byte pair inside, so that no stalled claimer among them can commit into the void
// (a commit that finds poison gives up); the voids are then written last to first, p's last: a
// reader or flusher that sees the first one sees them all.
// Protocol spec: docs/format.md section 7.2 and 11.3-11.4.
#pragma once

#include <algorithm>
#include <cstdint>

#include "log/claim.h"
#include "log/read.h"
#include "log/record_format.h"
#include "log/tail.h"

// The bound and the void read and CAS 16-byte pairs inside frames that may be being filled by
// plain stores of a live claimer (that is what they look for), atomically on our side: a race
// by design, which ThreadSanitizer would report. It checks everything else.
#if defined(__SANITIZE_THREAD__)
#define SHMBUS_SCANS_FRAMES_BEING_FILLED __attribute__((no_sanitize("thread")))
#else
#define SHMBUS_SCANS_FRAMES_BEING_FILLED
#endif

namespace shmbus::log {

struct AbandonedSpan {
  enum class Kind : uint8_t {
    kNotClaimed,  // the tail has not passed the position: nothing to void
    kUnknown,     // the boundary is not written yet (a claim after it is still being filled)
    kFound,
    kCorrupt,     // the boundary contradicts the seqs: garbage in the log
  };
  Kind kind = Kind::kNotClaimed;
  uint64_t position = 0;      // p
  uint64_t end = 0;           // q: where the next claim begins
  uint64_t seq = 0;           // s: the seq the tail had at p
  uint64_t seqs = 0;          // k: claims (seqs) in [p, q)
  uint64_t boundary_seq = 0;  // s + k
  uint64_t lap_end = 0;       // end of p's lap; the span crosses it when the next lap's first
                              // claim died too

  uint32_t part_count() const noexcept { return end > lap_end ? 2 : 1; }
  // The span as voided, one part per lap. How a crossing span's claims split between the laps is
  // not known and does not matter (nobody commits into a void): the next lap's part takes as many
  // 16-byte voids as fit (at least its first claim), p's lap the rest.
  VoidPart part(uint32_t i) const noexcept {
    if (end <= lap_end) return {position, end, seq, seqs};
    const uint64_t next_seqs = std::min(seqs, (end - lap_end) / kRecordAlign);
    if (i == 0) return {position, lap_end, seq, seqs - next_seqs};
    return {lap_end, end, seq + seqs - next_seqs, next_seqs};
  }
};

namespace detail {
// load_pair() and cas_pair() for the scan and the void, as builtins expanded right here, so that
// SHMBUS_SCANS_FRAMES_BEING_FILLED covers them in every build type.
SHMBUS_SCANS_FRAMES_BEING_FILLED inline ClaimPair scan_pair(const std::byte* at) noexcept {
  const auto* words = reinterpret_cast<const uint64_t*>(at);
  // SYNC: claim-pair (read) — acquire pairs with the commit's and the void's pair CAS.
  const uint64_t word = __atomic_load_n(words, __ATOMIC_ACQUIRE);
  return {CommitWord::decode(word), __atomic_load_n(words + 1, __ATOMIC_ACQUIRE)};
}
SHMBUS_SCANS_FRAMES_BEING_FILLED inline bool scan_cas_pair(std::byte* at, ClaimPair& expected, ClaimPair desired) noexcept {
  base::U128 seen = base::pack128(expected.word.encode(), expected.seq);
  if (base::cas16(at, seen, base::pack128(desired.word.encode(), desired.seq))) return true;
  expected = {CommitWord::decode(base::low64(seen)), base::high64(seen)};
  return false;
}
}  // namespace detail

// Where the claims at `position` (whose seq is `seq`, or kUnknownSeq: then only `end` and
// `boundary_seq` are found) end: reads the tail, then pairs after `position` (the rest of a lap or
// segment is contiguous in memory).
template <class Storage>
SHMBUS_SCANS_FRAMES_BEING_FILLED AbandonedSpan find_abandoned_span(const Storage& log, const Tail& tail, uint64_t position, uint64_t seq) noexcept {
  AbandonedSpan span;
  span.position = position;
  span.seq = seq;
  const TailValue t = read_tail_fast(tail);
  const std::byte* at = log.frame(position);
  if (t.position <= position || at == nullptr) return span;  // kNotClaimed
  span.lap_end = position + log.room(position);
  span.kind = AbandonedSpan::Kind::kFound;
  BoundarySearch search{.origin = position, .seq = seq, .any_seq = seq == kUnknownSeq, .max_seq = t.seq, .epoch = 0,
                        .misfit = Misfit::kIsBoundary};
  // The first record of a lap after `from` that continues the seqs: that claim began where the
  // ones before it ended, else the tail if it is in this lap. The smallest DATA record is 32
  // bytes, a void 16.
  auto bound_in_lap = [&](const std::byte* bytes, uint64_t from, uint64_t start, bool may_repeat_seq) {
    const uint64_t lap_end = from + log.room(from);
    search.epoch = log.epoch(from);
    auto read = [&](uint64_t q) { return detail::scan_pair(bytes + (q - from)); };
    if (const auto b = first_continuing_record(read, start, std::min(t.position, lap_end), lap_end, may_repeat_seq, search)) {
      span.end = b->position;
      span.boundary_seq = b->seq;
      return true;
    }
    if (t.position > lap_end) return false;
    span.end = t.position;  // the tail itself is the next element of the chain
    span.boundary_seq = t.seq;
    return true;
  };
  if (!bound_in_lap(at, position, position + kRecordAlign, false)) {
    // The tail is in a later lap: the boundary is the next lap's first record, or a later one of
    // that lap if the claimer of its first frame died too.
    const std::byte* next = log.frame(span.lap_end);
    if (next == nullptr || !bound_in_lap(next, span.lap_end, span.lap_end, true)) {
      span.kind = AbandonedSpan::Kind::kUnknown;
      return span;
    }
  }
  if (seq == kUnknownSeq) return span;  // a reader that does not know s only learns where q is
  if (span.boundary_seq < seq) {
    span.kind = AbandonedSpan::Kind::kCorrupt;
    return span;
  }
  span.seqs = span.boundary_seq - seq;
  // k claims of 32+ bytes; k = 0 only for padding claimed to the lap end.
  const bool crosses = span.end > span.lap_end;
  if (!claims_fit(span.seqs, span.end - position) || (span.seqs == 0 && span.end != span.lap_end) ||
      (crosses && span.seqs == 0)) {
    span.kind = AbandonedSpan::Kind::kCorrupt;
  }
  return span;
}

namespace detail {
inline bool record_of_lap(ClaimPair p, uint16_t epoch) noexcept { return p.word.claimed_in(epoch) && p.word.len > 0; }

enum class Put : uint8_t { kPut, kWasThere, kBlocked };
// Puts `want` at `at` by CAS, unless a record of the lap (committed, or another unblocker's void)
// with a seq of `stop_seq` or later is there, or the bytes belong to a newer lap (kBlocked).
// kWasThere: another unblocker put it first. `lapped()` reads the tail: true if a newer lap may
// have claimed `at` (the unblocker was descheduled between its bound and its void while the
// claimer committed and a ring went round: the CAS would overwrite that lap's record). Asked
// after each look at the pair: a newer lap's pair we saw was claimed, so the tail we read after
// it shows the lap (acquire loads, in that order).
template <class Lapped>
SHMBUS_SCANS_FRAMES_BEING_FILLED Put put_pair(std::byte* at, ClaimPair want, uint16_t epoch, uint64_t stop_seq,
                                              Lapped&& lapped) noexcept {
  ClaimPair seen = scan_pair(at);
  for (;;) {
    if (seen == want) return Put::kWasThere;
    if (record_of_lap(seen, epoch) && seen.seq >= stop_seq) return Put::kBlocked;
    if (lapped()) return Put::kBlocked;
    if (scan_cas_pair(at, seen, want)) return Put::kPut;
  }
}
}  // namespace detail

enum class VoidResult : uint8_t {
  kVoided,         // our CAS at p made the void visible
  kVoidedByOther,  // another unblocker's, the same pairs
  kNotVoided,      // a record was committed inside it meanwhile, another unblocker saw other
                   // bounds, or a newer lap has claimed its bytes: read again
};

// Voids `span` (kind kFound). `bytes[i]` is the writable mapping of part i, `epochs[i]` its lap's
// epoch; `lapped(position)` is true if the tail shows a newer lap claimed at `position`
// (LogStorage::newer_lap_claimed; never, for a journal). Several unblockers may run this at once
// on the same span: they write the same pairs, and exactly one CAS at p succeeds.
//   k <= 1 in one lap: one CAS at p, from the leftovers to the void.
//   else: poison at p first (p's claimer can no longer commit, and readers still see nothing),
//   then every other pair of the span, then the voids from the last to p's.
template <class Lapped>
SHMBUS_SCANS_FRAMES_BEING_FILLED VoidResult void_span(const AbandonedSpan& span, std::byte* const* bytes,
                                                      const uint16_t* epochs, Lapped&& lapped) noexcept {
  const uint32_t parts = span.part_count();
  auto part_lapped = [&](uint32_t i) { return [&lapped, at = span.part(i).position] { return lapped(at); }; };
  auto poison = [&](uint32_t i, uint64_t off) {
    // A record of the span there: committed after all, or another unblocker's void.
    return detail::put_pair(bytes[i] + off, poison_pair(epochs[i]), epochs[i], span.seq, part_lapped(i)) !=
           detail::Put::kBlocked;
  };
  // p's void is written last: if it is there, another unblocker has voided the whole span (its
  // void would stop our poison pass at p as a record of the lap).
  const VoidPart first = span.part(0);
  if (detail::scan_pair(bytes[0]) == void_frame_pair(first.end - first.position, first.seq, first.seqs, epochs[0], 0)) {
    return VoidResult::kVoidedByOther;
  }
  if (parts > 1 || span.seqs > 1) {
    if (!poison(0, 0)) return VoidResult::kNotVoided;
    for (uint32_t i = 0; i < parts; ++i) {
      const VoidPart part = span.part(i);
      for (uint64_t off = i == 0 ? kRecordAlign : 0; off < part.end - part.position; off += kRecordAlign) {
        if (!poison(i, off)) return VoidResult::kNotVoided;
      }
    }
  }
  bool ours = false;
  for (uint32_t i = parts; i-- > 0;) {
    const VoidPart part = span.part(i);
    const bool written = for_each_void_frame(part.end - part.position, part.seq, part.seqs, epochs[i], [&](uint64_t off, ClaimPair want) {
      // Any record of the lap there (stop seq 0): committed after all, or other bounds.
      const detail::Put put = detail::put_pair(bytes[i] + off, want, epochs[i], 0, part_lapped(i));
      if (put == detail::Put::kPut && i == 0 && off == 0) ours = true;
      return put != detail::Put::kBlocked;
    });
    if (!written) return VoidResult::kNotVoided;
  }
  return ours ? VoidResult::kVoided : VoidResult::kVoidedByOther;
}

}  // namespace shmbus::log
