#include <sched.h>

#include <cstring>

#include "log/claim.h"
#include "log/mapped_file.h"
#include "shmbus/error.h"
#include "topic/process_identity.h"
#include "topic/subscriber_impl.h"
#include "topic/wakeup.h"

namespace shmbus::detail {
namespace {
constexpr uint32_t kPendingPollsBeforeClock = 64;  // a claim normally commits within ~100 ns
constexpr int64_t kLivenessCheckNs = 1'000'000;     // how often to ask whether a claimant lives
constexpr int64_t kMaxSleepNs = 10'000'000;         // a sleeper re-checks stuck frames this often
}  // namespace

SubscriberImpl::SubscriberImpl(std::shared_ptr<topic::TopicHandle> topic, const SubscribeOptions& options,
                               std::shared_ptr<void> keep_alive)
    : topic_(std::move(topic)),
      keep_alive_(std::move(keep_alive)),
      meta_(topic_->meta()),
      storage_(topic_->storage()),
      lap_(storage_.lap_bytes()),
      overwrite_(topic_->policy() == Policy::kOverwrite),
      wait_(options.wait) {
  position_ = start_position(options.start);
  published_position_ = position_;
  if (overwrite_) copy_.resize(topic_->max_record_bytes());
  slot_ = topic::attach_subscriber(meta_, topic_->name().c_str(), position_);
  // Attaching raced with publishers that had not seen our slot yet: if they lapped the start
  // position meanwhile, start from the tail instead.
  if (lapped_by_tail()) jump_to_tail();
}

SubscriberImpl::~SubscriberImpl() { topic::detach_subscriber(meta_, slot_); }

uint64_t SubscriberImpl::start_position(const StartAt& start) {
  log::TailValue t = log::read_tail_exact(meta_.tail);
  if (start.kind == StartAt::Kind::kLatest) {
    expected_seq_ = t.seq;
    seq_known_ = true;
    return t.position;
  }
  uint64_t oldest = t.position < lap_ ? 0 : storage_.lap_start(t.position);
  uint64_t p = start.kind == StartAt::Kind::kEarliest ? oldest : start.position;
  if (p == t.position) {
    expected_seq_ = t.seq;
    seq_known_ = true;
    return p;
  }
  // Range and alignment first: a misaligned position must not even be read as a commit word.
  const bool in_range = p % log::kRecordAlign == 0 && p <= t.position && p + lap_ >= t.position;
  log::FrameView v;
  if (in_range) v = log::read_frame(storage_, p);
  const bool is_frame = v.state == log::FrameState::kData || v.state == log::FrameState::kPending ||
                        v.state == log::FrameState::kPadding;
  if (!in_range || !is_frame) {
    throw Error("topic " + topic_->name() + ": position " + std::to_string(p) +
                " is not a retained record (the ring holds positions " + std::to_string(oldest) + " to " +
                std::to_string(t.position) + "); start at a message's position, earliest or latest");
  }
  if (v.state == log::FrameState::kData) {
    expected_seq_ = log::header_of(v.bytes)->seq;
    seq_known_ = true;
  }
  return p;
}

bool SubscriberImpl::lapped_by_tail() const noexcept {
  // Acquire: pairs with cas_tail(). A tail a whole lap ahead (or more) may already have claimed
  // the word at our offset: the claim CAS comes before the tail moves past it (claim.h).
  return meta_.tail.position.load(std::memory_order_acquire) >= position_ + lap_;
}

// Lapped: everything from position_ up to the tail may be overwritten. The tail is the one
// frame start we know for sure, and its seq tells exactly how many records we skip.
void SubscriberImpl::jump_to_tail() noexcept {
  log::TailValue t = log::read_tail_exact(meta_.tail);
  if (seq_known_ && t.seq > expected_seq_) lost_ += t.seq - expected_seq_;
  position_ = t.position;
  expected_seq_ = t.seq;
  seq_known_ = true;
  // Relaxed: statistics.
  meta_.subscribers[slot_.index].lost.store(lost_, std::memory_order_relaxed);
  publish_position();
}

// The seqlock read of the overwrite policy: copy, then check that nobody re-claimed the bytes.
bool SubscriberImpl::copy_is_intact(const log::FrameView& frame) noexcept {
  std::memcpy(copy_.data(), frame.bytes, frame.frame_bytes);
  // The one stand-alone fence in shmbus: orders the plain loads of the copy before the two
  // re-checks below (a seqlock reader; an acquire load would order only what follows it).
  std::atomic_thread_fence(std::memory_order_acquire);
  uint64_t word_now = log::commit_word(frame.bytes).load(std::memory_order_relaxed);
  // A claimer moves the tail past position_ + lap_ before writing any payload byte over ours,
  // and the only byte it writes earlier is its commit word, which word_now catches.
  uint64_t tail_now = meta_.tail.position.load(std::memory_order_relaxed);
  return word_now == frame.word.encode() && tail_now <= position_ + lap_;
}

bool SubscriberImpl::deliver(const log::FrameView& frame, MessageHandler& handler) noexcept {
  const std::byte* bytes = frame.bytes;
  if (overwrite_) {
    if (!copy_is_intact(frame)) return false;
    bytes = copy_.data();
  }
  const auto* h = reinterpret_cast<const log::RecordHeader*>(bytes);
  const size_t len = static_cast<size_t>(frame.word.len);
  const size_t headers_len = h->headers_len;
  // read_frame checked the ring's bytes; a copy may have raced a writer, so check it again,
  // and its seq too: a stale claimer's late stores leave an older seq (publisher.cc:commit).
  if (overwrite_ && (headers_len > len - log::kHeaderBytes || (seq_known_ && h->seq != expected_seq_))) return false;
  Message m;
  m.topic = topic_->name();
  m.position = position_;
  m.seq = h->seq;
  m.timestamp_ns = h->timestamp_ns;
  if (headers_len != 0) m.headers = HeadersView({bytes + log::kHeaderBytes, headers_len});
  m.payload = {bytes + log::kHeaderBytes + headers_len, len - log::kHeaderBytes - headers_len};
  expected_seq_ = h->seq + 1;
  seq_known_ = true;
  position_ += frame.frame_bytes;
  ++received_;
  handler(m);
  return true;
}

Result<size_t> SubscriberImpl::poll(MessageHandler handler, size_t max) noexcept {
  if (!topic::still_attached(meta_, slot_)) reattach();
  size_t delivered = 0;
  Errc status = Errc::kOk;
  bool caught_up = false;
  while (delivered < max && status == Errc::kOk && !caught_up) {
    log::FrameView v = log::read_frame(storage_, position_);
    switch (v.state) {
      case log::FrameState::kEmpty:
        caught_up = true;
        break;
      case log::FrameState::kPending:
        caught_up = !maybe_unblock(v, 0);
        break;
      case log::FrameState::kPadding:
        // A voided claim consumed a seq (claim.h:seq_step): step over it so that it is not
        // counted as lost if we are lapped later.
        if (v.word.flags & log::kFlagVoided) ++expected_seq_;
        position_ += v.frame_bytes;
        break;
      case log::FrameState::kLapped:
        // A newer lap's word is only believed if the tail agrees; garbage can look like one.
        if (lapped_by_tail()) {
          jump_to_tail();
        } else {
          status = Errc::kCorrupt;
        }
        break;
      case log::FrameState::kCorrupt:
        if (lapped_by_tail()) {
          jump_to_tail();  // garbage because a newer lap is being written over it
        } else {
          status = Errc::kCorrupt;
        }
        break;
      case log::FrameState::kData:
        if (deliver(v, handler)) {
          ++delivered;
        } else if (lapped_by_tail() || overwrite_) {
          jump_to_tail();
        } else {
          status = Errc::kCorrupt;
        }
        break;
    }
    // Free space for blocked publishers well before the batch ends.
    if (position_ - published_position_ > lap_ / 4) publish_position();
  }
  if (position_ != published_position_) publish_position();
  if (delivered == 0 && status != Errc::kOk) return status;
  return delivered;
}

void SubscriberImpl::publish_position() noexcept {
  topic::SubscriberSlot& slot = meta_.subscribers[slot_.index];
  // SYNC: sub-position (publish) — pairs with the acquire loads in min_subscriber_position();
  // seq_cst for the Dekker pair with publishers asleep on the space futex (wakeup.h).
  slot.position.store(position_, std::memory_order_seq_cst);
  // Relaxed: liveness and statistics.
  slot.received.store(received_, std::memory_order_relaxed);
  published_position_ = position_;
  heartbeat(topic::coarse_monotonic_ns());
  topic::wake_sleepers(meta_.space);
}

void SubscriberImpl::heartbeat(int64_t now_ns) noexcept {
  // Relaxed: read only to decide on eviction, with a timeout of seconds.
  meta_.subscribers[slot_.index].heartbeat_ns.store(now_ns, std::memory_order_relaxed);
}

// We were evicted (stopped for longer than the subscriber timeout): attach again where we are,
// and if publishers lapped us meanwhile, count the loss and jump.
void SubscriberImpl::reattach() noexcept {
  try {
    slot_ = topic::attach_subscriber(meta_, topic_->name().c_str(), position_);
  } catch (const Error&) {
    return;  // all slots taken: keep reading unattached; lapping is still detected
  }
  if (lapped_by_tail()) jump_to_tail();
}

// A frame at our position is claimed but not committed. Its claimant may be dead (unblock at
// once) or alive and stalled (unblock after the topic's timeout). Returns true if it unblocked.
bool SubscriberImpl::maybe_unblock(const log::FrameView& frame, int64_t now_ns) noexcept {
  if (pending_position_ != position_) {
    pending_position_ = position_;
    pending_polls_ = 0;
    pending_since_ns_ = 0;
  }
  if (now_ns == 0) {
    if (++pending_polls_ < kPendingPollsBeforeClock) return false;
    now_ns = topic::monotonic_ns();
  }
  if (pending_since_ns_ == 0) {
    pending_since_ns_ = pending_checked_ns_ = now_ns;
    return false;
  }
  if (now_ns - pending_checked_ns_ < kLivenessCheckNs) return false;
  pending_checked_ns_ = now_ns;
  const bool timed_out = now_ns - pending_since_ns_ >= static_cast<int64_t>(meta_.config.unblock_timeout_ns);
  if (!timed_out && topic::live_claimant(meta_, position_)) return false;
  // We map the ring read-only; the one CAS goes through a page mapped read-write for it.
  bool voided = false;
  try {
    log::WritablePage page(topic_->ring_path(), topic::kRingDataOffset + (position_ & (lap_ - 1)));
    voided = log::void_frame(page.at(topic::kRingDataOffset + (position_ & (lap_ - 1))), frame.word.encode());
  } catch (const Error&) {
    return false;  // cannot map: leave it to a publisher-side party or a later poll
  }
  // Relaxed: statistics. Exactly one unblocker's CAS wins, so the frame is counted once.
  if (voided) meta_.counters.unblocked.fetch_add(1, std::memory_order_relaxed);
  pending_position_ = ~0ull;
  return true;  // voided by us, or committed/voided meanwhile: either way, read it again
}

bool SubscriberImpl::ready() noexcept {
  log::FrameView v = log::read_frame(storage_, position_, std::memory_order_seq_cst);
  return v.state != log::FrameState::kEmpty && v.state != log::FrameState::kPending;
}

bool SubscriberImpl::check_stuck(int64_t now_ns) noexcept {
  if (!topic::still_attached(meta_, slot_)) return true;
  log::FrameView v = log::read_frame(storage_, position_);
  return v.state == log::FrameState::kPending && maybe_unblock(v, now_ns);
}

Result<void> SubscriberImpl::wait_until(int64_t deadline) noexcept {
  // Spinning starts with cheap checks: the clock and the liveness work come every 64th round.
  for (uint32_t spins = 1;; ++spins) {
    if (ready()) return {};
    if (wait_ != WaitStrategy::kBlock && (spins & 63) != 0) {
      wait_ == WaitStrategy::kYield ? static_cast<void>(sched_yield()) : topic::cpu_relax();
      continue;
    }
    const int64_t now = topic::monotonic_ns();
    if (check_stuck(now)) return {};
    if (now >= deadline) return Errc::kTimeout;
    heartbeat(now);
    if (wait_ == WaitStrategy::kBlock) {
      topic::sleep_once(meta_.data, [this] { return ready(); }, std::min(deadline - now, kMaxSleepNs));
    }
  }
}

}  // namespace shmbus::detail
