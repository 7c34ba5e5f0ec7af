// Sagas in one process: the order saga (completed and compensated), duplicates, the policies
// for messages without a saga, per-instance order through retries, timeouts, the store's
// version check and all-or-nothing transaction, and the same flow choreographed.
#include <gtest/gtest.h>

#include <atomic>
#include <map>
#include <mutex>
#include <random>
#include <set>

#include <sqlite3.h>

#include "consistency.h"
#include "order_saga.h"
#include "participants.h"
#include "service/service_test_support.h"
#include "stores.h"
#include "shmbus/outbox/sqlite.h"
#include "shmbus/saga/saga.h"
#include "shmbus/service/service.h"
#include "support/test_bus.h"

namespace svc = shmbus::service;
namespace saga = shmbus::saga;
using namespace std::chrono_literals;
using shmbus::test::eventually;

namespace {

// Each test on each store: SQLite, and PostgreSQL when SHMBUS_POSTGRES_URL is set.
struct SagaFixture : ::testing::TestWithParam<std::string> {
  void SetUp() override {
    if (!saga_test::available(GetParam())) GTEST_SKIP() << "no " << GetParam() << " here (SHMBUS_POSTGRES_URL)";
    store = saga_test::open_store(saga_test::new_store_location(GetParam(), dir.path()));
  }
  shmbus::test::TempBus temp;
  shmbus::Bus bus = temp.open();
  shmbus::test::TempDir dir{"/tmp", "saga", true};
  std::shared_ptr<saga::Store> store;

