// An endpoint's state, shared by its handler threads (or its TestBus).
#pragma once

#include <atomic>
#include <exception>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "circuit_breaker.h"
#include "rate_limiter.h"
#include "shmbus/service/endpoint.h"
#include "transport.h"

namespace shmbus::service::detail {

struct HandlerEntry {
  MessageType type;
  Endpoint::Invoker invoke;
};

// One handler thread's counts, on a cache line of its own: threads that each counted into one
// shared line handed it between the cores at every message.
struct alignas(64) CounterStripe {
  // relaxed throughout: counters for stats(), read on their own.
  std::atomic<uint64_t> handled{0}, retried{0}, nacked{0}, rejected{0}, faulted{0}, replies_dropped{0};
  std::atomic<uint64_t> released{0}, rate_limited{0};
  void add(std::atomic<uint64_t>& c) noexcept { c.fetch_add(1, std::memory_order_relaxed); }
};
static_assert(sizeof(CounterStripe) == 64 && alignof(CounterStripe) == 64, "one cache line per stripe");

struct EndpointCounters {
  static constexpr size_t kStripes = 8;  // handler threads past 8 share them, round robin
  CounterStripe stripes[kStripes];
  std::atomic<uint32_t> next{0};  // relaxed: only spreads pipelines over the stripes

  CounterStripe& stripe() noexcept { return stripes[next.fetch_add(1, std::memory_order_relaxed) % kStripes]; }
  // One counter summed over the stripes.
  uint64_t total(std::atomic<uint64_t> CounterStripe::*c) const noexcept {
    uint64_t sum = 0;
    for (const CounterStripe& s : stripes) sum += (s.*c).load(std::memory_order_relaxed);
    return sum;
  }
};

using ExceptionFilter = std::function<bool(const std::exception_ptr&)>;

class EndpointImpl {
 public:
  EndpointImpl(std::unique_ptr<EndpointHost> host, std::string name, EndpointOptions options);

  // The handler for a record's type header, or nullptr with `reason` saying why none.
  const HandlerEntry* find(std::string_view type_header, std::string& reason) const;
  // An exception the filters let be retried (never_retry: no; retry_on given: only those).
  bool retryable(const std::exception_ptr& error) const;
  QueueConfig queue_config() const;
  void require_stopped(const char* what) const;  // throws Error while handler threads run
  const Clock& clock() const noexcept { return host->clock(); }

  const std::string name;
  const EndpointOptions options;
  std::map<std::string, HandlerEntry, std::less<>> handlers;  // by "Name@version"
  Routes routes;
  std::vector<ExceptionFilter> retry_on, never_retry;
  CircuitBreaker breaker;
  RateLimiter rate;
  EndpointCounters counters;
  std::unique_ptr<EndpointHost> host;  // last: stopped (its threads joined) before the rest goes
};

// The bus's host: the queue, a Consumer and a thread per `concurrency`.
std::unique_ptr<EndpointHost> bus_host(Bus bus);

}  // namespace shmbus::service::detail
