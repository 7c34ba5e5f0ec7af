// What the queue tests share: a small journal topic, a queue bound to one pattern with short
// backoffs (so retries come within a test's time), a delivery's payload as text.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

#include "shmbus/shmbus.h"

namespace shmbus::test {

inline TopicConfig small_journal() {
  TopicConfig c;
  c.kind = TopicKind::kJournal;
  c.segment_bytes = 1 << 20;
  return c;
}

inline QueueConfig queue_bound_to(std::string pattern, uint32_t max_deliveries = 10) {
  QueueConfig c;
  c.bindings = {std::move(pattern)};
  c.max_deliveries = max_deliveries;
  c.retry.min = std::chrono::milliseconds(10);
  c.retry.max = std::chrono::milliseconds(50);
  return c;
}

inline std::string text_of(const Delivery& d) { return std::string(d.message().text()); }

}  // namespace shmbus::test
