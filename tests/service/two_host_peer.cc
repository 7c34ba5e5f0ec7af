// One side of the two-host service test (tests/python/test_bridge_service.py): the same service
// code as on one bus, on a bus whose peer is another bus behind `shmbus bridge` and RabbitMQ.
//
//   two_host_peer inventory BUS   host B: endpoint "inventory" handles ReserveStock (publishes
//                                 StockReserved), OrderPlaced, and answers GetOrderStatus.
//                                 Prints "ready", then one JSON line per handled message; ends
//                                 when stdin closes.
//   two_host_peer web BUS N       host A: endpoint "shipping" handles StockReserved; a Client
//                                 "web" publishes OrderPlaced, sends ReserveStock to "inventory"
//                                 and makes N requests (GetOrderStatus), each reply checked.
//                                 Prints JSON lines of what it sent and handled, then "done";
//                                 exit 1 with a reason on any failure.
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <future>
#include <iostream>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "messages.h"

namespace svc = shmbus::service;
using namespace std::chrono_literals;

namespace {

std::mutex out_mutex;

void emit(const nlohmann::json& j) {
  std::lock_guard lock(out_mutex);
  std::cout << j.dump() << std::endl;
}

nlohmann::json envelope_json(const svc::Envelope& e) {
  return {{"message-id", e.message_id},     {"correlation-id", e.correlation_id}, {"causation-id", e.causation_id},
          {"conversation-id", e.conversation_id}, {"type", e.type},             {"kind", e.kind},
          {"source", e.source},             {"reply-to", e.reply_to},             {"expires-at", e.expires_at},
          {"traceparent", e.traceparent},   {"tracestate", e.tracestate},         {"sent-time", e.sent_time}};
}

void handled(const char* what, const svc::Context& ctx, nlohmann::json body) {
  emit({{"handled", what}, {"envelope", envelope_json(ctx.envelope())}, {"body", std::move(body)}});
}

int inventory(shmbus::Bus bus) {
  svc::Endpoint endpoint(bus, "inventory", svc::test::fast_options());
  endpoint.handle<shop::ReserveStock>([](const shop::ReserveStock& c, svc::Context& ctx) {
    handled("ReserveStock", ctx, {{"order", c.order}, {"quantity", c.quantity}});
    ctx.publish(shop::StockReserved{c.order});
  });
  endpoint.handle<shop::OrderPlaced>([](const shop::OrderPlaced& e, svc::Context& ctx) {
    handled("OrderPlaced", ctx, {{"order", e.order}, {"customer", e.customer}});
  });
  endpoint.handle<shop::GetOrderStatus>([](const shop::GetOrderStatus& q, svc::Context& ctx) {
    handled("GetOrderStatus", ctx, {{"order", q.order}, {"seq", q.seq}});
    ctx.reply(shop::OrderStatus{q.order, q.requester, q.seq, "reserved"});
  });
  endpoint.start();
  emit("ready");
  std::string line;
  while (std::getline(std::cin, line)) {
  }
  endpoint.stop();
  return 0;
}

int web(shmbus::Bus bus, int requests) {
  std::atomic<int> stock_reserved{0};
  svc::Endpoint shipping(bus, "shipping", svc::test::fast_options());
  shipping.handle<shop::StockReserved>([&](const shop::StockReserved& e, svc::Context& ctx) {
    handled("StockReserved", ctx, {{"order", e.order}});
    stock_reserved.fetch_add(1, std::memory_order_relaxed);
  });
  shipping.start();

  svc::Client client(bus, svc::test::client_options("web"));
  emit({{"sent", "OrderPlaced"}, {"message-id", client.publish(shop::OrderPlaced{7, "ada"})}});
  emit({{"sent", "ReserveStock"}, {"message-id", client.send(shop::ReserveStock{7, 3}, "inventory")}});

  // Requests: some one at a time, then the rest all outstanding at once.
  std::vector<std::future<shop::OrderStatus>> pending;
  for (int i = 0; i < requests; ++i) {
    pending.push_back(client.request<shop::GetOrderStatus, shop::OrderStatus>({7, 1, i}, "inventory", 60s));
    if (i < 3) pending.back().wait();
  }
  for (int i = 0; i < requests; ++i) {
    const shop::OrderStatus r = pending[static_cast<size_t>(i)].get();  // throws RequestError on timeout
    if (r.seq != i || r.order != 7 || r.status != "reserved") {
      std::cerr << "reply " << i << " is another request's: seq " << r.seq << ", status " << r.status << "\n";
      return 1;
    }
  }
  emit({{"replies", requests}, {"reply-topic", client.reply_topic()}});

  const auto until = std::chrono::steady_clock::now() + 60s;
  while (stock_reserved.load(std::memory_order_relaxed) == 0 && std::chrono::steady_clock::now() < until) {
    std::this_thread::sleep_for(10ms);
  }
  shipping.stop();
  if (stock_reserved.load(std::memory_order_relaxed) == 0) {
    std::cerr << "StockReserved from host B never reached endpoint shipping\n";
    return 1;
  }
  emit("done");
  // The reply topic stays for the test to read: the client is not destroyed until stdin closes.
  std::string line;
  while (std::getline(std::cin, line)) {
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 3) {
    std::cerr << "usage: two_host_peer inventory BUS | web BUS REQUESTS\n";
    return 2;
  }
  try {
    const std::string role = argv[1];
    shmbus::Bus bus = shmbus::Bus::open(argv[2]);
    if (role == "inventory") return inventory(std::move(bus));
    if (role == "web" && argc == 4) return web(std::move(bus), std::stoi(argv[3]));
    std::cerr << "unknown role " << role << "\n";
    return 2;
  } catch (const std::exception& e) {
    std::cerr << "two_host_peer " << argv[1] << ": " << e.what() << "\n";
    return 1;
  }
}
