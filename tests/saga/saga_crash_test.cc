// Sagas across real processes killed -9: the saga process and the participants' process are
// each killed at random and restarted while 1,000 orders go through (transient faults in the
// participants, one payment in five declined); every saga ends completed or compensated and
// the stock adds up. And a payment timeout fires when the saga process that scheduled it was
// killed and another one started.
#include <gtest/gtest.h>
#include <signal.h>

#include <cstdlib>
#include <random>

#include "consistency.h"
#include "order_saga.h"
#include "participants.h"
#include "shmbus/saga/saga.h"
#include "shmbus/service/service.h"
#include "stores.h"
#include "support/test_bus.h"

namespace svc = shmbus::service;
namespace saga = shmbus::saga;
using namespace std::chrono_literals;
using shmbus::test::eventually;

namespace {

[[noreturn]] void serve_forever() {
  for (;;) std::this_thread::sleep_for(1h);
}

pid_t spawn_saga(const std::string& bus_dir, const std::string& store, std::chrono::milliseconds payment_timeout) {
  return shmbus::test::spawn([=] {
    shmbus::Bus bus = shmbus::Bus::open(bus_dir);
    saga::SagaEndpoint sagas(bus, orders::order_saga(payment_timeout).definition(), saga_test::open_store(store));
    sagas.start();
    serve_forever();
    return 0;
  });
}

pid_t spawn_participants(const std::string& bus_dir, const std::string& db, int stock, double transient,
                         bool with_payments = true) {
  return shmbus::test::spawn([=] {
    shmbus::Bus bus = shmbus::Bus::open(bus_dir);
    orders::Participants participants(bus, db, stock, transient);
    participants.start(with_payments);
    serve_forever();
    return 0;
  });
}

void kill9(pid_t pid) {
  ::kill(pid, SIGKILL);
  ::waitpid(pid, nullptr, 0);
}

bool endpoints_ready(shmbus::Bus& bus) {
  const auto names = bus.queues();
  for (const char* q : {"order-saga", "inventory", "payments", "shipping"}) {
    if (std::find(names.begin(), names.end(), q) == names.end()) return false;
  }
  return true;
}

int scale() {
  const char* s = std::getenv("SHMBUS_SOAK_SCALE");
  return s ? std::max(1, std::atoi(s)) : 1;
}

// On each store: SQLite, and PostgreSQL when SHMBUS_POSTGRES_URL is set.
struct SagaCrash : ::testing::TestWithParam<std::string> {
  void SetUp() override {
    if (!saga_test::available(GetParam())) GTEST_SKIP() << "no " << GetParam() << " here (SHMBUS_POSTGRES_URL)";
  }
};

TEST_P(SagaCrash, ThousandOrdersWithKillsEndConsistent) {
  const int kOrders = 1000 * scale();
  const int kStock = kOrders * 3 / 2;  // ~2 per order asked: some run out
  shmbus::test::TempBus temp;
  shmbus::Bus bus = temp.open();
  shmbus::test::TempDir dir{"/tmp", "saga-crash", true};
  const std::string saga_db = saga_test::new_store_location(GetParam(), dir.path());
  const std::string part_db = dir.path() + "/participants.db";
  pid_t sagas = spawn_saga(temp.path(), saga_db, 60s);
  pid_t participants = spawn_participants(temp.path(), part_db, kStock, 0.1);
  ASSERT_TRUE(eventually([&] { return endpoints_ready(bus); }, 60s));

  std::mt19937 rng(std::random_device{}());
  svc::Client client(bus, {.source = "web"});
  int kills_saga = 0, kills_participants = 0;
  int placed = 0;
  auto store = saga_test::open_store(saga_db);
  const auto all_finished = [&] {
    for (int i = 1; i <= kOrders; ++i) {
      auto s = store->find("order-saga", std::to_string(i));
      if (!s || !s->finished) return false;
    }
    return true;
  };
  // Orders go in in bursts while the kills go on; then the kills stop and everything settles.
  for (int round = 0; round < 40 * scale(); ++round) {
    for (int i = 0; i < kOrders / (20 * scale()) && placed < kOrders; ++i) {
      ++placed;
      client.publish(orders::OrderPlaced{placed, 1 + static_cast<int>(rng() % 3), 10 * placed});
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(30 + rng() % 150));
    if (rng() % 10 < 6) {
      kill9(sagas);
      ++kills_saga;
      sagas = spawn_saga(temp.path(), saga_db, 60s);
    } else {
      kill9(participants);
      ++kills_participants;
      participants = spawn_participants(temp.path(), part_db, kStock, 0.1);
    }
  }
  ASSERT_EQ(placed, kOrders);
  const bool settled = eventually(all_finished, 240s);
  kill9(sagas);
  kill9(participants);
  orders::ParticipantDb db(part_db, kStock);
  const orders::Outcome out = orders::check_orders(*store, db, 1, kOrders, kStock);
  std::printf("orders %d: completed %d, cancelled %d, unfinished %d; kills: saga %d, participants %d\n", kOrders,
              out.completed, out.cancelled, out.unfinished, kills_saga, kills_participants);
  ASSERT_TRUE(settled) << out.problems;
  EXPECT_EQ(out.problems, "");
  EXPECT_EQ(out.completed + out.cancelled, kOrders);
  EXPECT_GT(out.completed, 0);
  EXPECT_GT(out.cancelled, 0);
  EXPECT_GT(kills_saga, 0);
  EXPECT_GT(kills_participants, 0);
}

// Payments is down (its queue declared, no consumer). Each saga reaches "paying" and schedules
// its 1.5 s timeout; the saga process is killed -9 then, and a new one started after the
// timeouts fell due: they fire from the queue (durable), and every order is compensated.
TEST_P(SagaCrash, TimeoutsFireAfterTheSagaProcessIsKilledAndRestarted) {
  constexpr int kOrders = 20;
  shmbus::test::TempBus temp;
  shmbus::Bus bus = temp.open();
  shmbus::test::TempDir dir{"/tmp", "saga-timeout", true};
  const std::string saga_db = saga_test::new_store_location(GetParam(), dir.path());
  const std::string part_db = dir.path() + "/participants.db";
  pid_t sagas = spawn_saga(temp.path(), saga_db, 1500ms);
  pid_t participants = spawn_participants(temp.path(), part_db, 1000, 0.0, /*with_payments=*/false);
  ASSERT_TRUE(eventually([&] { return endpoints_ready(bus); }, 60s));
  auto store = saga_test::open_store(saga_db);
  const auto in_state = [&](const char* state) {
    for (int i = 1; i <= kOrders; ++i) {
      auto s = store->find("order-saga", std::to_string(i));
      if (!s || s->state != state) return false;
    }
    return true;
  };
  svc::Client client(bus, {.source = "web"});
  for (int i = 1; i <= kOrders; ++i) client.publish(orders::OrderPlaced{i, 1, 10});
  ASSERT_TRUE(eventually([&] { return in_state("paying"); }, 30s));
  kill9(sagas);
  std::this_thread::sleep_for(2500ms);  // every timeout is due while no saga process runs
  for (int i = 1; i <= kOrders; ++i) EXPECT_EQ(store->find("order-saga", std::to_string(i))->state, "paying");
  sagas = spawn_saga(temp.path(), saga_db, 1500ms);
  const bool cancelled = eventually([&] { return in_state("cancelled"); }, 60s);
  kill9(sagas);
  kill9(participants);
  ASSERT_TRUE(cancelled);
  orders::ParticipantDb db(part_db, 1000);
  for (int i = 1; i <= kOrders; ++i) {
    const auto s = store->find("order-saga", std::to_string(i));
    EXPECT_EQ(nlohmann::json::parse(s->data).get<orders::OrderSaga>().reason, "payment timed out");
    EXPECT_TRUE(s->finished);
  }
  EXPECT_EQ(db.integer("SELECT available FROM stock"), 1000);
  EXPECT_EQ(db.integer("SELECT count(*) FROM reservations WHERE status = 'released'"), kOrders);
}

INSTANTIATE_TEST_SUITE_P(Stores, SagaCrash, ::testing::Values("sqlite", "postgres"),
                         [](const auto& info) { return info.param; });

}  // namespace
