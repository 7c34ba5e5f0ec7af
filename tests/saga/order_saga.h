// The order saga, orchestrated: one state machine decides every step of an order.
//   initially  --OrderPlaced-->      reserving  (send ReserveStock)
//   reserving  --StockReserved-->    paying     (send CapturePayment, schedule PaymentTimeout)
//   reserving  --StockRejected-->    cancelled  (publish OrderCancelled)
//   paying     --PaymentCaptured-->  shipping   (cancel the timeout, send CreateShipment)
//   paying     --PaymentFailed-->    releasing  (cancel the timeout, send ReleaseStock)
//   paying     --PaymentTimeout-->   releasing  (send VoidPayment and ReleaseStock)
//   shipping   --ShipmentCreated-->  completed  (publish OrderCompleted)
//   releasing  --StockReleased-->    cancelled  (publish OrderCancelled)
#pragma once

#include <chrono>
#include <string>

#include "order_messages.h"
#include "shmbus/saga/machine.h"

namespace orders {

struct OrderSaga {
  int order = 0;
  int qty = 0;
  int amount = 0;
  std::string reason;  // why it was cancelled
};
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(OrderSaga, order, qty, amount, reason)

inline shmbus::saga::Machine<OrderSaga> order_saga(std::chrono::milliseconds payment_timeout) {
  namespace saga = shmbus::saga;
  using saga::Step;
  saga::Machine<OrderSaga> m("order-saga");
  const auto key = [](const auto& message, const shmbus::service::Envelope&) { return std::to_string(message.order); };
  m.initially<OrderPlaced>(key, [](OrderSaga& o, const OrderPlaced& e, Step& s) {
    o = {e.order, e.qty, e.amount, ""};
    s.send(ReserveStock{e.order, e.qty}, "inventory");
    s.go("reserving");
  });
  m.during<StockReserved>("reserving", key, [payment_timeout](OrderSaga& o, const StockReserved&, Step& s) {
    s.send(CapturePayment{o.order, o.amount}, "payments");
    s.schedule("payment", PaymentTimeout{o.order}, payment_timeout);
    s.go("paying");
  });
  m.during<StockRejected>("reserving", key, [](OrderSaga& o, const StockRejected&, Step& s) {
    o.reason = "out of stock";
    s.publish(OrderCancelled{o.order, o.reason});
    s.complete("cancelled");
  });
  m.during<PaymentCaptured>("paying", key, [](OrderSaga& o, const PaymentCaptured&, Step& s) {
    s.cancel("payment");
    s.send(CreateShipment{o.order}, "shipping");
    s.go("shipping");
  });
  m.during<PaymentFailed>("paying", key, [](OrderSaga& o, const PaymentFailed& e, Step& s) {
    o.reason = "payment failed: " + e.reason;
    s.cancel("payment");
    s.send(ReleaseStock{o.order}, "inventory");  // the compensation of the reservation
    s.go("releasing");
  });
  m.on_timeout<PaymentTimeout>("paying", key, [](OrderSaga& o, const PaymentTimeout&, Step& s) {
    o.reason = "payment timed out";
    s.send(VoidPayment{o.order}, "payments");  // a capture that comes later is refunded
    s.send(ReleaseStock{o.order}, "inventory");
    s.go("releasing");
  });
  m.during<ShipmentCreated>("shipping", key, [](OrderSaga& o, const ShipmentCreated&, Step& s) {
    s.publish(OrderCompleted{o.order});
    s.complete("completed");
  });
  m.during<StockReleased>("releasing", key, [](OrderSaga& o, const StockReleased&, Step& s) {
    s.publish(OrderCancelled{o.order, o.reason});
    s.complete("cancelled");
  });
  return m;
}

}  // namespace orders
