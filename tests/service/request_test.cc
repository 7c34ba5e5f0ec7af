// Request / response: in one process (replies, faults, no endpoint, an expired request), and
// across processes (4 requesters x 100,000 requests, futures and call()s, against 2 responders; a
// responder killed -9, under a future and under call()s).
#include <gtest/gtest.h>
#include <signal.h>

#include <atomic>
#include <cstdlib>
#include <deque>
#include <future>
#include <optional>
#include <stdexcept>
#include <thread>

#include "messages.h"
#include "service_test_support.h"

namespace shmbus::service {
namespace {

using namespace std::chrono_literals;
using shmbus::test::eventually;
using shmbus::test::TempBus;

shop::OrderStatus status_of(const shop::GetOrderStatus& q) {
  return {q.order, q.requester, q.seq, "shipped-" + std::to_string(q.order)};
}

Endpoint responder(Bus bus, uint32_t concurrency = 1) {
  EndpointOptions o = test::fast_options();
  o.concurrency = concurrency;
  Endpoint e(std::move(bus), "orders", o);
  e.handle<shop::GetOrderStatus>([](const shop::GetOrderStatus& q, Context& ctx) {
    if (q.order < 0) throw std::out_of_range("no order " + std::to_string(q.order));
    ctx.reply(status_of(q));
  });
  return e;
}

RequestErrc code_of(std::future<shop::OrderStatus>& f) {
  try {
    f.get();
  } catch (const RequestError& e) {
    return e.code();
  }
  ADD_FAILURE() << "a reply came";
  return RequestErrc::kClosed;
}

TEST(Request, TheReplyComesBackCorrelated) {
  TempBus tb;
  Bus bus = tb.open();
  Endpoint orders = responder(bus);
  orders.start();
  Client sut(bus, test::client_options());

  auto reply = sut.request<shop::GetOrderStatus, shop::OrderStatus>({42, 0, 1}, "orders", 10s);

  ASSERT_EQ(reply.wait_for(20s), std::future_status::ready);
  const shop::OrderStatus s = reply.get();
  EXPECT_EQ(s.order, 42);
  EXPECT_EQ(s.status, "shipped-42");
  EXPECT_EQ(sut.pending_requests(), 0u);
}

TEST(Request, ARouteNamesTheEndpoint) {
  TempBus tb;
  Bus bus = tb.open();
  Endpoint orders = responder(bus);
  orders.start();
  Client sut(bus, test::client_options());
  sut.route<shop::GetOrderStatus>("orders");

  auto reply = sut.request<shop::GetOrderStatus, shop::OrderStatus>({5, 0, 0}, 10s);

  ASSERT_EQ(reply.wait_for(20s), std::future_status::ready);
  EXPECT_EQ(reply.get().order, 5);
}

TEST(Request, AHandlerThatFailsEveryAttemptAnswersWithARemoteFault) {
  TempBus tb;
  Bus bus = tb.open();
  Endpoint orders = responder(bus);
  orders.start();
  Client sut(bus, test::client_options());

  auto reply = sut.request<shop::GetOrderStatus, shop::OrderStatus>({-1, 0, 0}, "orders", 20s);

  ASSERT_EQ(reply.wait_for(30s), std::future_status::ready);
  try {
    reply.get();
    ADD_FAILURE() << "a reply came";
  } catch (const RequestError& e) {
    EXPECT_EQ(e.code(), RequestErrc::kRemoteFault);
    EXPECT_NE(std::string(e.what()).find("std::out_of_range: no order -1"), std::string::npos) << e.what();
  }
}

TEST(Request, NoQueueBoundToTheCommandTopicIsNoEndpointNotATimeout) {
  TempBus tb;
  Client sut(tb.open(), test::client_options());

  auto reply = sut.request<shop::GetOrderStatus, shop::OrderStatus>({1, 0, 0}, "orders", 10s);

  ASSERT_EQ(reply.wait_for(1s), std::future_status::ready);  // at once, not after 10 s
  EXPECT_EQ(code_of(reply), RequestErrc::kNoEndpoint);
}

TEST(Request, AnExpiredRequestTimesOutAndIsNeverAnswered) {
  TempBus tb;
  Bus bus = tb.open();
  std::atomic<int> answered{0};
  Endpoint orders(bus, "orders", test::fast_options());
  orders.handle<shop::GetOrderStatus>([&](const shop::GetOrderStatus& q, Context& ctx) {
    ++answered;
    ctx.reply(status_of(q));
  });
  orders.start();
  orders.stop();  // the queue is there, nobody consumes
  Client sut(bus, test::client_options());

  auto reply = sut.request<shop::GetOrderStatus, shop::OrderStatus>({1, 0, 0}, "orders", 200ms);
  ASSERT_EQ(reply.wait_for(10s), std::future_status::ready);
  EXPECT_EQ(code_of(reply), RequestErrc::kTimeout);
  orders.start();  // too late: the caller gave up

  const auto dead = test::dead_letters(bus, "orders", 1);
  ASSERT_EQ(dead.size(), 1u);
  EXPECT_EQ(dead[0].reason, "expired");
  EXPECT_EQ(answered.load(), 0);
}

TEST(Request, TheReplyTopicGoesWithItsClient) {
  TempBus tb;
  Bus bus = tb.open();
  Endpoint orders = responder(bus);
  orders.start();
  std::string topic;
  {
    Client sut(bus, test::client_options());
    auto reply = sut.request<shop::GetOrderStatus, shop::OrderStatus>({1, 0, 0}, "orders", 10s);
    ASSERT_EQ(reply.wait_for(20s), std::future_status::ready);
    topic = sut.reply_topic();
    EXPECT_TRUE(bus.topic_exists(topic));
  }
  EXPECT_FALSE(bus.topic_exists(topic));
}

// A responder process: serves "orders" until the parent closes `stop_fd`'s other end.
int serve_orders(const std::string& bus_path, int ready_fd, int stop_fd) {
  Endpoint e = responder(Bus::open(bus_path), /*concurrency=*/1);
  e.start();
  char x = 1;
  if (::write(ready_fd, &x, 1) != 1) return 2;
  while (::read(stop_fd, &x, 1) > 0) {
  }
  e.stop();
  std::fprintf(stderr, "responder %d handled %llu\n", static_cast<int>(::getpid()),
               static_cast<unsigned long long>(e.stats().handled));
  return 0;
}

// A requester process: `n` requests, at most `window` outstanding as futures, every 8th made with
// call() meanwhile (the caller then reads the replies, the futures' too); every reply must be
// its own.
int request_many(const std::string& bus_path, int requester, int n, size_t window) {
  Client client(Bus::open(bus_path), test::client_options("requester-" + std::to_string(requester)));
  std::deque<std::pair<int, std::future<shop::OrderStatus>>> outstanding;
  int bad = 0;
  const auto check = [&] {
    auto [seq, f] = std::move(outstanding.front());
    outstanding.pop_front();
    try {
      const shop::OrderStatus s = f.get();
      const shop::OrderStatus want = status_of({seq * 7 + requester, requester, seq});
      if (s.requester != requester || s.seq != seq || s.order != want.order || s.status != want.status) ++bad;
    } catch (const std::exception& e) {
      if (bad++ < 3) std::fprintf(stderr, "requester %d, request %d: %s\n", requester, seq, e.what());
    }
  };
  for (int seq = 0; seq < n; ++seq) {
    const shop::GetOrderStatus q{seq * 7 + requester, requester, seq};
    if (seq % 8 == 7) {
      const Response<shop::OrderStatus> r = client.call<shop::GetOrderStatus, shop::OrderStatus>(q, "orders", 60s);
      const shop::OrderStatus want = status_of(q);
      if (!r.ok() || r->requester != requester || r->seq != seq || r->order != want.order || r->status != want.status) {
        if (bad++ < 3) std::fprintf(stderr, "requester %d, call %d: %s\n", requester, seq, r.message().c_str());
      }
      continue;
    }
    outstanding.emplace_back(seq, client.request<shop::GetOrderStatus, shop::OrderStatus>(q, "orders", 60s));
    if (outstanding.size() >= window) check();
  }
  while (!outstanding.empty()) check();
  return bad == 0 ? 0 : 10;
}

int scale() {
  const char* s = std::getenv("SHMBUS_SOAK_SCALE");
  return s ? std::max(1, std::atoi(s)) : 1;
}

TEST(RequestProcesses, FourRequestersAndTwoRespondersEveryReplyReachesItsOwnRequester) {
  TempBus tb;
  Bus bus = tb.open();
  { Endpoint declare = responder(bus); declare.start(); }  // the queue exists before anyone asks
  int ready[2], stop[2];
  ASSERT_EQ(::pipe(ready), 0);
  ASSERT_EQ(::pipe(stop), 0);
  std::vector<pid_t> responders;
  for (int i = 0; i < 2; ++i) {
    responders.push_back(shmbus::test::spawn([&] { ::close(stop[1]); return serve_orders(tb.path(), ready[1], stop[0]); }));
  }
  ::close(stop[0]);
  for (int i = 0; i < 2; ++i) {
    char x;
    ASSERT_EQ(::read(ready[0], &x, 1), 1);
  }
  const int n = 100000 * scale();  // the size; 10,000 was 0.3 s here
  const auto start = std::chrono::steady_clock::now();

  std::vector<pid_t> requesters;
  for (int r = 0; r < 4; ++r) requesters.push_back(shmbus::test::spawn([&] { return request_many(tb.path(), r, n, 64); }));
  for (pid_t p : requesters) EXPECT_EQ(shmbus::test::wait_child(p, 300s), 0);
  const auto took = std::chrono::steady_clock::now() - start;

  ::close(stop[1]);
  for (pid_t p : responders) EXPECT_EQ(shmbus::test::wait_child(p, 60s), 0);
  const QueueStats s = bus.queue("orders").stats();
  EXPECT_EQ(s.acked, 4u * n);
  EXPECT_EQ(s.dead_lettered, 0u);
  std::fprintf(stderr, "4 x %d requests, 2 responders: %.2f s (%.0f requests/s)\n", n,
               std::chrono::duration<double>(took).count(), 4.0 * n / std::chrono::duration<double>(took).count());
}

// One serve_orders process, answering once constructed; its stop pipe closed when destroyed
// (it ends, unless kill9() killed it first).
class ResponderProcess {
 public:
  explicit ResponderProcess(const std::string& bus_path) {
    int ready[2];
    if (::pipe(ready) != 0 || ::pipe(stop_) != 0) throw std::runtime_error("pipe failed");
    pid_ = shmbus::test::spawn([&] { return serve_orders(bus_path, ready[1], stop_[0]); });
    char x;
    const bool started = ::read(ready[0], &x, 1) == 1;
    ::close(ready[0]);
    ::close(ready[1]);
    if (!started) throw std::runtime_error("the responder process did not start");
  }
  ResponderProcess(const ResponderProcess&) = delete;
  ResponderProcess& operator=(const ResponderProcess&) = delete;
  ~ResponderProcess() {
    ::close(stop_[1]);
    ::close(stop_[0]);
  }
  // kill -9, then reaped: its status as wait_child reports it.
  int kill9() const {
    ::kill(pid_, SIGKILL);
    return shmbus::test::wait_child(pid_);
  }

