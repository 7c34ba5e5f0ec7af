// The record format shared by every log kind (ring today, journal segments next).
// Prose spec with a worked example: docs/format.md.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <type_traits>

namespace shmbus::log {

// One record. Little-endian, 8-byte aligned, never straddles the end of a ring lap / segment.
//   0      4    5     6      8              16      24     28     32
//   +------+----+-----+------+--------------+-------+------+------+------- - -
//   | len  |type|flags|epoch | timestamp_ns |  seq  | crc  | hlen | headers, payload
//   +------+----+-----+------+--------------+-------+------+------+------- - -
// Bytes 0..7 are the COMMIT WORD, only ever accessed as atomic_ref<uint64_t>:
//   len == 0              never claimed (fresh zeroed storage)
//   epoch != epoch_of(p)  left over from an earlier lap of the ring: not claimed in this lap
//   len <  0              claimed, being written       len > 0  committed (DATA or PADDING)
// The epoch (position / lap size, low 16 bits) is what lets a ring be reused without zeroing:
// a word is "claimed at position p" only if its epoch is p's epoch and its len is not 0.
//
// Publisher (claim.h): load tail -> CAS word {stale} -> {-len, DATA, epoch} (claims the frame)
//   -> CAS tail {p, seq} -> {p + frame, seq + 1} (anyone may help) -> fill -> CAS word
//   {-len, DATA} -> {+len, DATA} with release.
// Reader (read.h): load word acquire; fields after byte 8 are read only after that.
// Unblocker (unblock.h): CAS {-len, DATA} -> {+len, PADDING, kFlagVoided}; exactly one CAS wins,
//   a late publisher gets Errc::kAbandoned from commit().  (Same idea: Aeron RecordDescriptor.)
struct RecordHeader {
  int32_t len;  // header + headers block + payload (not the aligned frame length)
  uint8_t type;
  uint8_t flags;
  uint16_t epoch;
  int64_t timestamp_ns;  // CLOCK_REALTIME at claim
  uint64_t seq;          // index of this DATA record in its topic (0, 1, 2, ...); gaps = loss
  uint32_t crc32c;       // type..payload on journal topics; 0 on memory topics
  uint32_t headers_len;  // bytes of the headers block that follows this header
};
static_assert(sizeof(RecordHeader) == 32 && alignof(RecordHeader) == 8);
static_assert(std::is_trivially_copyable_v<RecordHeader> && std::is_standard_layout_v<RecordHeader>);
static_assert(std::atomic_ref<uint64_t>::is_always_lock_free);

inline constexpr size_t kHeaderBytes = sizeof(RecordHeader);
inline constexpr size_t kRecordAlign = 8;
inline constexpr size_t kCacheLine = 64;
inline constexpr size_t kHotPad = 128;  // two lines: keeps the adjacent-line prefetcher off hot words

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
  // at the end of a lap may be as short as the commit word itself.
  constexpr size_t frame_bytes() const noexcept {
    int64_t l = len < 0 ? -static_cast<int64_t>(len) : len;
    int64_t least = type == kTypePadding ? static_cast<int64_t>(kRecordAlign) : static_cast<int64_t>(kHeaderBytes);
    return l < least ? 0 : align_frame(static_cast<size_t>(l));
  }
};

inline std::atomic_ref<uint64_t> commit_word(std::byte* frame) noexcept {
  return std::atomic_ref<uint64_t>(*reinterpret_cast<uint64_t*>(frame));
}

inline RecordHeader* header_of(std::byte* frame) noexcept { return reinterpret_cast<RecordHeader*>(frame); }

}  // namespace shmbus::log
