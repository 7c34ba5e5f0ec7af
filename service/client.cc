// Client: publish, send, schedule, request. Requests wait in a table; one thread per client
// (started by the first request) reads its reply topic and completes them, or times them out.
#include "shmbus/service/client.h"

#include <atomic>
#include <cstdio>
#include <mutex>
#include <thread>

#include "kinds.h"
#include "pending_requests.h"
#include "random_bits.h"
#include "sender.h"
#include "shmbus/envelope.h"
#include "shmbus/service/envelope.h"
#include "shmbus/service/fault.h"
#include "shmbus/service/topology.h"
#include "test_bus_state.h"
#include "time_text.h"

namespace shmbus::service {
namespace detail {
namespace {

constexpr auto kReplyWait = std::chrono::milliseconds(10);  // also how late a timeout may fire

// A topic-name word from any source name (letters, digits, '_' and '-' kept).
std::string topic_word(std::string_view text) {
  std::string out;
  for (char c : text.substr(0, 64)) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
    out.push_back(ok ? c : '-');
  }
  return out.empty() ? "client" : out;
}

std::exception_ptr request_error(RequestErrc code, const std::string& what) {
  return std::make_exception_ptr(RequestError(code, what));
}

}  // namespace

class ClientImpl {
 public:
  ClientImpl(Bus bus, ClientOptions options)
      : options_(std::move(options)), bus_(bus), sender_(std::move(bus), options_.journal) {}

  ~ClientImpl() {
    stopping_.store(true, std::memory_order_relaxed);
    if (reply_thread_.joinable()) reply_thread_.join();
    for (PendingRequest& r : pending_.take_all()) {
      r.done({}, request_error(RequestErrc::kClosed, "the Client making request " + r.request_type + " went away"));
    }
    if (!reply_topic_.empty()) {
      try {
        reply_subscription_ = Subscription();
        bus_.remove_topic(reply_topic_, /*force=*/true);  // responders may still hold publishers on it
      } catch (const Error& e) {
        std::fprintf(stderr, "shmbus client: reply topic %s not removed: %s\n", reply_topic_.c_str(), e.what());
      }
    }
  }

  std::string publish(Outgoing out) {
    std::lock_guard<std::mutex> guard(send_mu_);
    if (!out.endpoint.empty()) sender_.require_endpoint(out.endpoint);
    sender_.publish(out);
    return out.envelope.message_id;
  }

  const std::string& ensure_reply_topic() {
    std::call_once(replies_started_, [&] {
      const std::string topic = std::string(kReplyTopicPrefix) + topic_word(options_.source) + "-" +
                                std::to_string(random_u64() & 0xffffffffffffull);
      TopicConfig c;
      c.capacity = options_.reply_capacity;
      bus_.create_topic(topic, c);
      // Subscribed before any request goes out, so no reply can come before we read.
      reply_subscription_ = bus_.subscribe(topic, {StartAt::latest(), options_.reply_wait});
      {
        std::lock_guard<std::mutex> guard(topic_mu_);
        reply_topic_ = topic;
      }
      reply_thread_ = std::thread([this] { read_replies(); });
    });
    return reply_topic_;
  }

  void read_replies() noexcept {
    while (!stopping_.load(std::memory_order_relaxed)) {
      (void)reply_subscription_.receive([&](const Message& m) { on_reply(m); }, 256, kReplyWait);
      for (PendingRequest& r : pending_.take_expired(std::chrono::steady_clock::now())) time_out(r);
    }
  }

  void on_reply(const Message& m) noexcept {
    try {
      Envelope& env = reply_envelope_;
      Envelope::read(m.headers, env);
      std::optional<PendingRequest> r = pending_.take(env.correlation_id);
      if (!r) return;  // timed out already, or not ours
      complete(*r, env, m.text());
    } catch (const std::exception& e) {
      std::fprintf(stderr, "shmbus client: a reply could not be handled: %s\n", e.what());
    }
  }

