// A record as a subscriber sees it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
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
  // The record's id for dropping duplicates (at-least-once delivery): its `message-id` header if
  // the publisher set one, else "<topic>@<position>", unique and stable on a journal topic.
  std::string message_id() const;
};

using MessageHandler = FunctionRef<void(const Message&)>;

// Where a new subscriber starts: the oldest retained record, the end (only what comes next), a
// record's position, or the first record stamped at or after a time (CLOCK_REALTIME ns; on a
// journal found through its time index without scanning it).
struct StartAt {
  enum class Kind : uint8_t { kEarliest, kLatest, kPosition, kTime };
  Kind kind = Kind::kLatest;
  uint64_t position = 0;
  int64_t timestamp_ns = 0;

  static StartAt earliest() noexcept { return {Kind::kEarliest, 0, 0}; }
  static StartAt latest() noexcept { return {Kind::kLatest, 0, 0}; }
  static StartAt at(uint64_t position) noexcept { return {Kind::kPosition, position, 0}; }
  static StartAt time(int64_t timestamp_ns) noexcept { return {Kind::kTime, 0, timestamp_ns}; }
};

// How a subscriber waits for data: burn a core (lowest latency: polls back to back, without
// even a pause), yield it, or sleep in a futex (a publisher then pays one wake-up syscall, and
// only while somebody sleeps).
enum class WaitStrategy : uint8_t { kSpin, kYield, kBlock };

// When a named cursor moves: after every poll() that delivered something (auto), or only when
// the subscriber calls commit() (manual: commit after the work is done, for at-least-once).
enum class CommitMode : uint8_t { kAuto, kManual };

struct SubscribeOptions {
  SubscribeOptions() = default;
  SubscribeOptions(StartAt start_at, WaitStrategy wait_strategy = WaitStrategy::kBlock) noexcept  // NOLINT: {start, wait}
      : start(start_at), wait(wait_strategy) {}

  // Where to start. With a named cursor that exists already, the cursor decides instead.
  StartAt start = StartAt::latest();
  WaitStrategy wait = WaitStrategy::kBlock;
  // Journal topics: a named cursor ([A-Za-z0-9_-], up to 64 characters) whose position survives
  // restarts, kept in the journal's directory. One subscriber at a time per cursor; one topic
  // only (Bus::subscribe() refuses a cursor with a pattern).
  std::string cursor;
  CommitMode commit = CommitMode::kAuto;
};

}  // namespace shmbus
