// A record as a subscriber sees it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

#include "shmbus/function_ref.h"
#include "shmbus/headers.h"

namespace shmbus {

// Views into the log: valid only during the handler call that receives the Message (under the
// `overwrite` policy they point into the subscriber's private copy, elsewhere into the ring).
struct Message {
  std::string_view topic;
  uint64_t position = 0;      // byte offset in the topic's log; unique: the message id
  uint64_t seq = 0;           // index of the record in its topic (0, 1, 2, ...)
  int64_t timestamp_ns = 0;   // CLOCK_REALTIME at publish
  HeadersView headers;
  std::span<const std::byte> payload;

  std::string_view text() const noexcept {
    return {reinterpret_cast<const char*>(payload.data()), payload.size()};
  }
};

using MessageHandler = FunctionRef<void(const Message&)>;

// Where a new subscriber starts.
struct StartAt {
  enum class Kind : uint8_t { kEarliest, kLatest, kPosition };
  Kind kind = Kind::kLatest;
  uint64_t position = 0;

  static StartAt earliest() noexcept { return {Kind::kEarliest, 0}; }
  static StartAt latest() noexcept { return {Kind::kLatest, 0}; }
  static StartAt at(uint64_t position) noexcept { return {Kind::kPosition, position}; }
};

// How a subscriber waits for data: burn a core (lowest latency), yield it, or sleep in a futex
// (a publisher then pays one wake-up syscall, and only while somebody sleeps).
enum class WaitStrategy : uint8_t { kSpin, kYield, kBlock };

struct SubscribeOptions {
  StartAt start = StartAt::latest();
  WaitStrategy wait = WaitStrategy::kBlock;
};

}  // namespace shmbus
