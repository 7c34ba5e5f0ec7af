// EvenTicket's messages: what Ordering, the order saga, Inventory, Payments and Shipping say to
// each other. The flow of one order (README.md, "EvenTicket"):
//   Ordering   --OrderPlaced-->      saga  --ReserveStock-->   Inventory --StockReserved/Rejected-->
//   saga       --CapturePayment-->   Payments --PaymentCaptured (or Fault<CapturePayment>)-->
//   saga       --CreateShipment-->   Shipping --ShipmentCreated--> saga --OrderCompleted--> Ordering
//   a failed payment: saga --VoidPayment--> Payments, --ReleaseStock--> Inventory --StockReleased-->
//                     saga --OrderCancelled--> Ordering
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "shmbus/service/message_type.h"

namespace eventicket {

struct Item {
  std::string sku;
  int qty = 0;
};
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(Item, sku, qty)

// Events of Ordering.
struct OrderPlaced {
  long long order = 0;
  std::string customer;
  std::vector<Item> items;
  long long amount = 0;  // cents
};
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(OrderPlaced, order, customer, items, amount)

// Inventory.
struct ReserveStock {
  long long order = 0;
  std::vector<Item> items;
};
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(ReserveStock, order, items)
struct StockReserved {
  long long order = 0;
};
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(StockReserved, order)
struct StockRejected {
  long long order = 0;
  std::string reason;
};
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(StockRejected, order, reason)
struct ReleaseStock {  // the compensation of ReserveStock
  long long order = 0;
};
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(ReleaseStock, order)
struct StockReleased {
  long long order = 0;
};
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(StockReleased, order)

// Payments.
struct CapturePayment {
  long long order = 0;
  long long amount = 0;
};
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(CapturePayment, order, amount)
struct PaymentCaptured {
  long long order = 0;
};
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(PaymentCaptured, order)
struct PaymentDeclined {  // a capture that came after its order was given up (VoidPayment first)
  long long order = 0;
  std::string reason;
};
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(PaymentDeclined, order, reason)
struct VoidPayment {  // the compensation of CapturePayment: refunds a capture, or forbids a later one
  long long order = 0;
};
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(VoidPayment, order)

// Shipping.
struct CreateShipment {
  long long order = 0;
  std::string customer;
  std::vector<Item> items;
};
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(CreateShipment, order, customer, items)
struct ShipmentCreated {
  long long order = 0;
  std::vector<Item> items;
};
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(ShipmentCreated, order, items)

// The saga's own timeout, and its outcome.
struct PaymentTimeout {
  long long order = 0;
};
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(PaymentTimeout, order)
struct OrderCompleted {
  long long order = 0;
};
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(OrderCompleted, order)
struct OrderCancelled {
  long long order = 0;
  std::string reason;
};
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(OrderCancelled, order, reason)

}  // namespace eventicket

SHMBUS_MESSAGE(eventicket::OrderPlaced, "ticket.OrderPlaced", 1, event);
SHMBUS_MESSAGE(eventicket::ReserveStock, "ticket.ReserveStock", 1, command);
SHMBUS_MESSAGE(eventicket::StockReserved, "ticket.StockReserved", 1, event);
SHMBUS_MESSAGE(eventicket::StockRejected, "ticket.StockRejected", 1, event);
SHMBUS_MESSAGE(eventicket::ReleaseStock, "ticket.ReleaseStock", 1, command);
SHMBUS_MESSAGE(eventicket::StockReleased, "ticket.StockReleased", 1, event);
SHMBUS_MESSAGE(eventicket::CapturePayment, "ticket.CapturePayment", 1, command);
SHMBUS_MESSAGE(eventicket::PaymentCaptured, "ticket.PaymentCaptured", 1, event);
SHMBUS_MESSAGE(eventicket::PaymentDeclined, "ticket.PaymentDeclined", 1, event);
SHMBUS_MESSAGE(eventicket::VoidPayment, "ticket.VoidPayment", 1, command);
SHMBUS_MESSAGE(eventicket::CreateShipment, "ticket.CreateShipment", 1, command);
SHMBUS_MESSAGE(eventicket::ShipmentCreated, "ticket.ShipmentCreated", 1, event);
SHMBUS_MESSAGE(eventicket::PaymentTimeout, "ticket.PaymentTimeout", 1, command);
SHMBUS_MESSAGE(eventicket::OrderCompleted, "ticket.OrderCompleted", 1, event);
SHMBUS_MESSAGE(eventicket::OrderCancelled, "ticket.OrderCancelled", 1, event);
