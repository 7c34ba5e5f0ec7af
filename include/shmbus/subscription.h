// A subscription: reads one topic, or every topic whose name matches a pattern, at its own pace.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "shmbus/error.h"
#include "shmbus/message.h"
#include "shmbus/sample.h"

namespace shmbus {

// A topic matching a pattern that could not be opened (its files damaged or of another layout
// version, no permission, its directory gone): it is not attached, and the healthy topics are
// served as usual. It is opened again when the registry changes; once it opens it is attached
// and leaves the list.
struct SkippedTopic {
  std::string topic;
  std::string error;  // Error::what(): what failed, the path, what to do
  ErrorKind kind = ErrorKind::kGeneral;
};

namespace detail {
class SubscriberImpl;
class PatternSubscriberImpl;
}

// What Bus::subscribe() returns, for a topic name and for a pattern alike: one type, one method
// set. The two kinds differ only where the words say so:
//   - one topic ("orders.eu"): the topic is created if it is new; it may have a named cursor
//     (SubscribeOptions::cursor) with commit(); position() is the next position to read.
//   - a pattern ("orders.#", "orders.*.created"): AMQP topic-exchange rules, `*` one word, `#`
//     zero or more. Every matching topic, existing or created later, is attached (a later one at
//     its first record, within one poll of its creation: the registry's generation counter is
//     checked on every poll); a removed topic is detached. Topics are polled in turn (round
//     robin) and Message::topic names each record's topic. No named cursor (one position cannot
//     stand for many topics): Bus::subscribe() refuses one; commit() returns kInvalidArgument.
// Verbs, as in the Python binding: poll() never waits (it hands over what is ready),
// receive() waits up to a timeout, try_receive() takes one record if there is one.
// Thread-safety: one thread at a time per Subscription. poll() never throws and allocates
// nothing (a pattern's poll allocates only when it attaches a new topic).
class Subscription {
 public:
  Subscription();
  explicit Subscription(std::unique_ptr<detail::SubscriberImpl> topic) noexcept;
  explicit Subscription(std::unique_ptr<detail::PatternSubscriberImpl> pattern) noexcept;
  Subscription(Subscription&&) noexcept;
  Subscription& operator=(Subscription&&) noexcept;
  ~Subscription();

  // Hands up to `max` committed records to `handler`, in position order per topic; returns how
  // many (0: nothing ready). Never waits. Being lapped is not an error: the skipped records are
  // counted in lost() and polling goes on. kCorrupt: invalid bytes at a topic's position; nothing
  // invalid was delivered. The handler must not throw.
  Result<size_t> poll(MessageHandler handler, size_t max = SIZE_MAX) noexcept;
  // Waits (by the subscription's strategy) until a record is ready or `timeout` passes (kTimeout).
  Result<void> wait(std::chrono::nanoseconds timeout) noexcept;
  // poll(); if nothing was ready, wait(timeout) and poll() again.
  Result<size_t> receive(MessageHandler handler, size_t max, std::chrono::nanoseconds timeout) noexcept;
  // Controlled poll (Aeron's): as poll(), but the handler returns PollAction::kStop to end the
  // batch after its message; the records after it are delivered by the next poll.
  Result<size_t> controlled_poll(ControlledHandler handler, size_t max = SIZE_MAX) noexcept;
  // Pull style: the next record as a Sample that pins it until released (shmbus/sample.h).
  // try_receive() never waits (kTimeout: nothing there now); receive(timeout) waits by the
  // subscription's strategy. kHeldLimit: kMaxHeldSamples samples are held (per topic); release one.
  Result<Sample> try_receive() noexcept;
  Result<Sample> receive(std::chrono::nanoseconds timeout) noexcept;
  static constexpr size_t kMaxHeldSamples = 1024;

  // Named cursor (SubscribeOptions::cursor): moves it to position(), i.e. past every record
  // delivered so far. With CommitMode::kAuto poll() does this itself after each batch.
  // kInvalidArgument if the subscription has no named cursor (always, for a pattern).
  Result<void> commit() noexcept;
  // Named cursor: moves it to `position`, so that everything before it counts as done and a
  // restart resumes there, while reading goes on ahead (an outbox relay commits only what the
  // far side confirmed). `position` is position(), or the position of a record this
  // subscription delivered since the last commit (a Message::position): the first one not yet
  // done. kInvalidArgument if it is neither (before the committed cursor, past position(), not
  // a record, or no longer retained), or without a named cursor. Never moves the cursor back.
  Result<void> commit(uint64_t position) noexcept;

  // The topic name or the pattern given to Bus::subscribe().
  std::string_view name() const noexcept;
  bool is_pattern() const noexcept { return pattern_ != nullptr; }
  // One topic: the next position to read. A pattern has no single position: 0.
  uint64_t position() const noexcept;
  // Topics attached: 1 for a topic name, the matching topics for a pattern.
  size_t topic_count() const noexcept;
  // Patterns: matching topics that could not be opened, each listed once (latest error). Log
  // each new name. Empty for one topic (its subscribe() throws instead).
  const std::vector<SkippedTopic>& skipped_topics() const noexcept;
  uint64_t received() const noexcept;  // records delivered
  // Records lost to lapping (overwrite policy), or skipped because retention removed them
  // (journal topics), counted by sequence number: exact, except that
  // a claim that never committed (aborted, unblocked, or abandoned by a publisher descheduled
  // for a whole lap) inside a skipped range counts as one too: its bytes are gone.
  // A pattern sums its topics (including those detached since).
  uint64_t lost() const noexcept;
  explicit operator bool() const noexcept { return topic_ != nullptr || pattern_ != nullptr; }

 private:
  std::unique_ptr<detail::SubscriberImpl> topic_;
  std::unique_ptr<detail::PatternSubscriberImpl> pattern_;
};

}  // namespace shmbus
