// Subscribes to every topic whose name matches a pattern, now and later.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "shmbus/error.h"
#include "shmbus/message.h"
#include "shmbus/sample.h"

namespace shmbus {

namespace detail {
class PatternSubscriberImpl;
}

// AMQP topic-exchange rules: `*` matches one word, `#` zero or more; a name without wildcards
// matches itself. Topics created after subscribing are attached at their first record, within
// one poll of their creation (the registry's generation counter is checked on every poll).
// Thread-safety: one thread at a time. poll() allocates only when it attaches a new topic.
class PatternSubscriber {
 public:
  PatternSubscriber();
  explicit PatternSubscriber(std::unique_ptr<detail::PatternSubscriberImpl> impl) noexcept;
  PatternSubscriber(PatternSubscriber&&) noexcept;
  PatternSubscriber& operator=(PatternSubscriber&&) noexcept;
  ~PatternSubscriber();

  // Polls each attached topic in turn (round robin); Message::topic names the topic.
  Result<size_t> poll(MessageHandler handler, size_t max = SIZE_MAX) noexcept;
  Result<void> wait(std::chrono::nanoseconds timeout) noexcept;
  Result<size_t> receive(MessageHandler handler, size_t max, std::chrono::nanoseconds timeout) noexcept;
  // Controlled poll (Aeron's): as poll(), but the handler returns PollAction::kStop to end the
  // batch after its message; the records after it are delivered by the next poll.
  Result<size_t> controlled_poll(ControlledHandler handler, size_t max = SIZE_MAX) noexcept;
  // Pull style: the next record as a Sample that pins it until released (shmbus/sample.h).
  // try_receive() never waits (kTimeout: nothing there now); receive(timeout) waits by the
  // subscription's strategy. kHeldLimit: kMaxHeldSamples samples are held; release one.
  Result<Sample> try_receive() noexcept;
  Result<Sample> receive(std::chrono::nanoseconds timeout) noexcept;
  static constexpr size_t kMaxHeldSamples = 1024;  // per topic

  std::string_view pattern() const noexcept;
  size_t topic_count() const noexcept;
  uint64_t received() const noexcept;
  uint64_t lost() const noexcept;
  explicit operator bool() const noexcept { return impl_ != nullptr; }

 private:
  std::unique_ptr<detail::PatternSubscriberImpl> impl_;
};

// True if `topic` matches `pattern` under the rules above.
bool pattern_matches(std::string_view pattern, std::string_view topic) noexcept;
// Throws Error unless `pattern` is a valid pattern (topic-name words, `*` or `#`).
void validate_pattern(std::string_view pattern);

}  // namespace shmbus
