// The order flow choreographed: no saga, no one who knows the whole flow. Each service reacts
// to the events of the others and publishes its own; the order's outcome is what the events
// say, gathered by Ordering's read model. Compare order_saga.h, where one state machine sends
// every command and holds the order's state (docs/sagas.md, "Orchestration or choreography").
//   OrderSubmitted     -> Inventory reserves  -> InventoryReserved | InventoryShortage
//   InventoryReserved  -> Payments charges    -> PaymentAccepted   | PaymentDeclined
//   PaymentAccepted    -> Shipping ships      -> OrderShipped      (Inventory: reserved -> shipped)
//   PaymentDeclined    -> Inventory releases  -> InventoryReleased (the compensation)
//   Ordering: OrderShipped -> completed; InventoryShortage, InventoryReleased -> cancelled
#include <gtest/gtest.h>

#include <map>
#include <mutex>
#include <set>

#include "order_messages.h"
#include "shmbus/service/service.h"
#include "support/test_bus.h"

namespace choreo {

struct OrderSubmitted {
  int order = 0;
  int qty = 0;
  int amount = 0;
};
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(OrderSubmitted, order, qty, amount)
// InventoryReserved: the order's fields passed on, for Payments.
struct Reserved : OrderSubmitted {};
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(Reserved, order, qty, amount)

#define CHOREO_EVENT(Name) \
  struct Name {            \
    int order = 0;         \
  };                       \
  NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(Name, order)
CHOREO_EVENT(InventoryShortage)
CHOREO_EVENT(PaymentAccepted)
CHOREO_EVENT(PaymentDeclined)
CHOREO_EVENT(OrderShipped)
CHOREO_EVENT(InventoryReleased)
#undef CHOREO_EVENT

}  // namespace choreo

SHMBUS_MESSAGE(choreo::OrderSubmitted, "choreo.OrderSubmitted", 1, event);
SHMBUS_MESSAGE(choreo::Reserved, "choreo.InventoryReserved", 1, event);
SHMBUS_MESSAGE(choreo::InventoryShortage, "choreo.InventoryShortage", 1, event);
SHMBUS_MESSAGE(choreo::PaymentAccepted, "choreo.PaymentAccepted", 1, event);
SHMBUS_MESSAGE(choreo::PaymentDeclined, "choreo.PaymentDeclined", 1, event);
SHMBUS_MESSAGE(choreo::OrderShipped, "choreo.OrderShipped", 1, event);
SHMBUS_MESSAGE(choreo::InventoryReleased, "choreo.InventoryReleased", 1, event);

namespace {

namespace svc = shmbus::service;
using namespace std::chrono_literals;
using namespace choreo;

TEST(Choreography, TheOrderFlowDrivenByEventsOnly) {
  constexpr int kOrders = 40, kStock = 50;
  shmbus::test::TempBus temp;
  shmbus::Bus bus = temp.open();
  std::mutex mu;  // guards the services' state below (each service's own, in one process here)
  int available = kStock, reserved = 0, shipped = 0;
  std::map<int, int> reservations;           // Inventory: order -> qty held
  std::map<int, bool> charged;               // Payments: order -> accepted
  std::map<int, std::string> outcome;        // Ordering's read model

  svc::Endpoint inventory(bus, "c-inventory");
  inventory.handle<OrderSubmitted>([&](const OrderSubmitted& e, svc::Context& ctx) {
    std::unique_lock<std::mutex> lock(mu);
    if (!reservations.contains(e.order)) {
      reservations[e.order] = available >= e.qty ? e.qty : 0;
      if (available >= e.qty) {
        available -= e.qty;
        reserved += e.qty;
      }
    }
    const bool ok = reservations[e.order] > 0;
    lock.unlock();
    if (ok) {
      ctx.publish(Reserved{{e.order, e.qty, e.amount}});
    } else {
      ctx.publish(InventoryShortage{e.order});
    }
  });
  inventory.handle<PaymentDeclined>([&](const PaymentDeclined& e, svc::Context& ctx) {
    {
      std::lock_guard<std::mutex> guard(mu);
      int& held = reservations[e.order];
      available += held;
      reserved -= held;
      held = 0;
    }
    ctx.publish(InventoryReleased{e.order});
  });
  inventory.handle<OrderShipped>([&](const OrderShipped& e, svc::Context&) {
    std::lock_guard<std::mutex> guard(mu);
    int& held = reservations[e.order];
    reserved -= held;
    shipped += held;
    held = 0;
  });
  svc::Endpoint payments(bus, "c-payments");
  payments.handle<Reserved>([&](const Reserved& e, svc::Context& ctx) {
    bool accepted;
    {
      std::lock_guard<std::mutex> guard(mu);
      accepted = charged.emplace(e.order, !orders::payment_declined(e.order)).first->second;
    }
    if (accepted) {
      ctx.publish(PaymentAccepted{e.order});
    } else {
      ctx.publish(PaymentDeclined{e.order});
    }
  });
  svc::Endpoint shipping(bus, "c-shipping");
  shipping.handle<PaymentAccepted>([&](const PaymentAccepted& e, svc::Context& ctx) { ctx.publish(OrderShipped{e.order}); });
  svc::Endpoint ordering(bus, "c-ordering");
  const auto record = [&](int order, std::string what) {
    std::lock_guard<std::mutex> guard(mu);
    outcome.emplace(order, std::move(what));
  };
  ordering.handle<OrderShipped>([&](const OrderShipped& e, svc::Context&) { record(e.order, "completed"); });
  ordering.handle<InventoryShortage>([&](const InventoryShortage& e, svc::Context&) { record(e.order, "cancelled: out of stock"); });
  ordering.handle<InventoryReleased>([&](const InventoryReleased& e, svc::Context&) { record(e.order, "cancelled: payment failed"); });
  for (svc::Endpoint* e : {&inventory, &payments, &shipping, &ordering}) e->start();

  svc::Client client(bus, {.source = "web"});
  for (int i = 1; i <= kOrders; ++i) client.publish(OrderSubmitted{i, 1 + i % 3, 10 * i});
  ASSERT_TRUE(shmbus::test::eventually([&] {
    std::lock_guard<std::mutex> guard(mu);
    return outcome.size() == kOrders && reserved == 0;
  }, 60s));
  for (svc::Endpoint* e : {&inventory, &payments, &shipping, &ordering}) e->stop();

  std::lock_guard<std::mutex> guard(mu);
  int completed = 0;
  for (const auto& [order, what] : outcome) {
    if (what == "completed") {
      ++completed;
      EXPECT_FALSE(orders::payment_declined(order)) << order;
      EXPECT_EQ(charged[order], true) << order;
    } else if (what == "cancelled: payment failed") {
      EXPECT_TRUE(orders::payment_declined(order)) << order;
    } else {
      EXPECT_EQ(what, "cancelled: out of stock") << order;
    }
  }
  EXPECT_GT(completed, 0);
  EXPECT_EQ(available + reserved + shipped, kStock);
  EXPECT_EQ(reserved, 0);
}

}  // namespace