  bool finished(int order) {
    auto s = store->find("order-saga", std::to_string(order));
    return s && s->finished;
  }
};

// Publishes a raw record of `type` with the envelope given (a duplicate keeps its id).
void publish_raw(shmbus::Bus& bus, const svc::MessageType& type, const svc::Envelope& env, const std::string& json) {
  const std::string topic = type.kind == svc::MessageKind::kEvent ? svc::event_topic(type) : "";
  shmbus::TopicConfig journal;
  journal.kind = shmbus::TopicKind::kJournal;
  bus.create_topic(topic, journal);
  shmbus::Publisher pub = bus.publisher(topic);
  const auto headers = env.headers();
  const auto r = pub.publish(json, headers);
  ASSERT_TRUE(r || r.error() == shmbus::Errc::kNotDurable);
}

TEST_P(SagaFixture, OrderSagaCompletesOrCompensatesEachOrder) {
  constexpr int kOrders = 40;
  orders::Participants participants(bus, dir.path() + "/participants.db", 50);  // not enough for all
  participants.start();
  saga::SagaEndpoint sagas(bus, orders::order_saga(30s).definition(), store);
  sagas.start();
  svc::Client client(bus, {.source = "web"});
  for (int i = 1; i <= kOrders; ++i) client.publish(orders::OrderPlaced{i, 1 + i % 3, 10 * i});
  ASSERT_TRUE(eventually([&] {
    for (int i = 1; i <= kOrders; ++i) if (!finished(i)) return false;
    return true;
  }, 60s));
  const orders::Outcome out = orders::check_orders(*store, participants.db(), 1, kOrders, 50);
  EXPECT_EQ(out.problems, "");
  EXPECT_EQ(out.completed + out.cancelled, kOrders);
  for (int i = 1; i <= kOrders; ++i) {
    const auto s = store->find("order-saga", std::to_string(i));
    const auto data = nlohmann::json::parse(s->data).get<orders::OrderSaga>();
    if (orders::payment_declined(i) && s->state == "cancelled" && data.reason != "out of stock") {
      EXPECT_EQ(data.reason, "payment failed: card declined") << i;
    }
    if (!orders::payment_declined(i) && s->state == "cancelled") {
      EXPECT_EQ(data.reason, "out of stock") << i;
    }
    if (s->state == "completed") {
      EXPECT_FALSE(orders::payment_declined(i)) << i;
    }
  }
  EXPECT_GT(out.completed, 0);
  EXPECT_GT(out.cancelled, 0);
  const saga::SagaStats st = sagas.stats();
  EXPECT_EQ(st.started, uint64_t{kOrders});
  EXPECT_EQ(st.finished, uint64_t{kOrders});
  EXPECT_EQ(st.conflicts, 0u);
  sagas.stop();
  participants.stop();
}

TEST_P(SagaFixture, ADuplicateOfAMessageChangesTheInstanceOnce) {
  shmbus::test::TempDir pdir{"/tmp", "saga-p", true};
  orders::Participants participants(bus, pdir.path() + "/p.db", 100);
  participants.start();
  saga::SagaEndpoint sagas(bus, orders::order_saga(30s).definition(), store);
  sagas.start();
  const svc::MessageType type = svc::message_type_of<orders::OrderPlaced>();
  const svc::Envelope env = svc::Envelope::start(type, "web");
  const std::string json = svc::encode(orders::OrderPlaced{8, 2, 80});
  ASSERT_FALSE(orders::payment_declined(8));
  for (int copy = 0; copy < 3; ++copy) publish_raw(bus, type, env, json);
  ASSERT_TRUE(eventually([&] { return finished(8) && sagas.stats().duplicates == 2; }, 30s));
  EXPECT_EQ(sagas.stats().started, 1u);
  EXPECT_EQ(participants.db().integer("SELECT reserved + shipped FROM stock"), 2);
  EXPECT_EQ(store->find("order-saga", "8")->version, 4);  // placed, reserved, paid, shipped
  sagas.stop();
  participants.stop();
}

// A message that does not start a saga and finds none: dead-lettered with the reason, ignored,
// or retried then dead-lettered, as the policy says.
TEST_P(SagaFixture, MissingSagaDeadLettersWithItsReason) {
  saga::SagaEndpoint sagas(bus, orders::order_saga(30s).definition(), store);
  sagas.start();
  svc::Client client(bus, {.source = "web"});
  client.publish(orders::StockReserved{404});
  const auto letters = svc::test::dead_letters(bus, "order-saga", 1);
  ASSERT_EQ(letters.size(), 1u);
  EXPECT_EQ(letters[0].type, "StockReserved@1");
  EXPECT_EQ(letters[0].reason, "rejected");
  EXPECT_NE(letters[0].error.find("SagaNotFound"), std::string::npos) << letters[0].error;
  EXPECT_NE(letters[0].error.find("no order-saga saga for key \"404\": StockReserved@1 does not start one"),
            std::string::npos)
      << letters[0].error;
  EXPECT_EQ(sagas.stats().missing, 1u);
  EXPECT_FALSE(store->find("order-saga", "404"));
}

TEST_P(SagaFixture, MissingSagaIgnoredWhenSoConfigured) {
  saga::SagaOptions options;
  options.missing = saga::MissingPolicy::kIgnore;
  saga::SagaEndpoint sagas(bus, orders::order_saga(30s).definition(), store, options);
  sagas.start();
  svc::Client client(bus, {.source = "web"});
  client.publish(orders::StockReserved{404});
  ASSERT_TRUE(eventually([&] { return sagas.endpoint().stats().handled == 1; }, 20s));
  EXPECT_EQ(sagas.stats().missing, 1u);
  EXPECT_EQ(sagas.endpoint().queue().stats().dead_lettered, 0u);
  EXPECT_FALSE(store->find("order-saga", "404"));
}

TEST_P(SagaFixture, MissingSagaRetriedThenDeadLettered) {
  saga::SagaOptions options;
  options.missing = saga::MissingPolicy::kRetry;
  options.endpoint.immediate_retries = 0;
  options.endpoint.max_deliveries = 3;
  options.endpoint.retry = shmbus::RetryPolicy::parse("exponential:min=10ms,max=50ms,factor=2,jitter=0.2");
  saga::SagaEndpoint sagas(bus, orders::order_saga(30s).definition(), store, options);
  sagas.start();
  svc::Client client(bus, {.source = "web"});
  client.publish(orders::StockReserved{404});
  const auto letters = svc::test::dead_letters(bus, "order-saga", 1);
  ASSERT_EQ(letters.size(), 1u);
  EXPECT_EQ(letters[0].reason, "delivery_limit");
  EXPECT_NE(letters[0].error.find("SagaNotYetStarted"), std::string::npos) << letters[0].error;
  EXPECT_EQ(sagas.stats().missing, 3u);
}

// A late message in a state with no transition for it is ignored (default) or dead-lettered.
TEST_P(SagaFixture, UnexpectedMessageIgnoredOrDeadLettered) {
  shmbus::test::TempDir pdir{"/tmp", "saga-p", true};
  orders::Participants participants(bus, pdir.path() + "/p.db", 100);
  participants.start();
  saga::SagaOptions options;
  options.ignore_unexpected = false;
  saga::SagaEndpoint sagas(bus, orders::order_saga(30s).definition(), store, options);
  sagas.start();
  svc::Client client(bus, {.source = "web"});
  client.publish(orders::OrderPlaced{3, 1, 30});  // 3 is not declined: completes
  ASSERT_FALSE(orders::payment_declined(3));
  ASSERT_TRUE(eventually([&] { return finished(3); }, 30s));
  client.publish(orders::StockReserved{3});
  const auto letters = svc::test::dead_letters(bus, "order-saga", 1);
  ASSERT_EQ(letters.size(), 1u);
  EXPECT_NE(letters[0].error.find("finished in state completed: no transition for StockReserved@1"), std::string::npos)
      << letters[0].error;
  EXPECT_EQ(sagas.stats().unexpected, 1u);
  sagas.stop();
  participants.stop();
}

// The payment service is down (its queue is there, nobody reads it): the timeout fires and
// the saga compensates; a payment captured later would be refunded (VoidPayment is sent).
TEST_P(SagaFixture, TimeoutFiresAndCompensates) {
  shmbus::test::TempDir pdir{"/tmp", "saga-p", true};
  orders::Participants participants(bus, pdir.path() + "/p.db", 100);
  participants.start(/*with_payments=*/false);
  saga::SagaEndpoint sagas(bus, orders::order_saga(300ms).definition(), store);
  sagas.start();
  svc::Client client(bus, {.source = "web"});
  client.publish(orders::OrderPlaced{5, 2, 50});
  ASSERT_TRUE(eventually([&] { return finished(5); }, 30s));
  const auto s = store->find("order-saga", "5");
  EXPECT_EQ(s->state, "cancelled");
  EXPECT_EQ(nlohmann::json::parse(s->data).get<orders::OrderSaga>().reason, "payment timed out");
  EXPECT_TRUE(s->timeouts.empty());
  EXPECT_EQ(participants.db().integer("SELECT available FROM stock"), 100);  // released
  sagas.stop();
  participants.stop();
}

// A timeout that is cancelled (the payment came in time) never moves the instance: the queue
// cancels the delayed message, and one that came back anyway would be ignored as stale.
TEST_P(SagaFixture, CancelledTimeoutDoesNotFire) {
  shmbus::test::TempDir pdir{"/tmp", "saga-p", true};
  orders::Participants participants(bus, pdir.path() + "/p.db", 100);
  participants.start();
  // The payment must answer before the timeout: 2 s, for the two hops (each through the outbox's
  // relay and a queue; ~100 ms each, more on 2 busy cores).
  saga::SagaEndpoint sagas(bus, orders::order_saga(2s).definition(), store);
  sagas.start();
  svc::Client client(bus, {.source = "web"});
  client.publish(orders::OrderPlaced{3, 1, 30});
  ASSERT_TRUE(eventually([&] { return finished(3); }, 30s));
  EXPECT_EQ(store->find("order-saga", "3")->state, "completed");
  std::this_thread::sleep_for(2500ms);  // past the timeout's due time
  EXPECT_EQ(sagas.stats().unexpected, 0u);
  EXPECT_LE(sagas.stats().stale_timeouts, 1u);  // 0 when the queue's cancel found it first
  EXPECT_EQ(store->find("order-saga", "3")->state, "completed");
  EXPECT_EQ(store->find("order-saga", "3")->version, 4);
  sagas.stop();
  participants.stop();
}

// Per-instance order: messages of one instance on one topic are handled one at a time and in
// the order published, through random failures and retries, with 4 handler threads.
struct Bump {
  int id = 0;
  int n = 0;
};
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(Bump, id, n)
struct Counter {
  int last = 0;
};
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(Counter, last)

}  // namespace