 private:
  int stop_[2] = {-1, -1};
  pid_t pid_ = -1;
};

TEST(RequestProcesses, ARequestTimesOutWhenItsResponderIsKilled) {
  TempBus tb;
  Bus bus = tb.open();
  const ResponderProcess responder(tb.path());
  Client sut(bus, test::client_options());  // threads only after the fork
  auto first = sut.request<shop::GetOrderStatus, shop::OrderStatus>({1, 0, 0}, "orders", 20s);
  ASSERT_EQ(first.wait_for(30s), std::future_status::ready);
  EXPECT_EQ(first.get().order, 1);

  EXPECT_EQ(responder.kill9(), 128 + SIGKILL);
  auto second = sut.request<shop::GetOrderStatus, shop::OrderStatus>({2, 0, 0}, "orders", 500ms);

  ASSERT_EQ(second.wait_for(10s), std::future_status::ready);
  EXPECT_EQ(code_of(second), RequestErrc::kTimeout);  // the queue is there: not kNoEndpoint
}

TEST(CallProcesses, CallsTimeOutWhenTheirResponderIsKilled) {
  TempBus tb;
  Bus bus = tb.open();
  const ResponderProcess responder(tb.path());
  Client sut(bus, test::client_options());  // threads only after the fork
  const auto first = sut.call<shop::GetOrderStatus, shop::OrderStatus>({1, 0, 1}, "orders", 20s);
  ASSERT_TRUE(first.ok()) << first.message();
  EXPECT_EQ(first->order, 1);

  EXPECT_EQ(responder.kill9(), 128 + SIGKILL);
  // Two threads calling at once (one of them reads the replies) and a future: all time out.
  auto future = sut.request<shop::GetOrderStatus, shop::OrderStatus>({2, 0, 2}, "orders", 500ms);
  std::vector<std::optional<Response<shop::OrderStatus>>> got(2);
  std::vector<std::thread> callers;
  for (int i = 0; i < 2; ++i) {
    callers.emplace_back([&, i] { got[i].emplace(sut.call<shop::GetOrderStatus, shop::OrderStatus>({3 + i, 0, 3 + i}, "orders", 500ms)); });
  }
  for (std::thread& t : callers) t.join();
  for (const auto& r : got) {
    ASSERT_TRUE(r.has_value());
    EXPECT_FALSE(r->ok());
    EXPECT_EQ(r->error(), RequestErrc::kTimeout) << r->message();  // the queue is there: not kNoEndpoint
  }
  ASSERT_EQ(future.wait_for(10s), std::future_status::ready);
  try {
    future.get();
    ADD_FAILURE() << "a reply came";
  } catch (const RequestError& e) {
    EXPECT_EQ(e.code(), RequestErrc::kTimeout);
  }
  EXPECT_EQ(sut.pending_requests(), 0u);
}

}  // namespace
}  // namespace shmbus::service
