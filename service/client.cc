// Client: publish, send, schedule, request. Requests wait in a table; one thread per client
// (started by the first request) reads its reply topic and completes them, or times them out.
#include "shmbus/service/client.h"

#include <atomic>
#include <cstdio>
#include <mutex>
#include <thread>

#include "kinds.h"
#include "futex.h"
#include "pending_requests.h"
#include "random_bits.h"
#include "reply_table.h"
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
constexpr auto kExpiryScan = std::chrono::milliseconds(1);  // how often a reading reply thread looks for timeouts

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

// The reply topic is read by one thread at a time, the holder of the poll token: a thread in
// call() waiting for its reply (it completes every reply it reads, its own or others'), or,
// while no call() waits and futures or callbacks do, the reply thread. A call() that finds the
// token taken waits on its own slot (ClientOptions::reply_wait), taking the token when it is
// let go; a poller that leaves wakes a sleeping waiter, or the reply thread.
class ClientImpl {
 public:
  ClientImpl(Bus bus, ClientOptions options)
      : options_(std::move(options)), bus_(bus), sender_(std::move(bus), options_.journal) {}

  ~ClientImpl() {
    stopping_.store(true, std::memory_order_relaxed);
    ring();
    if (reply_thread_.joinable()) reply_thread_.join();
    std::vector<ReplySlot*> left;
    table_.take_callbacks(left);
    for (ReplySlot* s : left) {
      Client::ReplyCallback done = std::move(s->done);
      const std::string type = s->request_type;
      table_.release(s);
      done({}, request_error(RequestErrc::kClosed, "the Client making request " + type + " went away"));
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

  std::string publish(const Outgoing& out) {
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

  // A request's message, into this thread's Outgoing: its strings' room is reused (the caller
  // is done with it once it is sent, before anything else on this thread makes another).
  const Outgoing& request_message(const MessageType& type, std::string json, std::string_view to,
                                  std::chrono::nanoseconds timeout) {
    thread_local Outgoing out;
    const std::string& reply_to = ensure_reply_topic();
    const auto now = std::chrono::system_clock::now();
    command_topic(to, out.topic);
    Envelope::start(type, options_.source, now, out.envelope);
    out.envelope.reply_to.assign(reply_to);
    format_time_cached(now + std::chrono::duration_cast<std::chrono::system_clock::duration>(timeout),
                       out.envelope.expires_at);
    out.payload = std::move(json);
    out.reply = false;
    out.endpoint.assign(to);
    return out;
  }

  // A request to `endpoint` (or the one routed for its type), made and handed to
  // send(out, info) (request() or call()) while the strings `info` views are alive. The
  // request's message-id is its correlation-id too (Envelope::start).
  template <class Send>
  auto with_request(const MessageType& type, std::string json, std::string_view endpoint,
                    std::chrono::nanoseconds timeout, const MessageType& reply_type, Send&& send) {
    check_request(type, reply_type);
    // This thread's, their room reused, as request_message's Outgoing is (and as safe: a reply
    // callback this thread runs while it waits may make a request, but by then this one is sent).
    thread_local std::string routed, reply;
    std::string_view to = endpoint;
    if (to.empty()) {
      std::lock_guard<std::mutex> guard(send_mu_);
      routed.assign(routed_endpoint(type, endpoint, routes_));
      to = routed;
    }
    reply_type.type_header(reply);
    const Outgoing& out = request_message(type, std::move(json), to, timeout);
    const Envelope& e = out.envelope;
    return send(out, RequestInfo{e.message_id, e.type, reply, out.endpoint, std::chrono::steady_clock::now() + timeout,
                                 timeout});
  }

  // A future's or a callback's request: answered by whoever polls; the reply thread is woken
  // if nobody does.
  void request(const Outgoing& out, const RequestInfo& info, Client::ReplyCallback done) {
    ReplySlot* s = table_.add(info, Waiter::kCallback, std::move(done));  // before it is sent: the reply can come first
    try {
      publish(out);
    } catch (...) {
      if (table_.withdraw(s)) {
        Client::ReplyCallback failed = std::move(s->done);
        table_.release(s);
        failed({}, std::current_exception());
      }
      return;
    }
    // seq_cst: pairs with the poller's release of the token and its look at the callbacks
    // (hand_over): either it sees ours, or we see the token free and ring.
    if (!polling_.load(std::memory_order_seq_cst)) ring();
  }

  // call(): the reply (into this thread's buffer) or the error.
  CallOutcome call(const Outgoing& out, const RequestInfo& info) {
    if (tl_polling == this) {
      throw Error("Client::call from a reply callback of the same Client would wait for the reply it is reading: "
                  "use request() there (a future or a callback)", ErrorKind::kInvalidArgument);
    }
    ReplySlot* s = table_.add(info, Waiter::kThread, {});
    // seq_cst: the reply thread looks at waiters_ before each read, and stands back while one waits.
    waiters_.fetch_add(1, std::memory_order_seq_cst);
    struct Leave {
      ClientImpl& c;
      ~Leave() {
        if (c.waiters_.fetch_sub(1, std::memory_order_seq_cst) == 1 && c.table_.callbacks() > 0 &&
            !c.polling_.load(std::memory_order_seq_cst)) {
          c.ring();  // the futures and callbacks left have the reply thread again
        }
      }
    } leave{*this};
    try {
      publish(out);
    } catch (const RequestError& e) {
      if (table_.withdraw(s)) {
        table_.release(s);
        return {false, e.code(), {}, e.what()};
      }
    } catch (...) {
      if (table_.withdraw(s)) {
        table_.release(s);
        throw;
      }
    }
    wait_for_answer(*s);
    CallOutcome o{s->ok, s->code, {}, {}};
    thread_local std::string reply_buffer;
    if (s->ok) {
      reply_buffer.swap(s->payload);  // both keep their room
      o.payload = reply_buffer;
    } else {
      o.what.swap(s->what);
    }
    table_.release(s);
    return o;
  }

 private:
  // Until `s` is answered (by us as the poller, or by the thread polling) or timed out.
  void wait_for_answer(ReplySlot& s) {
    for (;;) {
      // acquire: pairs with answer()'s exchange: the answer's fields are written.
      if (s.state.load(std::memory_order_acquire) == kAnswered) return;
      if (std::chrono::steady_clock::now() >= s.deadline && table_.withdraw(&s)) {
        s.ok = false;
        s.code = RequestErrc::kTimeout;
        s.what = timeout_text(s.request_type, s.endpoint, s.timeout);
        return;  // not withdrawn: another thread took it and is answering it
      }
      if (take_token()) {
        poll_until_answered(s);
        hand_over(1);
        continue;
      }
      switch (options_.reply_wait) {
        case WaitStrategy::kSpin: break;
        case WaitStrategy::kYield: std::this_thread::yield(); break;
        case WaitStrategy::kBlock: sleep(s); break;
      }
    }
  }

  // Sleeps on the slot's word until it is answered, the poller wakes us to take over, or a
  // bounded while (the deadline, or kReplyWait: whatever went amiss is looked at again).
  void sleep(ReplySlot& s) {
    uint32_t awake = kUnanswered;
    // seq_cst: with the look at the token below, pairs with the poller's letting it go and then
    // looking for sleepers (ReplyTable::wake_one_sleeper): one of us sees the other.
    if (!s.state.compare_exchange_strong(awake, kSleeping, std::memory_order_seq_cst)) return;  // answered
    if (polling_.load(std::memory_order_seq_cst)) {
      const auto left = s.deadline - std::chrono::steady_clock::now();
      futex_wait(s.state, kSleeping, std::min<std::chrono::nanoseconds>(left, kReplyWait));
    }
    uint32_t sleeping = kSleeping;
    // relaxed on failure: then it is kAnswered, which the caller loads again with acquire.
    (void)s.state.compare_exchange_strong(sleeping, kUnanswered, std::memory_order_seq_cst, std::memory_order_relaxed);
  }

  bool take_token() noexcept {
    // relaxed first look: spinning waiters do not bounce the line with failing exchanges.
    if (polling_.load(std::memory_order_relaxed)) return false;
    bool free = false;
    // acquire (seq_cst): pairs with the last poller's release: the subscription as it left it.
    return polling_.compare_exchange_strong(free, true, std::memory_order_seq_cst, std::memory_order_relaxed);
  }

  // Lets the token go, and makes sure someone reads on if someone waits: a sleeping call(), or
  // the reply thread for futures and callbacks. `callers_before_us`: 1 from a call() (itself).
  void hand_over(uint32_t callers_before_us) noexcept {
    tl_polling = nullptr;
    polling_.store(false, std::memory_order_seq_cst);  // pairs with take_token and sleep()'s look
    if (waiters_.load(std::memory_order_seq_cst) > callers_before_us) {
      table_.wake_one_sleeper();
    } else if (table_.callbacks() > 0) {
      ring();
    }
  }

  void poll_until_answered(ReplySlot& s) {
    tl_polling = this;
    while (s.state.load(std::memory_order_acquire) != kAnswered) {
      const auto now = std::chrono::steady_clock::now();
      if (now >= s.deadline) return;  // the caller times it out
      (void)reply_subscription_.receive([&](const Message& m) { on_reply(m); }, 64,
                                        std::min<std::chrono::nanoseconds>(s.deadline - now, kReplyWait));
    }
  }

  void ring() noexcept {
    // release: pairs with the reply thread's acquire of the bell before it looks at the table.
    bell_.fetch_add(1, std::memory_order_release);
    futex_wake_all(bell_);
  }

  // The reply thread: reads the reply topic while futures or callbacks wait and no call() does
  // (and kReplyWait longer, so that a stream of requests does not wake it for each), and times
  // the futures and callbacks out.
  void read_replies() noexcept {
    std::vector<ReplySlot*> late;
    late.reserve(64);
    while (!stopping_.load(std::memory_order_relaxed)) {
      const uint32_t bell = bell_.load(std::memory_order_acquire);
      if (table_.callbacks() > 0 && waiters_.load(std::memory_order_seq_cst) == 0 && take_token()) {
        tl_polling = this;
        auto idle_until = std::chrono::steady_clock::now() + kReplyWait;
        auto expiry_due = std::chrono::steady_clock::time_point{};
        while (!stopping_.load(std::memory_order_relaxed) && waiters_.load(std::memory_order_seq_cst) == 0) {
          const size_t got = read_some();
          const auto now = std::chrono::steady_clock::now();
          if (now >= expiry_due) {  // a scan of the table: not at every look of a spinning read
            expire(late, now);
            expiry_due = now + kExpiryScan;
          }
          if (got > 0 || table_.callbacks() > 0) idle_until = now + kReplyWait;
          if (now >= idle_until) break;
        }
        hand_over(0);
        continue;
      }
      expire(late, std::chrono::steady_clock::now());
      futex_wait(bell_, bell, kReplyWait);
    }
  }

  // The reply thread's read: blocking, a kReplyWait at most; spinning or yielding, one look at a
  // time, so that a call() coming is let in at once.
  size_t read_some() noexcept {
    const auto handler = [&](const Message& m) { on_reply(m); };
    if (options_.reply_wait == WaitStrategy::kBlock) {
      const Result<size_t> r = reply_subscription_.receive(handler, 256, kReplyWait);
      return r ? *r : 0;
    }
    const Result<size_t> r = reply_subscription_.poll(handler, 256);
    if (r && *r > 0) return *r;
    if (options_.reply_wait == WaitStrategy::kYield) std::this_thread::yield();
    return 0;
  }

  void expire(std::vector<ReplySlot*>& late, std::chrono::steady_clock::time_point now) {
    table_.take_expired(now, late);
    for (ReplySlot* s : late) {
      Client::ReplyCallback done = std::move(s->done);
      const std::string text = timeout_text(s->request_type, s->endpoint, s->timeout);
      table_.release(s);
      done({}, request_error(RequestErrc::kTimeout, text));
    }
  }

  void on_reply(const Message& m) noexcept {
    try {
      // Two headers are all a reply needs here (one pass): not the whole envelope read into strings.
      static constexpr std::string_view kKeys[] = {header_keys::kCorrelationId, header_keys::kType};
      std::optional<std::string_view> found[2];
      m.headers.find_each(kKeys, found);
      if (!found[0]) return;
      ReplySlot* s = table_.take(*found[0]);
      if (!s) return;  // timed out already, or not ours
      answer(*s, found[1].value_or(std::string_view{}), m.text());
    } catch (const std::exception& e) {
      std::fprintf(stderr, "shmbus client: a reply could not be handled: %s\n", e.what());
    }
  }

  // Completes a slot taken out of the table: a callback is called (here, on the polling thread),
  // a waiting thread finds its answer in the slot.
  void answer(ReplySlot& s, std::string_view type, std::string_view payload) {
    std::optional<RequestError> error = reply_error(s.request_type, s.reply_type, type, payload);
    if (s.waiter == Waiter::kCallback) {
      Client::ReplyCallback done = std::move(s.done);
      table_.release(&s);
      if (error) return done({}, std::make_exception_ptr(*error));
      return done(payload, nullptr);
    }
    s.ok = !error;
    if (error) {
      s.code = error->code();
      s.what = error->what();
    } else {
      s.payload.assign(payload);
    }
    // release: pairs with the waiter's acquire load; seq_cst for the exchange's look at kSleeping
    // (pairs with sleep()'s exchange).
    if (s.state.exchange(kAnswered, std::memory_order_seq_cst) == kSleeping) futex_wake_all(s.state);
  }

 public:
  ClientOptions options_;
  Bus bus_;
  std::mutex send_mu_;  // guards sender_ and routes_
  Sender sender_;
  Routes routes_;
  ReplyTable table_;
  std::once_flag replies_started_;
  mutable std::mutex topic_mu_;  // reply_topic() may be asked while the first request sets it
  std::string reply_topic_;

 private:
  static thread_local const ClientImpl* tl_polling;  // the Client this thread reads replies of, now
  Subscription reply_subscription_;  // the token holder's
  std::thread reply_thread_;
  std::atomic<bool> polling_{false};    // the poll token
  std::atomic<uint32_t> waiters_{0};    // threads in call()
  std::atomic<uint32_t> bell_{0};       // the reply thread's futex word: rung when it should look
  std::atomic<bool> stopping_{false};   // relaxed: polled by the reply thread (rung too); join() syncs the rest
};

thread_local const ClientImpl* ClientImpl::tl_polling = nullptr;

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
    (void)memory_->bus().request_from(memory_->side(), type, std::move(json), endpoint, timeout, reply_type,
                                      std::move(done));
    return;
  }
  impl_->with_request(type, std::move(json), endpoint, timeout, reply_type,
                      [&](const detail::Outgoing& out, const detail::RequestInfo& info) {
                        impl_->request(out, info, std::move(done));
                      });
}

detail::CallOutcome Client::call_json(const MessageType& type, std::string json, std::string_view endpoint,
                                      std::chrono::nanoseconds timeout, const MessageType& reply_type) {
  if (memory_) {
    detail::CallOutcome o;
    bool came = false;
    thread_local std::string reply_buffer;
    const std::string id = memory_->bus().request_from(
        memory_->side(), type, std::move(json), endpoint, timeout, reply_type,
        [&](std::string_view payload, std::exception_ptr error) {
          came = true;
          if (!error) {
            o.ok = true;
            reply_buffer.assign(payload);
            o.payload = reply_buffer;
            return;
          }
          try {
            std::rethrow_exception(error);
          } catch (const RequestError& e) {
            o.code = e.code();
            o.what = e.what();
          }
        });
    if (!came && memory_->side().pending.take(id)) {
      o.what = "no reply to " + type.type_header() + " within the call: on a TestBus a reply comes within it or after "
               "TestBus::advance(); use request() (a future) and advance() for a reply that comes later";
    }
    return o;
  }
  return impl_->with_request(type, std::move(json), endpoint, timeout, reply_type,
                             [&](const detail::Outgoing& out, const detail::RequestInfo& info) {
                               return impl_->call(out, info);
                             });
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
  return memory_ ? memory_->side().pending.size() : impl_->table_.size();
}

}  // namespace shmbus::service