SHMBUS_MESSAGE(Bump, "Bump", 1, event);

namespace {

TEST_P(SagaFixture, OneInstanceIsNeverHandledConcurrentlyAndKeepsItsOrder) {
  constexpr int kInstances = 20, kBumps = 20;
  std::mutex mu;
  std::set<int> in_flight;
  std::atomic<int> overlaps{0}, out_of_order{0};
  std::atomic<int> faults{0};
  const auto apply = [&](Counter& c, const Bump& b, saga::Step& s) {
    {
      std::lock_guard<std::mutex> guard(mu);
      if (!in_flight.insert(b.id).second) overlaps.fetch_add(1);
    }
    std::this_thread::sleep_for(std::chrono::microseconds(200));
    {
      std::lock_guard<std::mutex> guard(mu);
      in_flight.erase(b.id);
    }
    thread_local std::mt19937 rng(std::random_device{}());
    if (rng() % 5 == 0) {
      faults.fetch_add(1);
      throw std::runtime_error("transient");  // retried: the next bump must wait for it
    }
    if (b.n != c.last + 1) out_of_order.fetch_add(1);
    c.last = b.n;
    if (b.n == kBumps) s.complete("done");
  };
  saga::Machine<Counter> m("counter-saga");
  m.initially<Bump>(saga::by_field(&Bump::id), [&](Counter& c, const Bump& b, saga::Step& s) {
    apply(c, b, s);
    s.go("counting");
  });
  m.during<Bump>("counting", saga::by_field(&Bump::id), apply);
  saga::SagaOptions options;
  options.endpoint.concurrency = 4;
  options.endpoint.immediate_retries = 0;  // every failure goes back to the queue (and parks the key)
  options.endpoint.max_deliveries = 100;
  options.endpoint.retry = shmbus::RetryPolicy::parse("exponential:min=1ms,max=20ms,factor=2,jitter=0.2");
  saga::SagaEndpoint sagas(bus, m.definition(), store, options);
  sagas.start();
  const svc::MessageType type = svc::message_type_of<Bump>();
  for (int n = 1; n <= kBumps; ++n) {
    for (int id = 0; id < kInstances; ++id) {
      svc::Envelope env = svc::Envelope::start(type, "test");
      env.correlation_id = "counter-" + std::to_string(id);  // the flow of instance `id`
      publish_raw(bus, type, env, svc::encode(Bump{id, n}));
    }
  }
  ASSERT_TRUE(eventually([&] {
    for (int id = 0; id < kInstances; ++id) {
      auto s = store->find("counter-saga", std::to_string(id));
      if (!s || !s->finished) return false;
    }
    return true;
  }, 300s));  // ~20-60 s on 2 busy cores: parked keys wait for their retries
  // The last handler counts its transition just after its commit, which the loop above may see
  // first: stopped, every handler thread has finished.
  sagas.stop();
  EXPECT_EQ(overlaps.load(), 0);
  EXPECT_EQ(out_of_order.load(), 0);
  EXPECT_GT(faults.load(), 0);
  EXPECT_EQ(sagas.stats().transitions, uint64_t{kInstances * kBumps});
  for (int id = 0; id < kInstances; ++id) {
    EXPECT_EQ(nlohmann::json::parse(store->find("counter-saga", std::to_string(id))->data).get<Counter>().last, kBumps);
  }
}

// The service's own table in the saga's database (SQLite file or PostgreSQL database).
void exec_in(shmbus::outbox::Transaction& tx, const std::string& sql) {
  if (auto* t = dynamic_cast<shmbus::outbox::SqliteTransaction*>(&tx)) return t->exec(sql);
#ifdef SHMBUS_SAGA_POSTGRES
  if (auto* t = dynamic_cast<shmbus::outbox::PostgresTransaction*>(&tx)) return t->exec(sql);
#endif
  throw std::logic_error("a transaction of neither store");
}

int64_t scalar(saga::Store& store, const std::string& sql) {
  if (auto* s = dynamic_cast<saga::SqliteStore*>(&store)) {
    shmbus::outbox::SqliteConnection c = s->database()->connect();
    sqlite3_stmt* st = nullptr;
    if (sqlite3_prepare_v2(c.handle(), sql.c_str(), -1, &st, nullptr) != SQLITE_OK) throw std::runtime_error(sql);
    const int64_t v = sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_int64(st, 0) : -1;
    sqlite3_finalize(st);
    return v;
  }
#ifdef SHMBUS_SAGA_POSTGRES
  if (auto* s = dynamic_cast<saga::PostgresStore*>(&store)) {
    shmbus::outbox::PostgresConnection c = s->database()->connect();
    pqxx::nontransaction n(c.connection());
    return n.exec1(sql)[0].as<int64_t>();
  }
#endif
  throw std::logic_error("neither store");
}

// A transition's writes to the service's own table commit in the saga's transaction, with the
// instance, its inbox mark and its outbox rows: a failed attempt leaves none of them, a
// duplicate adds none.
TEST_P(SagaFixture, ServiceTablesCommitInTheSagasTransaction) {
  {
    auto tx = store->begin();
    exec_in(tx->outbox(), "CREATE TABLE bumps (id INTEGER NOT NULL, n INTEGER NOT NULL)");
    tx->commit();
  }
  std::atomic<int> failures{0};
  const auto apply = [&](Counter& c, const Bump& b, saga::Step& s) {
    exec_in(s.transaction(), "INSERT INTO bumps(id, n) VALUES (" + std::to_string(b.id) + ", " + std::to_string(b.n) + ")");
    if (b.n == 2 && failures.fetch_add(1) == 0) throw std::runtime_error("after the insert: rolled back");
    c.last = b.n;
    s.publish(orders::OrderCancelled{b.n, "bumped"});  // an outbox row beside the insert
    if (b.n == 3) s.complete("done");
  };
  saga::Machine<Counter> m("table-saga");
  m.initially<Bump>(saga::by_field(&Bump::id), [&](Counter& c, const Bump& b, saga::Step& s) {
    apply(c, b, s);
    s.go("counting");
  });
  m.during<Bump>("counting", saga::by_field(&Bump::id), apply);
  const svc::MessageType cancelled = svc::message_type_of<orders::OrderCancelled>();
  shmbus::TopicConfig journal;
  journal.kind = shmbus::TopicKind::kJournal;
  bus.create_topic(svc::event_topic(cancelled), journal);
  shmbus::Subscription sub =
      bus.subscribe(svc::event_topic(cancelled), shmbus::SubscribeOptions(shmbus::StartAt::earliest()));
  saga::SagaEndpoint sagas(bus, m.definition(), store);
  sagas.start();
  const svc::MessageType type = svc::message_type_of<Bump>();
  for (int n = 1; n <= 3; ++n) {
    svc::Envelope env = svc::Envelope::start(type, "test");
    env.correlation_id = "table-7";
    publish_raw(bus, type, env, svc::encode(Bump{7, n}));
    if (n == 1) publish_raw(bus, type, env, svc::encode(Bump{7, n}));  // a duplicate: skipped
  }
  ASSERT_TRUE(eventually([&] {
    auto s = store->find("table-saga", "7");
    return s && s->finished;
  }, 60s));
  EXPECT_EQ(failures.load(), 2);  // n = 2 failed once, then went through
  EXPECT_EQ(scalar(*store, "SELECT count(*) FROM bumps"), 3);
  EXPECT_EQ(scalar(*store, "SELECT count(*) FROM bumps WHERE n = 2"), 1);
  EXPECT_EQ(nlohmann::json::parse(store->find("table-saga", "7")->data).get<Counter>().last, 3);
  int events = 0;
  ASSERT_TRUE(eventually([&] {
    (void)sub.receive([&](const shmbus::Message&) { ++events; }, 16, 10ms);
    return events >= 3;
  }, 20s));
  std::this_thread::sleep_for(300ms);  // a fourth (from the rolled-back attempt) would be here by now
  (void)sub.receive([&](const shmbus::Message&) { ++events; }, 16, 10ms);
  EXPECT_EQ(events, 3);
  EXPECT_GE(sagas.stats().duplicates, 1u);
}

TEST_P(SagaFixture, StoreChecksVersionsAndCommitsAllOrNothing) {
  saga::StoredInstance in;
  in.state = "a";
  in.data = "{}";
  {
    auto tx = store->begin();
    EXPECT_TRUE(tx->mark_processed("s", "m1"));
    tx->save("s", "k", in, 0);
    saga::OutgoingMessage m;
    m.topic = "events.X";
    m.envelope.message_id = "id-1";
    tx->append(m);
    // not committed: rolled back
  }
  EXPECT_FALSE(store->find("s", "k"));
  EXPECT_TRUE(store->unsent(10).empty());
  {
    auto tx = store->begin();
    EXPECT_TRUE(tx->mark_processed("s", "m1"));
    tx->save("s", "k", in, 0);
    saga::OutgoingMessage m;
    m.topic = "events.X";
    m.envelope.message_id = "id-1";
    m.payload = std::string("a\0b", 3);
    tx->append(m);
    tx->commit();
  }
  EXPECT_EQ(store->find("s", "k")->version, 1);
  const auto rows = store->unsent(10);
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0].envelope.message_id, "id-1");
  EXPECT_EQ(rows[0].payload, std::string("a\0b", 3));
  auto tx = store->begin();
  EXPECT_FALSE(tx->mark_processed("s", "m1"));  // processed before
  EXPECT_THROW(tx->save("s", "k", in, 0), saga::ConcurrencyConflict);  // it exists
  EXPECT_THROW(tx->save("s", "k", in, 7), saga::ConcurrencyConflict);  // not that version
  in.state = "b";
  tx->save("s", "k", in, 1);
  tx->commit();
  EXPECT_EQ(store->find("s", "k")->version, 2);
  EXPECT_EQ(store->find("s", "k")->state, "b");
}

