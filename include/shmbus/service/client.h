// The sending side of a service (MassTransit's IBus, NServiceBus's IMessageSession): publish
// events, send commands, make requests. Each message starts a flow (new correlation and
// conversation ids, a new trace); inside a handler use its Context instead, which continues it.
// Thread-safety: every method may be called from any number of threads at once.
#pragma once

#include <chrono>
#include <exception>
#include <functional>
#include <future>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "shmbus/bus.h"
#include "shmbus/message.h"
#include "shmbus/service/codec.h"
#include "shmbus/service/errors.h"
#include "shmbus/service/message_type.h"

namespace shmbus::service {

namespace detail {
class ClientImpl;
class MemoryClient;

// What completes a typed request's future (Client's and TestBus's): the reply decoded as Rep,
// or the error; a reply that does not decode as Rep is kBadReply.
template <ServiceMessage Rep>
std::function<void(std::string_view, std::exception_ptr)> reply_completer(std::shared_ptr<std::promise<Rep>> promise) {
  return [promise = std::move(promise)](std::string_view payload, std::exception_ptr error) {
    if (error) return promise->set_exception(error);
    try {
      promise->set_value(decode<Rep>(payload));
    } catch (const DecodeError& e) {
      promise->set_exception(std::make_exception_ptr(RequestError(RequestErrc::kBadReply, e.what())));
    }
  };
}

// What Client::call_json found: the reply's JSON (a view into the calling thread's buffer,
// valid until its next call), or the error.
struct CallOutcome {
  bool ok = false;
  RequestErrc code = RequestErrc::kTimeout;
  std::string_view payload;
  std::string what;
};
}  // namespace detail
class TestBus;

// What Client::call returns: the reply, or how the request failed (the codes of RequestError;
// nothing is thrown for them).
template <ServiceMessage Rep>
class Response {
 public:
  explicit Response(Rep reply) : reply_(std::move(reply)) {}
  Response(RequestErrc code, std::string what) : code_(code), what_(std::move(what)) {}

  bool ok() const noexcept { return reply_.has_value(); }
  explicit operator bool() const noexcept { return ok(); }
  // The reply; throws the RequestError if there is none.
  const Rep& value() const& {
    if (!reply_) throw RequestError(code_, what_);
    return *reply_;
  }
  Rep&& value() && {
    if (!reply_) throw RequestError(code_, what_);
    return std::move(*reply_);
  }
  const Rep& operator*() const& noexcept { return *reply_; }
  const Rep* operator->() const noexcept { return &*reply_; }
  // Why there is no reply (only when !ok()), and the words for it.
  RequestErrc error() const noexcept { return code_; }
  const std::string& message() const noexcept { return what_; }

 private:
  std::optional<Rep> reply_;
  RequestErrc code_ = RequestErrc::kTimeout;
  std::string what_;
};

struct ClientOptions {
  std::string source = "client";  // the `source` header: who sends (an endpoint's name, a tool)
  TopicConfig journal{};          // topics it creates (events, commands): a journal like this
  uint64_t reply_capacity = 1ull << 20;  // its reply topic's ring bytes (a memory topic)
  // How replies are waited for, by a thread in call() (which reads the reply topic itself) and
  // by the reply thread: kBlock sleeps in the topic's futex; kSpin (or kYield) polls, for the
  // lowest round trip at the price of a busy core while a request waits.
  WaitStrategy reply_wait = WaitStrategy::kBlock;
};

class Client {
 public:
  explicit Client(Bus bus, ClientOptions options = {});
  // The same verbs on a TestBus (shmbus/service/test_bus.h): in-process, on its virtual clock,
  // each handled before it returns; requests time out on TestBus::advance(). Thread-safety
  // there: the TestBus's (one thread at a time). `journal` and `reply_capacity` are unused.
  explicit Client(TestBus& bus, ClientOptions options = {});
  Client(Client&&) noexcept;
  Client& operator=(Client&&) noexcept;
  // Fails requests still waiting (RequestErrc::kClosed) and removes the reply topic.
  ~Client();

