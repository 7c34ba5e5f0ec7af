// The subscriber behind a one-topic shmbus::Subscription: reads frames in position order, skips padding,
// unblocks abandoned claims, survives lapping and eviction, and sleeps on the data futex.
// Protocol spec: docs/format.md section 6.2-6.4 and 7.1.
#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <vector>

#include "topic/cursor_file.h"
#include "log/read.h"
#include "shmbus/sample.h"
#include "shmbus/subscription.h"
#include "base/process_identity.h"
#include "topic/slots.h"
#include "topic/topic_handle.h"

namespace shmbus::detail {

class SubscriberImpl {
 public:
  // `follows_registry`: owned by a pattern subscriber (see topic::attach_subscriber()).
  SubscriberImpl(std::shared_ptr<topic::TopicHandle> topic, const SubscribeOptions& options,
                 std::shared_ptr<void> keep_alive, bool follows_registry = false);
  ~SubscriberImpl();
  SubscriberImpl(const SubscriberImpl&) = delete;
  SubscriberImpl& operator=(const SubscriberImpl&) = delete;

  Result<size_t> poll(MessageHandler handler, size_t max) noexcept;
  // Named cursor: moves it to position(). kInvalidArgument without one.
  Result<void> commit() noexcept;
  // Named cursor: moves it to `position`, position() or a delivered record at or after the
  // committed position (shmbus/subscription.h). kInvalidArgument otherwise.
  Result<void> commit(uint64_t position) noexcept;
  Result<void> wait(std::chrono::nanoseconds timeout) noexcept {
    return wait_until(base::monotonic_ns() + timeout.count());
  }
  Result<void> wait_until(int64_t deadline_ns) noexcept;  // CLOCK_MONOTONIC
  // True if poll() would do something now (a record, padding, a lap to handle). seq_cst reads:
  // this is the re-check of the futex Dekker pair (wakeup.h).
  bool ready() noexcept;
  // Called while waiting: unblocks a frame stuck at our position if its time has come.
  // Returns true if it changed something (poll() then has work).
  bool check_stuck(int64_t now_ns) noexcept;
  // False on a single-publisher topic: its publisher commits by plain stores (wait_loop.h).
  bool publishers_fence() const noexcept { return meta_.config.single_publisher == 0; }
  // Records the subscriber as alive (waiting counts as alive).
  void heartbeat(int64_t now_ns) noexcept;
  // Publishes the read position if poll() left it for later; call before waiting.
  void flush_position() noexcept;

  topic::TopicHandle& topic_handle() noexcept { return *topic_; }
  // Keeps the mapping of the record just delivered alive (for views that outlive a poll): the
  // ring, or the journal segment it is in (which retention may delete meanwhile).
  std::shared_ptr<const void> mapping_keepalive() const noexcept {
    if (const auto& segment = storage_.pin()) return segment;
    return topic_;
  }
  // True if records are handed out from a private copy (overwrite policy), false if the
  // handler's views point into the ring itself.
  bool delivers_copies() const noexcept { return overwrite_; }
  // The ring's data bytes (records never straddle its end), for views that slice it; empty
  // for a journal, whose records are spread over segments.
  std::span<const std::byte> ring_bytes() const noexcept {
    if (!storage_.reuses_space()) return {};
    return {storage_.frame(0), lap_};
  }
  // Pull style: the next record as a Sample that pins it until released (shmbus/sample.h).
  Result<Sample> try_receive() noexcept;
  // The handler of the poll in progress stops the batch after its message (controlled poll).
  void stop_batch() noexcept { stop_ = true; }
  // A lease on a delivered record: until release_hold(position), the position we publish stays
  // at or before `position`, so `block`/`fail` publishers cannot overwrite that record, and
  // views into it stay valid after poll() returns. kHeldLimit when kMaxHeld leases are out.
  // No effect under `overwrite`, where publishers ignore positions.
  Result<void> hold(uint64_t position) noexcept;
  void release_hold(uint64_t position) noexcept;
  static constexpr size_t kMaxHeld = 1024;
  // Samples handed out and not yet released: while any is out, this object must outlive them
  // (a pattern subscriber keeps a detached topic's subscriber until then).
  size_t samples_out() const noexcept { return samples_out_; }
  WaitStrategy wait_strategy() const noexcept { return wait_; }
  uint64_t position() const noexcept { return position_; }
  // The seq of the record at position() (log::kUnknownSeq until known).
  uint64_t expected_seq() const noexcept { return expected_seq_; }
  uint64_t received() const noexcept { return received_; }
  uint64_t lost() const noexcept { return lost_; }
  const std::string& topic() const noexcept { return topic_->name(); }

