// The reader's side of the record protocol: what is at a position, decided from the commit word.
#pragma once

#include <cstdint>

#include "log/record_format.h"

namespace shmbus::log {

enum class FrameState : uint8_t {
  kEmpty,    // nothing claimed here in this lap yet: the reader is at the tail
  kPending,  // claimed, not committed: wait (or unblock, if the owner is dead or stalled)
  kData,     // a committed record
  kPadding,  // skip frame_bytes (end of lap, aborted or unblocked claim)
  kLapped,   // a newer lap overwrote this position: the reader fell a whole lap behind
  kCorrupt,  // bytes that are no valid record; nothing of them may be used
};

struct FrameView {
  FrameState state = FrameState::kEmpty;
  CommitWord word{};
  std::byte* bytes = nullptr;
  uint64_t frame_bytes = 0;
};

// Reads and bounds-checks the frame at `position`. Every field that decides how many bytes to
// touch is checked against the storage before use, so garbage yields kCorrupt, never a wild read.
// SYNC: commit-word (read) — acquire pairs with claim.h:commit() and void_frame() (release).
template <class Storage>
FrameView read_frame(const Storage& log, uint64_t position,
                     std::memory_order order = std::memory_order_acquire) noexcept {
  FrameView v;
  v.bytes = log.frame(position);
  v.word = CommitWord::decode(commit_word(v.bytes).load(order));
  const uint16_t epoch = log.epoch(position);
  if (!v.word.claimed_in(epoch)) {
    // Epochs compare modulo 2^16: a word from a later lap (by up to 32767 laps) means the
    // reader was overwritten; one from an earlier lap is just not yet rewritten in this lap.
    const bool newer_lap = v.word.len != 0 && static_cast<int16_t>(v.word.epoch - epoch) > 0;
    v.state = newer_lap ? FrameState::kLapped : FrameState::kEmpty;
    return v;
  }
  v.frame_bytes = v.word.frame_bytes();
  if (v.frame_bytes == 0 || v.frame_bytes > log.room(position)) {
    v.state = FrameState::kCorrupt;
  } else if (v.word.len < 0) {
    v.state = v.word.type == kTypeData ? FrameState::kPending : FrameState::kCorrupt;
  } else if (v.word.type == kTypePadding) {
    v.state = FrameState::kPadding;
  } else if (v.word.type != kTypeData ||
             header_of(v.bytes)->headers_len > static_cast<uint32_t>(v.word.len) - kHeaderBytes) {
    v.state = FrameState::kCorrupt;
  } else {
    v.state = FrameState::kData;
  }
  return v;
}

}  // namespace shmbus::log
