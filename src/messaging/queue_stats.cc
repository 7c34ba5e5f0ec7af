// What a queue reports (a scan of each state file's entries below D), and purging it.
#include <algorithm>
#include <set>
#include <string>

#include "base/process_identity.h"
#include "log/read.h"
#include "log/tail.h"
#include "messaging/queue_impl.h"
#include "shmbus/envelope.h"

namespace shmbus::detail {
using messaging::Control;
using messaging::EntryPair;
using messaging::EntryState;

std::optional<QueuedRecord> read_queued(log::LogStorage& log, const BoundTopic& t, uint64_t seq) noexcept {
  const uint64_t position = t.state->entry(seq).position.load(std::memory_order_relaxed);
  const log::FrameView v = log::read_frame(log, t.topic->meta().tail, position, seq);
  if (v.state != log::FrameState::kData) return std::nullopt;
  const log::RecordHeader* h = log::header_of(v.bytes);
  QueuedRecord r;
  r.timestamp_ns = h->timestamp_ns;
  if (h->headers_len != 0) r.headers = HeadersView({v.bytes + log::kHeaderBytes, h->headers_len});
  return r;
}

namespace {
// Parked records and their keys, delayed records, the oldest ready record: one pass over [F, D)
// that reads the records it needs (a slow path: allocates).
void scan_records(const QueueConfig& config, const BoundTopic& t, uint64_t f, uint64_t d, int64_t now, QueueStats& s) {
  log::LogStorage log = t.topic->log();
  std::set<std::string> unsettled_keys, parked_keys;
  for (uint64_t seq = f; seq < d; ++seq) {
    const EntryPair p = messaging::load_entry(t.state->entry(seq));
    const Control c = Control::decode(p.control);
    if (c.lap != t.state->lap_of(seq) || c.settled()) continue;
    const bool delayed = c.state == EntryState::kScheduled && c.attempts == 0 && p.time > now;
    s.delayed += delayed;
    if (c.state != EntryState::kReady && config.ordering_key.empty()) continue;
    const std::optional<QueuedRecord> r = read_queued(log, t, seq);
    if (!r) continue;
    if (c.state == EntryState::kReady && (s.oldest_ready_ns == 0 || r->timestamp_ns < s.oldest_ready_ns)) {
      s.oldest_ready_ns = r->timestamp_ns;
    }
    if (config.ordering_key.empty()) continue;
    const std::optional<std::string_view> key = r->headers.find(config.ordering_key);
    if (!key) continue;
    const bool behind = !unsettled_keys.insert(std::string(*key)).second;
    if (behind && c.state == EntryState::kReady) {
      ++s.parked;
      parked_keys.insert(std::string(*key));
    }
  }
  s.parked_keys += parked_keys.size();
}
}  // namespace

QueueStats QueueImpl::stats() {
  refresh();
  QueueStats s;
  s.name = name_;
  s.config = config_;
  std::lock_guard<std::mutex> guard(mu_);
  for (const auto& t : bound_) {
    messaging::QueueFile& q = t->state->file();
    s.topics.push_back(t->name);
    // Acked and dead-lettered: exact, from F's counts and the settled entries not yet behind F.
    const uint64_t counts = q.frontier.counts.load(std::memory_order_acquire);
    s.acked += counts & messaging::kAckedMask;
    s.dead_lettered += counts >> 40;
    // Relaxed: statistics.
    s.nacked += q.hints.nacked.load(std::memory_order_relaxed);
    s.redelivered += q.hints.redelivered.load(std::memory_order_relaxed);
    s.skipped += q.hints.skipped.load(std::memory_order_relaxed);
    s.expired += q.hints.expired.load(std::memory_order_relaxed);
    s.deduplicated += q.hints.deduplicated.load(std::memory_order_relaxed);
    s.lost += q.hints.lost.load(std::memory_order_relaxed);
    for (const auto& slot : q.consumers) {
      const uint64_t owner = slot.owner.load(std::memory_order_acquire);
      if (owner != 0 && base::owner_alive(owner)) ++s.consumers;
    }
    const uint64_t d = q.dispatch.seq.load(std::memory_order_acquire);
    const uint64_t f = q.frontier.seq.load(std::memory_order_acquire);
    scan_records(config_, *t, f, d, base::realtime_ns(), s);
    for (uint64_t seq = f; seq < d; ++seq) {
      const Control c = Control::decode(messaging::load_entry(t->state->entry(seq)).control);
      if (c.lap != t->state->lap_of(seq)) continue;
      s.ready += c.state == EntryState::kReady;
      s.in_flight += c.state == EntryState::kLeased;
      s.scheduled += c.state == EntryState::kScheduled;
      s.acked += c.state == EntryState::kAcked;
      s.dead_lettered += c.state == EntryState::kDead;
    }
    // Never handed out yet: every seq from D to the topic's tail (voided claims included).
    const log::TailValue tail = log::read_tail_exact(t->topic->meta().tail);
    if (tail.seq > d) s.ready += tail.seq - d;
    if (s.oldest_ready_ns == 0 && tail.seq > d) {
      // The oldest ready record is the next one to dispatch.
      log::LogStorage log = t->topic->log();
      const log::TailValue at = log::read_tail_fast(q.dispatch);
      const log::FrameView v = log::read_frame(log, t->topic->meta().tail, at.position, at.seq);
      if (v.state == log::FrameState::kData) s.oldest_ready_ns = log::header_of(v.bytes)->timestamp_ns;
    }
  }
  if (s.oldest_ready_ns != 0) {
    s.oldest_ready_age = std::max(0.0, static_cast<double>(base::realtime_ns() - s.oldest_ready_ns) / 1e9);
  }
  try {
    const TopicStats dlq = bus_->stats(dead_letter_topic(name_));
    s.dlq_depth = dlq.published;
    for (const CursorStats& c : dlq.cursors) {
      if (c.name == kDeadLetterCursor) s.dlq_depth = c.lag_records;  // the rest were replayed or purged
    }
  } catch (const Error&) {
    // no dead letters yet
  }
  return s;
}

// Everything not yet handed out is passed over: D jumps to each topic's tail. (Deliveries in
// flight and scheduled retries are left to run their course.)
uint64_t QueueImpl::purge() {
  refresh();
  std::lock_guard<std::mutex> guard(mu_);
  uint64_t purged = 0;
  for (const auto& t : bound_) {
    messaging::QueueFile& q = t->state->file();
    for (;;) {
      const log::TailValue d = log::read_tail_fast(q.dispatch);
      const uint64_t d_seq = d.seq;
      const log::TailValue tail = log::read_tail_exact(t->topic->meta().tail);
      if (tail.seq <= d_seq) break;
      // Entries of the seqs passed over must read settled before F can pass them: D may move
      // only as far as the window allows, a window at a time.
      const uint64_t f = q.frontier.seq.load(std::memory_order_acquire);
      if (tail.seq >= f + t->state->window()) break;
      for (uint64_t s = d_seq; s < tail.seq; ++s) {
        const Control ready = Control::fresh(t->state->lap_of(s));
        EntryPair fresh = messaging::load_entry(t->state->entry(s));
        Control skipped = ready;
        skipped.state = EntryState::kSkipped;
        if (fresh.control == ready.encode()) messaging::cas_entry(t->state->entry(s), fresh, {skipped.encode(), 0});
      }
      log::TailValue seen = d;
      if (log::cas_tail(q.dispatch, seen, tail)) {
        purged += tail.seq - d_seq;
        break;
      }
    }
  }
  return purged;
}

}  // namespace shmbus::detail
