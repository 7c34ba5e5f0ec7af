// Where a subscriber starts: the oldest record, the end, a position, a time, or its named cursor.
#include <algorithm>
#include <cstring>

#include "base/process_identity.h"
#include "log/abandoned_claim.h"
#include "shmbus/error.h"
#include "topic/subscriber_impl.h"

namespace shmbus::detail {

// The frame at a position whose seq we do not know (a start position, a cursor): a record,
// padding, or a claim still being filled (its pair not written yet, the tail past it).
log::FrameView SubscriberImpl::frame_at(uint64_t position) const noexcept {
  log::FrameView v = log::read_frame(storage_, meta_.tail, position, log::kUnknownSeq);
  if (v.state == log::FrameState::kEmpty && v.bytes != nullptr && log::claimed_by_tail(meta_.tail, position)) {
    v.state = log::FrameState::kPending;
  }
  return v;
}

uint64_t SubscriberImpl::start_position(const StartAt& start) {
  log::TailValue t = log::read_tail_exact(meta_.tail);
  if (start.kind == StartAt::Kind::kLatest) {
    expected_seq_ = t.seq;
    return t.position;
  }
  if (start.kind == StartAt::Kind::kTime) return seek_time(start.timestamp_ns);
  uint64_t oldest = storage_.earliest(t.position);
  uint64_t p = start.kind == StartAt::Kind::kEarliest ? oldest : start.position;
  if (p == t.position) {
    expected_seq_ = t.seq;
    return p;
  }
  // Range and alignment first: a misaligned position must not even be read as a commit word.
  const bool in_range = p % log::kRecordAlign == 0 && p <= t.position && p >= oldest;
  log::FrameView v;
  if (in_range) v = frame_at(p);
  // A claim still being filled has no pair to check yet: only the oldest position, a frame start
  // we know, may be one; a position a user gives must be a record's.
  const bool is_frame = v.state == log::FrameState::kData || v.state == log::FrameState::kPadding ||
                        (v.state == log::FrameState::kPending && p == oldest);
  if (!in_range || !is_frame) {
    throw Error("topic " + topic_->name() + ": position " + std::to_string(p) +
                " is not a retained record (the ring holds positions " + std::to_string(oldest) + " to " +
                std::to_string(t.position) + "); start at a message's position, earliest or latest", ErrorKind::kInvalidArgument);
  }
  if (v.state == log::FrameState::kData) {
    expected_seq_ = log::header_of(v.bytes)->seq;
  }
  return p;
}

// The first record at or after `timestamp_ns` (by position order: with several publishers,
// timestamps are nearly but not strictly ordered). A journal starts from its time index; a ring
// is at most its capacity to read.
uint64_t SubscriberImpl::seek_time(int64_t timestamp_ns) {
  const log::TailValue t = log::read_tail_exact(meta_.tail);
  uint64_t p = storage_.earliest(t.position);
  p = topic_->storage().time_seek_start(p, t.position, timestamp_ns);
  for (int restarts = 0; p < t.position;) {
    const log::FrameView v = log::read_frame(storage_, meta_.tail, p, log::kUnknownSeq);
    switch (v.state) {
      case log::FrameState::kData:
        if (log::header_of(v.bytes)->timestamp_ns >= timestamp_ns) {
          expected_seq_ = log::header_of(v.bytes)->seq;
          return p;
        }
        p += v.frame_bytes;
        break;
      case log::FrameState::kPadding:
        p += v.frame_bytes;
        break;
      case log::FrameState::kEmpty:    // a journal segment retention just removed: poll moves on
      case log::FrameState::kPending:  // a record being written now: newer than anything before
        expected_seq_ = log::kUnknownSeq;
        return p;
      case log::FrameState::kLapped:
      case log::FrameState::kCorrupt:
        if (!storage_.reuses_space() || ++restarts > 100) {
          throw Error("topic " + topic_->name() + ": cannot seek to a time: no valid record at position " +
                          std::to_string(p) + "; check the journal with `shmbus journal verify`",
                      ErrorKind::kCorrupt);
        }
        p = storage_.earliest(meta_.tail.position.load(std::memory_order_acquire));  // lapped while reading
        break;
    }
  }
  expected_seq_ = t.seq;
  return t.position;
}

void SubscriberImpl::open_cursor(const SubscribeOptions& options) {
  if (!topic_->storage().keeps_records()) {
    throw Error("topic " + topic_->name() + ": named cursors need a journal topic (create it with kind journal)",
                ErrorKind::kInvalidArgument);
  }
  bool created = false;
  // A new cursor begins where the options say; an existing one where it was committed.
  cursor_ = topic::CursorFile::acquire(topic_->storage().cursor_dir(), options.cursor, position_, expected_seq_, &created);
  auto_commit_ = options.commit == CommitMode::kAuto;
  cursor_sync_ = topic_->storage().durable_on_commit();
  committed_ = position_;
  if (created) return;
  const uint64_t p = cursor_->position();
  const log::TailValue t = log::read_tail_exact(meta_.tail);
  committed_ = p;
  if (p >= t.position) {  // at the end, or past it: recovery cut the journal behind the cursor
    position_ = t.position;
    expected_seq_ = t.seq;
    return;
  }
  position_ = p;
  expected_seq_ = cursor_->seq();
  if (behind_retention()) return;  // poll() moves on, counting what retention removed
  const log::FrameView v = frame_at(p);
  if (v.state == log::FrameState::kData) {
    expected_seq_ = log::header_of(v.bytes)->seq;
  } else if (v.state != log::FrameState::kPadding && v.state != log::FrameState::kPending) {
    throw Error("topic " + topic_->name() + ": cursor " + options.cursor + " is at position " + std::to_string(p) +
                    ", which is no record; move it with `shmbus cursor set` or `shmbus cursor reset`",
                ErrorKind::kCorrupt);
  }
}

// The cursor keeps the seq of the record at its position (for lag), so a position behind
// position() must be a record we can still read the seq of: one delivered since the last
// commit, in a segment retention has not removed.
Result<void> SubscriberImpl::commit(uint64_t position) noexcept {
  if (!cursor_) return Errc::kInvalidArgument;
  if (position == position_) return commit();
  if (position < committed_ || position > position_) return Errc::kInvalidArgument;
  // SYNC: first-position (read) — acquire pairs with retention's release before it deletes.
  if (position < meta_.journal.first_position.load(std::memory_order_acquire)) return Errc::kInvalidArgument;
  const log::FrameView v = frame_at(position);
  if (v.state != log::FrameState::kData) return Errc::kInvalidArgument;
  cursor_->store(position, log::header_of(v.bytes)->seq, cursor_sync_);
  committed_ = position;
  return {};
}

Result<void> SubscriberImpl::commit() noexcept {
  if (!cursor_) return Errc::kInvalidArgument;
  if (committed_ != position_) {
    cursor_->store(position_, expected_seq_, cursor_sync_);
    committed_ = position_;
  }
  return {};
}

}  // namespace shmbus::detail
