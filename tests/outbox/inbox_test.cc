// The inbox, against SQLite and PostgreSQL alike: the same message delivered 1..5 times
// (duplicates on the topic; redeliveries after a consumer killed -9 between its commit and its
// ack) changes the state once; a failed attempt leaves no mark; what a handler sends through
// the outbox continues the flow.
#include <gtest/gtest.h>

#include <random>

#include "outbox_test_support.h"

namespace shmbus::outbox::test {
namespace {

using namespace std::chrono_literals;
using shmbus::test::eventually;
using shmbus::test::TempBus;

service::EndpointOptions endpoint_options(uint32_t concurrency = 2) {
  service::EndpointOptions o;
  o.concurrency = concurrency;
  o.journal = small_journal();
  o.idle_wait = 5ms;
  o.retry.min = 1ms;
  o.retry.max = 5ms;
  return o;
}

// Runs body(store) with the test database's store, whichever kind it is.
template <class F>
void with_store(Db& db, F&& body) {
  if (db.sqlite()) {
    body(db.sqlite());
  } else {
    body(db.postgres());
  }
}

template <class Tx>
void apply_credit(Tx& tx, const ledger::Credit& c) {
  tx.exec("UPDATE account SET balance = balance + " + std::to_string(c.amount) + " WHERE id = 1");
  tx.exec("INSERT INTO applied(id) VALUES (" + std::to_string(c.id) + ")");
}

class InboxTest : public ::testing::TestWithParam<Backend> {
 protected:
  void SetUp() override {
    SKIP_WITHOUT_DATABASE(GetParam());
    database_ = std::make_unique<TestDatabase>(GetParam());
    db_ = std::make_unique<Db>(database_->url());
  }
  std::unique_ptr<TestDatabase> database_;
  std::unique_ptr<Db> db_;
  TempBus tb_;
  Bus bus_ = tb_.open();
};

TEST_P(InboxTest, TheSameMessageDeliveredOneToFiveTimesChangesTheStateOnce) {
  constexpr int kMessages = 100;
  with_store(*db_, [&](auto store) {
    Inbox sut(store);
    service::Endpoint endpoint(bus_, "ledger", endpoint_options());
    endpoint.handle<ledger::Credit>(sut.template handler<ledger::Credit>(
        [](const ledger::Credit& c, service::Context&, auto& tx) { apply_credit(tx, c); }));
    endpoint.start();
    // Copies of one record, as a redelivery, a replay or a bridge's resend brings them: the
    // same envelope (message-id) and payload; message m comes 1 + m % 5 times, copies later.
    Publisher pub = bus_.publisher(service::command_topic("ledger"));
    std::vector<service::Envelope> envelopes;
    for (int m = 0; m < kMessages; ++m) {
      envelopes.push_back(service::Envelope::start(service::message_type_of<ledger::Credit>(), "test"));
    }
    uint64_t deliveries = 0;
    for (int copy = 0; copy < 5; ++copy) {
      for (int m = 0; m < kMessages; ++m) {
        if (copy > m % 5) continue;
        const std::vector<Header> headers = envelopes[m].headers();
        ASSERT_TRUE(pub.publish(service::encode(ledger::Credit{m, m + 1}), headers));
        ++deliveries;
      }
    }

    ASSERT_TRUE(eventually([&] { return sut.stats().processed + sut.stats().skipped == deliveries; }, 60s))
        << "processed " << sut.stats().processed << ", skipped " << sut.stats().skipped << " of " << deliveries;
    endpoint.stop();

    EXPECT_EQ(sut.stats().processed, static_cast<uint64_t>(kMessages));
    EXPECT_EQ(sut.stats().skipped, deliveries - kMessages);
    EXPECT_EQ(db_->scalar("SELECT count(*) FROM applied"), kMessages);
    EXPECT_EQ(db_->scalar("SELECT count(DISTINCT id) FROM applied"), kMessages);
    EXPECT_EQ(db_->scalar("SELECT balance FROM account WHERE id = 1"), kMessages * (kMessages + 1) / 2);
    EXPECT_EQ(db_->scalar("SELECT count(*) FROM shmbus_inbox WHERE endpoint = 'ledger'"), kMessages);
  });
}

TEST_P(InboxTest, AFailedAttemptLeavesNoMarkAndTheRetryApplies) {
  with_store(*db_, [&](auto store) {
    Inbox sut(store);
    service::EndpointOptions o = endpoint_options(1);
    o.immediate_retries = 1;
    service::Endpoint endpoint(bus_, "ledger", o);
    std::atomic<int> attempts{0};
    endpoint.handle<ledger::Credit>(sut.template handler<ledger::Credit>(
        [&](const ledger::Credit& c, service::Context&, auto& tx) {
          apply_credit(tx, c);
          if (attempts.fetch_add(1) == 0) throw std::runtime_error("the first attempt fails after its updates");
        }));
    endpoint.start();
    service::Client client(bus_, {.source = "test"});

    client.send(ledger::Credit{1, 10}, "ledger");

    ASSERT_TRUE(eventually([&] { return sut.stats().processed == 1; }));
    EXPECT_EQ(sut.stats().failed, 1u);
    EXPECT_EQ(db_->scalar("SELECT balance FROM account WHERE id = 1"), 10);
    EXPECT_EQ(db_->scalar("SELECT count(*) FROM applied"), 1);
  });
}

TEST_P(InboxTest, WhatAHandlerSendsThroughTheOutboxContinuesTheFlow) {
  bus_.create_topic("events.Ledgered", small_journal());
  with_store(*db_, [&](auto store) {
    Inbox sut(store);
    Outbox outbox(bus_, store, test_outbox_options());
    service::Endpoint endpoint(bus_, "ledger", endpoint_options(1));
    endpoint.handle<ledger::Credit>(sut.template handler<ledger::Credit>(
        [&](const ledger::Credit& c, service::Context& ctx, auto& tx) {
          apply_credit(tx, c);
          outbox.publish(tx, ledger::Ledgered{c.id, 0}, ctx);
        }));
    endpoint.start();
    service::Client client(bus_, {.source = "web"});

    const std::string id = client.send(ledger::Credit{7, 1}, "ledger");
    const std::vector<Received> got = read_topic(bus_, "events.Ledgered", 1, 30s);

    ASSERT_EQ(got.size(), 1u);
    EXPECT_EQ(got[0].body.at("n").get<int64_t>(), 7);
    EXPECT_EQ(got[0].envelope.causation_id, id);
    EXPECT_EQ(got[0].envelope.correlation_id, id);
    EXPECT_EQ(got[0].envelope.conversation_id, id);
    EXPECT_EQ(got[0].envelope.source, "ledger");
  });
}

// A consumer process killed -9 right after its transaction committed and before the queue got
// its ack, again and again: the queue redelivers each such message to the next consumer, whose
// inbox skips it.
TEST_P(InboxTest, ARedeliveryAfterAKillBetweenCommitAndAckIsSkipped) {
  constexpr int kMessages = 60;
  const uint64_t seed = std::random_device{}();
  std::printf("seed %llu\n", static_cast<unsigned long long>(seed));
  std::mt19937_64 rng(seed);
  const auto spawn_consumer = [&](const std::string& kill_point) {
    const pid_t pid = ::fork();
    if (pid == 0) {
      if (!kill_point.empty()) ::setenv("SHMBUS_KILL_POINT", kill_point.c_str(), 1);
      ::execl(OUTBOX_PEER, OUTBOX_PEER, "inbox", database_->url().c_str(), tb_.path().c_str(), nullptr);
      ::_exit(97);
    }
    return pid;
  };
  // The first consumer declares the queue; the commands are sent once it exists.
  pid_t consumer = spawn_consumer("inbox.after_commit:" + std::to_string(1 + rng() % 5));
  ASSERT_TRUE(eventually([&] {
    const auto qs = bus_.queues();
    return std::find(qs.begin(), qs.end(), "ledger") != qs.end();
  }));
  {
    service::Client client(bus_, {.source = "test"});
    for (int m = 0; m < kMessages; ++m) client.send(ledger::Credit{m, 1}, "ledger");
  }
  const auto all_applied = [&] { return db_->scalar("SELECT count(DISTINCT id) FROM applied") == kMessages; };
  int kills = 0;
  for (int round = 0; round < 500; ++round) {
    // The consumer dies at its kill point, or lives on once nothing is left to handle.
    int status = 0;
    bool died = false;
    const auto deadline = std::chrono::steady_clock::now() + 60s;
    while (!(died = ::waitpid(consumer, &status, WNOHANG) == consumer) && !all_applied()) {
      ASSERT_LT(std::chrono::steady_clock::now(), deadline) << "no progress in 60 s";
      std::this_thread::sleep_for(10ms);
    }
    if (!died) break;
    ASSERT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL) << "the consumer failed: status " << status;
    ++kills;
    consumer = spawn_consumer("inbox.after_commit:" + std::to_string(1 + rng() % 5));
  }
  ASSERT_TRUE(all_applied());
  // The last consumer may be dying at its kill point this moment: end it, and let one without a
  // kill point settle what is left (the redeliveries of the last kills).
  ::kill(consumer, SIGKILL);
  (void)shmbus::test::wait_child(consumer, 60s);
  consumer = spawn_consumer("");
  ASSERT_TRUE(eventually([&] {
    const QueueStats s = bus_.queue("ledger").stats();
    return s.ready == 0 && s.in_flight == 0 && s.scheduled == 0;
  }, 60s));
  ::kill(consumer, SIGTERM);
  (void)shmbus::test::wait_child(consumer, 60s);

  EXPECT_GE(kills, 5);
  EXPECT_GE(bus_.queue("ledger").stats().redelivered, static_cast<uint64_t>(kills));
  EXPECT_EQ(db_->scalar("SELECT count(*) FROM applied"), kMessages);  // none twice
  EXPECT_EQ(db_->scalar("SELECT balance FROM account WHERE id = 1"), kMessages);
  EXPECT_EQ(bus_.queue("ledger").stats().dead_lettered, 0u);
}

INSTANTIATE_TEST_SUITE_P(Stores, InboxTest, ::testing::Values(Backend::kSqlite, Backend::kPostgres),
                         [](const auto& info) { return std::string(name_of(info.param)); });

}  // namespace
}  // namespace shmbus::outbox::test
