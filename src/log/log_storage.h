// Where a topic's records live: one power-of-two ring reused lap after lap (memory topics), or
// a chain of power-of-two segments that are never reused (journal topics). Frames never straddle
// a lap or segment end, so both answer room/epoch/lap the same way; only frame() differs, and
// claim/read code (templates on the storage) does not care which it has.
// Protocol spec: docs/format.md section 2.
#pragma once

#include <bit>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

namespace shmbus::log {

// A mapped segment's record area, and what keeps it mapped while somebody reads or writes it.
struct MappedSegment {
  std::byte* records = nullptr;
  std::shared_ptr<const void> pin;
};

// The segments of a journal, shared by the objects of a process that use one topic.
class SegmentSource {
 public:
  virtual ~SegmentSource() = default;
  // The record area of segment `index` (position / segment bytes), mapped; created (zeroed) if
  // it does not exist and `create`. records == nullptr if it does not exist (yet: or no more,
  // retention removed it) or cannot be made.
  virtual MappedSegment segment(uint64_t index, bool create) noexcept = 0;
  // Position of the oldest record still on disk.
  virtual uint64_t first_position() const noexcept = 0;
  // Path of segment `index` and the file offset of its record area (to map a page writable).
  virtual std::string segment_path(uint64_t index) const = 0;
  virtual uint64_t records_offset() const noexcept = 0;
};

class LogStorage {
 public:
  LogStorage() = default;
  // REQUIRES: capacity is a power of two; data points at `capacity` mapped bytes.
  static LogStorage ring(std::byte* data, uint64_t capacity) noexcept { return LogStorage(data, nullptr, capacity, false); }
  // REQUIRES: segment_bytes is a power of two. `create`: a publisher makes the segments it needs.
  static LogStorage segments(SegmentSource* source, uint64_t segment_bytes, bool create) noexcept {
    return LogStorage(nullptr, source, segment_bytes, create);
  }

  // The frame at `position`. Journal: nullptr if its segment does not exist (readers: nothing
  // written there yet) or could not be created (publishers: the disk refused).
  std::byte* frame(uint64_t position) const noexcept {
    if (source_ != nullptr && (position >> shift_) != cached_index_ && !map(position >> shift_)) return nullptr;
    return data_ + (position & mask_);
  }
  // True if frame(position) answers without asking the segment source (a ring; a journal
  // position in the segment last mapped).
  bool mapped(uint64_t position) const noexcept { return source_ == nullptr || (position >> shift_) == cached_index_; }
  // Bytes from `position` to the end of its lap / segment: a frame never straddles that end.
  uint64_t room(uint64_t position) const noexcept { return mask_ + 1 - (position & mask_); }
  // Low 16 bits of the lap / segment number: tells this lap's claims from older laps' leftovers.
  uint16_t epoch(uint64_t position) const noexcept { return static_cast<uint16_t>(position >> shift_); }
  uint64_t lap_bytes() const noexcept { return mask_ + 1; }
  // A ring overwrites its oldest bytes; a journal never does (lapping is a ring's notion).
  bool reuses_space() const noexcept { return source_ == nullptr; }
  // True if, with the tail at `tail`, the bytes at `position` may belong to a newer lap: a
  // claimer takes the pair at the tail before moving it, so a tail exactly a lap ahead counts.
  bool lapped(uint64_t position, uint64_t tail) const noexcept {
    return reuses_space() && tail >= position + lap_bytes();
  }
  // True if, with the tail at `tail`, a claim of a newer lap covers `position`'s bytes: the tail
  // is past position + lap. (Exactly a lap ahead is a full block-policy ring, whose next claim
  // waits for the reader at `position`: nothing of a newer lap is there yet.)
  bool newer_lap_claimed(uint64_t position, uint64_t tail) const noexcept {
    return reuses_space() && tail > position + lap_bytes();
  }
  // The oldest position a reader can start at, given the tail.
  uint64_t earliest(uint64_t tail) const noexcept {
    if (source_ != nullptr) return source_->first_position();
    return tail < lap_bytes() ? 0 : tail & ~mask_;  // the current lap's start: always a frame start
  }
  SegmentSource* segments() const noexcept { return source_; }
  // Journal: what keeps the segment of the last frame() mapped (null for a ring).
  const std::shared_ptr<const void>& pin() const noexcept { return pin_; }

 private:
  LogStorage(std::byte* data, SegmentSource* source, uint64_t bytes, bool create) noexcept
      : data_(data), source_(source), mask_(bytes - 1), shift_(static_cast<uint32_t>(std::countr_zero(bytes))),
        create_(create) {}
  bool map(uint64_t index) const noexcept {
    MappedSegment m = source_->segment(index, create_);
    if (m.records == nullptr) return false;
    data_ = m.records;
    pin_ = std::move(m.pin);
    cached_index_ = index;
    return true;
  }

  // Ring: the ring. Journal: the segment last used (a cache: one object, one thread at a time),
  // pinned: retention may delete its file, but it stays mapped while we point into it.
  mutable std::byte* data_ = nullptr;
  mutable std::shared_ptr<const void> pin_;
  mutable uint64_t cached_index_ = ~0ull;
  SegmentSource* source_ = nullptr;
  uint64_t mask_ = 0;
  uint32_t shift_ = 0;
  bool create_ = false;
};

}  // namespace shmbus::log
