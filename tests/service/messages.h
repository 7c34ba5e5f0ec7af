// The message types of the service tests: a small shop.
#pragma once

#include <chrono>
#include <string>

#include <nlohmann/json.hpp>

#include "shmbus/service/service.h"
#include "support/test_bus.h"

namespace shop {

struct OrderPlaced {
  int order = 0;
  std::string customer;
};
SHMBUS_FIELDS(OrderPlaced, order, customer)  // the direct codec (json_fields.h), in C++ and with Python

struct ReserveStock {
  int order = 0;
  int quantity = 0;
};
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(ReserveStock, order, quantity)  // nlohmann's DOM path

struct StockReserved {
  int order = 0;
};
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(StockReserved, order)

struct GetOrderStatus {
  int order = 0;
  int requester = 0;
  int seq = 0;
};
SHMBUS_FIELDS(GetOrderStatus, order, requester, seq)

struct OrderStatus {
  int order = 0;
  int requester = 0;
  int seq = 0;
  std::string status;
};
SHMBUS_FIELDS(OrderStatus, order, requester, seq, status)

}  // namespace shop

SHMBUS_MESSAGE(shop::OrderPlaced, "OrderPlaced", 2, event);
SHMBUS_MESSAGE(shop::ReserveStock, "ReserveStock", 1, command);
SHMBUS_MESSAGE(shop::StockReserved, "StockReserved", 1, event);
SHMBUS_MESSAGE(shop::GetOrderStatus, "GetOrderStatus", 1, command);
SHMBUS_MESSAGE(shop::OrderStatus, "OrderStatus", 1, reply);

namespace shmbus::service::test {

// Small journal segments: tests make many topics in /dev/shm.
inline TopicConfig small_journal(uint64_t segment_bytes = 4 << 20) {
  TopicConfig c;
  c.kind = TopicKind::kJournal;
  c.segment_bytes = segment_bytes;
  return c;
}

inline EndpointOptions fast_options(uint32_t max_deliveries = 3) {
  EndpointOptions o;
  o.max_deliveries = max_deliveries;
  o.retry.min = std::chrono::milliseconds(1);
  o.retry.max = std::chrono::milliseconds(5);
  o.journal = small_journal();
  o.idle_wait = std::chrono::milliseconds(5);
  return o;
}

inline ClientOptions client_options(std::string source = "test") {
  ClientOptions o;
  o.source = std::move(source);
  o.journal = small_journal();
  return o;
}

}  // namespace shmbus::service::test
