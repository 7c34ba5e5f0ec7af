// The order saga: one state machine decides each step of an order, keeps where the order is
// in SQLite, and undoes what was done when a step fails.
//   initially --OrderPlaced-->               reserving  send ReserveStock
//   reserving --StockReserved-->             paying     send CapturePayment, schedule PaymentTimeout
//   reserving --StockRejected-->             cancelled  publish OrderCancelled
//   paying    --PaymentCaptured-->           shipping   cancel the timeout, send CreateShipment
//   paying    --Fault<CapturePayment>-->     releasing  cancel the timeout, send VoidPayment, ReleaseStock
//   paying    --PaymentTimeout-->            releasing  send VoidPayment (a late capture is refunded), ReleaseStock
//   shipping  --ShipmentCreated-->           completed  publish OrderCompleted
//   releasing --StockReleased-->             cancelled  publish OrderCancelled
// A payment that failed its last attempt is dead-lettered by Payments' queue and comes back as
// Fault<CapturePayment> (docs/service.md): the saga compensates it like any failed step.
#include <cstdio>
#include <string>
#include <vector>

#include "messages.h"
#include "roles.h"
#include "shmbus/saga/saga.h"
#include "shmbus/service/service.h"

namespace eventicket {
namespace {

namespace saga = shmbus::saga;
namespace svc = shmbus::service;

struct Order {
  long long order = 0;
  std::string customer;
  std::vector<Item> items;
  long long amount = 0;
  std::string reason;  // why it was cancelled
};
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(Order, order, customer, items, amount, reason)

saga::Machine<Order> order_machine(std::chrono::milliseconds payment_timeout) {
  using saga::Step;
  saga::Machine<Order> m("order-saga");
  const auto key = [](const auto& message, const svc::Envelope&) { return std::to_string(message.order); };
  const auto fault_key = [](const svc::Fault<CapturePayment>& f, const svc::Envelope&) {
    return std::to_string(f.message.order);
  };
  m.initially<OrderPlaced>(key, [](Order& o, const OrderPlaced& e, Step& s) {
    o = {e.order, e.customer, e.items, e.amount, ""};
    s.send(ReserveStock{e.order, e.items}, "inventory");
    s.go("reserving");
  });
  m.during<StockReserved>("reserving", key, [payment_timeout](Order& o, const StockReserved&, Step& s) {
    s.send(CapturePayment{o.order, o.amount}, "payments");
    s.schedule("payment", PaymentTimeout{o.order}, payment_timeout);
    s.go("paying");
  });
  m.during<StockRejected>("reserving", key, [](Order& o, const StockRejected& e, Step& s) {
    o.reason = e.reason;
    s.publish(OrderCancelled{o.order, o.reason});
    s.complete("cancelled");
  });
  m.during<PaymentCaptured>("paying", key, [](Order& o, const PaymentCaptured&, Step& s) {
    s.cancel("payment");
    s.send(CreateShipment{o.order, o.customer, o.items}, "shipping");
    s.go("shipping");
  });
  m.during<svc::Fault<CapturePayment>>("paying", fault_key, [](Order& o, const svc::Fault<CapturePayment>& f, Step& s) {
    o.reason = "payment failed after " + std::to_string(f.fault.attempts) + " attempts: " + f.fault.exception_message;
    s.cancel("payment");
    // A failed capture may still have succeeded elsewhere: a CapturePayment that came twice
    // (a relay's resend after a kill -9) can fail its attempts in one copy and succeed in the
    // other, since an inbox marks only what committed. Void it: a capture is refunded, and a
    // later one declined.
    s.send(VoidPayment{o.order}, "payments");
    s.send(ReleaseStock{o.order}, "inventory");  // the compensation of the reservation
    s.go("releasing");
  });
  m.on_timeout<PaymentTimeout>("paying", key, [](Order& o, const PaymentTimeout&, Step& s) {
    o.reason = "payment timed out";
    s.send(VoidPayment{o.order}, "payments");  // a capture that comes later is refunded
    s.send(ReleaseStock{o.order}, "inventory");
    s.go("releasing");
  });
  m.during<ShipmentCreated>("shipping", key, [](Order& o, const ShipmentCreated&, Step& s) {
    s.publish(OrderCompleted{o.order});
    s.complete("completed");
  });
  m.during<StockReleased>("releasing", key, [](Order& o, const StockReleased&, Step& s) {
    s.publish(OrderCancelled{o.order, o.reason});
    s.complete("cancelled");
  });
  return m;
}

}  // namespace

int run_order_saga(const ServiceOptions& options) {
  shmbus::Bus bus = shmbus::Bus::open(options.bus);
  const saga::Machine<Order> machine = order_machine(options.payment_timeout);
  auto store = saga::SqliteStore::open(options.data + "/saga.db");
  saga::SagaOptions so;
  so.endpoint.retry.min = std::chrono::milliseconds(20);
  so.endpoint.retry.max = std::chrono::milliseconds(500);
  so.endpoint.journal = journal_config();
  saga::SagaEndpoint orders(bus, machine.definition(), store, so);
  orders.start();
  std::printf("eventicket saga: ready\n");
  std::fflush(stdout);
  wait_for_stop();
  orders.stop();
  const saga::SagaStats s = orders.stats();
  std::printf("eventicket saga: %llu started, %llu finished, %llu duplicates skipped, %llu unexpected\n",
              static_cast<unsigned long long>(s.started), static_cast<unsigned long long>(s.finished),
              static_cast<unsigned long long>(s.duplicates), static_cast<unsigned long long>(s.unexpected));
  return 0;
}

}  // namespace eventicket
