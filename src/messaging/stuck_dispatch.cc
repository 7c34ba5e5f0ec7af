// A claim at the dispatch point D whose publisher died before its commit. Subscribers of the
// topic void such claims (topic/stuck_claims.cc), but a queue's topic may have none: then the
// queue's consumers do it, with the same bound and void (log/abandoned_claim.h), once D has
// waited at the frame for kDeadClaimCheckNs and no live publisher claims there. A live claimer,
// however slow, is left alone (its topic's subscribers unblock it after the unblock timeout).
#include <optional>

#include "base/process_identity.h"
#include "log/abandoned_claim.h"
#include "messaging/consumer_impl.h"
#include "topic/slots.h"
#include "topic/void_claims.h"

namespace shmbus::detail {
namespace {
constexpr int64_t kDeadClaimCheckNs = 2'000'000;  // a claim normally commits within microseconds
}  // namespace

bool ConsumerImpl::unblock_dispatch(Attached& a, log::TailValue d) noexcept {
  const int64_t now = base::coarse_monotonic_ns();
  if (a.waiting_at != d.position) {  // D moved: start the clock, without touching the tail's line
    a.waiting_at = d.position;
    a.waiting_since_ns = now;
    return false;
  }
  if (now - a.waiting_since_ns < kDeadClaimCheckNs) return false;
  a.waiting_since_ns = now;  // at most one look per interval
  topic::TopicMeta& meta = a.bound->topic->meta();
  if (!log::claimed_by_tail(meta.tail, d.position)) return false;  // the end of the log: just idle
  const log::AbandonedSpan span = log::find_abandoned_span(a.log, meta.tail, d.position, d.seq);
  if (span.kind != log::AbandonedSpan::Kind::kFound || topic::live_claimant(meta, span.position, span.end)) return false;
  if (!topic::void_abandoned(*a.bound->topic, a.log, span)) return false;  // cannot map now: a later look tries again
  a.waiting_at = ~0ull;
  return true;  // voided (by us or another) or committed meanwhile: read D's frame again
}

}  // namespace shmbus::detail
