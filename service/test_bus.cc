// TestBus: the verbs of a Client and the assertions, over its MemoryBus.
#include "shmbus/service/test_bus.h"

#include <algorithm>

#include "kinds.h"
#include "shmbus/envelope.h"
#include "shmbus/service/topology.h"
#include "test_bus_state.h"

namespace shmbus::service {

TestBus::TestBus(TestBusOptions options) : state_(std::make_shared<detail::MemoryBus>(std::move(options))) {}
TestBus::TestBus(TestBus&&) noexcept = default;
TestBus& TestBus::operator=(TestBus&& other) noexcept {
  if (this != &other) {
    if (state_) state_->close();
    state_ = std::move(other.state_);
  }
  return *this;
}
TestBus::~TestBus() {
  if (state_) state_->close();
}

void TestBus::advance(std::chrono::nanoseconds d) { state_->advance(d); }
std::chrono::nanoseconds TestBus::elapsed() const noexcept { return state_->clock.elapsed(); }
std::chrono::steady_clock::time_point TestBus::now() const noexcept { return state_->clock.now(); }
std::chrono::system_clock::time_point TestBus::wall() const noexcept { return state_->clock.wall(); }

std::string TestBus::publish_json(const MessageType& type, std::string json) {
  detail::check_publish(type);
  detail::MemoryBus& s = *state_;
  const Envelope env = Envelope::start(type, s.options.source, s.clock.wall());
  s.publish({event_topic(type), env, std::move(json), false, {}});
  s.run_due();
  return env.message_id;
}

std::string TestBus::send_json(const MessageType& type, std::string json, std::string_view endpoint,
                               std::optional<std::chrono::system_clock::time_point> not_before) {
  detail::check_send(type);
  detail::MemoryBus& s = *state_;
  const std::string to = detail::routed_endpoint(type, endpoint, s.routes);
  Envelope env = Envelope::start(type, s.options.source, s.clock.wall());
  if (not_before) env.not_before = envelope::format_time(*not_before);
  s.require_endpoint(to);
  s.publish({command_topic(to), env, std::move(json), false, to});
  s.run_due();
  return env.message_id;
}

uint64_t TestBus::cancel_scheduled(std::string_view endpoint, std::string_view message_id) {
  detail::MemoryBus& s = *state_;
  auto it = s.queues.find(endpoint);
  if (it == s.queues.end()) {
    throw Error("no queue \"" + std::string(endpoint) + "\" on the TestBus: start its Endpoint first",
                ErrorKind::kNotFound);
  }
  std::vector<detail::QueueEntry>& entries = it->second.entries;
  const detail::TimePoint now = s.clock.now();
  const auto cancelled = [&](const detail::QueueEntry& e) {
    return e.delayed && e.due > now && e.record->envelope.message_id == message_id;
  };
  const auto n = std::count_if(entries.begin(), entries.end(), cancelled);
  entries.erase(std::remove_if(entries.begin(), entries.end(), cancelled), entries.end());
  return static_cast<uint64_t>(n);
}

void TestBus::request_json(const MessageType& type, std::string json, std::string_view endpoint,
                           std::chrono::nanoseconds timeout, const MessageType& reply_type, Client::ReplyCallback done) {
  detail::check_request(type, reply_type);
  detail::MemoryBus& s = *state_;
  const std::string to = detail::routed_endpoint(type, endpoint, s.routes);
  Envelope env = Envelope::start(type, s.options.source, s.clock.wall());
  env.reply_to = s.reply_topic;
  env.expires_at = envelope::format_time(s.clock.wall() + std::chrono::duration_cast<std::chrono::system_clock::duration>(timeout));
  const std::string id = env.message_id;
  s.pending.add(id, {s.clock.now() + timeout, env.type, reply_type.type_header(), to, timeout, std::move(done)});
  try {
    s.require_endpoint(to);
    s.publish({command_topic(to), std::move(env), std::move(json), false, to});
  } catch (...) {
    if (std::optional<detail::PendingRequest> r = s.pending.take(id)) r->done({}, std::current_exception());
    return;
  }
  s.run_due();
}

void TestBus::add_route(const MessageType& type, std::string endpoint) {
  detail::check_send(type);
  validate_queue_name(endpoint);
  state_->routes[type.name] = std::move(endpoint);
}

namespace {

template <class F>
std::vector<Recorded> select(const detail::MemoryBus& s, F&& keep) {
  std::vector<Recorded> out;
  for (const detail::MemoryRecord& r : s.records) {
    if (keep(r)) out.push_back(r.recorded());
  }
  return out;
}

}  // namespace

std::vector<Recorded> TestBus::messages() const {
  return select(*state_, [](const detail::MemoryRecord&) { return true; });
}
std::vector<Recorded> TestBus::published() const {
  return select(*state_, [](const detail::MemoryRecord& r) { return r.envelope.kind == "event"; });
}
std::vector<Recorded> TestBus::sent() const {
  return select(*state_, [](const detail::MemoryRecord& r) { return r.envelope.kind == "command"; });
}
std::vector<Recorded> TestBus::replies() const {
  return select(*state_, [](const detail::MemoryRecord& r) { return r.envelope.kind == "reply"; });
}
std::vector<Recorded> TestBus::messages_of_type(std::string_view type_header) const {
  return select(*state_, [&](const detail::MemoryRecord& r) { return r.envelope.type == type_header; });
}

std::vector<Consumed> TestBus::consumed(std::string_view endpoint) const {
  std::vector<Consumed> out;
  for (const Consumed& c : state_->consumed) {
    if (endpoint.empty() || c.endpoint == endpoint) out.push_back(c);
  }
  return out;
}

std::vector<DeadLetter> TestBus::dead_letters(std::string_view endpoint) const {
  std::vector<DeadLetter> out;
  for (const DeadLetter& d : state_->dead) {
    if (endpoint.empty() || d.endpoint == endpoint) out.push_back(d);
  }
  return out;
}

size_t TestBus::pending_requests() const { return state_->pending.size(); }

size_t TestBus::queued(std::string_view endpoint) const {
  auto it = state_->queues.find(endpoint);
  return it == state_->queues.end() ? 0 : it->second.entries.size();
}

const char* to_string(Settled s) noexcept {
  switch (s) {
    case Settled::kAcked: return "acked";
    case Settled::kRetried: return "retried";
    case Settled::kDeadLettered: return "dead-lettered";
    case Settled::kRejected: return "rejected";
    case Settled::kExpired: return "expired";
  }
  return "?";
}

namespace detail {

std::unique_ptr<EndpointHost> test_host(TestBus& bus) { return make_memory_host(bus.state_); }

}  // namespace detail
}  // namespace shmbus::service
