// The overwrite policy's reader: records are copied, then checked not to have been overwritten.
#include <atomic>
#include <algorithm>
#include <cstring>

#include "base/process_identity.h"
#include "log/abandoned_claim.h"
#include "shmbus/error.h"
#include "topic/subscriber_impl.h"

namespace shmbus::detail {

// The seqlock read of the overwrite policy, a batch at a time: copy consecutive frames, then
// check that none was re-claimed, with one read of the tail for the whole batch. (The tail's
// cache line is written on every claim; reading it per record would pull it across cores each
// time and halve the publisher's rate.) Padding is noted, not copied.
SubscriberImpl::CopyResult SubscriberImpl::copy_batch(size_t max, CopiedFrame (&batch)[kCopyBatch], size_t& count) noexcept {
  count = 0;
  size_t used = 0, records = 0;
  uint64_t p = position_;
  uint64_t seq = expected_seq_;
  while (count < kCopyBatch && records < max) {
    log::FrameView v = log::read_frame(storage_, meta_.tail, p, seq);
    if (v.state == log::FrameState::kPadding) {
      batch[count++] = {p, v.word, v.frame_bytes, 0};
      if (seq != log::kUnknownSeq) seq += log::seq_step(v.word);  // see skip_padding()
    } else if (v.state == log::FrameState::kData && used + v.frame_bytes <= copy_.size()) {
      seq = log::header_of(v.bytes)->seq + 1;
      std::memcpy(copy_.data() + used, v.bytes, v.frame_bytes);
      batch[count++] = {p, v.word, v.frame_bytes, used};
      used += v.frame_bytes;
      ++records;
    } else {
      break;  // the tail, a claim in progress, a lap, garbage, or a full buffer: poll() decides
    }
    p += v.frame_bytes;
  }
  // poll() saw a record here: if it is gone now, or is too big for any record, we were lapped.
  if (count == 0) return CopyResult::kOverwritten;
  // The one stand-alone fence in shmbus: orders the plain loads of the copies before the
  // re-checks below (a seqlock reader; an acquire load would order only what follows it).
  std::atomic_thread_fence(std::memory_order_acquire);
  for (size_t i = 0; i < count; ++i) {
    if (log::commit_word(storage_.frame(batch[i].position)).load(std::memory_order_relaxed) != batch[i].word.encode()) {
      return CopyResult::kOverwritten;
    }
  }
  // A claimer moves the tail past a frame's position + lap before it writes any byte over it.
  // The first frame is the oldest: if it is safe, all are.
  const uint64_t tail_now = meta_.tail.position.load(std::memory_order_relaxed);
  return tail_now <= batch[0].position + lap_ ? CopyResult::kCopied : CopyResult::kOverwritten;
}

// Overwrite policy: hands out a validated batch. False if it was overwritten meanwhile (or a
// stale claimer's stores showed up in it): the caller jumps to the tail, counting by seq.
bool SubscriberImpl::deliver_copies(MessageHandler& handler, size_t max, size_t& delivered) noexcept {
  CopiedFrame batch[kCopyBatch];
  size_t count = 0;
  switch (copy_batch(max, batch, count)) {
    case CopyResult::kOverwritten: return false;
    case CopyResult::kCopied: break;
  }
  for (size_t i = 0; i < count; ++i) {
    const CopiedFrame& f = batch[i];
    if (f.word.type == log::kTypePadding) {
      skip_padding(f.word, f.frame_bytes);
      continue;
    }
    if (!deliver(copy_.data() + f.offset, f.word, f.frame_bytes, handler)) return false;
    ++delivered;
    if (stop_) return true;  // the rest of the batch is read again by the next poll
  }
  return true;
}

}  // namespace shmbus::detail
