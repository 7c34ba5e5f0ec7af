// Endpoints in one process: dispatch by type, the envelope over three hops, retries, the dead
// letter and Fault<T>, exception filters, poison payloads, graceful stop.
#include <gtest/gtest.h>

#include <atomic>
#include <mutex>

#include "messages.h"
#include "service_test_support.h"

namespace shmbus::service {
namespace {

using namespace std::chrono_literals;
using shmbus::test::eventually;
using shmbus::test::TempBus;

TEST(Endpoint, EnvelopeIsCarriedOverThreeHops) {
  TempBus tb;
  Bus bus = tb.open();
  std::mutex mu;
  std::vector<Envelope> seen;  // sales, inventory, shipping
  const auto record = [&](const Context& ctx) {
    std::lock_guard<std::mutex> g(mu);
    seen.push_back(ctx.envelope());
  };
  Endpoint sales(bus, "sales", test::fast_options());
  sales.route<shop::ReserveStock>("inventory");
  sales.handle<shop::OrderPlaced>([&](const shop::OrderPlaced& e, Context& ctx) {
    record(ctx);
    ctx.send(shop::ReserveStock{e.order, 3});  // by its route
  });
  Endpoint inventory(bus, "inventory", test::fast_options());
  inventory.handle<shop::ReserveStock>([&](const shop::ReserveStock& c, Context& ctx) {
    record(ctx);
    ctx.publish(shop::StockReserved{c.order});
  });
  Endpoint shipping(bus, "shipping", test::fast_options());
  shipping.handle<shop::StockReserved>([&](const shop::StockReserved&, Context& ctx) { record(ctx); });
  sales.start();
  inventory.start();
  shipping.start();
  Client client(bus, test::client_options("web"));

  const std::string first = client.publish(shop::OrderPlaced{42, "ann"});

  ASSERT_TRUE(eventually([&] { std::lock_guard<std::mutex> g(mu); return seen.size() == 3; }, 20s));
  std::lock_guard<std::mutex> g(mu);
  const Envelope &a = seen[0], &b = seen[1], &c = seen[2];
  EXPECT_EQ(a.message_id, first);
  EXPECT_EQ(a.type, "OrderPlaced@2");
  EXPECT_EQ(a.source, "web");
  EXPECT_EQ(b.type, "ReserveStock@1");
  EXPECT_EQ(b.kind, "command");
  EXPECT_EQ(b.source, "sales");
  EXPECT_EQ(c.type, "StockReserved@1");
  EXPECT_EQ(c.source, "inventory");
  for (const Envelope* e : {&a, &b, &c}) {
    EXPECT_EQ(e->correlation_id, first);
    EXPECT_EQ(e->conversation_id, first);
    EXPECT_EQ(e->content_type, "application/json");
    EXPECT_FALSE(e->sent_time.empty());
  }
  EXPECT_EQ(b.causation_id, a.message_id);
  EXPECT_EQ(c.causation_id, b.message_id);
  const auto ta = TraceContext::parse(a.traceparent), tb2 = TraceContext::parse(b.traceparent),
             tc = TraceContext::parse(c.traceparent);
  ASSERT_TRUE(ta && tb2 && tc);
  EXPECT_EQ(tb2->trace_id, ta->trace_id);
  EXPECT_EQ(tc->trace_id, ta->trace_id);
  EXPECT_NE(tb2->span_id, ta->span_id);
  EXPECT_NE(tc->span_id, tb2->span_id);
}

TEST(Endpoint, EveryEndpointHandlingAnEventGetsIt) {
  TempBus tb;
  Bus bus = tb.open();
  std::atomic<int> billing{0}, mail{0};
  Endpoint a(bus, "billing", test::fast_options());
  a.handle<shop::OrderPlaced>([&](const shop::OrderPlaced&, Context&) { ++billing; });
  Endpoint b(bus, "mail", test::fast_options());
  b.handle<shop::OrderPlaced>([&](const shop::OrderPlaced&, Context&) { ++mail; });
  a.start();
  b.start();
  Client client(bus, test::client_options());

  for (int i = 0; i < 10; ++i) client.publish(shop::OrderPlaced{i, "x"});

  EXPECT_TRUE(eventually([&] { return billing == 10 && mail == 10; }, 20s));
}

TEST(Endpoint, AFailingHandlerIsRetriedThenDeadLetteredAndOneFaultIsPublished) {
  TempBus tb;
  Bus bus = tb.open();
  EndpointOptions o = test::fast_options(/*max_deliveries=*/3);
  o.immediate_retries = 2;
  std::atomic<int> calls{0};
  Endpoint sut(bus, "billing", o);
  sut.handle<shop::OrderPlaced>([&](const shop::OrderPlaced&, Context& ctx) {
    ++calls;
    ctx.publish(shop::StockReserved{1});  // never sent: the handler fails
    throw std::runtime_error("card declined");
  });
  std::mutex mu;
  std::vector<Fault<shop::OrderPlaced>> faults;
  std::atomic<int> reserved{0};
  Endpoint audit(bus, "audit", test::fast_options());
  audit.handle<Fault<shop::OrderPlaced>>([&](const Fault<shop::OrderPlaced>& f, Context&) {
    std::lock_guard<std::mutex> g(mu);
    faults.push_back(f);
  });
  audit.handle<shop::StockReserved>([&](const shop::StockReserved&, Context&) { ++reserved; });
  audit.start();
  sut.start();
  Client client(bus, test::client_options());

  const std::string id = client.publish(shop::OrderPlaced{7, "bob"});

  const auto dead = test::dead_letters(bus, "billing", 1);
  ASSERT_EQ(dead.size(), 1u);
  EXPECT_EQ(dead[0].reason, "delivery_limit");
  EXPECT_EQ(dead[0].error, "std::runtime_error: card declined");
  EXPECT_EQ(dead[0].type, "OrderPlaced@2");
  ASSERT_TRUE(eventually([&] { std::lock_guard<std::mutex> g(mu); return !faults.empty(); }, 20s));
  std::this_thread::sleep_for(200ms);  // a second Fault would have come by now
  std::lock_guard<std::mutex> g(mu);
  ASSERT_EQ(faults.size(), 1u);
  EXPECT_EQ(faults[0].message.order, 7);
  EXPECT_EQ(faults[0].message.customer, "bob");
  EXPECT_EQ(faults[0].fault.message_id, id);
  EXPECT_EQ(faults[0].fault.exception_type, "std::runtime_error");
  EXPECT_EQ(faults[0].fault.exception_message, "card declined");
  EXPECT_EQ(faults[0].fault.attempts, 3u);
  EXPECT_EQ(faults[0].fault.endpoint, "billing");
  EXPECT_EQ(calls.load(), 3 * 3);  // 3 deliveries x (1 try + 2 immediate retries)
  EXPECT_EQ(sut.stats().faulted, 1u);
  EXPECT_EQ(sut.stats().nacked, 2u);
  EXPECT_EQ(sut.stats().retried, 6u);
  EXPECT_EQ(reserved.load(), 0);  // what a failed attempt published was never sent
}

TEST(Endpoint, ANeverRetriedExceptionDeadLettersAtOnce) {
  TempBus tb;
  Bus bus = tb.open();
  EndpointOptions o = test::fast_options(/*max_deliveries=*/5);
  o.immediate_retries = 3;
  std::atomic<int> calls{0};
  Endpoint sut(bus, "billing", o);
  sut.never_retry<std::invalid_argument>();
  sut.handle<shop::OrderPlaced>([&](const shop::OrderPlaced&, Context&) {
    ++calls;
    throw std::invalid_argument("no such customer");
  });
  sut.start();
  Client client(bus, test::client_options());

  client.publish(shop::OrderPlaced{1, "x"});

  const auto dead = test::dead_letters(bus, "billing", 1);
  ASSERT_EQ(dead.size(), 1u);
  EXPECT_EQ(dead[0].reason, "rejected");
  EXPECT_EQ(dead[0].error, "std::invalid_argument: no such customer");
  EXPECT_EQ(calls.load(), 1);
}

TEST(Endpoint, RetryOnRetriesOnlyTheNamedExceptions) {
  TempBus tb;
  Bus bus = tb.open();
  EndpointOptions o = test::fast_options(/*max_deliveries=*/5);
  std::atomic<int> calls{0};
  Endpoint sut(bus, "billing", o);
  sut.retry_on<std::system_error>();
  sut.handle<shop::OrderPlaced>([&](const shop::OrderPlaced& e, Context&) {
    ++calls;
    if (e.order == 1 && calls < 3) throw std::system_error(std::make_error_code(std::errc::timed_out));
    if (e.order == 2) throw std::logic_error("bug");
  });
  sut.start();
  Client client(bus, test::client_options());

  client.publish(shop::OrderPlaced{1, "transient"});
  client.publish(shop::OrderPlaced{2, "bug"});

  const auto dead = test::dead_letters(bus, "billing", 1);
  ASSERT_EQ(dead.size(), 1u);
  EXPECT_EQ(dead[0].reason, "rejected");
  EXPECT_EQ(dead[0].error, "std::logic_error: bug");
  EXPECT_TRUE(eventually([&] { return sut.stats().handled == 1; }, 20s));
}

TEST(Endpoint, AHandlerOverItsTimeoutFailsItsAttemptAndWhatItSentIsDiscarded) {
  TempBus tb;
  Bus bus = tb.open();
  EndpointOptions o = test::fast_options(/*max_deliveries=*/2);
  o.handler_timeout = 200ms;  // far over the quick handler's time, even on busy cores
  std::atomic<int> calls{0}, reserved{0};
  std::atomic<bool> saw_deadline{false};
  Endpoint sut(bus, "slow", o);
  sut.handle<shop::ReserveStock>([&](const shop::ReserveStock& c, Context& ctx) {
    ++calls;
    ctx.publish(shop::StockReserved{c.order});
    if (c.order == 1) {
      while (!ctx.past_deadline()) std::this_thread::sleep_for(5ms);  // gives up at its deadline
      saw_deadline = true;
    }
  });
  Endpoint audit(bus, "audit", test::fast_options());
  audit.handle<shop::StockReserved>([&](const shop::StockReserved&, Context&) { ++reserved; });
  audit.start();
  sut.start();
  Client client(bus, test::client_options());

  client.send(shop::ReserveStock{1, 1}, "slow");
  client.send(shop::ReserveStock{2, 1}, "slow");

  const auto dead = test::dead_letters(bus, "slow", 1);
  ASSERT_EQ(dead.size(), 1u);
  EXPECT_EQ(dead[0].reason, "delivery_limit");
  EXPECT_NE(dead[0].error.find("shmbus::service::HandlerTimeout: the handler of ReserveStock@1 took"), std::string::npos)
      << dead[0].error;
  EXPECT_TRUE(saw_deadline.load());
  EXPECT_TRUE(eventually([&] { return reserved == 1; }, 20s));  // only the quick one's event went out
  EXPECT_EQ(calls.load(), 3);
}

TEST(Endpoint, AHandlerTimeoutNotUnderTheLeaseIsRefused) {
  TempBus tb;
  EndpointOptions o = test::fast_options();
  o.handler_timeout = o.lease;

  EXPECT_THROW(Endpoint(tb.open(), "x", o), Error);
}

TEST(Endpoint, PoisonPayloadsAreDeadLetteredWithTheirReasonAndTheEndpointGoesOn) {
  TempBus tb;
  Bus bus = tb.open();
  EndpointOptions o = test::fast_options();
  o.journal = test::small_journal(64 << 20);  // the 16 MiB record must fit a segment
  std::atomic<int> good{0};
  Endpoint sut(bus, "sales", o);
  sut.handle<shop::ReserveStock>([&](const shop::ReserveStock& c, Context&) { good += c.quantity; });
  sut.start();
  Publisher raw = bus.publisher("commands.sales");
  const auto send = [&](std::string_view payload, std::string_view type) {
    std::vector<Header> h;
    if (!type.empty()) h.push_back({header_keys::kType, type});
    ASSERT_TRUE(raw.publish(payload, h).has_value());
  };
  std::string garbage(16 << 20, '\0');
  for (size_t i = 0; i < garbage.size(); ++i) garbage[i] = static_cast<char>((i * 2654435761u) >> 13);
  garbage[0] = '\x9f';  // never a JSON start

  send("{\"order\": 1,", "ReserveStock@1");              // bad JSON
  send("{\"order\": 1, \"quantity\": 2}", "ReserveStock@9");  // unknown version
  send("{\"order\": \"one\", \"quantity\": 2}", "ReserveStock@1");  // JSON, not the type
  send(garbage, "ReserveStock@1");                       // 16 MiB of garbage
  send("{}", "Unheard@1");                               // unknown type
  send("{}", "");                                        // no type at all
  send("{\"order\": 1, \"quantity\": 5}", "ReserveStock@1");  // and the endpoint still works

  const auto dead = test::dead_letters(bus, "sales", 6, 30s);
  ASSERT_EQ(dead.size(), 6u);
  for (const auto& d : dead) EXPECT_EQ(d.reason, "rejected") << d.error;
  EXPECT_NE(dead[0].error.find("undecodable: ReserveStock@1: [json.exception.parse_error"), std::string::npos)
      << dead[0].error;
  EXPECT_NE(dead[1].error.find("unknown version: ReserveStock@9 (endpoint sales handles ReserveStock@1)"),
            std::string::npos) << dead[1].error;
  EXPECT_NE(dead[2].error.find("json.exception.type_error"), std::string::npos) << dead[2].error;
  EXPECT_NE(dead[3].error.find("parse_error"), std::string::npos) << dead[3].error;
  EXPECT_EQ(dead[3].bytes, garbage.size());
  EXPECT_NE(dead[4].error.find("unknown type: Unheard@1"), std::string::npos) << dead[4].error;
  EXPECT_NE(dead[5].error.find("no type header"), std::string::npos) << dead[5].error;
  EXPECT_TRUE(eventually([&] { return good == 5; }, 20s));
  EXPECT_EQ(sut.stats().rejected, 6u);
}

TEST(Endpoint, StopLetsTheRunningHandlerFinishAndSettle) {
  TempBus tb;
  Bus bus = tb.open();
  EndpointOptions o = test::fast_options();
  o.concurrency = 2;
  std::atomic<int> started{0}, finished{0};
  Endpoint sut(bus, "slow", o);
  sut.handle<shop::ReserveStock>([&](const shop::ReserveStock&, Context&) {
    ++started;
    std::this_thread::sleep_for(300ms);
    ++finished;
  });
  sut.start();
  Client client(bus, test::client_options());
  for (int i = 0; i < 2; ++i) client.send(shop::ReserveStock{i, 1}, "slow");
  ASSERT_TRUE(eventually([&] { return started == 2; }, 20s));

  sut.stop();

  EXPECT_EQ(finished.load(), 2);
  EXPECT_FALSE(sut.running());
  const QueueStats s = bus.queue("slow").stats();
  EXPECT_EQ(s.acked, 2u);
  EXPECT_EQ(s.in_flight, 0u);
}

TEST(Endpoint, AScheduledCommandWaitsAndCanBeCancelled) {
  TempBus tb;
  Bus bus = tb.open();
  std::mutex mu;
  std::vector<int> got;
  Endpoint sut(bus, "later", test::fast_options());
  sut.handle<shop::ReserveStock>([&](const shop::ReserveStock& c, Context&) {
    std::lock_guard<std::mutex> g(mu);
    got.push_back(c.order);
  });
  sut.start();
  Client client(bus, test::client_options());
  const auto start = std::chrono::steady_clock::now();

  client.schedule(shop::ReserveStock{1, 1}, "later", std::chrono::system_clock::now() + 1s);
  const std::string cancelled = client.schedule(shop::ReserveStock{2, 1}, "later", std::chrono::system_clock::now() + 1s);
  ASSERT_TRUE(eventually([&] { return bus.queue("later").stats().delayed == 2; }, 10s));
  EXPECT_EQ(client.cancel_scheduled("later", cancelled), 1u);

  ASSERT_TRUE(eventually([&] { std::lock_guard<std::mutex> g(mu); return !got.empty(); }, 20s));
  EXPECT_GE(std::chrono::steady_clock::now() - start, 950ms);
  std::this_thread::sleep_for(100ms);
  std::lock_guard<std::mutex> g(mu);
  EXPECT_EQ(got, std::vector<int>{1});
}

}  // namespace
}  // namespace shmbus::service
