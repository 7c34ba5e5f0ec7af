// The TestBus: the real endpoint pipeline in-process on a virtual clock. Retries, schedules,
// request timeouts, the breaker's cool-down and the rate limit fire on advance(), exactly.
#include <gtest/gtest.h>

#include <cmath>
#include <map>
#include <stdexcept>

#include "messages.h"
#include "shmbus/envelope.h"

namespace shmbus::service {
namespace {

using namespace std::chrono_literals;
using std::chrono::nanoseconds;

struct Transient : std::runtime_error {
  using std::runtime_error::runtime_error;
};

EndpointOptions options(uint32_t max_deliveries = 5) {
  EndpointOptions o;
  o.max_deliveries = max_deliveries;
  o.retry.min = 1s;
  o.retry.max = 60s;
  o.retry.factor = 2;
  o.retry.jitter = 0.2;
  return o;
}

TEST(TestBus, EnvelopeIsCarriedOverThreeHops) {
  TestBus bus;
  Endpoint sales(bus, "sales");
  sales.handle<shop::OrderPlaced>([](const shop::OrderPlaced& e, Context& ctx) { ctx.send(shop::ReserveStock{e.order, 3}, "inventory"); });
  Endpoint inventory(bus, "inventory");
  inventory.handle<shop::ReserveStock>([](const shop::ReserveStock& c, Context& ctx) { ctx.publish(shop::StockReserved{c.order}); });
  Endpoint shipping(bus, "shipping");
  shipping.handle<shop::StockReserved>([](const shop::StockReserved&, Context&) {});
  sales.start();
  inventory.start();
  shipping.start();

  const std::string first = bus.publish(shop::OrderPlaced{42, "ann"});

  const std::vector<Recorded> all = bus.messages();
  ASSERT_EQ(all.size(), 3u);
  const Envelope &a = all[0].envelope, &b = all[1].envelope, &c = all[2].envelope;
  EXPECT_EQ(a.message_id, first);
  EXPECT_EQ(all[0].topic, "events.OrderPlaced");
  EXPECT_EQ(all[1].topic, "commands.inventory");
  EXPECT_EQ(all[2].topic, "events.StockReserved");
  EXPECT_EQ(a.source, "test");
  EXPECT_EQ(b.source, "sales");
  EXPECT_EQ(c.source, "inventory");
  for (const Envelope* e : {&a, &b, &c}) {
    EXPECT_EQ(e->correlation_id, first);
    EXPECT_EQ(e->conversation_id, first);
    EXPECT_EQ(e->sent_time, envelope::format_time(bus.wall()));  // no virtual time went by
  }
  EXPECT_EQ(a.causation_id, "");
  EXPECT_EQ(b.causation_id, a.message_id);
  EXPECT_EQ(c.causation_id, b.message_id);
  const auto ta = TraceContext::parse(a.traceparent), tb = TraceContext::parse(b.traceparent),
             tc = TraceContext::parse(c.traceparent);
  ASSERT_TRUE(ta && tb && tc);
  EXPECT_EQ(tb->trace_id, ta->trace_id);
  EXPECT_EQ(tc->trace_id, ta->trace_id);
  EXPECT_NE(tb->span_id, ta->span_id);
  EXPECT_NE(tc->span_id, tb->span_id);
  EXPECT_EQ(all[2].as<shop::StockReserved>().order, 42);
  ASSERT_EQ(bus.consumed().size(), 3u);
  for (const Consumed& k : bus.consumed()) EXPECT_EQ(k.settled, Settled::kAcked) << k.endpoint;
  EXPECT_EQ(bus.consumed("inventory")[0].message.envelope.message_id, b.message_id);
  EXPECT_EQ(bus.sent().size(), 1u);
  EXPECT_EQ(bus.published().size(), 2u);
}

// The n-th retry waits min * factor^(n-1) scaled by [1 - jitter, 1 + jitter]: each delivery of
// a failing message comes exactly when the virtual clock reaches it, and not before.
TEST(TestBus, DelayedRetriesComeWithinTheirJitterBoundsOnTheVirtualClock) {
  constexpr uint32_t kDeliveries = 6;
  TestBus bus;
  Endpoint sut(bus, "billing", options(kDeliveries));
  std::vector<nanoseconds> attempts;
  sut.handle<shop::OrderPlaced>([&](const shop::OrderPlaced&, Context&) {
    attempts.push_back(bus.elapsed());
    throw Transient("db down");
  });
  sut.start();

  bus.publish(shop::OrderPlaced{1, "x"});
  ASSERT_EQ(attempts.size(), 1u);
  bus.advance(10min);

  ASSERT_EQ(attempts.size(), kDeliveries);
  std::vector<nanoseconds> gaps;
  for (uint32_t n = 1; n < kDeliveries; ++n) {
    const nanoseconds gap = attempts[n] - attempts[n - 1];
    const double base = 1e9 * std::pow(2.0, n - 1);
    EXPECT_GE(gap.count(), static_cast<int64_t>(base * 0.8)) << "retry " << n;
    EXPECT_LE(gap.count(), static_cast<int64_t>(base * 1.2)) << "retry " << n;
    gaps.push_back(gap);
  }
  // Jitter is applied: the scale factors are not all the same.
  bool differ = false;
  for (uint32_t n = 1; n < gaps.size(); ++n) differ |= gaps[n].count() != 2 * gaps[n - 1].count();
  EXPECT_TRUE(differ);
  const auto dead = bus.dead_letters("billing");
  ASSERT_EQ(dead.size(), 1u);
  EXPECT_EQ(dead[0].reason, "delivery_limit");
  EXPECT_EQ(dead[0].error, "shmbus::service::(anonymous namespace)::Transient: db down");
  EXPECT_EQ(dead[0].at, attempts.back());
  const auto consumed = bus.consumed("billing");
  ASSERT_EQ(consumed.size(), kDeliveries);
  for (uint32_t n = 0; n + 1 < kDeliveries; ++n) EXPECT_EQ(consumed[n].settled, Settled::kRetried);
  EXPECT_EQ(consumed.back().settled, Settled::kDeadLettered);
  EXPECT_EQ(consumed.back().attempt, kDeliveries);
}

TEST(TestBus, TheSameSeedGivesTheSameRetryTimes) {
  const auto run = [](uint64_t seed) {
    TestBus bus({.seed = seed});
    Endpoint sut(bus, "billing", options(4));
    std::vector<nanoseconds> at;
    sut.handle<shop::OrderPlaced>([&](const shop::OrderPlaced&, Context&) {
      at.push_back(bus.elapsed());
      throw Transient("no");
    });
    sut.start();
    bus.publish(shop::OrderPlaced{1, "x"});
    bus.advance(1min);
    return at;
  };

  EXPECT_EQ(run(7), run(7));
  EXPECT_NE(run(7), run(8));
}

TEST(TestBus, AFailedHandlerPublishesOneFaultAndSendsNothingItSent) {
  TestBus bus;
  EndpointOptions o = options(3);
  o.immediate_retries = 2;
  int calls = 0;
  Endpoint sut(bus, "billing", o);
  sut.handle<shop::OrderPlaced>([&](const shop::OrderPlaced&, Context& ctx) {
    ++calls;
    ctx.publish(shop::StockReserved{1});
    throw std::runtime_error("card declined");
  });
  std::vector<Fault<shop::OrderPlaced>> faults;
  Endpoint audit(bus, "audit");
  audit.handle<Fault<shop::OrderPlaced>>([&](const Fault<shop::OrderPlaced>& f, Context&) { faults.push_back(f); });
  sut.start();
  audit.start();

  const std::string id = bus.publish(shop::OrderPlaced{7, "bob"});
  bus.advance(1h);

  EXPECT_EQ(calls, 3 * 3);
  ASSERT_EQ(faults.size(), 1u);
  EXPECT_EQ(faults[0].message.order, 7);
  EXPECT_EQ(faults[0].fault.message_id, id);
  EXPECT_EQ(faults[0].fault.exception_type, "std::runtime_error");
  EXPECT_EQ(faults[0].fault.attempts, 3u);
  EXPECT_EQ(bus.messages_of<Fault<shop::OrderPlaced>>().size(), 1u);
  EXPECT_TRUE(bus.messages_of<shop::StockReserved>().empty());
  const Recorded fault = bus.messages_of<Fault<shop::OrderPlaced>>()[0];
  EXPECT_EQ(fault.topic, "events.Fault.OrderPlaced");
  EXPECT_EQ(fault.envelope.causation_id, id);
  EXPECT_EQ(sut.stats().faulted, 1u);
  EXPECT_EQ(sut.stats().retried, 6u);
}

TEST(TestBus, ExceptionFiltersDecideWhatIsRetried) {
  TestBus bus;
  Endpoint sut(bus, "billing", options(5));
  sut.retry_on<Transient>();
  sut.never_retry<std::invalid_argument>();
  std::map<int, int> calls;
  sut.handle<shop::OrderPlaced>([&](const shop::OrderPlaced& e, Context&) {
    ++calls[e.order];
    if (e.order == 1 && calls[1] < 3) throw Transient("timeout");
    if (e.order == 2) throw std::logic_error("bug");
    if (e.order == 3) throw std::invalid_argument("no such customer");
  });
  sut.start();

  bus.publish(shop::OrderPlaced{1, "transient"});
  bus.publish(shop::OrderPlaced{2, "not retried"});
  bus.publish(shop::OrderPlaced{3, "never retried"});
  bus.advance(1h);

  EXPECT_EQ(calls[1], 3);
  EXPECT_EQ(calls[2], 1);
  EXPECT_EQ(calls[3], 1);
  const auto dead = bus.dead_letters("billing");
  ASSERT_EQ(dead.size(), 2u);
  EXPECT_EQ(dead[0].reason, "rejected");
  EXPECT_EQ(dead[0].error, "std::logic_error: bug");
  EXPECT_EQ(dead[1].error, "std::invalid_argument: no such customer");
  EXPECT_EQ(sut.stats().handled, 1u);
}

TEST(TestBus, AHandlerThatTakesLongerThanItsTimeoutFailsItsAttempt) {
  TestBus bus;
  EndpointOptions o = options(2);
  o.handler_timeout = 5s;
  Endpoint sut(bus, "slow", o);
  bool past = false;
  sut.handle<shop::ReserveStock>([&](const shop::ReserveStock& c, Context& ctx) {
    ctx.publish(shop::StockReserved{c.order});
    bus.advance(c.order == 1 ? 6s : 4s);  // the handler "takes" that long
    past = past || ctx.past_deadline();
  });
  sut.start();

  bus.send(shop::ReserveStock{1, 1}, "slow");
  bus.send(shop::ReserveStock{2, 1}, "slow");
  bus.advance(1min);

  EXPECT_TRUE(past);
  const auto dead = bus.dead_letters("slow");
  ASSERT_EQ(dead.size(), 1u);
  EXPECT_EQ(dead[0].message.as<shop::ReserveStock>().order, 1);
  EXPECT_EQ(dead[0].error, "shmbus::service::HandlerTimeout: the handler of ReserveStock@1 took 6000 ms, over the "
                           "endpoint's handler_timeout of 5000 ms");
  const auto reserved = bus.published_of<shop::StockReserved>();
  ASSERT_EQ(reserved.size(), 1u);  // the quick one's only
  EXPECT_EQ(reserved[0].order, 2);
}

EndpointOptions breaker_options() {
  EndpointOptions o = options(10);
  o.retry.min = 1min;  // the retries stay out of the way of the breaker's times
  o.retry.max = 1min;
  o.retry.jitter = 0;
  o.breaker = {.window = 4, .minimum = 4, .failure_ratio = 0.75, .cool_down = 30s};
  return o;
}

TEST(TestBus, TheBreakerOpensWhenMostRecentDeliveriesFailAndHoldsTheRestInTheQueue) {
  TestBus bus;
  Endpoint sut(bus, "payments", breaker_options());
  int calls = 0;
  sut.handle<shop::ReserveStock>([&](const shop::ReserveStock& c, Context&) {
    ++calls;
    if (c.order != 1) throw Transient("gateway down");  // 1 succeeds, the rest fail
  });
  sut.start();

  for (int i = 1; i <= 10; ++i) bus.send(shop::ReserveStock{i, 1}, "payments");

  // 1 ok, 2, 3, 4 failed: 3 of the last 4 (75 %) -> open after the 4th; 5..10 wait.
  EXPECT_EQ(calls, 4);
  EXPECT_EQ(sut.stats().breaker, BreakerState::kOpen);
  EXPECT_EQ(sut.stats().breaker_opened, 1u);
  EXPECT_EQ(bus.queued("payments"), 9u);  // 3 waiting for their retry, 6 never delivered
  bus.advance(29s);
  EXPECT_EQ(calls, 4);
  EXPECT_TRUE(bus.dead_letters().empty());
}

TEST(TestBus, TheBreakerHalfOpensAfterItsCoolDownAndClosesWhenTheTrialSucceeds) {
  TestBus bus;
  Endpoint sut(bus, "payments", breaker_options());
  bool down = true;
  std::vector<std::pair<int, nanoseconds>> calls;
  sut.handle<shop::ReserveStock>([&](const shop::ReserveStock& c, Context&) {
    calls.emplace_back(c.order, bus.elapsed());
    if (down) throw Transient("gateway down");
  });
  sut.start();
  for (int i = 1; i <= 6; ++i) bus.send(shop::ReserveStock{i, 1}, "payments");
  ASSERT_EQ(calls.size(), 4u);
  ASSERT_EQ(sut.stats().breaker, BreakerState::kOpen);

  // The trial at 30 s fails: open again for another 30 s.
  bus.advance(30s);
  ASSERT_EQ(calls.size(), 5u);
  EXPECT_EQ(calls[4], std::make_pair(5, nanoseconds(30s)));
  EXPECT_EQ(sut.stats().breaker, BreakerState::kOpen);
  EXPECT_EQ(sut.stats().breaker_opened, 2u);
  bus.advance(29s);
  EXPECT_EQ(calls.size(), 5u);

  // The gateway is back: the trial at 60 s succeeds, the breaker closes, the rest flow.
  down = false;
  bus.advance(1s);
  EXPECT_EQ(sut.stats().breaker, BreakerState::kClosed);
  EXPECT_EQ(sut.stats().breaker_closed, 1u);
  ASSERT_GE(calls.size(), 7u);
  EXPECT_EQ(calls[5], std::make_pair(6, nanoseconds(60s)));  // the trial
  EXPECT_EQ(calls[6].second, nanoseconds(60s));               // and at once the next
  bus.advance(5min);  // the retries of 1..5, due at 1 min after their failure
  EXPECT_EQ(sut.stats().handled, 6u);
  EXPECT_EQ(bus.queued("payments"), 0u);
  EXPECT_TRUE(bus.dead_letters().empty());  // nothing dead-lettered because of the breaker
}

TEST(TestBus, RejectedMessagesAndNeverRetriedExceptionsDoNotOpenTheBreaker) {
  TestBus bus;
  EndpointOptions o = breaker_options();
  Endpoint sut(bus, "payments", o);
  sut.never_retry<std::invalid_argument>();
  sut.handle<shop::ReserveStock>([&](const shop::ReserveStock&, Context&) { throw std::invalid_argument("bad card"); });
  sut.start();

  for (int i = 0; i < 8; ++i) bus.send(shop::ReserveStock{i, 1}, "payments");

  EXPECT_EQ(sut.stats().breaker, BreakerState::kClosed);
  EXPECT_EQ(bus.dead_letters("payments").size(), 8u);
}

TEST(TestBus, InconsistentBreakerAndRateOptionsAreRefused) {
  TestBus bus;
  const auto with = [](CircuitBreakerOptions b, RateLimitOptions r) {
    EndpointOptions o;
    o.breaker = b;
    o.rate_limit = r;
    return o;
  };

  EXPECT_THROW(Endpoint(bus, "a", with({.window = 4, .minimum = 5}, {})), Error);
  EXPECT_THROW(Endpoint(bus, "a", with({.window = 4, .minimum = 0}, {})), Error);
  EXPECT_THROW(Endpoint(bus, "a", with({.window = 4, .minimum = 2, .failure_ratio = 0}, {})), Error);
  EXPECT_THROW(Endpoint(bus, "a", with({.window = 4, .minimum = 2, .cool_down = 0ms}, {})), Error);
  EXPECT_THROW(Endpoint(bus, "a", with({}, {.per_second = -1})), Error);
  EXPECT_THROW(Endpoint(bus, "a", with({}, {.per_second = 5, .burst = 0})), Error);
  EXPECT_NO_THROW(Endpoint(bus, "a", with({.window = 4, .minimum = 4}, {.per_second = 5, .burst = 1})));
}

TEST(TestBus, TheRateLimitSpacesDeliveriesAfterABurst) {
  TestBus bus;
  EndpointOptions o = options();
  o.rate_limit = {.per_second = 10, .burst = 3};
  Endpoint sut(bus, "mail", o);
  std::vector<nanoseconds> at;
  sut.handle<shop::OrderPlaced>([&](const shop::OrderPlaced&, Context&) { at.push_back(bus.elapsed()); });
  sut.start();

  for (int i = 0; i < 6; ++i) bus.publish(shop::OrderPlaced{i, "x"});
  EXPECT_EQ(at.size(), 3u);  // the burst
  bus.advance(1s);

  const std::vector<nanoseconds> want{0ms, 0ms, 0ms, 100ms, 200ms, 300ms};
  EXPECT_EQ(at, want);
  EXPECT_EQ(sut.stats().handled, 6u);
}

TEST(TestBus, ScheduledCommandsComeOnAdvanceAndCanBeCancelled) {
  TestBus bus;
  Endpoint sut(bus, "later");
  std::vector<std::pair<int, nanoseconds>> got;
  sut.handle<shop::ReserveStock>([&](const shop::ReserveStock& c, Context&) { got.emplace_back(c.order, bus.elapsed()); });
  sut.start();

  bus.schedule(shop::ReserveStock{1, 1}, "later", 10s);
  const std::string cancelled = bus.schedule(shop::ReserveStock{2, 1}, "later", 10s);
  bus.schedule(shop::ReserveStock{3, 1}, "later", bus.wall() + 5s);
  EXPECT_EQ(bus.cancel_scheduled("later", cancelled), 1u);
  bus.advance(9s);
  ASSERT_EQ(got.size(), 1u);
  bus.advance(1h);

  const std::vector<std::pair<int, nanoseconds>> want{{3, 5s}, {1, 10s}};
  EXPECT_EQ(got, want);
  EXPECT_EQ(bus.sent()[0].envelope.not_before, envelope::format_time(bus.wall() - 1h - 9s + 10s));
}

shop::OrderStatus status_of(const shop::GetOrderStatus& q) { return {q.order, q.requester, q.seq, "shipped"}; }

RequestErrc code_of(std::future<shop::OrderStatus>& f) {
  try {
    f.get();
  } catch (const RequestError& e) {
    return e.code();
  }
  ADD_FAILURE() << "no RequestError";
  return RequestErrc::kClosed;
}

TEST(TestBus, ARequestIsAnsweredWithinTheCall) {
  TestBus bus;
  Endpoint orders(bus, "orders");
  orders.handle<shop::GetOrderStatus>([](const shop::GetOrderStatus& q, Context& ctx) { ctx.reply(status_of(q)); });
  orders.start();

  std::future<shop::OrderStatus> f = bus.request<shop::GetOrderStatus, shop::OrderStatus>({5, 1, 2}, "orders", 5s);

  ASSERT_EQ(f.wait_for(0s), std::future_status::ready);
  EXPECT_EQ(f.get().status, "shipped");
  const auto replies = bus.replies();
  ASSERT_EQ(replies.size(), 1u);
  EXPECT_EQ(replies[0].envelope.correlation_id, bus.sent()[0].envelope.message_id);
  EXPECT_EQ(bus.sent()[0].envelope.expires_at, envelope::format_time(bus.wall() + 5s));
}

TEST(TestBus, ARequestTimesOutOnAdvanceAndAnExpiredOneIsNeverAnswered) {
  TestBus bus;
  Endpoint orders(bus, "orders");
  orders.handle<shop::GetOrderStatus>([](const shop::GetOrderStatus& q, Context& ctx) { ctx.reply(status_of(q)); });
  orders.start();
  orders.stop();  // its queue stays; nothing reads it

  std::future<shop::OrderStatus> f = bus.request<shop::GetOrderStatus, shop::OrderStatus>({5, 1, 2}, "orders", 5s);
  bus.advance(4999ms);
  EXPECT_EQ(f.wait_for(0s), std::future_status::timeout);
  bus.advance(1ms);
  ASSERT_EQ(f.wait_for(0s), std::future_status::ready);
  EXPECT_EQ(code_of(f), RequestErrc::kTimeout);

  orders.start();  // too late: the request expired in the queue
  EXPECT_TRUE(bus.replies().empty());
  const auto dead = bus.dead_letters("orders");
  ASSERT_EQ(dead.size(), 1u);
  EXPECT_EQ(dead[0].reason, "expired");
}

TEST(TestBus, RequestsFailDistinctlyWithNoEndpointAndWithARemoteFault) {
  TestBus bus;
  Endpoint orders(bus, "orders", options(2));
  orders.handle<shop::GetOrderStatus>([](const shop::GetOrderStatus&, Context&) -> void { throw std::out_of_range("no order"); });
  orders.start();

  auto none = bus.request<shop::GetOrderStatus, shop::OrderStatus>({1, 1, 1}, "nobody", 5s);
  auto fault = bus.request<shop::GetOrderStatus, shop::OrderStatus>({1, 1, 1}, "orders", 10s);
  ASSERT_EQ(none.wait_for(0s), std::future_status::ready);
  EXPECT_EQ(code_of(none), RequestErrc::kNoEndpoint);
  bus.advance(5s);  // the retry after ~1 s fails too: the Fault answers

  ASSERT_EQ(fault.wait_for(0s), std::future_status::ready);
  EXPECT_EQ(code_of(fault), RequestErrc::kRemoteFault);
  EXPECT_EQ(bus.pending_requests(), 0u);
}

TEST(TestBus, PoisonPayloadsAreDeadLetteredWithTheirReason) {
  TestBus bus;
  Endpoint sut(bus, "sales");
  sut.handle<shop::ReserveStock>([](const shop::ReserveStock&, Context&) {});
  sut.start();

  bus.send_json({"ReserveStock", 1, MessageKind::kCommand}, "{\"order\": 1,", "sales", {});
  bus.send_json({"ReserveStock", 9, MessageKind::kCommand}, "{}", "sales", {});

  const auto dead = bus.dead_letters("sales");
  ASSERT_EQ(dead.size(), 2u);
  EXPECT_NE(dead[0].error.find("undecodable: ReserveStock@1: [json.exception.parse_error"), std::string::npos);
  EXPECT_EQ(dead[1].error, "unknown version: ReserveStock@9 (endpoint sales handles ReserveStock@1)");
  EXPECT_EQ(sut.stats().rejected, 2u);
}

TEST(TestBus, KindsAreEnforcedAsOnTheBus) {
  TestBus bus;
  Endpoint sut(bus, "sales");
  sut.handle<shop::ReserveStock>([](const shop::ReserveStock&, Context&) {});
  sut.start();

  EXPECT_THROW(bus.publish(shop::ReserveStock{1, 1}), Error);
  EXPECT_THROW(bus.send(shop::OrderPlaced{1, "x"}, "sales"), Error);
  EXPECT_THROW(bus.send(shop::ReserveStock{1, 1}), Error);  // no route
  EXPECT_THROW(bus.send(shop::ReserveStock{1, 1}, "nobody"), RequestError);
  EXPECT_THROW(sut.queue(), Error);
}

// Code written against Client& runs on the TestBus unchanged: its own source, routes and reply
// topic, requests timed out by advance(), what still waits failed when it goes.
shop::OrderStatus ask_status(Client& client, int order) {
  return client.request<shop::GetOrderStatus, shop::OrderStatus>({order, 0, 0}, 2s).get();
}

TEST(TestBus, AClientOnTheTestBusHasTheSameVerbs) {
  TestBus bus;
  Endpoint orders(bus, "orders");
  orders.handle<shop::GetOrderStatus>([](const shop::GetOrderStatus& q, Context& ctx) { ctx.reply(status_of(q)); });
  orders.start();
  Client web(bus, {.source = "web"});
  web.route<shop::GetOrderStatus>("orders");

  EXPECT_EQ(ask_status(web, 9).order, 9);
  web.publish(shop::OrderPlaced{9, "ann"});
  orders.stop();
  auto late = web.request<shop::GetOrderStatus, shop::OrderStatus>({1, 0, 0}, 2s);
  auto never = std::make_unique<Client>(bus, ClientOptions{.source = "gone"});
  auto closed = never->request<shop::GetOrderStatus, shop::OrderStatus>({2, 0, 0}, "orders", 2s);
  never.reset();
  bus.advance(2s);

  EXPECT_EQ(code_of(late), RequestErrc::kTimeout);
  EXPECT_EQ(code_of(closed), RequestErrc::kClosed);
  const auto sent = bus.sent();
  ASSERT_EQ(sent.size(), 3u);
  EXPECT_EQ(sent[0].envelope.source, "web");
  EXPECT_EQ(sent[0].envelope.reply_to, web.reply_topic());
  EXPECT_NE(web.reply_topic(), sent[2].envelope.reply_to);
  EXPECT_EQ(bus.replies().size(), 1u);
  EXPECT_EQ(bus.published()[0].envelope.source, "web");
  EXPECT_EQ(web.pending_requests(), 0u);
}

// Client::call on a TestBus: what came within the call; a reply that would come only later
// (after advance()) is kTimeout at once, the request withdrawn.
TEST(TestBus, AClientsCallGetsWhatCameWithinIt) {
  TestBus bus;
  Endpoint orders(bus, "orders", options(2));
  orders.handle<shop::GetOrderStatus>([](const shop::GetOrderStatus& q, Context& ctx) {
    if (q.order < 0) throw std::out_of_range("no order");
    ctx.reply(status_of(q));
  });
  orders.start();
  Client web(bus, {.source = "web"});

  const auto ok = web.call<shop::GetOrderStatus, shop::OrderStatus>({9, 1, 2}, "orders", 2s);
  ASSERT_TRUE(ok.ok()) << ok.message();
  EXPECT_EQ(ok->order, 9);
  EXPECT_EQ(ok->status, "shipped");
  const auto none = web.call<shop::GetOrderStatus, shop::OrderStatus>({1, 1, 1}, "nobody", 2s);
  ASSERT_FALSE(none.ok());
  EXPECT_EQ(none.error(), RequestErrc::kNoEndpoint);
  // The first attempt fails, its retry is ~1 s later on the virtual clock: not within the call.
  const auto later = web.call<shop::GetOrderStatus, shop::OrderStatus>({-1, 1, 1}, "orders", 10s);
  ASSERT_FALSE(later.ok());
  EXPECT_EQ(later.error(), RequestErrc::kTimeout);
  EXPECT_NE(later.message().find("advance()"), std::string::npos) << later.message();
  EXPECT_EQ(web.pending_requests(), 0u);
  bus.advance(5s);  // the Fault that answers it then has nobody waiting: nothing breaks
  EXPECT_EQ(web.pending_requests(), 0u);
}

}  // namespace
}  // namespace shmbus::service
