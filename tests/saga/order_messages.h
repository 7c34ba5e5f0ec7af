// The messages of the order flow (issue 16): reserve stock -> capture payment -> create
// shipment; a payment failure (or timeout) -> release stock -> order cancelled.
#pragma once

#include <string>

#include <nlohmann/json.hpp>

#include "shmbus/service/message_type.h"

namespace orders {

struct OrderPlaced {
  int order = 0;
  int qty = 0;
  int amount = 0;
};
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(OrderPlaced, order, qty, amount)

struct ReserveStock {
  int order = 0;
  int qty = 0;
};
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(ReserveStock, order, qty)

struct CapturePayment {
  int order = 0;
  int amount = 0;
};
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(CapturePayment, order, amount)

// One field, the order: these all say "this happened to order N".
#define ORDERS_ORDER_MESSAGE(Name) \
  struct Name {                    \
    int order = 0;                 \
  };                               \
  NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(Name, order)
ORDERS_ORDER_MESSAGE(StockReserved)
ORDERS_ORDER_MESSAGE(StockRejected)
ORDERS_ORDER_MESSAGE(PaymentCaptured)
ORDERS_ORDER_MESSAGE(CreateShipment)
ORDERS_ORDER_MESSAGE(ShipmentCreated)
ORDERS_ORDER_MESSAGE(ReleaseStock)
ORDERS_ORDER_MESSAGE(StockReleased)
ORDERS_ORDER_MESSAGE(VoidPayment)
ORDERS_ORDER_MESSAGE(PaymentTimeout)
ORDERS_ORDER_MESSAGE(OrderCompleted)
#undef ORDERS_ORDER_MESSAGE

struct PaymentFailed {
  int order = 0;
  std::string reason;
};
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(PaymentFailed, order, reason)

struct OrderCancelled {
  int order = 0;
  std::string reason;
};
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(OrderCancelled, order, reason)

// The payment service declines one order in five, always the same ones.
inline bool payment_declined(int order) { return (static_cast<unsigned>(order) * 2654435761u >> 16) % 5 == 0; }

}  // namespace orders

SHMBUS_MESSAGE(orders::OrderPlaced, "OrderPlaced", 1, event);
SHMBUS_MESSAGE(orders::ReserveStock, "ReserveStock", 1, command);
SHMBUS_MESSAGE(orders::StockReserved, "StockReserved", 1, event);
SHMBUS_MESSAGE(orders::StockRejected, "StockRejected", 1, event);
SHMBUS_MESSAGE(orders::CapturePayment, "CapturePayment", 1, command);
SHMBUS_MESSAGE(orders::PaymentCaptured, "PaymentCaptured", 1, event);
SHMBUS_MESSAGE(orders::PaymentFailed, "PaymentFailed", 1, event);
SHMBUS_MESSAGE(orders::VoidPayment, "VoidPayment", 1, command);
SHMBUS_MESSAGE(orders::CreateShipment, "CreateShipment", 1, command);
SHMBUS_MESSAGE(orders::ShipmentCreated, "ShipmentCreated", 1, event);
SHMBUS_MESSAGE(orders::ReleaseStock, "ReleaseStock", 1, command);
SHMBUS_MESSAGE(orders::StockReleased, "StockReleased", 1, event);
SHMBUS_MESSAGE(orders::PaymentTimeout, "PaymentTimeout", 1, command);
SHMBUS_MESSAGE(orders::OrderCompleted, "OrderCompleted", 1, event);
SHMBUS_MESSAGE(orders::OrderCancelled, "OrderCancelled", 1, event);
