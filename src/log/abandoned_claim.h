// Claims whose pair was never written: how far they reach and how they are voided (layout 5).
//
// A claim moves the tail {p, s} -> {p + frame, s + 1} (or {lap end, s} for padding) and writes the
// frame's pair only at commit. A claimer that dies in between leaves bytes with no length, but the
// next element of the chain of tail values bounds them: the first pair after p of this lap that is
// a record with a later seq s' (its claim started where ours ended), else the tail itself, else
// the end of the lap. Between p and that boundary q lie exactly k = s' - s claims that took a seq
// (a padding claim takes none and only ever ends at the lap end). They are voided as k voided
// paddings (one seq each; where the original frames began does not matter, since nobody reads a
// voided body), or as one plain padding when k = 0. With k > 1 every 16-byte pair inside is first
// set to poison_pair(), so that a stalled claimer among them can no longer commit into the padding.
// Voids are written last to first: a reader or flusher that sees the first one sees them all.
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
  uint64_t position = 0;  // p
  uint64_t end = 0;       // q: where the next claim begins
  uint64_t seq = 0;       // s: the seq the tail had at p
  uint64_t seqs = 0;      // k: claims that took a seq in [p, q)
  uint64_t boundary_seq = 0;  // s + k
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
  __extension__ typedef unsigned __int128 U128;
  const U128 want = static_cast<U128>(expected.seq) << 64 | expected.word.encode();
  const U128 seen = __sync_val_compare_and_swap(reinterpret_cast<U128*>(at), want,
                                                static_cast<U128>(desired.seq) << 64 | desired.word.encode());
  if (seen == want) return true;
  expected = {CommitWord::decode(static_cast<uint64_t>(seen)), static_cast<uint64_t>(seen >> 64)};
  return false;
}
inline bool same(ClaimPair a, ClaimPair b) noexcept { return a.word.encode() == b.word.encode() && a.seq == b.seq; }
// A pair that may begin a frame of this lap: committed DATA or PADDING of a sane length.
inline bool plausible_frame(ClaimPair p, uint16_t epoch, uint64_t room) noexcept {
  if (!p.word.claimed_in(epoch) || p.word.len <= 0) return false;
  if (p.word.type != kTypeData && p.word.type != kTypePadding) return false;
  const uint64_t frame = p.word.frame_bytes();
  return frame != 0 && frame <= room;
}
}  // namespace detail

// Where the claims at `position` (whose seq is `seq`, or kUnknownSeq: then only `end` and
// `boundary_seq` are found) end: reads the tail, then pairs of this lap after `position` (the rest
// of a lap or segment is contiguous in memory).
template <class Storage>
SHMBUS_SCANS_FRAMES_BEING_FILLED AbandonedSpan find_abandoned_span(const Storage& log, const Tail& tail, uint64_t position, uint64_t seq) noexcept {
  AbandonedSpan span;
  span.position = position;
  span.seq = seq;
  const TailValue t = read_tail_fast(tail);
  const std::byte* at = log.frame(position);
  if (t.position <= position || at == nullptr) return span;  // kNotClaimed
  const uint64_t lap_end = position + log.room(position);
  const uint16_t epoch = log.epoch(position);
  const uint64_t limit = std::min(t.position, lap_end);
  span.kind = AbandonedSpan::Kind::kFound;
  span.end = 0;
  // The smallest DATA record is 32 bytes; padding inside a lap is only a void, at least 16.
  for (uint64_t q = position + kRecordAlign; q < limit; q += kRecordAlign) {
    const ClaimPair pair = detail::scan_pair(at + (q - position));
    if (!detail::plausible_frame(pair, epoch, lap_end - q) || pair.seq > t.seq) continue;
    if (seq != kUnknownSeq && pair.seq <= seq) continue;
    span.end = q;
    span.boundary_seq = pair.seq;
    break;
  }
  if (span.end == 0) {
    if (t.position <= lap_end) {
      span.end = t.position;  // the tail itself is the next element of the chain
      span.boundary_seq = t.seq;
    } else {
      // The tail is in a later lap: the boundary is the lap end, whose seq the next lap's first
      // record tells (once it is written).
      const std::byte* next = log.frame(lap_end);
      if (next == nullptr) return span.kind = AbandonedSpan::Kind::kUnknown, span;
      const ClaimPair first = detail::scan_pair(next);
      if (!detail::plausible_frame(first, log.epoch(lap_end), log.room(lap_end)) || first.seq > t.seq ||
          (seq != kUnknownSeq && first.seq < seq)) {
        span.kind = AbandonedSpan::Kind::kUnknown;
        return span;
      }
      span.end = lap_end;
      span.boundary_seq = first.seq;
    }
  }
  if (seq == kUnknownSeq) return span;  // a reader that does not know s only learns where q is
  if (span.boundary_seq < seq) {
    span.kind = AbandonedSpan::Kind::kCorrupt;
    return span;
  }
  span.seqs = span.boundary_seq - seq;
  const uint64_t bytes = span.end - position;
  // k claims of 32+ bytes; k = 0 only for padding claimed to the lap end.
  if (span.seqs > bytes / kHeaderBytes || (span.seqs == 0 && span.end != lap_end)) span.kind = AbandonedSpan::Kind::kCorrupt;
  return span;
}

