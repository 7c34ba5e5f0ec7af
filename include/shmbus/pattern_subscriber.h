// Subscribes to every topic whose name matches a pattern, now and later.
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

namespace shmbus {

namespace detail {
class PatternSubscriberImpl;
}

// A matching topic that could not be opened (its files damaged or of another layout version,
// no permission, its directory gone): it is not attached, and the healthy topics are served as
// usual. It is opened again when the registry changes (a topic is created) and about once a
// second while the subscriber waits; once it opens it is attached at its first record and
// leaves the list.
struct SkippedTopic {
  std::string topic;
  std::string error;  // Error::what(): what failed, the path, what to do
  ErrorKind kind = ErrorKind::kGeneral;
};

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

  std::string_view pattern() const noexcept;
  size_t topic_count() const noexcept;
  uint64_t received() const noexcept;
  uint64_t lost() const noexcept;
  // Matching topics that could not be opened, in the order they were met; each is listed
  // once however often it is retried (the error is the latest one). Log each new name.
  const std::vector<SkippedTopic>& skipped_topics() const noexcept;
  explicit operator bool() const noexcept { return impl_ != nullptr; }
  detail::PatternSubscriberImpl* impl() noexcept { return impl_.get(); }

 private:
  std::unique_ptr<detail::PatternSubscriberImpl> impl_;
};

// True if `topic` matches `pattern` under the rules above.
bool pattern_matches(std::string_view pattern, std::string_view topic) noexcept;
// Throws Error unless `pattern` is a valid pattern (topic-name words, `*` or `#`).
void validate_pattern(std::string_view pattern);

}  // namespace shmbus
