// Records the queue can no longer take: a ring lapped them, or a journal's retention deleted
// their segment before the queue dispatched them. Their entries are settled skipped and counted
// lost, and D jumps to the first record still there, a window at a time (F must move on first).
#include "log/read.h"
#include "log/tail.h"
#include "messaging/consumer_impl.h"

namespace shmbus::detail {
using messaging::Control;
using messaging::EntryPair;
using messaging::EntryState;
using messaging::QueueFile;

void ConsumerImpl::pass_over(Attached& a, log::TailValue d, log::TailValue to) noexcept {
  messaging::QueueFileHandle& state = *a.bound->state;
  QueueFile& q = state.file();
  const uint64_t f = q.frontier.seq.load(std::memory_order_acquire);
  if (to.seq < d.seq || to.position <= d.position || to.seq >= f + state.window()) return;
  uint64_t lost = 0;
  for (uint64_t s = d.seq; s < to.seq; ++s) {
    const Control fresh = Control::fresh(state.lap_of(s));
    EntryPair seen = messaging::load_entry(state.entry(s));
    Control skipped = fresh;
    skipped.state = EntryState::kSkipped;
    if (seen.control == fresh.encode() && messaging::cas_entry(state.entry(s), seen, {skipped.encode(), 0})) ++lost;
  }
  // Each entry is settled by one CAS, ours or a racing skipper's: counted once either way.
  q.hints.lost.fetch_add(lost, std::memory_order_relaxed);  // relaxed: statistics
  log::TailValue expected = d;
  log::cas_tail(q.dispatch, expected, to);  // a racing skipper may have moved D already
  advance_frontier(a);
}

void ConsumerImpl::skip_lapped(Attached& a, log::TailValue d) noexcept {
  pass_over(a, d, log::read_tail_exact(a.bound->topic->meta().tail));
}

// Retention deleted D's segment: D goes on at the oldest retained record, whose seq its pair
// says (or the tail's, if nothing is retained past it).
void ConsumerImpl::skip_behind_retention(Attached& a, log::TailValue d) noexcept {
  topic::TopicMeta& meta = a.bound->topic->meta();
  // Acquire: pairs with retention's release before it deletes.
  const uint64_t first = meta.journal.first_position.load(std::memory_order_acquire);
  const log::FrameView v = log::read_frame(a.log, meta.tail, first, log::kUnknownSeq);
  if (v.state == log::FrameState::kData || v.state == log::FrameState::kPadding) {
    pass_over(a, d, {first, log::load_pair(v.bytes).seq});
  } else if (const log::TailValue t = log::read_tail_exact(meta.tail); t.position == first) {
    pass_over(a, d, t);
  }
}

}  // namespace shmbus::detail
