// A claim that stays uncommitted at a subscriber's position: when to ask the tail, and voiding
// the claims of a dead or stalled claimer (log/abandoned_claim.h, docs/format.md section 7).
#include <algorithm>
#include <cstring>

#include "base/process_identity.h"
#include "log/abandoned_claim.h"
#include "topic/void_claims.h"
#include "shmbus/error.h"
#include "topic/subscriber_impl.h"

namespace shmbus::detail {
namespace {
constexpr uint32_t kIdlePollsBeforeClock = 64;   // a claim normally commits within ~100 ns
constexpr int64_t kLivenessCheckNs = 1'000'000;  // idle this long at one position: ask the tail
}  // namespace

// No record at our position yet. Normally a record comes, or the claim there commits, within
// nanoseconds; only a reader that has waited at one position for kLivenessCheckNs asks the tail
// whether a claim covers it (reading the tail line on every wait would cost each claim a
// cache-line trip). A claim that stays uncommitted is voided at once if no live publisher
// claims there, else after the topic's unblock timeout (never, on a single-publisher topic). `now_ns` 0: a poll, which reads the
// clock only every kIdlePollsBeforeClock-th time (every time if the polls are slow). kReadAgain: our position changed or holds
// something new; kCorrupt: the claims there contradict the seqs.
Result<void> SubscriberImpl::unblock_or_wait(int64_t now_ns, bool& caught_up) noexcept {
  switch (maybe_unblock(now_ns)) {
    case Unblock::kWait:
      caught_up = true;
      return {};
    case Unblock::kReadAgain:
      return {};
    case Unblock::kCorrupt:
      if (lapped_by_tail()) {
        jump_to_tail();
        return {};
      }
      return Errc::kCorrupt;
  }
  return {};
}

SubscriberImpl::Unblock SubscriberImpl::maybe_unblock(int64_t now_ns) noexcept {
  if (now_ns == 0) {
    if (++idle_polls_ < polls_per_clock_) return Unblock::kWait;
    idle_polls_ = 0;
    now_ns = base::monotonic_ns();
    // A slow poller (its polls further apart than a liveness check) reads the clock on every
    // idle poll, so that a dead claim is voided within a few of its polls, not 64.
    polls_per_clock_ = now_ns - clock_read_ns_ > kLivenessCheckNs ? 1 : kIdlePollsBeforeClock;
    clock_read_ns_ = now_ns;
  }
  if (pending_position_ != position_) {
    pending_position_ = position_;
    idle_since_ns_ = now_ns;
    pending_since_ns_ = 0;
    return Unblock::kWait;
  }
  if (now_ns - idle_since_ns_ < kLivenessCheckNs || now_ns - pending_checked_ns_ < kLivenessCheckNs) return Unblock::kWait;
  pending_checked_ns_ = now_ns;
  if (!log::claimed_by_tail(meta_.tail, position_)) return Unblock::kWait;  // the end of the log: just idle
  if (pending_since_ns_ == 0) {
    pending_since_ns_ = now_ns;
    return Unblock::kWait;
  }
  const log::AbandonedSpan span = log::find_abandoned_span(storage_, meta_.tail, position_, expected_seq_);
  if (span.kind == log::AbandonedSpan::Kind::kCorrupt) return Unblock::kCorrupt;  // the seqs contradict themselves
  if (span.kind != log::AbandonedSpan::Kind::kFound) return Unblock::kWait;  // try again later
  // A live claimant keeps its claim until the timeout; on a single-publisher topic for good,
  // since its commit is a plain store that no CAS of ours could stop.
  const bool timed_out = meta_.config.single_publisher == 0 &&
                         now_ns - pending_since_ns_ >= static_cast<int64_t>(meta_.config.unblock_timeout_ns);
  if (!timed_out && topic::live_claimant(meta_, span.position, span.end)) return Unblock::kWait;
  if (expected_seq_ == log::kUnknownSeq) {
    // We started here without knowing the seq (a start position or a time seek): those who
    // know it void the claim; we go on at the next record, which is all we would read anyway.
    skip_to(span.end, span.boundary_seq);
    return Unblock::kReadAgain;
  }
  // Through bytes mapped read-write for it (we map the log read-only).
  if (!topic::void_abandoned(*topic_, storage_, span)) return Unblock::kWait;  // cannot map: a later poll tries again
  pending_position_ = ~0ull;
  return Unblock::kReadAgain;  // voided by us or another, or committed meanwhile
}

bool SubscriberImpl::check_stuck(int64_t now_ns) noexcept {
  if (!topic::still_attached(meta_, slot_)) return true;
  return !ready() && maybe_unblock(now_ns) != Unblock::kWait;
}

}  // namespace shmbus::detail
