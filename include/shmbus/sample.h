// A received record that stays valid until it is released (a lease on the record, as an
// iceoryx2 sample is): Subscription::receive() and try_receive() hand them out.
#pragma once

#include <cstddef>
#include <memory>
#include <vector>

#include "shmbus/message.h"

namespace shmbus {

namespace detail {
class SubscriberImpl;
}

// While a Sample is held, its record's bytes stay where message() points: on `block` and `fail`
// topics the subscriber's published position stays at or before the record, so no publisher
// can overwrite it; a journal segment stays mapped even if retention deletes its file. On
// `overwrite` topics, where publishers never wait, the sample holds a private copy instead.
// Releasing (release(), destruction, or moving another sample into it) lets the space go.
// Thread-safety: one thread at a time, like its Subscription.
// REQUIRES: released or destroyed before the Subscription it came from.
class Sample {
 public:
  Sample() noexcept = default;
  Sample(Sample&& other) noexcept;
  Sample& operator=(Sample&& other) noexcept;
  Sample(const Sample&) = delete;
  Sample& operator=(const Sample&) = delete;
  ~Sample() { release(); }

  const Message& message() const noexcept { return message_; }
  const Message& operator*() const noexcept { return message_; }
  const Message* operator->() const noexcept { return &message_; }
  explicit operator bool() const noexcept { return held_; }
  // What keeps the record's bytes mapped (for bindings: the owner of a zero-copy view); null
  // when the sample holds its own copy (overwrite topics).
  const std::shared_ptr<const void>& mapping() const noexcept { return mapping_; }
  // Lets the record's space go; the views of message() are invalid afterwards.
  void release() noexcept;

 private:
  friend class detail::SubscriberImpl;
  Message message_;
  detail::SubscriberImpl* owner_ = nullptr;  // null for a copy (nothing to give back)
  std::shared_ptr<const void> mapping_;
  std::shared_ptr<const void> topic_;        // keeps message_.topic's characters
  std::vector<std::byte> copy_;              // overwrite topics only
  bool held_ = false;
};

// What a controlled poll's handler tells the subscriber after each message (Aeron's
// ControlledFragmentHandler): take the next one, or stop the batch after this one.
enum class PollAction : uint8_t { kContinue, kStop };
using ControlledHandler = FunctionRef<PollAction(const Message&)>;

}  // namespace shmbus
