// The polling wait strategies (EndpointOptions::wait, ClientOptions::reply_wait): requests are
// answered, in order, with every side polling instead of sleeping, and stop() still returns
// (a polling thread looks at its stop flag every idle_wait).
#include <gtest/gtest.h>

#include <future>

#include "messages.h"
#include "service_test_support.h"

namespace shmbus::service {
namespace {

using namespace std::chrono_literals;
using shmbus::test::TempBus;

void round_trips_with(WaitStrategy wait) {
  TempBus tb;
  Bus bus = tb.open();
  EndpointOptions o = test::fast_options();
  o.wait = wait;
  Endpoint orders(bus, "orders", o);
  orders.handle<shop::GetOrderStatus>([](const shop::GetOrderStatus& q, Context& ctx) {
    ctx.reply(shop::OrderStatus{q.order, q.requester, q.seq, "shipped"});
  });
  orders.start();
  ClientOptions co = test::client_options();
  co.reply_wait = wait;
  {
    Client sut(bus, co);
    for (int i = 0; i < 200; ++i) {
      auto reply = sut.request<shop::GetOrderStatus, shop::OrderStatus>({i, 0, i}, "orders", 20s);
      ASSERT_EQ(reply.wait_for(30s), std::future_status::ready) << "request " << i;
      EXPECT_EQ(reply.get().seq, i);
    }
    EXPECT_EQ(sut.pending_requests(), 0u);
  }
  const auto stopping = std::chrono::steady_clock::now();
  orders.stop();
  EXPECT_LT(std::chrono::steady_clock::now() - stopping, 10s);  // bounded by idle_wait, generously
  EXPECT_EQ(orders.stats().handled, 200u);
}

TEST(WaitStrategy, SpinningEndpointAndClientAnswerEveryRequest) { round_trips_with(WaitStrategy::kSpin); }
TEST(WaitStrategy, YieldingEndpointAndClientAnswerEveryRequest) { round_trips_with(WaitStrategy::kYield); }

}  // namespace
}  // namespace shmbus::service
