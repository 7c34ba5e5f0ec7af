#include <sched.h>

#include <algorithm>
#include <cstring>
#include <optional>

#include "log/abandoned_claim.h"
#include "base/mapped_file.h"
#include "shmbus/error.h"
#include "base/process_identity.h"
#include "topic/subscriber_impl.h"
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

constexpr uint32_t kIdlePollsBeforeClock = 64;      // a claim normally commits within ~100 ns
constexpr int64_t kLivenessCheckNs = 1'000'000;     // idle this long at one position: ask the tail
constexpr int64_t kMaxSleepNs = 10'000'000;         // a sleeper re-checks stuck frames this often
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

Result<void> SubscriberImpl::commit() noexcept {
  if (!cursor_) return Errc::kInvalidArgument;
  if (committed_ != position_) {
    cursor_->store(position_, expected_seq_, cursor_sync_);
    committed_ = position_;
  }
  return {};
}

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
  }
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
  Errc status = Errc::kOk;
  bool caught_up = false;
  while (delivered < max && status == Errc::kOk && !caught_up) {
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
  if (delivered == 0 && status != Errc::kOk) return status;
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

// No record at our position yet. Normally a record comes, or the claim there commits, within
// nanoseconds; only a reader that has waited at one position for kLivenessCheckNs asks the tail
// whether a claim covers it (reading the tail line on every wait would cost each claim a
// cache-line trip). A claim that stays uncommitted is voided at once if no live publisher
// claims there, else after the topic's unblock timeout. `now_ns` 0: a poll, which reads the
// clock only every kIdlePollsBeforeClock-th time (every time if the polls are slow). kReadAgain: our position changed or holds
// something new; kCorrupt: the claims there contradict the seqs.
Errc SubscriberImpl::unblock_or_wait(int64_t now_ns, bool& caught_up) noexcept {
  switch (maybe_unblock(now_ns)) {
    case Unblock::kWait:
      caught_up = true;
      return Errc::kOk;
    case Unblock::kReadAgain:
      return Errc::kOk;
    case Unblock::kCorrupt:
      if (lapped_by_tail()) {
        jump_to_tail();
        return Errc::kOk;
      }
      return Errc::kCorrupt;
  }
  return Errc::kOk;
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
  const bool timed_out = now_ns - pending_since_ns_ >= static_cast<int64_t>(meta_.config.unblock_timeout_ns);
  if (!timed_out && topic::live_claimant(meta_, span.position, span.end)) return Unblock::kWait;
  if (expected_seq_ == log::kUnknownSeq) {
    // We started here without knowing the seq (a start position or a time seek): those who
    // know it void the claim; we go on at the next record, which is all we would read anyway.
    skip_to(span.end, span.boundary_seq);
    return Unblock::kReadAgain;
  }
  // We map the log read-only; the void goes through bytes mapped read-write for it (one range
  // per lap the span touches).
  log::VoidResult voided = log::VoidResult::kNotVoided;
  try {
    std::optional<base::WritableRange> ranges[2];
    std::byte* bytes[2] = {};
    uint16_t epochs[2] = {};
    for (uint32_t i = 0; i < span.part_count(); ++i) {
      const log::VoidPart part = span.part(i);
      const auto [path, offset] = topic_->storage().file_offset_of(part.position);
      bytes[i] = ranges[i].emplace(path, offset, part.end - part.position).at(offset);
      epochs[i] = storage_.epoch(part.position);
    }
    voided = log::void_span(span, bytes, epochs);
  } catch (const Error&) {
    return Unblock::kWait;  // cannot map: a later poll tries again
  }
  // Relaxed: statistics. Exactly one unblocker's CAS at p wins, so the claims are counted once.
  if (voided == log::VoidResult::kVoided) {
    meta_.counters.unblocked.fetch_add(span.seqs == 0 ? 1 : span.seqs, std::memory_order_relaxed);
  }
  pending_position_ = ~0ull;
  return Unblock::kReadAgain;  // voided by us or another, or committed meanwhile
}

bool SubscriberImpl::ready() noexcept {
  log::FrameView v = log::read_frame(storage_, meta_.tail, position_, expected_seq_, std::memory_order_seq_cst);
  if (v.state == log::FrameState::kEmpty) {
    prefetch_record_tail(v.bytes);
    return behind_retention();
  }
  return v.state != log::FrameState::kPending;
}

bool SubscriberImpl::check_stuck(int64_t now_ns) noexcept {
  if (!topic::still_attached(meta_, slot_)) return true;
  return !ready() && maybe_unblock(now_ns) != Unblock::kWait;
}

Result<void> SubscriberImpl::wait_until(int64_t deadline) noexcept {
  flush_position();
  // Spinning starts with cheap checks: the clock and the liveness work come every 64th round.
  for (uint32_t spins = 1;; ++spins) {
    if (ready()) return {};
    if (wait_ != WaitStrategy::kBlock && (spins & 63) != 0) {
      // kSpin polls back to back (no pause): a pause would add its 10-20 ns to every message
      // that finds the reader waiting; kSpin is the strategy that gives a core to latency.
      if (wait_ == WaitStrategy::kYield) sched_yield();
      continue;
    }
    const int64_t now = base::monotonic_ns();
    if (check_stuck(now)) return {};
    if (now >= deadline) return Errc::kTimeout;
    heartbeat(now);
    if (wait_ == WaitStrategy::kBlock) {
      base::sleep_once(meta_.data, [this] { return ready(); }, std::min(deadline - now, kMaxSleepNs));
    }
  }
}

}  // namespace shmbus::detail
