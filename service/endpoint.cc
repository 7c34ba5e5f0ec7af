// Endpoint: handler registration and the options; where it runs is its host (bus_host.cc on a
// Bus, test_bus_state.cc on a TestBus).
#include "shmbus/service/endpoint.h"

#include <algorithm>
#include <cstdio>

#include "endpoint_impl.h"
#include "kinds.h"
#include "sender.h"
#include "shmbus/service/topology.h"
#include "shmbus/service/test_bus.h"

namespace shmbus::service {
namespace detail {

EndpointImpl::EndpointImpl(std::unique_ptr<EndpointHost> h, std::string n, EndpointOptions o)
    : name((validate_queue_name(n), std::move(n))), options(std::move(o)), breaker(options.breaker, name),
      rate(options.rate_limit, name), host(std::move(h)) {
  if (options.concurrency == 0) {
    throw Error("endpoint \"" + name + "\": concurrency 0 would handle nothing: give it 1 or more",
                ErrorKind::kInvalidArgument);
  }
  if (options.handler_timeout.count() > 0 && options.handler_timeout >= options.lease) {
    throw Error("endpoint \"" + name + "\": handler_timeout (" + std::to_string(options.handler_timeout.count()) +
                    " ms) must be shorter than the lease (" + std::to_string(options.lease.count()) +
                    " ms), or the message is redelivered to another handler while the first still runs",
                ErrorKind::kInvalidArgument);
  }
}

const HandlerEntry* EndpointImpl::find(std::string_view type_header, std::string& reason) const {
  if (auto it = handlers.find(type_header); it != handlers.end()) return &it->second;
  std::string handled;
  for (const auto& [key, entry] : handlers) handled += (handled.empty() ? "" : ", ") + key;
  if (handled.empty()) handled = "nothing";
  const std::optional<TypeHeader> parsed = parse_type_header(type_header);
  if (type_header.empty()) {
    reason = "undecodable: no type header (endpoint " + name + " handles " + handled + ")";
  } else if (!parsed) {
    reason = "undecodable: type header \"" + std::string(type_header) + "\" is not Name@version";
  } else {
    const bool name_known = std::any_of(handlers.begin(), handlers.end(),
                                        [&](const auto& h) { return h.second.type.name == parsed->name; });
    reason = std::string(name_known ? "unknown version: " : "unknown type: ") + std::string(type_header) +
             " (endpoint " + name + " handles " + handled + ")";
  }
  return nullptr;
}

// The handler threads read handlers, routes and filters without a lock: they change only
// while no thread runs.
void EndpointImpl::require_stopped(const char* what) const {
  if (host->running()) {
    throw Error("endpoint \"" + name + "\" is running: set its " + what + " before start() (or after stop())",
                ErrorKind::kInvalidArgument);
  }
}

bool EndpointImpl::retryable(const std::exception_ptr& error) const {
  for (const ExceptionFilter& f : never_retry) {
    if (f(error)) return false;
  }
  if (retry_on.empty()) return true;
  return std::any_of(retry_on.begin(), retry_on.end(), [&](const ExceptionFilter& f) { return f(error); });
}

QueueConfig EndpointImpl::queue_config() const {
  QueueConfig c;
  c.bindings.push_back(command_topic(name));
  for (const auto& [key, entry] : handlers) {
    if (entry.type.kind == MessageKind::kEvent) c.bindings.push_back(event_topic(entry.type));
  }
  // Sorted, without repeats (two versions of one event share a topic): declaring the queue
  // again after a restart must give the very same configuration.
  std::sort(c.bindings.begin() + 1, c.bindings.end());
  c.bindings.erase(std::unique(c.bindings.begin(), c.bindings.end()), c.bindings.end());
  c.max_deliveries = options.max_deliveries;
  c.lease = options.lease;
  c.retry = options.retry;
  c.expired = options.expired;
  c.ordering_key = options.ordering_key;
  return c;
}

}  // namespace detail

Endpoint::Endpoint(Bus bus, std::string name, EndpointOptions options)
    : impl_(std::make_unique<detail::EndpointImpl>(detail::bus_host(std::move(bus)), std::move(name),
                                                   std::move(options))) {}
Endpoint::Endpoint(TestBus& bus, std::string name, EndpointOptions options)
    : impl_(std::make_unique<detail::EndpointImpl>(detail::test_host(bus), std::move(name), std::move(options))) {}
Endpoint::Endpoint(Endpoint&&) noexcept = default;
Endpoint& Endpoint::operator=(Endpoint&& other) noexcept {
  if (this != &other) {
    stop();
    impl_ = std::move(other.impl_);
  }
  return *this;
}
Endpoint::~Endpoint() { stop(); }

void Endpoint::add_handler(const MessageType& type, Invoker invoker) {
  detail::check_handle(type);
  impl_->require_stopped("handlers");
  const std::string key = type.type_header();
  if (!impl_->handlers.emplace(key, detail::HandlerEntry{type, std::move(invoker)}).second) {
    throw Error("endpoint \"" + impl_->name + "\" has a handler for " + key + " already: one per type",
                ErrorKind::kInvalidArgument);
  }
}

void Endpoint::add_route(const MessageType& type, std::string endpoint) {
  impl_->require_stopped("routes");
  detail::check_send(type);
  validate_queue_name(endpoint);
  impl_->routes[type.name] = std::move(endpoint);
}

void Endpoint::add_filter(bool retry, std::function<bool(const std::exception_ptr&)> matches) {
  impl_->require_stopped("exception filters");
  (retry ? impl_->retry_on : impl_->never_retry).push_back(std::move(matches));
}

void Endpoint::start() { impl_->host->start(*impl_); }

void Endpoint::stop() {
  if (impl_) impl_->host->stop();
}

bool Endpoint::running() const noexcept { return impl_ && impl_->host->running(); }
const std::string& Endpoint::name() const noexcept { return impl_->name; }

Queue Endpoint::queue() const { return impl_->host->queue(); }

EndpointStats Endpoint::stats() const noexcept {
  using S = detail::CounterStripe;
  const detail::EndpointCounters& c = impl_->counters;
  const detail::CircuitBreaker& b = impl_->breaker;
  return {c.total(&S::handled), c.total(&S::retried),         c.total(&S::nacked),
          c.total(&S::rejected), c.total(&S::faulted),         c.total(&S::replies_dropped),
          b.state(),             b.opened(),                   b.closed(),
          c.total(&S::released), c.total(&S::rate_limited)};
}

}  // namespace shmbus::service