// What a process killed between its commit and its publish leaves: committed rows. The next
// start() relays them, with the message-ids they were written with, and the sweep removes them.
TEST_P(SagaFixture, RowsLeftByACrashAreRelayedAtStartWithTheirIds) {
  const svc::MessageType type = svc::message_type_of<orders::OrderCancelled>();
  const std::string topic = svc::event_topic(type);
  shmbus::TopicConfig journal;
  journal.kind = shmbus::TopicKind::kJournal;
  bus.create_topic(topic, journal);
  shmbus::Subscription sub = bus.subscribe(topic, shmbus::SubscribeOptions(shmbus::StartAt::earliest()));
  std::vector<std::string> ids;
  {
    auto tx = store->begin();
    for (int i = 0; i < 3; ++i) {
      saga::OutgoingMessage m;
      m.topic = topic;
      m.envelope = svc::Envelope::start(type, "order-saga");
      m.payload = svc::encode(orders::OrderCancelled{i, "left by a crash"});
      ids.push_back(m.envelope.message_id);
      tx->append(m);
    }
    tx->commit();
  }
  saga::SagaEndpoint sagas(bus, orders::order_saga(30s).definition(), store);
  sagas.start();
  std::vector<std::string> got;
  ASSERT_TRUE(eventually([&] {
    (void)sub.receive([&](const shmbus::Message& m) {
      got.emplace_back(m.headers.find(shmbus::header_keys::kMessageId).value_or(""));
    }, 16, 10ms);
    return got.size() >= 3;
  }, 20s));
  EXPECT_EQ(got, ids);  // in the order written
  EXPECT_TRUE(eventually([&] { return store->unsent(10).empty(); }, 20s));
  EXPECT_EQ(sagas.stats().relayed, 3u);
}

