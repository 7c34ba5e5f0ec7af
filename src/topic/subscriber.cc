#include <algorithm>
#include <cstring>
#include <optional>

#include "log/abandoned_claim.h"
#include "base/mapped_file.h"
#include "shmbus/error.h"
#include "base/process_identity.h"
#include "topic/subscriber_impl.h"
#include "topic/wait_loop.h"
#include "base/futex.h"

namespace shmbus::detail {
namespace {
// A reader waiting at the tail keeps asking for the line after the commit word too: the next
// record's second cache line (a 64-byte payload and its header take two) then comes across with
// the first instead of after it, one cache-line transfer less per message. A prefetch never
// faults, even past the end of a mapping.
inline void prefetch_record_tail(const std::byte* frame) noexcept {
  if (frame != nullptr) __builtin_prefetch(frame + 64, 0, 3);
}

// A reader that catches up with a stream pauses before it looks again: spinning on the line the
// publisher writes next takes that line away from the publisher once per record (64 B stream on
// our VM: 16 -> 22 M msg/s with the pause). Afterwards the publisher is a few records ahead and
// the reader takes lines the publisher is done with. Only after a run of records: a reader that
// gets single messages (a ping-pong, a request) catches up after each one and never pauses. (A
// pattern subscriber's busy topic delays its other topics' next poll by the same pause.)
constexpr uint64_t kStreamRun = 8;
constexpr int kCatchUpPauses = 16;  // ~370 ns on our VM; a pause takes 10-40 ns by CPU
inline void pause_for_the_stream() noexcept {
  for (int i = 0; i < kCatchUpPauses; ++i) {
#if defined(__x86_64__)
    __builtin_ia32_pause();
#endif
  }
}

constexpr int64_t kHeartbeatEveryNs = 100'000'000;  // a busy subscriber's heartbeat (timeouts are seconds)
}  // namespace

SubscriberImpl::SubscriberImpl(std::shared_ptr<topic::TopicHandle> topic, const SubscribeOptions& options,
                               std::shared_ptr<void> keep_alive, bool follows_registry)
    : topic_(std::move(topic)),
      keep_alive_(std::move(keep_alive)),
      meta_(topic_->meta()),
      storage_(topic_->log()),
      lap_(storage_.lap_bytes()),
      overwrite_(topic_->policy() == Policy::kOverwrite),
      wait_(options.wait) {
  topic_->storage().populate();
  position_ = start_position(options.start);
  if (!options.cursor.empty()) open_cursor(options);
  published_position_ = position_;
  if (overwrite_) copy_.resize(topic_->max_record_bytes());
  follows_registry_ = follows_registry;
  slot_ = topic::attach_subscriber(meta_, topic_->name().c_str(), position_, follows_registry_);
  // Attaching raced with publishers that had not seen our slot yet: if they lapped the start
  // position meanwhile, start from the tail instead.
  if (lapped_by_tail()) jump_to_tail();
}

SubscriberImpl::~SubscriberImpl() { topic::detach_subscriber(meta_, slot_); }

bool SubscriberImpl::behind_retention() const noexcept {
  // SYNC: first-position (read) — acquire pairs with retention's release before it deletes.
  return !storage_.reuses_space() && position_ < meta_.journal.first_position.load(std::memory_order_acquire);
}

// Retention removed the segment we were to read: go on at the oldest retained record, counting
// the records we never saw by their seqs.
void SubscriberImpl::skip_to_retained() noexcept {
  const uint64_t first = meta_.journal.first_position.load(std::memory_order_acquire);
  const log::FrameView v = log::read_frame(storage_, meta_.tail, first, log::kUnknownSeq);
  uint64_t seq = log::kUnknownSeq;
  if (v.state == log::FrameState::kData) {
    seq = log::header_of(v.bytes)->seq;
  } else if (v.state == log::FrameState::kEmpty) {
    const log::TailValue t = log::read_tail_exact(meta_.tail);
    if (t.position == first) seq = t.seq;
  }
  // Relaxed: statistics.
  if (const uint64_t skipped = skip_to(first, seq)) meta_.journal.skipped.fetch_add(skipped, std::memory_order_relaxed);
}

uint64_t SubscriberImpl::skip_to(uint64_t position, uint64_t seq) noexcept {
  uint64_t skipped = 0;
  if (seq != log::kUnknownSeq && expected_seq_ != log::kUnknownSeq && seq > expected_seq_) skipped = seq - expected_seq_;
  lost_ += skipped;
  position_ = position;
  expected_seq_ = seq;
  // Relaxed: statistics.
  meta_.subscribers[slot_.index].lost.store(lost_, std::memory_order_relaxed);
  publish_position();
  return skipped;
}

bool SubscriberImpl::lapped_by_tail() const noexcept {
  // Acquire: pairs with cas_tail().
  return storage_.lapped(position_, meta_.tail.position.load(std::memory_order_acquire));
}

// Lapped: everything from position_ up to the tail may be overwritten. The tail is the one
// frame start we know for sure, and its seq tells exactly how many records we skip.
void SubscriberImpl::jump_to_tail() noexcept {
  const log::TailValue t = log::read_tail_exact(meta_.tail);
  skip_to(t.position, t.seq);
}

bool SubscriberImpl::deliver(const std::byte* bytes, log::CommitWord word, uint64_t frame_bytes,
                             MessageHandler& handler) noexcept {
  const auto* h = reinterpret_cast<const log::RecordHeader*>(bytes);
  const size_t len = static_cast<size_t>(word.len);
  const size_t headers_len = h->headers_len;
  // read_frame checked the ring's bytes; a copy may have raced a writer, so check it again.
  if (overwrite_ && (headers_len > len - log::kHeaderBytes || (expected_seq_ != log::kUnknownSeq && h->seq != expected_seq_))) return false;
  Message m;
  m.topic = topic_->name();
  m.position = position_;
  m.seq = h->seq;
  m.timestamp_ns = h->timestamp_ns;
  if (headers_len != 0) m.headers = HeadersView({bytes + log::kHeaderBytes, headers_len});
  m.payload = {bytes + log::kHeaderBytes + headers_len, len - log::kHeaderBytes - headers_len};
  expected_seq_ = h->seq + 1;
  position_ += frame_bytes;
  ++received_;
  handler(m);
  return true;
}

// Padding takes no seq, but a voided claim took one (log::seq_step): step over it too, so that
// it is not counted as lost if we are lapped later.
void SubscriberImpl::skip_padding(log::CommitWord word, uint64_t frame_bytes) noexcept {
  if (expected_seq_ != log::kUnknownSeq) expected_seq_ += log::seq_step(word);
  position_ += frame_bytes;
}

Result<size_t> SubscriberImpl::poll(MessageHandler handler, size_t max) noexcept {
  if (!topic::still_attached(meta_, slot_)) reattach();
  // The heartbeat of the last poll's progress is published now rather than at its end: a reply
  // to what that poll delivered is then not delayed by a clock read. Asked once per position, not
  // on every poll of an idle spin: the clock read (~15 ns) slowed the loop that waits for the
  // next record.
  if (position_ != heartbeat_asked_at_) {
    heartbeat_asked_at_ = position_;
    if (position_ != published_position_ && heartbeat_due()) publish_position();
  }
  size_t delivered = 0;
  Result<void> status;
  bool caught_up = false;
  while (delivered < max && status && !caught_up && !stop_) {
    log::FrameView v = log::read_frame(storage_, meta_.tail, position_, expected_seq_);
    switch (v.state) {
      case log::FrameState::kEmpty:
        if (behind_retention()) {
          skip_to_retained();
        } else {
          prefetch_record_tail(v.bytes);
          status = unblock_or_wait(0, caught_up);  // nothing yet, or a claim whose claimant died
        }
        break;
      case log::FrameState::kPending:
        status = unblock_or_wait(0, caught_up);
        break;
      case log::FrameState::kPadding:
        skip_padding(v.word, v.frame_bytes);
        break;
      case log::FrameState::kLapped:
      case log::FrameState::kCorrupt:
        // A newer lap's word, or garbage because a newer lap is being written over it: believed
        // only if the tail agrees, since garbage can look like anything. (A journal reader
        // evicted while stalled may find its old segment retired and reused: it moves on.)
        if (lapped_by_tail()) {
          jump_to_tail();
        } else if (behind_retention()) {
          skip_to_retained();
        } else {
          status = Errc::kCorrupt;
        }
        break;
      case log::FrameState::kData:
        if (overwrite_) {
          if (!deliver_copies(handler, max - delivered, delivered)) jump_to_tail();
        } else if (deliver(v.bytes, v.word, v.frame_bytes, handler)) {
          ++delivered;
        } else if (lapped_by_tail()) {
          jump_to_tail();
        } else {
          status = Errc::kCorrupt;
        }
        break;
    }
    // Free space for blocked publishers well before the batch ends.
    if (position_ - published_position_ > lap_ / 4) publish_position();
  }
  if (position_ != published_position_ && space_wanted()) publish_position();
  // At the tail (nothing there, or a record still being written) after a run of records.
  if (caught_up && run_ + delivered >= kStreamRun) pause_for_the_stream();
  run_ = caught_up ? 0 : run_ + delivered;
  if (auto_commit_ && position_ != committed_) static_cast<void>(commit());
  stop_ = false;
  if (delivered == 0 && !status) return status.error();
  return delivered;
}

// Publishing the position costs a seq_cst store, a clock read and a load: on a busy subscriber
// that is most of a poll. It is due when a publisher waits for space (or may soon: an eighth of
// the ring read), when the heartbeat ages, and always before we wait (flush_position()), so a
// publisher never waits on a position we have passed while we wait too.
bool SubscriberImpl::space_wanted() const noexcept {
  // Relaxed: a hint; a publisher that registers just after this load re-checks positions on
  // its own within its sleep slice, and we publish anyway before we wait.
  return position_ - published_position_ > lap_ / 8 || meta_.space.sleepers.load(std::memory_order_relaxed) != 0;
}

bool SubscriberImpl::heartbeat_due() const noexcept {
  return base::coarse_monotonic_ns() - heartbeat_ns_ > kHeartbeatEveryNs;
}

void SubscriberImpl::flush_position() noexcept {
  if (position_ != published_position_) publish_position();
}

void SubscriberImpl::publish_position() noexcept {
  topic::SubscriberSlot& slot = meta_.subscribers[slot_.index];
  // SYNC: sub-position (publish) — pairs with the acquire loads in min_subscriber_position();
  // seq_cst for the Dekker pair with publishers asleep on the space futex (wakeup.h).
  slot.position.store(std::min(position_, hold_), std::memory_order_seq_cst);
  // Relaxed: liveness and statistics.
  slot.received.store(received_, std::memory_order_relaxed);
  published_position_ = position_;
  heartbeat(base::coarse_monotonic_ns());
  base::wake_sleepers(meta_.space);
}

void SubscriberImpl::heartbeat(int64_t now_ns) noexcept {
  heartbeat_ns_ = now_ns;
  // Relaxed: read only to decide on eviction, with a timeout of seconds.
  meta_.subscribers[slot_.index].heartbeat_ns.store(now_ns, std::memory_order_relaxed);
}

// We were evicted (stopped for longer than the subscriber timeout): attach again where we are,
// and if publishers lapped us meanwhile, count the loss and jump.
void SubscriberImpl::reattach() noexcept {
  try {
    slot_ = topic::attach_subscriber(meta_, topic_->name().c_str(), position_, follows_registry_);
  } catch (const Error&) {
    return;  // all slots taken: keep reading unattached; lapping is still detected
  }
  if (lapped_by_tail()) jump_to_tail();
}

bool SubscriberImpl::ready() noexcept {
  log::FrameView v = log::read_frame(storage_, meta_.tail, position_, expected_seq_, std::memory_order_seq_cst);
  if (v.state == log::FrameState::kEmpty) {
    prefetch_record_tail(v.bytes);
    return behind_retention();
  }
  return v.state != log::FrameState::kPending;
}

Result<void> SubscriberImpl::wait_until(int64_t deadline) noexcept {
  flush_position();
  return wait_loop(
      wait_, meta_.data, publishers_fence(), deadline, [this] { return ready(); },
      [this](int64_t now) {
        if (check_stuck(now)) return true;
        heartbeat(now);
        return false;
      });
}

}  // namespace shmbus::detail
