// The C++ side of the Python service tests (tests/python/test_service*.py): a process that uses
// only the public C++ service API, so that what Python writes is read by C++ and the other way.
//   service_peer BUS flow              endpoint "shipping" (StockReserved -> publishes OrderShipped);
//                                      a Client "cpp-web" sends ReserveStock to "inventory" (Python);
//                                      prints SENT <id>, then GOT <envelope of the StockReserved>
//   service_peer BUS respond           endpoint "cpp-orders" answers GetOrderStatus until stdin ends
//   service_peer BUS request EP MS     requests GetOrderStatus{41} of endpoint EP with MS ms:
//                                      REPLY <order> <status> | ERROR <code> <what>
//   service_peer BUS declare           endpoint "orders" (GetOrderStatus, OrderPlaced), started, stopped
//   service_peer BUS faults            endpoint "fault-watch" (Fault<OrderPlaced>): prints FAULT ... once
// Lines go to stdout, flushed; READY once the endpoints run.
#include <atomic>
#include <chrono>
#include <cstdio>
#include <iostream>
#include <string>
#include <thread>

#include "service/messages.h"

namespace svc = shmbus::service;
using namespace std::chrono_literals;

namespace shop {
struct OrderShipped {
  int order = 0;
};
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(OrderShipped, order)
}  // namespace shop
SHMBUS_MESSAGE(shop::OrderShipped, "OrderShipped", 1, event);

namespace {

void say(const std::string& line) {
  std::fputs((line + "\n").c_str(), stdout);
  std::fflush(stdout);
}

std::string envelope_json(const svc::Envelope& e) {
  return nlohmann::json{{"message-id", e.message_id},         {"correlation-id", e.correlation_id},
                        {"causation-id", e.causation_id},     {"conversation-id", e.conversation_id},
                        {"type", e.type},                     {"kind", e.kind},
                        {"content-type", e.content_type},     {"source", e.source},
                        {"traceparent", e.traceparent},       {"tracestate", e.tracestate},
                        {"sent-time", e.sent_time}}
      .dump();
}

svc::EndpointOptions options() { return svc::test::fast_options(3); }

// Waits (bounded) until `done` or 60 s passed.
template <class F>
bool wait_for(F done) {
  for (int i = 0; i < 6000; ++i) {
    if (done()) return true;
    std::this_thread::sleep_for(10ms);
  }
  return false;
}

int flow(shmbus::Bus& bus) {
  std::atomic<bool> got{false};
  svc::Endpoint shipping(bus, "shipping", options());
  shipping.handle<shop::StockReserved>([&](const shop::StockReserved& e, svc::Context& ctx) {
    ctx.publish(shop::OrderShipped{e.order});
    if (!got.exchange(true)) say("GOT " + envelope_json(ctx.envelope()));
  });
  shipping.start();
  say("READY");
  svc::Client client(bus, svc::test::client_options("cpp-web"));
  // The Python endpoint may start after us: wait until its queue is bound.
  std::string id;
  const bool sent = wait_for([&] {
    try {
      id = client.send(shop::ReserveStock{7, 3}, "inventory");
      return true;
    } catch (const svc::RequestError&) {
      return false;
    }
  });
  if (!sent) return say("ERROR no endpoint inventory"), 1;
  say("SENT " + id);
  const bool ok = wait_for([&] { return got.load(); });
  shipping.stop();
  return ok ? 0 : 1;
}

int respond(shmbus::Bus& bus) {
  svc::Endpoint orders(bus, "cpp-orders", options());
  orders.handle<shop::GetOrderStatus>([](const shop::GetOrderStatus& q, svc::Context& ctx) {
    ctx.reply(shop::OrderStatus{q.order, q.requester, q.seq, "shipped by C++ (" + ctx.envelope().source + ")"});
  });
  orders.start();
  say("READY");
  std::string line;
  while (std::getline(std::cin, line)) {
  }
  orders.stop();
  return 0;
}

int request(shmbus::Bus& bus, const std::string& endpoint, int ms) {
  svc::Client client(bus, svc::test::client_options("cpp-requester"));
  try {
    const shop::OrderStatus s =
        client.request<shop::GetOrderStatus, shop::OrderStatus>(shop::GetOrderStatus{41, 0, 1}, endpoint,
                                                                std::chrono::milliseconds(ms))
            .get();
    say("REPLY " + std::to_string(s.order) + " " + s.status);
  } catch (const svc::RequestError& e) {
    say(std::string("ERROR ") + svc::to_string(e.code()) + " " + e.what());
  }
  return 0;
}

int declare(shmbus::Bus& bus) {
  svc::Endpoint orders(bus, "orders", {.journal = svc::test::small_journal()});
  orders.handle<shop::GetOrderStatus>([](const shop::GetOrderStatus&, svc::Context&) {});
  orders.handle<shop::OrderPlaced>([](const shop::OrderPlaced&, svc::Context&) {});
  orders.start();
  orders.stop();
  say("DECLARED");
  return 0;
}

int faults(shmbus::Bus& bus) {
  std::atomic<bool> got{false};
  svc::Endpoint watch(bus, "fault-watch", options());
  watch.handle<svc::Fault<shop::OrderPlaced>>([&](const svc::Fault<shop::OrderPlaced>& f, svc::Context& ctx) {
    if (got.exchange(true)) return;
    say("FAULT " + ctx.envelope().type + " order=" + std::to_string(f.message.order) + " customer=" +
        f.message.customer + " attempts=" + std::to_string(f.fault.attempts) + " endpoint=" + f.fault.endpoint +
        " id=" + f.fault.message_id + " error=" + f.fault.exception_type + ": " + f.fault.exception_message);
  });
  watch.start();
  say("READY");
  const bool ok = wait_for([&] { return got.load(); });
  watch.stop();
  return ok ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr, "usage: service_peer BUS flow|respond|request EP MS|declare|faults\n");
    return 2;
  }
  try {
    shmbus::Bus bus = shmbus::Bus::open(argv[1]);
    const std::string mode = argv[2];
    if (mode == "flow") return flow(bus);
    if (mode == "respond") return respond(bus);
    if (mode == "request" && argc == 5) return request(bus, argv[3], std::stoi(argv[4]));
    if (mode == "declare") return declare(bus);
    if (mode == "faults") return faults(bus);
    std::fprintf(stderr, "service_peer: unknown mode %s\n", mode.c_str());
    return 2;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "service_peer: %s\n", e.what());
    return 1;
  }
}
