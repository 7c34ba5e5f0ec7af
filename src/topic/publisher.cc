#include <sched.h>

#include <cstring>

#include "log/record_crc.h"
#include "base/kill_point.h"
#include "base/process_identity.h"
#include "topic/publisher_impl.h"
#include "base/asymmetric_fence.h"
#include "base/futex.h"

namespace shmbus::detail {
namespace {
constexpr uint64_t kNoSubscriber = ~0ull;
constexpr int64_t kEvictionCheckNs = 5'000'000;  // how often a blocked publisher looks for dead subscribers
constexpr int64_t kSpaceSleepNs = 2'000'000;      // longest sleep before re-checking by itself
constexpr int kSpinsBeforeSleep = 200;
}  // namespace

PublisherImpl::PublisherImpl(std::shared_ptr<topic::TopicHandle> topic, base::Wakeup* doorbell,
                             std::shared_ptr<void> keep_alive)
    : topic_(std::move(topic)),
      keep_alive_(std::move(keep_alive)),
      meta_(topic_->meta()),
      doorbell_(doorbell),
      single_hold_(meta_, topic_->name().c_str()),
      handle_(topic::attach_publisher(meta_, topic_->name().c_str())),
      storage_(topic_->log()),
      policy_(topic_->policy()),
      lap_(storage_.lap_bytes()),
      hooks_(topic_->storage()),
      seals_(hooks_.seals_records()),
      durable_on_commit_(hooks_.durable_on_commit()),
      max_record_(topic_->max_record_bytes()),
      single_(single_hold_.held()),
      light_fence_(single_ && base::register_for_heavy_fence()) {
  // The tail as the previous holder left it (its release of the topic, our acquire).
  if (single_) tail_value_ = log::read_tail_exact(meta_.tail);
  topic_->storage().populate();
  topic_->start_background();
}

PublisherImpl::~PublisherImpl() { topic::detach_publisher(meta_, handle_); }

bool PublisherImpl::has_space(uint64_t end) noexcept {
  // Overwrite: never waits. Journal: never overwrites, so there is nothing to wait for.
  if (policy_ == Policy::kOverwrite || !storage_.reuses_space()) return true;
  // Acquire: pairs with the seq_cst bump in attach_subscriber(); a new subscriber's slot is then visible.
  uint64_t generation = meta_.counters.subscriber_generation.load(std::memory_order_acquire);
  auto fits = [&] { return min_position_cache_ == kNoSubscriber || end <= min_position_cache_ + lap_; };
  if (generation == subscriber_generation_cache_ && fits()) return true;
  subscriber_generation_cache_ = generation;
  min_position_cache_ = topic::min_subscriber_position(meta_, kNoSubscriber);
  return fits();
}

// Block policy: wait until the slowest subscriber frees `end`, evicting the dead and the stale.
Result<void> PublisherImpl::wait_for_space(uint64_t end) noexcept {
  int64_t next_eviction_check = 0;
  for (int spins = 0;; ++spins) {
    if (has_space(end)) return {};
    if (spins < kSpinsBeforeSleep) {
      sched_yield();
      continue;
    }
    int64_t now = base::monotonic_ns();
    if (now >= next_eviction_check) {
      if (topic::evict_subscribers(meta_, end - lap_, now) > 0) subscriber_generation_cache_ = ~0ull;
      next_eviction_check = now + kEvictionCheckNs;
    }
    // ready() reads the slots with acquire; the subscriber's seq_cst position store then its
    // seq_cst sleeper check pair with our seq_cst registration (wakeup.h).
    base::sleep_once(
        meta_.space,
        [&] {
          subscriber_generation_cache_ = ~0ull;
          return has_space(end);
        },
        kSpaceSleepNs);
  }
}

Result<void> PublisherImpl::claim_frame(size_t record_len, uint8_t flags, bool may_wait, log::ClaimedFrame& out) noexcept {
  if (record_len > max_record_) return Errc::kTooLarge;
  auto space = [this](uint64_t end) { return has_space(end); };
  for (;;) {
    std::atomic<uint64_t>& intent = meta_.publishers[handle_.index].intent;
    const auto len = static_cast<int32_t>(record_len);
    Result<void> claimed = single_ ? log::claim_single(storage_, meta_.tail, tail_value_, intent, len, flags, space, out)
                                   : log::claim(storage_, meta_.tail, intent, len, flags, space, out);
    if (claimed || claimed.error() != Errc::kWouldBlock || !may_wait || policy_ != Policy::kBlock) return claimed;
    uint64_t tail = meta_.tail.position.load(std::memory_order_acquire);
    if (Result<void> waited = wait_for_space(tail + 2 * log::align_frame(record_len)); !waited) return waited;
  }
}

void PublisherImpl::write_header(const log::ClaimedFrame& c, std::span<const Header> headers,
                                 size_t headers_len) noexcept {
  log::RecordHeader* h = log::header_of(c.frame);
  // Plain stores: the frame is ours until commit, whose CAS publishes them. (The pair, bytes
  // 0..15, is written by the commit.)
  h->timestamp_ns = clock_.now_ns();
  h->crc32c = 0;
  h->headers_len = static_cast<uint32_t>(headers_len);
  if (headers_len != 0) encode_headers(headers, {c.frame + log::kHeaderBytes, headers_len});
}

Result<Claim> PublisherImpl::claim(size_t payload_bytes, std::span<const Header> headers, bool may_wait) noexcept {
  size_t headers_len = headers.empty() ? 0 : encoded_headers_size(headers);
  if (headers_len == SIZE_MAX) return Errc::kInvalidArgument;
  if (payload_bytes > max_record_ || log::kHeaderBytes + headers_len + payload_bytes > max_record_) {
    // Kept for explain(): two plain stores, on the refusal only.
    refused_payload_ = payload_bytes;
    refused_headers_ = headers_len;
    return Errc::kTooLarge;
  }
  log::ClaimedFrame c;
  Result<void> claimed = claim_frame(log::kHeaderBytes + headers_len + payload_bytes,
                                     headers_len ? log::kFlagHeaders : 0, may_wait, c);
  if (!claimed) return claimed.error();
  SHMBUS_KILL_POINT("publish.after_claim");
  write_header(c, headers, headers_len);
  Claim out;
  out.payload_ = {c.frame + log::kHeaderBytes + headers_len, payload_bytes};
  out.frame_ = c.frame;
  out.committed_word_ = c.committed_word;
  out.position_ = c.position;
  out.seq_ = c.seq;
  return out;
}

log::ClaimedFrame PublisherImpl::frame_of(const Claim& claim) noexcept {
  return {claim.position_, claim.seq_, claim.frame_, claim.committed_word_};
}

Result<uint64_t> PublisherImpl::commit(Claim& claim, bool wait_durable) noexcept {
  if (claim.frame_ == nullptr) return Errc::kClosed;
  const log::ClaimedFrame c = frame_of(claim);
  claim.frame_ = nullptr;
  if (seals_) {  // sealed records carry a CRC32C of everything but the commit word's length
    const auto len = static_cast<size_t>(log::CommitWord::decode(c.committed_word).len);
    log::header_of(c.frame)->crc32c = log::record_crc(c.frame, len);
  }
  SHMBUS_KILL_POINT("publish.before_commit");
  // The commit CAS expects whatever it finds at our frame: after a stall of a whole lap that
  // could be a newer lap's record. The tail tells (acquire: pairs with cas_tail(); after our own
  // claim the line is usually still ours, so this costs nothing on one publisher). A single
  // publisher is neither lapped nor unblocked while it lives: it just writes.
  if (single_) {
    log::commit_single(c);
    SHMBUS_KILL_POINT("commit.after");
  } else {
    if (stale_after_a_lap(c.position)) return abandoned();
    const Result<void> committed = log::commit(c);
    SHMBUS_KILL_POINT("commit.after");
    if (!committed) return abandoned();
  }
  after_commit(claim.payload_.size());
  if (seals_) hooks_.after_commit(c.frame, c.position);
  if (durable_on_commit_ && wait_durable) {
    // Durable before we return; a stuck record before ours (its writer stalled or died) is
    // waited for as long as it takes the topic to unblock it, and then some.
    const auto frame = log::CommitWord::decode(c.committed_word).frame_bytes();
    const auto timeout = static_cast<int64_t>(meta_.config.unblock_timeout_ns) * 2 + 1'000'000'000;
    // Published either way: the caller must not publish it again (kNotDurable carries where).
    if (!hooks_.durable_through(storage_, c.position + frame, timeout)) return {Errc::kNotDurable, c.position};
  }
  return c.position;
}

void PublisherImpl::abort(Claim& claim) noexcept {
  if (claim.frame_ == nullptr) return;
  if (single_) {
    log::abort_claim_single(frame_of(claim));
  } else if (!stale_after_a_lap(claim.position_)) {
    log::abort_claim(frame_of(claim));
  }
  claim.frame_ = nullptr;
  // Release: pairs with live_claimant()'s acquire; the void above is visible to whoever no
  // longer sees our intent.
  meta_.publishers[handle_.index].intent.store(topic::kNoIntent, std::memory_order_release);
}

bool PublisherImpl::stale_after_a_lap(uint64_t position) const noexcept {
  return log::lapped_since(meta_.tail.position.load(std::memory_order_acquire), position, storage_);
}

Errc PublisherImpl::abandoned() noexcept {
  auto& slot = meta_.publishers[handle_.index];
  // Relaxed: statistics, written by this owner only; the intent cleared so that no unblocker
  // waits on us for a frame we no longer claim.
  slot.abandoned.store(slot.abandoned.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
  slot.intent.store(topic::kNoIntent, std::memory_order_relaxed);
  return Errc::kAbandoned;
}

void PublisherImpl::after_commit(size_t payload_bytes) noexcept {
  auto& slot = meta_.publishers[handle_.index];
  // Relaxed: statistics, single writer.
  slot.published.store(++published_, std::memory_order_relaxed);
  slot.bytes.store(bytes_ += payload_bytes, std::memory_order_relaxed);
  // Release: pairs with live_claimant()'s acquire (an unblocker that no longer sees our intent
  // sees the commit, and its CAS of our pair fails).
  slot.intent.store(topic::kNoIntent, std::memory_order_release);
  if (single_) {
    // The commit was a plain store: Dekker needs a fence here, or the sleeper's heavy one.
    base::wake_sleepers_after_plain_store(meta_.data, light_fence_);
  } else {
    base::wake_sleepers(meta_.data);
  }
  if (doorbell_ != nullptr) base::wake_sleepers(*doorbell_);
}

Result<uint64_t> PublisherImpl::publish(std::span<const std::byte> payload, std::span<const Header> headers,
                                        bool may_wait, bool wait_durable) noexcept {
  Result<Claim> c = claim(payload.size(), headers, may_wait);
  if (!c) return c.error();
  // A publisher stalled for a whole lap of an overwrite ring finds its bytes claimed again: do
  // not copy into someone else's record. (A single publisher cannot be lapped.)
  if (!single_ && stale_after_a_lap(c->position_)) {
    c->frame_ = nullptr;
    return abandoned();
  }
  if (!payload.empty()) std::memcpy(c->payload().data(), payload.data(), payload.size());
  return commit(*c, wait_durable);
}

uint64_t PublisherImpl::durable_position() const noexcept {
  if (storage_.reuses_space()) return 0;  // a ring: never on disk
  // Acquire: pairs with the flusher's release of the position after its msync.
  return meta_.flush.flushed_position.load(std::memory_order_acquire);
}

Result<uint64_t> PublisherImpl::wait_durable(uint64_t position, std::chrono::nanoseconds timeout) noexcept {
  if (storage_.reuses_space()) return Errc::kInvalidArgument;
  // The record at `position` is whole on disk once the flushed position (a frame boundary) passed it.
  if (Result<void> r = hooks_.durable_through(storage_, position + 1, timeout.count()); !r) return r.error();
  return durable_position();
}

}  // namespace shmbus::detail
