// The TestBus's in-memory queues and its loop. Each step hands one due delivery of one endpoint
// to that endpoint's Pipeline, exactly as a handler thread on the bus does (bus_host.cc), with
// this file's Settlement and Outbox instead of a Consumer and a Sender.
#include "test_bus_state.h"

#include <algorithm>
#include <cstdio>

#include "shmbus/envelope.h"
#include "shmbus/pattern.h"
#include "shmbus/service/errors.h"
#include "shmbus/service/topology.h"

namespace shmbus::service::detail {
namespace {

// A handler that sends to its own endpoint at the same instant forever would never let
// run_due() return: past this many steps at one instant it is stopped with an error.
constexpr uint64_t kMaxStepsAtOnce = 10'000'000;

std::chrono::system_clock::duration wall_duration(std::chrono::nanoseconds d) {
  return std::chrono::duration_cast<std::chrono::system_clock::duration>(d);
}

class MemorySettlement final : public Settlement {
 public:
  MemorySettlement(MemoryBus& bus, MemoryQueue& q, const QueueEntry& entry) noexcept : bus_(bus), q_(q), entry_(entry) {}

  Result<void> ack() noexcept override {
    settled_ = true;
    bus_.record_consumed(q_, entry_, Settled::kAcked, {});
    return {};
  }
  // As Consumer::nack: the n-th failure waits the policy's n-th delay, the last dead-letters.
  Result<void> nack(std::string_view error) noexcept override {
    settled_ = true;
    QueueEntry next = entry_;
    next.failed = entry_.failed + 1;
    if (next.failed >= q_.config.max_deliveries) {
      bus_.record_consumed(q_, entry_, Settled::kDeadLettered, error);
      bus_.dead_letter(q_, entry_, "delivery_limit", error.empty() ? std::string_view("nacked") : error);
    } else {
      bus_.record_consumed(q_, entry_, Settled::kRetried, error);
      bus_.retry_later(q_, next);
    }
    return {};
  }
  Result<void> reject(std::string_view error) noexcept override {
    settled_ = true;
    bus_.record_consumed(q_, entry_, Settled::kRejected, error);
    bus_.dead_letter(q_, entry_, "rejected", error);
    return {};
  }
  bool settled() const noexcept { return settled_; }

 private:
  MemoryBus& bus_;
  MemoryQueue& q_;
  QueueEntry entry_;
  bool settled_ = false;
};

class MemoryHost final : public EndpointHost {
 public:
  explicit MemoryHost(std::shared_ptr<MemoryBus> bus) : bus_(std::move(bus)) {}
  ~MemoryHost() override { stop(); }

  const Clock& clock() const noexcept override { return bus_->clock; }
  void start(EndpointImpl& e) override {
    if (e_) return;
    bus_->attach(e);
    e_ = &e;
    bus_->run_due();  // what waited in its queue while it was stopped
  }
  void stop() noexcept override {
    if (e_) bus_->detach(*e_);
    e_ = nullptr;
  }
  bool running() const noexcept override { return e_ != nullptr; }
  Queue queue() const override {
    throw Error("an endpoint on a TestBus has no bus queue: ask the TestBus (queued(), consumed(), dead_letters())");
  }
  void wake() noexcept override {}  // one thread: the loop looks at the breaker after each step