TEST_P(SagaFixture, RetentionRemovesOldMarksAndFinishedInstancesOnly) {
  saga::StoredInstance running, done;
  running.state = "a";
  running.data = "{}";
  done = running;
  done.finished = true;
  {
    auto tx = store->begin();
    EXPECT_TRUE(tx->mark_processed("s", "m1"));
    tx->save("s", "running", running, 0);
    tx->save("s", "done", done, 0);
    tx->commit();
  }
  const auto now = std::chrono::system_clock::now();
  EXPECT_EQ(store->remove_processed(now - 1h), 0u);  // younger than that: kept
  EXPECT_EQ(store->remove_finished(now - 1h), 0u);
  EXPECT_EQ(store->remove_processed(now + 1s), 1u);
  EXPECT_EQ(store->remove_finished(now + 1s), 1u);
  EXPECT_TRUE(store->find("s", "running"));
  EXPECT_FALSE(store->find("s", "done"));
  auto tx = store->begin();
  EXPECT_TRUE(tx->mark_processed("s", "m1"));  // forgotten: a duplicate this old is handled again
}

INSTANTIATE_TEST_SUITE_P(Stores, SagaFixture, ::testing::Values("sqlite", "postgres"),
                         [](const auto& info) { return info.param; });

TEST(SagaMachine, RefusesWhatCannotWork) {
  saga::Machine<orders::OrderSaga> m("m");
  const auto key = [](const auto& x, const svc::Envelope&) { return std::to_string(x.order); };
  m.during<orders::StockReserved>("a", key, [](orders::OrderSaga&, const orders::StockReserved&, saga::Step&) {});
  EXPECT_THROW(m.during<orders::StockReserved>("a", key, [](orders::OrderSaga&, const orders::StockReserved&, saga::Step&) {}),
               shmbus::Error);
  EXPECT_THROW(m.on_timeout<orders::StockReserved>("b", key, [](orders::OrderSaga&, const orders::StockReserved&, saga::Step&) {}),
               shmbus::Error);  // a timeout is a command
}

}  // namespace
