// TestBus: the verbs of a Client and the assertions, over its MemoryBus.
#include "shmbus/service/test_bus.h"

#include "kinds.h"
#include "test_bus_state.h"

namespace shmbus::service {

TestBus::TestBus(TestBusOptions options) : state_(std::make_shared<detail::MemoryBus>(std::move(options))) {}
TestBus::TestBus(TestBus&&) noexcept = default;
TestBus& TestBus::operator=(TestBus&& other) noexcept {
  if (this != &other) {
    if (state_) state_->close(state_->own);
    state_ = std::move(other.state_);
  }
  return *this;
}
TestBus::~TestBus() {
  if (state_) state_->close(state_->own);
}

void TestBus::advance(std::chrono::nanoseconds d) { state_->advance(d); }
std::chrono::nanoseconds TestBus::elapsed() const noexcept { return state_->clock.elapsed(); }
std::chrono::steady_clock::time_point TestBus::now() const noexcept { return state_->clock.now(); }
std::chrono::system_clock::time_point TestBus::wall() const noexcept { return state_->clock.wall(); }

std::string TestBus::publish_json(const MessageType& type, std::string json) {
  return state_->publish_from(state_->own, type, std::move(json));
}

std::string TestBus::send_json(const MessageType& type, std::string json, std::string_view endpoint,
                               std::optional<std::chrono::system_clock::time_point> not_before) {
  return state_->send_from(state_->own, type, std::move(json), endpoint, not_before);
}

uint64_t TestBus::cancel_scheduled(std::string_view endpoint, std::string_view message_id) {
  return state_->cancel_scheduled(endpoint, message_id);
}

void TestBus::request_json(const MessageType& type, std::string json, std::string_view endpoint,
                           std::chrono::nanoseconds timeout, const MessageType& reply_type, Client::ReplyCallback done) {
  state_->request_from(state_->own, type, std::move(json), endpoint, timeout, reply_type, std::move(done));
}

void TestBus::add_route(const MessageType& type, std::string endpoint) {
  detail::check_send(type);
  validate_queue_name(endpoint);
  state_->own.routes[type.name] = std::move(endpoint);
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

size_t TestBus::pending_requests() const { return state_->own.pending.size(); }

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
std::unique_ptr<MemoryClient> test_client(TestBus& bus, const ClientOptions& options) {
  return std::make_unique<MemoryClient>(bus.state_, options);
}

}  // namespace detail
}  // namespace shmbus::service