 private:
  uint64_t start_position(const StartAt& start);
  log::FrameView frame_at(uint64_t position) const noexcept;
  uint64_t seek_time(int64_t timestamp_ns);
  void open_cursor(const SubscribeOptions& options);
  bool behind_retention() const noexcept;
  void skip_to_retained() noexcept;
  // Goes on at `position`, whose record has seq `seq` (log::kUnknownSeq: not known), counting
  // the records passed over as lost. Returns how many.
  uint64_t skip_to(uint64_t position, uint64_t seq) noexcept;
  bool deliver(const std::byte* bytes, log::CommitWord word, uint64_t frame_bytes, MessageHandler& handler) noexcept;
  // The overwrite policy's batched seqlock read (subscriber.cc).
  static constexpr size_t kCopyBatch = 32;
  struct CopiedFrame {
    uint64_t position;
    log::CommitWord word;
    uint64_t frame_bytes;
    size_t offset;  // in copy_
  };
  enum class CopyResult : uint8_t { kCopied, kOverwritten };
  CopyResult copy_batch(size_t max, CopiedFrame (&batch)[kCopyBatch], size_t& count) noexcept;
  bool deliver_copies(MessageHandler& handler, size_t max, size_t& delivered) noexcept;
  void jump_to_tail() noexcept;
  bool lapped_by_tail() const noexcept;
  void skip_padding(log::CommitWord word, uint64_t frame_bytes) noexcept;
  enum class Unblock : uint8_t { kWait, kReadAgain, kCorrupt };
  Unblock maybe_unblock(int64_t now_ns) noexcept;
  // maybe_unblock() for poll(): sets caught_up when there is nothing to read yet; kCorrupt when
  // the claims at our position contradict the seqs (garbage in the log).
  Result<void> unblock_or_wait(int64_t now_ns, bool& caught_up) noexcept;
  void publish_position() noexcept;
  bool space_wanted() const noexcept;   // a publisher waits (or soon may) for our position
  bool heartbeat_due() const noexcept;  // the heartbeat ages
  void reattach() noexcept;

  std::shared_ptr<topic::TopicHandle> topic_;
  std::shared_ptr<void> keep_alive_;
  topic::TopicMeta& meta_;
  log::LogStorage storage_;
  uint64_t lap_;
  bool overwrite_;
  WaitStrategy wait_;
  topic::SlotHandle slot_;
  uint64_t position_ = 0;
  uint64_t published_position_ = 0;
  // The seq the record at position_ must carry (read.h), or log::kUnknownSeq until a record or
  // the tail tells us; lapping counts the gap as lost.
  uint64_t expected_seq_ = log::kUnknownSeq;
  uint64_t received_ = 0;
  uint64_t lost_ = 0;
  // Waiting at one position (maybe_unblock): since when, and since when a claim covers it.
  uint64_t pending_position_ = ~0ull;
  static constexpr uint64_t kNoHold = ~0ull;
  bool follows_registry_ = false;
  // Held positions (hold()) in the order taken, which is position order: a ring of kMaxHeld
  // from held_head_ (oldest) for held_count_; a released one inside is marked kReleased until
  // the ones before it go too. hold_ is the oldest still held, or kNoHold.
  static constexpr uint64_t kReleased = ~0ull - 1;
  uint64_t held_[kMaxHeld] = {};
  size_t held_head_ = 0;
  size_t held_count_ = 0;
  uint64_t hold_ = kNoHold;
  bool stop_ = false;  // see stop_batch()
  size_t samples_out_ = 0;
  int64_t heartbeat_ns_ = 0;  // coarse monotonic time of our last heartbeat
  uint64_t heartbeat_asked_at_ = ~0ull;  // the position at which poll() last asked heartbeat_due()
  uint64_t run_ = 0;          // records delivered since we last caught up with the tail
  uint32_t idle_polls_ = 0;
  uint32_t polls_per_clock_ = 1;  // idle polls between clock reads (maybe_unblock)
  int64_t clock_read_ns_ = 0;
  int64_t idle_since_ns_ = 0;
  int64_t pending_since_ns_ = 0;
  int64_t pending_checked_ns_ = 0;
  // Overwrite policy only: records are copied here and checked before the handler sees them.
  std::vector<std::byte> copy_;
  // Journal topics with a named cursor.
  std::optional<topic::CursorFile> cursor_;
  uint64_t committed_ = 0;  // the position the cursor holds
  bool auto_commit_ = false;
  bool cursor_sync_ = false;
};

}  // namespace shmbus::detail
