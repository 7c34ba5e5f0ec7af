// Durable queues: competing consumers, leases with fencing, acks, retries with backoff, dead
// letters. A queue is bound to journal topics by name or pattern; each bound record is
// delivered to one consumer of the queue (threads and processes alike). No daemon: consumers
// cooperate through the queue's state files (beside the topics' segments), and any of them may
// die at any instruction. See docs/queues.md.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "shmbus/error.h"
#include "shmbus/function_ref.h"
#include "shmbus/message.h"

namespace shmbus {

namespace detail {
class QueueImpl;
class ConsumerImpl;
}

// Exponential backoff with jitter (MassTransit's shape): the n-th retry (n = 1, 2, ...) waits
// min * factor^(n-1), at most max, scaled by a uniform factor in [1 - jitter, 1 + jitter].
struct RetryPolicy {
  std::chrono::milliseconds min{100};
  std::chrono::milliseconds max{30000};
  double factor = 2.0;
  double jitter = 0.2;

  // "exponential:min=100ms,max=30s,factor=2,jitter=0.2" (any subset of the keys; units ms, s, m).
  // Throws Error (kInvalidArgument) with what is wrong.
  static RetryPolicy parse(std::string_view spec);
  std::string to_string() const;
  // The delay before retry `n` (1-based), given a uniform random number u in [0, 1).
  std::chrono::nanoseconds delay(uint32_t n, double u) const noexcept;
};

// What happens to a record whose `expires-at` passed before it was delivered.
enum class ExpiredAction : uint8_t { kDeadLetter, kDrop };

struct QueueConfig {
  // Topic names or patterns (`*` one word, `#` zero or more): journal topics, and memory topics
  // of the block or fail policy (docs/queues.md: what a reboot or a lap loses there).
  std::vector<std::string> bindings;
  // A header filter with RabbitMQ's headers-exchange rules (HeaderFilter::parse's form, e.g.
  // "x-match=any,type=OrderPlaced@2,region"); "" takes every record of the bound topics.
  std::string filter;
  uint32_t max_deliveries = 10;                    // failed attempts before dead-lettering (1..255)
  std::chrono::milliseconds lease{30000};          // a stalled consumer loses its delivery after this
  RetryPolicy retry;
  // Per-key ordering: the header whose value is the key ("" = none; envelope::kKey = "key" is
  // the usual one). No two records of one key (per topic) are in flight at once, and a key
  // whose record waits for a retry parks: its later records wait, in order, others flow.
  std::string ordering_key;
  // One consumer at a time takes deliveries (per bound topic); the next takes over when it
  // closes or dies.
  bool single_active = false;
  // Records whose message-id this queue dispatched within the window are dropped and counted
  // (0: no dedup). A replayed dead letter (x-replayed) passes.
  std::chrono::milliseconds dedup_window{0};
  ExpiredAction expired = ExpiredAction::kDeadLetter;
};

struct QueueStats {
  std::string name;
  QueueConfig config;
  uint64_t ready = 0;         // deliverable now (new and redelivered)
  uint64_t in_flight = 0;     // leased to a consumer
  uint64_t scheduled = 0;     // waiting for a retry's backoff or a nack's delay
  uint64_t consumers = 0;     // attached, alive
  uint64_t acked = 0;
  uint64_t nacked = 0;
  uint64_t redelivered = 0;
  uint64_t dead_lettered = 0;
  uint64_t skipped = 0;       // records the queue passed over (claims that never committed, filtered out)
  uint64_t delayed = 0;       // scheduled by a not-before time that has not come yet (part of `scheduled`)
  uint64_t parked = 0;        // ready, but held behind an earlier record of their key
  uint64_t parked_keys = 0;   // keys with parked records
  uint64_t expired = 0;       // dead-lettered or dropped because their expires-at passed
  uint64_t deduplicated = 0;  // dropped: their message-id was seen within the dedup window
  uint64_t lost = 0;          // records a ring overwrote, or a journal's retention deleted, before the queue settled them
  int64_t oldest_ready_ns = 0;  // CLOCK_REALTIME timestamp of the oldest ready record (0: none)
  double oldest_ready_age = 0;  // seconds since then, when the stats were taken (0: none)
  uint64_t dlq_depth = 0;     // dead letters not yet handled: records of <queue>.dlq past its
                              // kDeadLetterCursor (all of them while it has none)
  std::vector<std::string> topics;  // bound topics with state files
};

// One attempt to hand a queued record to a consumer: the record (valid while the Delivery
// lives) and its lease. Settle it through the Consumer that received it.
class Delivery {
 public:
  Delivery() = default;
  Delivery(Delivery&&) noexcept = default;
  Delivery& operator=(Delivery&&) noexcept = default;

  const Message& message() const noexcept { return message_; }
  const Message* operator->() const noexcept { return &message_; }
  // 1 for the first delivery; x-delivery-count + 1 on redelivery.
  uint32_t attempt() const noexcept { return attempt_; }
  explicit operator bool() const noexcept { return topic_index_ != kNone; }

