// Helpers of the service tests: reading dead letters, waiting with a bound.
#pragma once

#include <chrono>
#include <string>
#include <vector>

#include "shmbus/bus.h"
#include "support/test_bus.h"

namespace shmbus::service::test {

struct DeadLetter {
  std::string type;
  std::string reason;
  std::string error;
  size_t bytes = 0;
};

// The dead letters of `queue`, once at least `want` are there (or the timeout passed).
inline std::vector<DeadLetter> dead_letters(Bus& bus, const std::string& queue, size_t want,
                                            std::chrono::milliseconds timeout = std::chrono::seconds(20)) {
  std::vector<DeadLetter> out;
  const std::string topic = dead_letter_topic(queue);
  // The queue creates its dead-letter topic (a journal) with the first one; subscribing sooner
  // would create it as a memory topic.
  if (!shmbus::test::eventually([&] { return bus.topic_exists(topic); }, timeout)) return out;
  Subscription sub = bus.subscribe(topic, SubscribeOptions(StartAt::earliest()));
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (out.size() < want && std::chrono::steady_clock::now() < deadline) {
    (void)sub.receive(
        [&](const Message& m) {
          const auto get = [&](std::string_view k) { return std::string(m.headers.find(k).value_or("")); };
          out.push_back({get(header_keys::kType), get(header_keys::kDeathReason), get(header_keys::kDeathError),
                         m.payload.size()});
        },
        64, std::chrono::milliseconds(50));
  }
  return out;
}

}  // namespace shmbus::service::test
