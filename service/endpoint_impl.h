// An endpoint's state, shared by its handler threads.
#pragma once

#include <atomic>
#include <exception>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "shmbus/service/endpoint.h"

namespace shmbus::service::detail {

struct HandlerEntry {
  MessageType type;
  Endpoint::Invoker invoke;
};

struct EndpointCounters {
  // relaxed throughout: counters for stats(), read on their own.
  std::atomic<uint64_t> handled{0}, retried{0}, nacked{0}, rejected{0}, faulted{0}, replies_dropped{0};
  void add(std::atomic<uint64_t>& c) noexcept { c.fetch_add(1, std::memory_order_relaxed); }
};

using ExceptionFilter = std::function<bool(const std::exception_ptr&)>;

class EndpointImpl {
 public:
  EndpointImpl(Bus bus, std::string name, EndpointOptions options);

  // The handler for a record's type header, or nullptr with `reason` saying why none.
  const HandlerEntry* find(std::string_view type_header, std::string& reason) const;
  // An exception the filters let be retried (never_retry: no; retry_on given: only those).
  bool retryable(const std::exception_ptr& error) const;
  QueueConfig queue_config() const;
  void require_stopped(const char* what) const;  // throws Error while handler threads run

  Bus bus;
  const std::string name;
  const EndpointOptions options;
  std::map<std::string, HandlerEntry, std::less<>> handlers;  // by "Name@version"
  Routes routes;
  std::vector<ExceptionFilter> retry_on, never_retry;
  std::optional<Queue> queue;
  std::vector<std::thread> threads;
  std::atomic<bool> stopping{false};  // relaxed: a flag polled between deliveries; join() syncs the rest
  EndpointCounters counters;
};

}  // namespace shmbus::service::detail