 private:
  friend class detail::ConsumerImpl;
  static constexpr uint32_t kNone = ~0u;
  Message message_;
  std::shared_ptr<const void> pin_;  // keeps the record's segment mapped
  uint32_t topic_index_ = kNone;
  uint32_t attempt_ = 0;
  uint64_t seq_ = 0;
  uint64_t control_ = 0;   // the entry's control word while we hold the lease
  int64_t deadline_ns_ = 0;
};

// What a handler says of its delivery (the handler style, Consumer::handle()).
enum class Outcome : uint8_t {
  kAck,     // done
  kRetry,   // a failed attempt: again after the queue's backoff (nack)
  kReject,  // dead-letter now (reject)
};

struct ConsumerOptions {
  uint32_t prefetch = 64;  // deliveries held at once (received and not yet settled)
};

// Thread-safety: one thread at a time per Consumer; any number of Consumers (threads and
// processes) share a queue. receive/ack/nack/extend allocate nothing and never throw.
class Consumer {
 public:
  Consumer();
  explicit Consumer(std::unique_ptr<detail::ConsumerImpl> impl) noexcept;
  Consumer(Consumer&&) noexcept;
  Consumer& operator=(Consumer&&) noexcept;
  ~Consumer();

  // The next delivery: kTimeout if none is ready (try_receive) or none came in time (receive).
  // kHeldLimit: `prefetch` deliveries are held; settle one first.
  Result<Delivery> try_receive() noexcept;
  Result<Delivery> receive(std::chrono::nanoseconds timeout) noexcept;

  // Settlement. kStaleLease: the lease was taken away meanwhile (it expired, or this process
  // was presumed dead): another consumer may hold the record now; this call changed nothing.
  Result<void> ack(Delivery& delivery) noexcept;
  // Retry later: after the queue's backoff for this attempt, or after `delay` if given. Past
  // max_deliveries failed attempts the record is dead-lettered (reason delivery_limit) with
  // `error` as x-death-error ("nacked" if empty); a nack that schedules a retry keeps no text.
  Result<void> nack(Delivery& delivery, std::optional<std::chrono::nanoseconds> delay = {},
                    std::string_view error = {}) noexcept;
  // Dead-letter now (reason rejected), with `error` as x-death-error. Slow path: it publishes.
  Result<void> reject(Delivery& delivery, std::string_view error = {}) noexcept;
  // Renews the lease for another lease time.
  Result<void> extend(Delivery& delivery) noexcept;
  // Makes this consumer's settlements so far durable (on journal topics: one msync of each state
  // file, for a whole batch of acks). Until then a machine crash may bring settled records back
  // (redelivered: at least once, never lost). kStorage if the disk refused. Not a hot-path call.
  Result<void> sync() noexcept;
  // Gives the delivery back uncharged, ready for any consumer at once: the attempt is not
  // counted (as when a Consumer closes with deliveries unsettled). For a consumer that stops
  // before handling what it received (shutdown, a cancelled wait), not for a failure: use nack.
  Result<void> release(Delivery& delivery) noexcept;

  // The handler style: takes up to `max` deliveries (waiting up to `timeout` for the first, not
  // at all for the rest), hands each to `handler` and settles it as the handler says. A handler
  // that throws made a failed attempt (kRetry) whose what() becomes the x-death-error should that
  // attempt dead-letter the record. Returns how many were handled; kTimeout if none came in time.
  // The first settlement error (kStaleLease: the lease was lost meanwhile) is returned after the
  // batch. Allocates nothing (but what a dead letter needs); never throws.
  Result<size_t> handle(FunctionRef<Outcome(const Delivery&)> handler, size_t max = 64,
                        std::chrono::nanoseconds timeout = std::chrono::milliseconds(100)) noexcept;

  uint32_t held() const noexcept;
  explicit operator bool() const noexcept { return impl_ != nullptr; }

 private:
  std::unique_ptr<detail::ConsumerImpl> impl_;
};

// A handle on a queue (cheap to keep; consumers keep what they need alive on their own).
class Queue {
 public:
  Queue();
  explicit Queue(std::shared_ptr<detail::QueueImpl> impl) noexcept;
  ~Queue();
  Queue(Queue&&) noexcept;
  Queue& operator=(Queue&&) noexcept;

  const std::string& name() const noexcept;
  Consumer consumer(const ConsumerOptions& options = {});
  QueueStats stats();
  // Settles everything not yet delivered or in flight as skipped (the records stay in the topics).
  uint64_t purge();
  // Cancels delayed records (not-before still ahead) whose message-id is `message_id`: they are
  // settled as skipped and never delivered. Returns how many.
  uint64_t cancel(std::string_view message_id);

 private:
  std::shared_ptr<detail::QueueImpl> impl_;
};

const char* to_string(ExpiredAction action) noexcept;
// "dead-letter" or "drop"; throws Error (kInvalidArgument) otherwise.
ExpiredAction parse_expired_action(std::string_view text);

// Throws Error unless `name` can name a queue (a topic name; its dead letters go to NAME.dlq).
void validate_queue_name(std::string_view name);

// The journal topic of a queue's dead letters: "<queue>.dlq".
inline std::string dead_letter_topic(std::string_view queue) { return std::string(queue) + ".dlq"; }

// The named cursor of <queue>.dlq that marks dead letters as handled: everything before it was
// replayed or purged (`shmbus dlq replay|purge`). The records stay in the topic until its
// retention removes them; QueueStats::dlq_depth counts those after the cursor.
inline constexpr std::string_view kDeadLetterCursor = "handled";

}  // namespace shmbus