// The pairs that void `seqs` claims in `bytes` bytes at seq `seq`, last frame first (see the top
// of this file): k - 1 voided paddings of 16 bytes, then one that takes the rest; one plain
// padding when k = 0. `write(offset, pair)` returns false to stop.
template <class Write>
bool for_each_void_frame(uint64_t bytes, uint64_t seq, uint64_t seqs, uint16_t epoch, Write&& write) {
  const uint64_t frames = std::max<uint64_t>(seqs, 1);
  for (uint64_t i = frames; i-- > 0;) {
    const uint64_t off = i * kRecordAlign;
    const uint64_t frame = i + 1 == frames ? bytes - off : kRecordAlign;
    if (!write(off, voided_pair(frame, epoch, seq + i, seqs != 0))) return false;
  }
  return true;
}

// Voids `span` (kind kFound) in `bytes`, the writable mapping of [span.position, span.end).
// Returns false if a record was committed inside it meanwhile (nothing voided: read again).
// Several unblockers may run this at once on the same span: they write the same pairs.
SHMBUS_SCANS_FRAMES_BEING_FILLED inline bool void_span(std::byte* bytes, const AbandonedSpan& span, uint16_t epoch) noexcept {
  const uint64_t total = span.end - span.position;
  auto is_record_of_this_lap = [&](ClaimPair p) { return p.word.claimed_in(epoch) && p.word.len > 0; };
  const ClaimPair poison = poison_pair(epoch);
  if (span.seqs > 1) {
    for (uint64_t off = kRecordAlign; off < total; off += kRecordAlign) {
      ClaimPair seen = detail::scan_pair(bytes + off);
      for (;;) {
        if (detail::same(seen, poison)) break;
        // Committed (or another unblocker's void, which is as good): read again instead.
        if (is_record_of_this_lap(seen) && seen.seq > span.seq) return false;
        if (detail::scan_cas_pair(bytes + off, seen, poison)) break;
      }
    }
  }
  return for_each_void_frame(total, span.seq, span.seqs, epoch, [&](uint64_t off, ClaimPair want) {
    ClaimPair seen = detail::scan_pair(bytes + off);
    for (;;) {
      if (detail::same(seen, want)) return true;  // another unblocker was first
      // At p: committed after all, or voided by another unblocker that saw other bounds.
      if (off == 0 && is_record_of_this_lap(seen) && seen.seq == span.seq) return false;
      if (detail::scan_cas_pair(bytes + off, seen, want)) return true;
    }
  });
}

}  // namespace shmbus::log