  // Returns the message-id. Refuses (Error, kInvalidArgument) a T that is not an event.
  template <ServiceMessage T>
  std::string publish(const T& event) { return publish_json(message_type_of<T>(), encode(event)); }
  // To `endpoint`'s command topic, or the endpoint route<T>() names. Refuses (Error) a T that
  // is not a command; throws RequestError kNoEndpoint if no queue is bound to that topic.
  template <ServiceMessage T>
  std::string send(const T& command, std::string_view endpoint) {
    return send_json(message_type_of<T>(), encode(command), endpoint, {});
  }
  template <ServiceMessage T>
  std::string send(const T& command) { return send(command, std::string_view{}); }
  // send(), delivered not before `at` (the queue's not-before: durable, uncharged). Cancel it
  // with cancel_scheduled(endpoint, returned id).
  template <ServiceMessage T>
  std::string schedule(const T& command, std::string_view endpoint, std::chrono::system_clock::time_point at) {
    return send_json(message_type_of<T>(), encode(command), endpoint, at);
  }
  uint64_t cancel_scheduled(std::string_view endpoint, std::string_view message_id);

  // A command whose handler answers with Context::reply(Rep). The future holds the reply, or
  // a RequestError: kTimeout (nothing within `timeout`), kNoEndpoint (checked before sending),
  // kRemoteFault, kBadReply, kClosed. The deadline travels as expires-at: the queue dead-letters
  // (or drops) the request once it passed, and a responder does not answer it.
  template <ServiceMessage Req, ServiceMessage Rep>
  std::future<Rep> request(const Req& command, std::string_view endpoint, std::chrono::nanoseconds timeout) {
    auto promise = std::make_shared<std::promise<Rep>>();
    std::future<Rep> future = promise->get_future();
    request_json(message_type_of<Req>(), encode(command), endpoint, timeout, message_type_of<Rep>(),
                 detail::reply_completer(std::move(promise)));
    return future;
  }
  template <ServiceMessage Req, ServiceMessage Rep>
  std::future<Rep> request(const Req& command, std::chrono::nanoseconds timeout) {
    return request<Req, Rep>(command, std::string_view{}, timeout);
  }

  // The request, waited for in this thread: the reply, or the RequestError's code and text in
  // the Response (kTimeout, kNoEndpoint, kRemoteFault, kBadReply). The waiting thread reads the
  // reply topic itself (by ClientOptions::reply_wait), completing whatever replies it finds,
  // other threads' too, while one thread at a time reads; the others wait for theirs to be
  // found. No thread hands the reply over, and no allocation is made for the waiting once as
  // many requests as ever before wait at once. Must not be called from a reply callback (Error).
  // On a TestBus: the reply when it came within the call (everything runs before it returns),
  // else kTimeout, the request withdrawn (use request() and TestBus::advance() for those).
  template <ServiceMessage Req, ServiceMessage Rep>
  Response<Rep> call(const Req& command, std::string_view endpoint, std::chrono::nanoseconds timeout) {
    detail::CallOutcome o = call_json(message_type_of<Req>(), encode(command), endpoint, timeout, message_type_of<Rep>());
    if (!o.ok) return Response<Rep>(o.code, std::move(o.what));
    try {
      return Response<Rep>(decode<Rep>(o.payload));
    } catch (const DecodeError& e) {
      return Response<Rep>(RequestErrc::kBadReply, e.what());
    }
  }
  template <ServiceMessage Req, ServiceMessage Rep>
  Response<Rep> call(const Req& command, std::chrono::nanoseconds timeout) {
    return call<Req, Rep>(command, std::string_view{}, timeout);
  }

  template <ServiceMessage T>
  Client& route(std::string endpoint) {
    add_route(message_type_of<T>(), std::move(endpoint));
    return *this;
  }

  // The topic this client's replies come to ("" before its first request).
  std::string reply_topic() const;
  size_t pending_requests() const;

  // The non-template core of the verbs above.
  using ReplyCallback = std::function<void(std::string_view payload, std::exception_ptr error)>;
  std::string publish_json(const MessageType& type, std::string json);
  std::string send_json(const MessageType& type, std::string json, std::string_view endpoint,
                        std::optional<std::chrono::system_clock::time_point> not_before);
  void request_json(const MessageType& type, std::string json, std::string_view endpoint,
                    std::chrono::nanoseconds timeout, const MessageType& reply_type, ReplyCallback done);
  detail::CallOutcome call_json(const MessageType& type, std::string json, std::string_view endpoint,
                                std::chrono::nanoseconds timeout, const MessageType& reply_type);
  void add_route(const MessageType& type, std::string endpoint);

 private:
  std::unique_ptr<detail::ClientImpl> impl_;      // on a Bus
  std::unique_ptr<detail::MemoryClient> memory_;  // or on a TestBus
};

}  // namespace shmbus::service
