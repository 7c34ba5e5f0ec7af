// Cancelling delayed records by message-id: entries SCHEDULED by their not-before (never
// attempted, due later) are settled skipped with one CAS16 each, so a consumer taking one at
// the same moment (it just fell due) wins or loses cleanly.
#include "base/process_identity.h"
#include "messaging/queue_impl.h"

namespace shmbus::detail {
using messaging::Control;
using messaging::EntryPair;
using messaging::EntryState;

uint64_t QueueImpl::cancel(std::string_view message_id) {
  refresh();
  std::lock_guard<std::mutex> guard(mu_);
  uint64_t cancelled = 0;
  const int64_t now = base::realtime_ns();
  for (const auto& t : bound_) {
    messaging::QueueFile& q = t->state->file();
    log::LogStorage log = t->topic->log();
    const uint64_t d = q.dispatch.seq.load(std::memory_order_acquire);
    for (uint64_t seq = q.frontier.seq.load(std::memory_order_acquire); seq < d; ++seq) {
      EntryPair p = messaging::load_entry(t->state->entry(seq));
      const Control c = Control::decode(p.control);
      if (c.lap != t->state->lap_of(seq) || c.state != EntryState::kScheduled || c.attempts != 0 || p.time <= now) {
        continue;
      }
      const std::optional<QueuedRecord> r = read_queued(log, *t, seq);
      if (!r || r->headers.find(header_keys::kMessageId) != message_id) continue;
      Control skipped = c;
      skipped.state = EntryState::kSkipped;
      if (messaging::cas_entry(t->state->entry(seq), p, {skipped.encode(), 0})) {
        q.hints.skipped.fetch_add(1, std::memory_order_relaxed);  // relaxed: statistics
        ++cancelled;
      }
    }
  }
  return cancelled;
}

}  // namespace shmbus::detail
