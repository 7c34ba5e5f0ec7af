// The record format shared by every log kind (ring laps and journal segments).
// Why it is shaped like this, and every race it handles: docs/design.md.
// Protocol spec: docs/format.md section 3.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <type_traits>

#include "base/cache_line.h"
#include "base/cas16.h"

namespace shmbus::log {

// One record. Little-endian, 16-byte aligned, never straddles the end of a ring lap / segment.
//   0      4    5     6      8       16             24     28     32
//   +------+----+-----+------+-------+--------------+------+------+------- - -
//   | len  |type|flags|epoch |  seq  | timestamp_ns | crc  | hlen | headers, payload
//   +------+----+-----+------+-------+--------------+------+------+------- - -
// Bytes 0..7 are the COMMIT WORD, bytes 8..15 the SEQ; together the CLAIM PAIR, written once by
// one 16-byte CAS when the record is complete (commit) or given up (void), never changed after
// in this lap, and only accessed atomically (layout 5).
//   len == 0              never written (fresh zeroed storage; the poison inside a void)
//   len >  0              committed DATA, or PADDING (end of lap, or a voided claim)
//   len <  0              no writer leaves it: corrupt
// A frame counts as "written at position p" only if its word's epoch is p's epoch (position /
// lap size, low 16 bits) AND its seq is the seq the tail had at p. A ring is reused without
// zeroing, and a lap's frames start where the last lap had payload bytes, which can hold
// anything, even a word of the right epoch: the 64-bit seq is what tells leftovers from records.
//
// Publisher (claim.h): load tail {p, seq} -> CAS tail {p, seq} -> {p + frame, seq + 1} (the
//   claim) -> fill bytes 16.. -> CAS pair {leftovers} -> {{+len, DATA, epoch}, seq} (the commit).
// Reader (read.h): load word acquire, then seq; fields after byte 16 only after that. A pair
//   that is not this lap's record is "nothing yet"; only the tail tells a claim being filled.
// Unblocker (abandoned_claim.h): CAS pair {leftovers} -> {{+len, PADDING, kFlagVoided}, seq};
//   exactly one of commit and void wins, a late publisher gets Errc::kAbandoned from commit().
struct RecordHeader {
  int32_t len;  // header + headers block + payload (not the aligned frame length)
  uint8_t type;
  uint8_t flags;
  uint16_t epoch;
  uint64_t seq;          // index of this DATA record in its topic (0, 1, 2, ...); gaps = loss
  int64_t timestamp_ns;  // CLOCK_REALTIME at claim
  uint32_t crc32c;       // type..payload on journal topics; 0 on memory topics
  uint32_t headers_len;  // bytes of the headers block that follows this header
};
static_assert(sizeof(RecordHeader) == 32 && alignof(RecordHeader) == 8 && offsetof(RecordHeader, seq) == 8);
static_assert(std::is_trivially_copyable_v<RecordHeader> && std::is_standard_layout_v<RecordHeader>);
static_assert(std::atomic_ref<uint64_t>::is_always_lock_free);

inline constexpr size_t kHeaderBytes = sizeof(RecordHeader);
inline constexpr size_t kRecordAlign = 16;  // the claim pair's 16-byte CAS needs it
// A seq nobody knows: a reader that starts mid-log, a segment header written by a publisher.
inline constexpr uint64_t kUnknownSeq = ~0ull;
using base::kCacheLine;
using base::kHotPad;

enum RecordType : uint8_t { kTypeNone = 0, kTypeData = 1, kTypePadding = 2 };
enum RecordFlags : uint8_t { kFlagHeaders = 1, kFlagVoided = 2 };

constexpr size_t align_frame(size_t len) noexcept { return (len + kRecordAlign - 1) & ~(kRecordAlign - 1); }

// The commit word, decoded. Encoding: len | type << 32 | flags << 40 | epoch << 48.
struct CommitWord {
  int32_t len;
  uint8_t type;
  uint8_t flags;
  uint16_t epoch;

