// Protocol states built by hand: a small ring (or journal segments) in ordinary memory, where a
// test writes the tail, claim pairs and leftovers directly and then calls one step of the
// protocol (claim.h, read.h, abandoned_claim.h, void_frames.h). Single-threaded: nothing else
// touches the bytes, so plain stores are enough (the functions under test use atomics).
#pragma once

#include <optional>
#include <atomic>
#include <cstdint>
#include <cstring>
#include <functional>
#include <memory>
#include <ostream>
#include <set>
#include <string>
#include <vector>

#include "log/abandoned_claim.h"
#include "log/log_storage.h"
#include "log/read.h"
#include "log/record_format.h"
#include "log/tail.h"
#include "log/void_frames.h"
#include "shmbus/error.h"

// Readable GoogleTest failures (found by argument-dependent lookup).
namespace shmbus {
inline void PrintTo(Errc e, std::ostream* os) { *os << to_string(e); }
// A Result<void> as a comparable value: its error, or kSuccess.
inline constexpr std::optional<Errc> kSuccess = std::nullopt;
inline std::optional<Errc> err(Result<void> r) { return r ? kSuccess : std::optional<Errc>(r.error()); }
}  // namespace shmbus
namespace shmbus::log {
inline void PrintTo(const ClaimPair& p, std::ostream* os) {
  *os << "{len " << p.word.len << " type " << int{p.word.type} << " flags " << int{p.word.flags} << " epoch "
      << p.word.epoch << " seq " << p.seq << "}";
}
inline void PrintTo(FrameState s, std::ostream* os) {
  constexpr const char* kNames[] = {"kEmpty", "kPending", "kData", "kPadding", "kLapped", "kCorrupt"};
  *os << kNames[static_cast<int>(s)];
}
inline void PrintTo(AbandonedSpan::Kind k, std::ostream* os) {
  constexpr const char* kNames[] = {"kNotClaimed", "kUnknown", "kFound", "kCorrupt"};
  *os << kNames[static_cast<int>(k)];
}
inline void PrintTo(VoidResult r, std::ostream* os) {
  constexpr const char* kNames[] = {"kVoided", "kVoidedByOther", "kNotVoided"};
  *os << kNames[static_cast<int>(r)];
}
inline void PrintTo(const TailValue& t, std::ostream* os) { *os << "{position " << t.position << " seq " << t.seq << "}"; }
}  // namespace shmbus::log

namespace shmbus::test {

// A 64-byte-aligned block, so that every frame of a buffer made of them is 16-byte aligned
// (cmpxchg16b) whatever the allocator.
struct alignas(log::kCacheLine) Line {
  std::byte bytes[log::kCacheLine];
};

// REQUIRES: lap_bytes is a power of two, at least 64. Positions are log positions (lap n starts
// at n * lap_bytes); the buffer maps them with the ring mask, as LogStorage does.
class LogBuffer {
 public:
  explicit LogBuffer(uint64_t lap_bytes)
      : lines_(lap_bytes / log::kCacheLine), base_(reinterpret_cast<std::byte*>(lines_.data())), lap_(lap_bytes),
        storage_(log::LogStorage::ring(base_, lap_bytes)) {}

  const log::LogStorage& log() const { return storage_; }
  log::Tail& tail() { return tail_; }
  std::atomic<uint64_t>& intent() { return intent_; }
  // From the start of the whole buffer (not of its first Line: GCC's -O2 bounds checks would
  // hold a write past that line's 64 bytes against it).
  std::byte* at(uint64_t position) { return base_ + (position & (lap_ - 1)); }
  uint16_t epoch(uint64_t position) const { return storage_.epoch(position); }

  void set_tail(uint64_t position, uint64_t seq) {
    tail_.position.store(position, std::memory_order_relaxed);
    tail_.seq.store(seq, std::memory_order_relaxed);
  }
  log::TailValue tail_value() { return log::read_tail_exact(tail_); }

  // Writes a claim pair {word, seq} at `position` as given (any epoch, any length).
  void put_pair(uint64_t position, log::CommitWord word, uint64_t seq) { put_pair(position, {word, seq}); }
  void put_pair(uint64_t position, log::ClaimPair pair) {
    const uint64_t w = pair.word.encode();
    std::memcpy(at(position), &w, sizeof w);
    std::memcpy(at(position) + 8, &pair.seq, sizeof pair.seq);
  }
  log::ClaimPair pair_at(uint64_t position) { return log::pair_in(at(position)); }

  // A committed DATA record of `position`'s lap: its pair and header fields.
  void put_record(uint64_t position, int32_t len, uint64_t seq, uint32_t headers_len = 0) {
    put_pair(position, log::CommitWord{len, log::kTypeData, 0, epoch(position)}, seq);
    log::header_of(at(position))->headers_len = headers_len;
  }
  // Padding of `position`'s lap: end of lap (takes no seq) or, voided, a claim given up.
  void put_padding(uint64_t position, uint64_t frame_bytes, uint64_t seq, bool voided = false) {
    put_pair(position, log::voided_pair(frame_bytes, epoch(position), seq, voided));
  }
  // Leftovers: `bytes` of `value` from `position` on (an earlier lap's payload).
  void fill(uint64_t position, uint64_t bytes, std::byte value) { std::memset(at(position), static_cast<int>(value), bytes); }

 private:
  std::vector<Line> lines_;
  std::byte* base_;
  uint64_t lap_;
  log::LogStorage storage_;
  log::Tail tail_{};
  std::atomic<uint64_t> intent_{~0ull};
};

// Journal segments in memory. A segment listed in `missing` does not exist (never made, or
// removed by retention); `on_map` runs inside segment() before it answers (a test's way to let
// "another process" move the tail at exactly that point).
class FakeSegments final : public log::SegmentSource {
 public:
  FakeSegments(uint64_t segment_bytes, uint64_t count) : bytes_(segment_bytes) {
    for (uint64_t i = 0; i < count; ++i) segments_.emplace_back(segment_bytes / log::kCacheLine);
  }
  log::MappedSegment segment(uint64_t index, bool /*create*/) noexcept override {
    if (on_map) on_map(index);
    if (index >= segments_.size() || missing.count(index) != 0) return {};
    return {segments_[index].front().bytes, nullptr};
  }
  uint64_t first_position() const noexcept override { return 0; }
  std::string segment_path(uint64_t) const override { return {}; }
  uint64_t records_offset() const noexcept override { return 0; }

  std::byte* at(uint64_t position) { return segments_[position / bytes_].front().bytes + position % bytes_; }

  std::set<uint64_t> missing;
  std::function<void(uint64_t)> on_map;

 private:
  uint64_t bytes_;
  std::vector<std::vector<Line>> segments_;
};

}  // namespace shmbus::test