 private:
  std::shared_ptr<MemoryBus> bus_;
  EndpointImpl* e_ = nullptr;
};

}  // namespace

// The default start is the real now in whole milliseconds, the envelope's precision: a time
// written into a header (not-before, expires-at) then reads back exactly.
VirtualClock::VirtualClock(std::chrono::system_clock::time_point wall_start)
    : steady_start_(std::chrono::steady_clock::now()),
      wall_start_(wall_start == std::chrono::system_clock::time_point{}
                      ? std::chrono::floor<std::chrono::milliseconds>(std::chrono::system_clock::now())
                      : wall_start) {}

std::chrono::system_clock::time_point VirtualClock::wall() const noexcept { return wall_start_ + wall_duration(elapsed()); }

TimePoint VirtualClock::steady_of(std::chrono::system_clock::time_point wall) const noexcept {
  return steady_start_ + std::chrono::duration_cast<TimePoint::duration>(wall - wall_start_);
}

Message MemoryRecord::message() const noexcept {
  Message m;
  m.topic = topic;
  m.position = seq;
  m.seq = seq;
  m.timestamp_ns = 0;
  m.headers = HeadersView(std::as_bytes(std::span(headers.data(), headers.size())));
  m.payload = std::as_bytes(std::span(payload.data(), payload.size()));
  return m;
}

Recorded MemoryRecord::recorded() const { return {topic, envelope, payload, at}; }

MemoryBus::MemoryBus(TestBusOptions o) : options(std::move(o)), clock(options.start), rng_(options.seed) {
  own.source = options.source;
  own.reply_topic = "replies.test-bus";
  sides_.push_back(&own);
}

void MemoryBus::add_side(ClientSide& side) {
  side.reply_topic = "replies.client-" + std::to_string(++clients_);
  sides_.push_back(&side);
}

void MemoryBus::remove_side(ClientSide& side) noexcept { std::erase(sides_, &side); }

double MemoryBus::uniform() noexcept { return static_cast<double>(rng_() >> 11) * 0x1.0p-53; }

void MemoryBus::publish(const Outgoing& out) {
  // A reply to a requester that is gone has nobody to go to (as a reply topic removed).
  ClientSide* requester = nullptr;
  for (ClientSide* side : sides_) {
    if (side->reply_topic == out.topic) requester = side;
  }
  if (out.reply && !requester) return;
  MemoryRecord& r = records.emplace_back();
  r.topic = out.topic;
  r.envelope = out.envelope;
  const std::vector<Header> headers = out.envelope.headers();
  r.headers.resize(encoded_headers_size(headers));
  encode_headers(headers, std::as_writable_bytes(std::span(r.headers.data(), r.headers.size())));
  r.payload = out.payload;
  r.at = clock.elapsed();
  r.seq = records.size() - 1;
  if (out.reply) {
    if (std::optional<PendingRequest> waiting = requester->pending.take(r.envelope.correlation_id)) {
      complete(*waiting, r.envelope, r.payload);
    }
    return;
  }
  // As a queue joins a topic at its tail: only queues declared by now get the record.
  std::optional<int64_t> not_before;
  if (!r.envelope.not_before.empty()) not_before = envelope::parse_time_ns(r.envelope.not_before);
  for (auto& [name, q] : queues) {
    const bool bound = std::any_of(q.config.bindings.begin(), q.config.bindings.end(),
                                   [&](const std::string& b) { return pattern_matches(b, r.topic); });
    if (!bound) continue;
    QueueEntry e{&r, 0, clock.now(), order_++, false};
    if (not_before) {
      const auto at = std::chrono::system_clock::time_point(wall_duration(std::chrono::nanoseconds(*not_before)));
      if (at > clock.wall()) e = {&r, 0, clock.steady_of(at), e.order, true};
    }
    q.entries.push_back(e);
  }
}

void MemoryBus::require_endpoint(std::string_view endpoint) {
  const std::string topic = command_topic(endpoint);
  for (const auto& [name, q] : queues) {
    for (const std::string& b : q.config.bindings) {
      if (pattern_matches(b, topic)) return;
    }
  }
  throw RequestError(RequestErrc::kNoEndpoint,
                     "no endpoint \"" + std::string(endpoint) + "\" on the TestBus: no queue is bound to " + topic +
                         "; start an Endpoint of that name on it, or fix the endpoint's name or route");
}

void MemoryBus::attach(EndpointImpl& e) {
  QueueConfig config = e.queue_config();
  auto it = queues.find(e.name);
  if (it == queues.end()) {
    it = queues.emplace(e.name, MemoryQueue{e.name, config, {}, nullptr, nullptr}).first;
  } else if (it->second.config.bindings != config.bindings || it->second.config.max_deliveries != config.max_deliveries) {
    throw Error("endpoint \"" + e.name + "\" cannot declare its queue: it exists on the TestBus with other bindings "
                "or max_deliveries (the handlers or options changed)", ErrorKind::kInvalidArgument);
  }
  it->second.config = std::move(config);
  it->second.endpoint = &e;
  it->second.pipeline = std::make_unique<Pipeline>(e, *this);
}

void MemoryBus::detach(EndpointImpl& e) noexcept {
  auto it = queues.find(e.name);
  if (it == queues.end() || it->second.endpoint != &e) return;
  it->second.endpoint = nullptr;
  it->second.pipeline.reset();
}

void MemoryBus::retry_later(MemoryQueue& q, QueueEntry entry) {
  entry.due = clock.now() + q.config.retry.delay(entry.failed, uniform());
  entry.order = order_++;
  entry.delayed = false;
  q.entries.push_back(entry);
}

void MemoryBus::dead_letter(MemoryQueue& q, const QueueEntry& entry, std::string reason, std::string_view error) {
  dead.push_back({q.name, entry.record->recorded(), std::move(reason), std::string(error), clock.elapsed()});
}

void MemoryBus::record_consumed(const MemoryQueue& q, const QueueEntry& entry, Settled settled, std::string_view error) {
  consumed.push_back({q.name, entry.record->recorded(), entry.failed + 1, settled, std::string(error), clock.elapsed()});
}

bool MemoryBus::step(MemoryQueue& q) {
  if (!q.endpoint) return false;
  const TimePoint now = clock.now();
  auto due = q.entries.end();
  for (auto it = q.entries.begin(); it != q.entries.end(); ++it) {
    if (it->due <= now && (due == q.entries.end() || std::tie(it->due, it->order) < std::tie(due->due, due->order))) {
      due = it;
    }
  }
  if (due == q.entries.end()) return false;
  Pipeline& pipeline = *q.pipeline;
  if (pipeline.ready_at(now) > now) return false;  // the breaker is open, or the rate is spent
  const QueueEntry entry = *due;
  q.entries.erase(due);
  const MemoryRecord& r = *entry.record;
  if (const auto expires = r.envelope.expires(); expires && *expires <= clock.wall()) {
    record_consumed(q, entry, Settled::kExpired, {});
    if (q.config.expired == ExpiredAction::kDeadLetter) dead_letter(q, entry, "expired", {});
    return true;
  }
  // One thread: what ready_at allowed, pass and rate_wait grant.
  const CircuitBreaker::Pass pass = pipeline.pass(now);
  if (pass == CircuitBreaker::Pass::kNo || pipeline.rate_wait(now, true)) {
    q.entries.push_back(entry);
    pipeline.gave_back(pass);
    return false;
  }
  MemorySettlement s(*this, q, entry);
  dispatching_ = true;
  try {
    pipeline.handle(r.message(), entry.failed + 1, s, pass);
  } catch (const std::exception& ex) {
    std::fprintf(stderr, "shmbus TestBus endpoint %s: %s (the delivery goes back to the queue)\n", q.name.c_str(),
                 ex.what());
    if (!s.settled()) q.entries.push_back(entry);
  }
  dispatching_ = false;
  return true;
}

bool MemoryBus::expire_requests() {
  bool any = false;
  for (size_t i = 0; i < sides_.size(); ++i) {  // by index: a callback may make a Client
    std::vector<PendingRequest> late = sides_[i]->pending.take_expired(clock.now());
    for (PendingRequest& r : late) time_out(r);
    any = any || !late.empty();
  }
  return any;
}

void MemoryBus::run_due() {
  if (dispatching_) return;  // called from a handler: the loop it runs in goes on after it
  for (uint64_t steps = 0;;) {
    bool progressed = expire_requests();
    for (auto& [name, q] : queues) {
      if (step(q)) {
        progressed = true;
        if (++steps > kMaxStepsAtOnce) {
          throw Error("TestBus: over " + std::to_string(kMaxStepsAtOnce) + " deliveries at one instant: endpoint " +
                      name + " seems to feed itself forever");
        }
      }
    }
    if (!progressed) return;
  }
}

std::optional<TimePoint> MemoryBus::next_event() const {
  const TimePoint now = clock.now();
  std::optional<TimePoint> best;
  const auto consider = [&](TimePoint t) {
    if (t > now && t != TimePoint::max() && (!best || t < *best)) best = t;
  };
  for (const auto& [name, q] : queues) {
    if (!q.endpoint || q.entries.empty()) continue;
    TimePoint first = TimePoint::max();
    for (const QueueEntry& e : q.entries) first = std::min(first, e.due);
    consider(std::max(first, q.pipeline->ready_at(now)));
  }
  for (const ClientSide* side : sides_) {
    if (const auto deadline = side->pending.next_deadline()) consider(*deadline);
  }
  return best;
}

void MemoryBus::advance(std::chrono::nanoseconds d) {
  if (d.count() < 0) throw Error("TestBus::advance: time runs forward only", ErrorKind::kInvalidArgument);
  const std::chrono::nanoseconds target = clock.elapsed() + d;
  if (dispatching_) return clock.set(target);  // a handler "takes" d; the rest runs after it
  run_due();
  for (;;) {
    const std::optional<TimePoint> next = next_event();
    if (!next || *next > clock.start() + target) break;
    clock.set(std::chrono::duration_cast<std::chrono::nanoseconds>(*next - clock.start()));
    run_due();
  }
  clock.set(target);
  run_due();
}

std::unique_ptr<EndpointHost> make_memory_host(std::shared_ptr<MemoryBus> bus) {
  return std::make_unique<MemoryHost>(std::move(bus));
}

void MemoryBus::close(ClientSide& side) noexcept {
  for (PendingRequest& r : side.pending.take_all()) {
    r.done({}, std::make_exception_ptr(RequestError(RequestErrc::kClosed, "the " + side.source + " making request " +
                                                                             r.request_type + " went away")));
  }
}

MemoryClient::MemoryClient(std::shared_ptr<MemoryBus> bus, const ClientOptions& options) : bus_(std::move(bus)) {
  side_.source = options.source;
  bus_->add_side(side_);
}

MemoryClient::~MemoryClient() {
  bus_->remove_side(side_);
  bus_->close(side_);
}

}  // namespace shmbus::service::detail