  static constexpr CommitWord decode(uint64_t w) noexcept {
    return {static_cast<int32_t>(static_cast<uint32_t>(w)), static_cast<uint8_t>(w >> 32),
            static_cast<uint8_t>(w >> 40), static_cast<uint16_t>(w >> 48)};
  }
  constexpr uint64_t encode() const noexcept {
    return static_cast<uint64_t>(static_cast<uint32_t>(len)) | static_cast<uint64_t>(type) << 32 |
           static_cast<uint64_t>(flags) << 40 | static_cast<uint64_t>(epoch) << 48;
  }
  constexpr bool claimed_in(uint16_t expected_epoch) const noexcept {
    return len != 0 && epoch == expected_epoch;
  }
  // Frame bytes of a claimed word (negative or positive len). 0 for a nonsense length. Padding
  // at the end of a lap may be as short as the claim pair itself.
  constexpr size_t frame_bytes() const noexcept {
    int64_t l = len < 0 ? -static_cast<int64_t>(len) : len;
    int64_t least = type == kTypePadding ? static_cast<int64_t>(kRecordAlign) : static_cast<int64_t>(kHeaderBytes);
    return l < least ? 0 : align_frame(static_cast<size_t>(l));
  }
};

inline std::atomic_ref<uint64_t> commit_word(std::byte* frame) noexcept {
  return std::atomic_ref<uint64_t>(*reinterpret_cast<uint64_t*>(frame));
}

inline std::atomic_ref<uint64_t> seq_word(std::byte* frame) noexcept {
  return std::atomic_ref<uint64_t>(*reinterpret_cast<uint64_t*>(frame + 8));
}

inline RecordHeader* header_of(std::byte* frame) noexcept { return reinterpret_cast<RecordHeader*>(frame); }

// The claim pair as read: word first, then seq. One CAS writes both, so if the word is the one a
// commit or void wrote, the seq read after it is that write's too (x86 keeps loads in order).
// SYNC: claim-pair (read) — acquire pairs with cas_pair() (a full barrier).
struct ClaimPair {
  CommitWord word;
  uint64_t seq;
  bool operator==(const ClaimPair& other) const noexcept {
    return word.encode() == other.word.encode() && seq == other.seq;
  }
};
inline ClaimPair load_pair(std::byte* frame, std::memory_order order = std::memory_order_acquire) noexcept {
  const uint64_t w = commit_word(frame).load(order);
  return {CommitWord::decode(w), seq_word(frame).load(std::memory_order_acquire)};
}
// The pair written by its only writer (a single-publisher topic's commit): seq, then the word
// with release. A reader loads the word first (load_pair), so it sees exactly what a 16-byte CAS
// would have shown it: the old pair, the new one, or the old word with the new seq (which it
// takes for "not written yet", as it must). SYNC: claim-pair (write) — pairs with load_pair().
inline void store_pair(std::byte* frame, ClaimPair pair) noexcept {
  seq_word(frame).store(pair.seq, std::memory_order_relaxed);
  commit_word(frame).store(pair.word.encode(), std::memory_order_release);
}
// The claim pair of bytes nobody writes while we look (a file being checked, a copy): no atomics.
// REQUIRES: 16 readable bytes at `frame`.
inline ClaimPair pair_in(const std::byte* frame) noexcept {
  uint64_t w, seq;
  std::memcpy(&w, frame, sizeof w);
  std::memcpy(&seq, frame + 8, sizeof seq);
  return {CommitWord::decode(w), seq};
}

// One 16-byte CAS of the claim pair (cmpxchg16b, a full barrier). On failure `expected` receives
// what was there. SYNC: claim-pair (write) — pairs with load_pair().
inline bool cas_pair(std::byte* frame, ClaimPair& expected, ClaimPair desired) noexcept {
  base::U128 seen = base::pack128(expected.word.encode(), expected.seq);
  if (base::cas16(frame, seen, base::pack128(desired.word.encode(), desired.seq))) return true;
  expected = {CommitWord::decode(base::low64(seen)), base::high64(seen)};
  return false;
}

}  // namespace shmbus::log
