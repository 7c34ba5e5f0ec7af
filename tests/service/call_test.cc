// Client::call: the requesting thread reads the reply topic itself. Replies, errors (no endpoint,
// remote fault, timeout), many threads through one Client mixing call(), futures and callbacks
// (each reply to its own requester, whoever read it), a call() timing out while another thread
// is the one reading. (Calls to a responder process killed -9: request_test.cc.)
#include <gtest/gtest.h>

#include <atomic>
#include <deque>
#include <future>
#include <mutex>
#include <thread>

#include "messages.h"
#include "service_test_support.h"

namespace shmbus::service {
namespace {

using namespace std::chrono_literals;
using shmbus::test::TempBus;

shop::OrderStatus status_of(const shop::GetOrderStatus& q) {
  return {q.order, q.requester, q.seq, "shipped-" + std::to_string(q.order)};
}

bool is_status_of(const shop::OrderStatus& s, const shop::GetOrderStatus& q) {
  const shop::OrderStatus want = status_of(q);
  return s.order == want.order && s.requester == want.requester && s.seq == want.seq && s.status == want.status;
}

Endpoint responder(Bus bus, std::string name = "orders", uint32_t concurrency = 1) {
  EndpointOptions o = test::fast_options();
  o.concurrency = concurrency;
  Endpoint e(std::move(bus), std::move(name), o);
  e.handle<shop::GetOrderStatus>([](const shop::GetOrderStatus& q, Context& ctx) {
    if (q.order < 0) throw std::out_of_range("no order " + std::to_string(q.order));
    ctx.reply(status_of(q));
  });
  return e;
}

ClientOptions options_with(WaitStrategy wait) {
  ClientOptions o = test::client_options();
  o.reply_wait = wait;
  return o;
}

TEST(Call, TheReplyComesBackToTheCaller) {
  TempBus tb;
  Bus bus = tb.open();
  Endpoint orders = responder(bus);
  orders.start();
  Client sut(bus, test::client_options());

  for (int i = 0; i < 100; ++i) {
    const Response<shop::OrderStatus> r = sut.call<shop::GetOrderStatus, shop::OrderStatus>({i, 0, i}, "orders", 20s);
    ASSERT_TRUE(r.ok()) << r.message();
    EXPECT_TRUE(is_status_of(*r, {i, 0, i}));
  }
  EXPECT_EQ(sut.pending_requests(), 0u);
}

TEST(Call, ErrorsAreInTheResponseNotThrown) {
  TempBus tb;
  Bus bus = tb.open();
  Endpoint orders = responder(bus);
  orders.start();
  Client sut(bus, test::client_options());
  sut.route<shop::GetOrderStatus>("orders");

  const auto fault = sut.call<shop::GetOrderStatus, shop::OrderStatus>({-1, 0, 0}, 20s);
  ASSERT_FALSE(fault.ok());
  EXPECT_EQ(fault.error(), RequestErrc::kRemoteFault);
  EXPECT_NE(fault.message().find("std::out_of_range: no order -1"), std::string::npos) << fault.message();
  try {
    (void)fault.value();
    ADD_FAILURE() << "value() of a failed call returned";
  } catch (const RequestError& e) {
    EXPECT_EQ(e.code(), RequestErrc::kRemoteFault);
  }

  const auto start = std::chrono::steady_clock::now();
  const auto nobody = sut.call<shop::GetOrderStatus, shop::OrderStatus>({1, 0, 0}, "nobody", 10s);
  EXPECT_LT(std::chrono::steady_clock::now() - start, 5s);  // at once, not after the 10 s
  ASSERT_FALSE(nobody.ok());
  EXPECT_EQ(nobody.error(), RequestErrc::kNoEndpoint);
  EXPECT_EQ(sut.pending_requests(), 0u);
}

TEST(Call, AnUnansweredCallTimesOutAndItsDeadlineTravels) {
  TempBus tb;
  Bus bus = tb.open();
  Endpoint orders = responder(bus);
  orders.start();
  orders.stop();  // the queue is there, nobody consumes
  Client sut(bus, test::client_options());

  const auto start = std::chrono::steady_clock::now();
  const auto r = sut.call<shop::GetOrderStatus, shop::OrderStatus>({1, 0, 0}, "orders", 200ms);
  const auto took = std::chrono::steady_clock::now() - start;
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error(), RequestErrc::kTimeout);
  EXPECT_GE(took, 200ms);
  EXPECT_LT(took, 10s);
  EXPECT_EQ(sut.pending_requests(), 0u);
  orders.start();  // too late: the request expired in the queue
  const auto dead = test::dead_letters(bus, "orders", 1);
  ASSERT_EQ(dead.size(), 1u);
  EXPECT_EQ(dead[0].reason, "expired");
}

// Threads of one Client: some call(), some futures (a window of them), some callbacks; every
// reply must be its own requester's, whichever thread read it from the reply topic.
void many_threads_through_one_client(WaitStrategy wait) {
  TempBus tb;
  Bus bus = tb.open();
  Endpoint orders = responder(bus, "orders", 2);
  orders.start();
  Client sut(bus, options_with(wait));
  constexpr int kPerThread = 3000;
  constexpr int kCallers = 4, kFutures = 2, kCallbacks = 2;
  std::atomic<int> bad{0}, good{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kCallers; ++t) {
    threads.emplace_back([&, t] {
      for (int seq = 0; seq < kPerThread; ++seq) {
        const shop::GetOrderStatus q{seq * 10 + t, t, seq};
        const auto r = sut.call<shop::GetOrderStatus, shop::OrderStatus>(q, "orders", 60s);
        (r.ok() && is_status_of(*r, q) ? good : bad)++;
        if (!r.ok() && bad < 3) std::fprintf(stderr, "caller %d, request %d: %s\n", t, seq, r.message().c_str());
      }
    });
  }
  for (int t = kCallers; t < kCallers + kFutures; ++t) {
    threads.emplace_back([&, t] {
      std::deque<std::pair<shop::GetOrderStatus, std::future<shop::OrderStatus>>> window;
      const auto check = [&] {
        auto [q, f] = std::move(window.front());
        window.pop_front();
        if (f.wait_for(90s) != std::future_status::ready) {
          ++bad;
          return;
        }
        try {
          (is_status_of(f.get(), q) ? good : bad)++;
        } catch (const std::exception&) {
          ++bad;
        }
      };
      for (int seq = 0; seq < kPerThread; ++seq) {
        const shop::GetOrderStatus q{seq * 10 + t, t, seq};
        window.emplace_back(q, sut.request<shop::GetOrderStatus, shop::OrderStatus>(q, "orders", 60s));
        if (window.size() >= 16) check();
      }
      while (!window.empty()) check();
    });
  }
  std::atomic<int> callbacks_done{0};
  for (int t = kCallers + kFutures; t < kCallers + kFutures + kCallbacks; ++t) {
    threads.emplace_back([&, t] {
      for (int seq = 0; seq < kPerThread; ++seq) {
        const shop::GetOrderStatus q{seq * 10 + t, t, seq};
        sut.request_json(message_type_of<shop::GetOrderStatus>(), encode(q), "orders", 60s,
                         message_type_of<shop::OrderStatus>(), [&, q](std::string_view payload, std::exception_ptr e) {
                           (!e && is_status_of(decode<shop::OrderStatus>(payload), q) ? good : bad)++;
                           ++callbacks_done;
                         });
        // At most 32 of this thread's outstanding: bounded, without waiting on a future.
        const auto until = std::chrono::steady_clock::now() + 90s;
        while (seq + 1 - callbacks_done.load() / kCallbacks > 32 && std::chrono::steady_clock::now() < until) {
          std::this_thread::sleep_for(100us);
        }
      }
    });
  }
  for (std::thread& t : threads) t.join();
  EXPECT_TRUE(shmbus::test::eventually([&] { return callbacks_done.load() == kCallbacks * kPerThread; }, 90s));
  EXPECT_EQ(bad.load(), 0);
  EXPECT_EQ(good.load(), (kCallers + kFutures + kCallbacks) * kPerThread);
  EXPECT_EQ(sut.pending_requests(), 0u);
}

TEST(Call, ManyThreadsThroughOneClientMixingCallsFuturesAndCallbacksBlocking) {
  many_threads_through_one_client(WaitStrategy::kBlock);
}
TEST(Call, ManyThreadsThroughOneClientMixingCallsFuturesAndCallbacksYielding) {
  many_threads_through_one_client(WaitStrategy::kYield);
}

// Thread A waits in call() for a handler held back, so A reads the reply topic; thread B's
// call() to an endpoint nobody consumes must time out on its own deadline meanwhile, and A's
// reply still come once the handler lets go.
void a_waiter_times_out_while_another_polls(WaitStrategy wait) {
  TempBus tb;
  Bus bus = tb.open();
  std::atomic<bool> in_handler{false}, let_go{false};
  Endpoint slow(bus, "slow", test::fast_options());
  slow.handle<shop::GetOrderStatus>([&](const shop::GetOrderStatus& q, Context& ctx) {
    in_handler = true;
    const auto until = std::chrono::steady_clock::now() + 30s;
    while (!let_go && std::chrono::steady_clock::now() < until) std::this_thread::sleep_for(1ms);
    ctx.reply(status_of(q));
  });
  slow.start();
  Endpoint idle = responder(bus, "idle");
  idle.start();
  idle.stop();  // its queue is there, nobody consumes
  Client sut(bus, options_with(wait));

  std::atomic<bool> a_done{false};
  std::optional<Response<shop::OrderStatus>> a_reply;
  std::thread a([&] {
    a_reply.emplace(sut.call<shop::GetOrderStatus, shop::OrderStatus>({7, 1, 7}, "slow", 60s));
    a_done = true;
  });
  ASSERT_TRUE(shmbus::test::eventually([&] { return in_handler.load(); }, 20s));

  const auto start = std::chrono::steady_clock::now();
  const auto b = sut.call<shop::GetOrderStatus, shop::OrderStatus>({8, 2, 8}, "idle", 300ms);
  const auto took = std::chrono::steady_clock::now() - start;
  ASSERT_FALSE(b.ok());
  EXPECT_EQ(b.error(), RequestErrc::kTimeout);
  EXPECT_GE(took, 300ms);
  EXPECT_LT(took, 10s);
  EXPECT_FALSE(a_done.load());  // A still waits, reading

  let_go = true;
  a.join();
  ASSERT_TRUE(a_reply && a_reply->ok()) << (a_reply ? a_reply->message() : "");
  EXPECT_TRUE(is_status_of(**a_reply, {7, 1, 7}));
  EXPECT_EQ(sut.pending_requests(), 0u);
}

TEST(Call, AWaiterTimesOutWhileAnotherThreadReadsTheRepliesBlocking) {
  a_waiter_times_out_while_another_polls(WaitStrategy::kBlock);
}
TEST(Call, AWaiterTimesOutWhileAnotherThreadReadsTheRepliesSpinning) {
  a_waiter_times_out_while_another_polls(WaitStrategy::kSpin);
}

// A callback runs on whichever thread read its reply: a call() there would wait for itself.
TEST(Call, ACallFromAReplyCallbackIsRefused) {
  TempBus tb;
  Bus bus = tb.open();
  Endpoint orders = responder(bus);
  orders.start();
  Client sut(bus, test::client_options());
  std::promise<std::string> refused;
  sut.request_json(message_type_of<shop::GetOrderStatus>(), encode(shop::GetOrderStatus{1, 0, 0}), "orders", 20s,
                   message_type_of<shop::OrderStatus>(), [&](std::string_view, std::exception_ptr) {
                     try {
                       (void)sut.call<shop::GetOrderStatus, shop::OrderStatus>({2, 0, 0}, "orders", 1s);
                       refused.set_value("");
                     } catch (const Error& e) {
                       refused.set_value(e.what());
                     }
                   });
  std::future<std::string> f = refused.get_future();
  ASSERT_EQ(f.wait_for(20s), std::future_status::ready);
  EXPECT_NE(f.get().find("from a reply callback"), std::string::npos);
}

}  // namespace
}  // namespace shmbus::service
