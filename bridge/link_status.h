// bridge: one link's counters, written by the link's thread and read by the status writer
// (relaxed atomics: each is a statistic on its own; no reader infers one from another).
#pragma once

#include <atomic>
#include <cstdint>
#include <mutex>
#include <string>
#include <utility>

namespace shmbus::bridge {

struct LinkStatus {
  std::string name;
  std::string direction;  // "outbound" | "inbound"
  std::string route;      // "orders.# -> exchange orders" | "queue payments-in -> payments.received"

  std::atomic<bool> connected{false};
  std::atomic<bool> blocked{false};       // outbound: the broker said connection.blocked
  std::atomic<uint64_t> forwarded{0};     // published to the broker (outbound) / to the bus (inbound)
  std::atomic<uint64_t> confirmed{0};     // outbound: confirmed by the broker; inbound: acked to it
  std::atomic<uint64_t> returned{0};      // outbound: unroutable, dead-lettered locally
  std::atomic<uint64_t> nacked{0};        // outbound: the broker could not take them (resent)
  std::atomic<uint64_t> redelivered{0};   // outbound: resent after a reconnect; inbound: broker redeliveries
  std::atomic<uint64_t> dead_lettered{0}; // inbound: messages the bus cannot hold
  // Not forwarded, by rule: outbound, records a bridge brought into this bus (x-shmbus-origin);
  // inbound, our own messages come back, and messages for a topic missing here (create_topics off).
  std::atomic<uint64_t> skipped{0};
  std::atomic<uint64_t> in_flight{0};     // outbound: unconfirmed; inbound: committed, not yet acked
  std::atomic<uint64_t> lag{0};           // outbound: records between the cursors and the tails
  std::atomic<uint64_t> lost{0};          // outbound memory topics: records lapped before we read them
  std::atomic<uint64_t> topics{0};        // outbound: topics attached
  std::atomic<uint64_t> connects{0};      // successful connections
  std::atomic<uint64_t> failures{0};      // failed connection attempts and lost connections
  std::atomic<int64_t> retry_at_ns{0};    // CLOCK_REALTIME of the next connection attempt (0: none)

  // Returns true if the text differs from the last error (the caller logs it once).
  bool set_error(const std::string& text, int64_t now_ns) {
    std::lock_guard lock(mutex_);
    last_error_ns_ = now_ns;
    if (text == last_error_) return false;
    last_error_ = text;
    return true;
  }
  std::pair<std::string, int64_t> error() const {
    std::lock_guard lock(mutex_);
    return {last_error_, last_error_ns_};
  }

 private:
  mutable std::mutex mutex_;
  std::string last_error_;
  int64_t last_error_ns_ = 0;
};

}  // namespace shmbus::bridge