  ClientOptions options_;
  Bus bus_;
  std::mutex send_mu_;  // guards sender_ and routes_
  Sender sender_;
  Routes routes_;
  PendingRequests pending_;
  std::once_flag replies_started_;
  mutable std::mutex topic_mu_;  // reply_topic() may be asked while the first request sets it
  std::string reply_topic_;
  Subscription reply_subscription_;
  std::thread reply_thread_;
  Envelope reply_envelope_;  // the reply thread's: each reply read over the last one
  std::atomic<bool> stopping_{false};  // relaxed: polled by the reply thread; join() syncs the rest
};

}  // namespace detail

Client::Client(Bus bus, ClientOptions options)
    : impl_(std::make_unique<detail::ClientImpl>(std::move(bus), std::move(options))) {}
Client::Client(TestBus& bus, ClientOptions options) : memory_(detail::test_client(bus, options)) {}
Client::Client(Client&&) noexcept = default;
Client& Client::operator=(Client&&) noexcept = default;
Client::~Client() = default;

std::string Client::publish_json(const MessageType& type, std::string json) {
  if (memory_) return memory_->bus().publish_from(memory_->side(), type, std::move(json));
  detail::check_publish(type);
  return impl_->publish({event_topic(type), Envelope::start(type, impl_->options_.source), std::move(json), false, {}});
}

std::string Client::send_json(const MessageType& type, std::string json, std::string_view endpoint,
                              std::optional<std::chrono::system_clock::time_point> not_before) {
  if (memory_) return memory_->bus().send_from(memory_->side(), type, std::move(json), endpoint, not_before);
  detail::check_send(type);
  std::string to;
  {
    std::lock_guard<std::mutex> guard(impl_->send_mu_);
    to = detail::routed_endpoint(type, endpoint, impl_->routes_);
  }
  Envelope env = Envelope::start(type, impl_->options_.source);
  if (not_before) env.not_before = envelope::format_time(*not_before);
  return impl_->publish({command_topic(to), std::move(env), std::move(json), false, to});
}

uint64_t Client::cancel_scheduled(std::string_view endpoint, std::string_view message_id) {
  if (memory_) return memory_->bus().cancel_scheduled(endpoint, message_id);
  return impl_->bus_.queue(endpoint).cancel(message_id);
}

void Client::request_json(const MessageType& type, std::string json, std::string_view endpoint,
                          std::chrono::nanoseconds timeout, const MessageType& reply_type, ReplyCallback done) {
  if (memory_) {
    return memory_->bus().request_from(memory_->side(), type, std::move(json), endpoint, timeout, reply_type,
                                       std::move(done));
  }
  detail::check_request(type, reply_type);
  std::string to;
  {
    std::lock_guard<std::mutex> guard(impl_->send_mu_);
    to = detail::routed_endpoint(type, endpoint, impl_->routes_);
  }
  Envelope env = Envelope::start(type, impl_->options_.source);
  env.reply_to = impl_->ensure_reply_topic();
  env.expires_at = detail::format_time_cached(std::chrono::system_clock::now() +
                                              std::chrono::duration_cast<std::chrono::system_clock::duration>(timeout));
  const std::string id = env.message_id;  // the request's correlation-id too (Envelope::start)
  // In the table before it is sent: the reply can come before publish() returns.
  impl_->pending_.add(id, {std::chrono::steady_clock::now() + timeout, env.type, reply_type.type_header(), to, timeout,
                           std::move(done)});
  try {
    impl_->publish({command_topic(to), std::move(env), std::move(json), false, to});
  } catch (...) {
    if (std::optional<detail::PendingRequest> r = impl_->pending_.take(id)) r->done({}, std::current_exception());
  }
}

void Client::add_route(const MessageType& type, std::string endpoint) {
  detail::check_send(type);
  validate_queue_name(endpoint);
  if (memory_) {
    memory_->side().routes[type.name] = std::move(endpoint);
    return;
  }
  std::lock_guard<std::mutex> guard(impl_->send_mu_);
  impl_->routes_[type.name] = std::move(endpoint);
}

std::string Client::reply_topic() const {
  if (memory_) return memory_->side().reply_topic;
  std::lock_guard<std::mutex> guard(impl_->topic_mu_);
  return impl_->reply_topic_;
}
size_t Client::pending_requests() const {
  return memory_ ? memory_->side().pending.size() : impl_->pending_.size();
}

}  // namespace shmbus::service
