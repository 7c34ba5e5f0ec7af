// The outbox in one process (and a writer process for the sweep), against SQLite and
// PostgreSQL alike: what commits is relayed in order with its envelope, what rolls back never
// is, the relay is woken by a commit, a sweep finds what another process wrote, one relay per
// database, cleanup by age, the kinds refused.
#include <gtest/gtest.h>

#include "outbox_test_support.h"

namespace shmbus::outbox::test {
namespace {

using namespace std::chrono_literals;
using shmbus::test::eventually;
using shmbus::test::TempBus;

const std::string kTopic = "events.Ledgered";

// The (n, i) of each Ledgered record received, in order.
std::vector<std::pair<int64_t, int>> ledgered(const std::vector<Received>& got) {
  std::vector<std::pair<int64_t, int>> out;
  for (const Received& r : got) out.emplace_back(r.body.at("n").get<int64_t>(), r.body.at("i").get<int>());
  return out;
}

// Makes `sut`'s relay hold its lock and relays one Ledgered{0, 0}: from then on SQLite commits
// hand their rows to it from memory.
void start_handing_over(Outbox& sut, Db& db) {
  ASSERT_TRUE(sut.flush(30s));
  {
    auto tx = db.begin();  // read from the database: flush() asked for that
    sut.publish(tx->tx(), ledger::Ledgered{0, 0});
    tx->commit();
  }
  ASSERT_TRUE(eventually([&] { return sut.stats().relayed == 1; }, 30s));
}

class OutboxTest : public ::testing::TestWithParam<Backend> {
 protected:
  void SetUp() override {
    SKIP_WITHOUT_DATABASE(GetParam());
    database_ = std::make_unique<TestDatabase>(GetParam());
    db_ = std::make_unique<Db>(database_->url());
    bus_.create_topic(kTopic, small_journal());
  }
  std::unique_ptr<TestDatabase> database_;
  std::unique_ptr<Db> db_;
  TempBus tb_;
  Bus bus_ = tb_.open();
};

TEST_P(OutboxTest, CommittedMessagesArriveInOrderWithTheirEnvelope) {
  Outbox sut(bus_, db_->storage(), test_outbox_options("ordering"));
  std::vector<std::string> ids;
  for (int n = 1; n <= 2; ++n) {
    auto tx = db_->begin();
    tx->exec("INSERT INTO ledger(n) VALUES (" + std::to_string(n) + ")");
    for (int i = 0; i < 10; ++i) ids.push_back(sut.publish(tx->tx(), ledger::Ledgered{n, i}));
    tx->commit();
  }

  ASSERT_TRUE(sut.flush(30s));
  const std::vector<Received> got = read_topic(bus_, kTopic, 20);

  ASSERT_EQ(got.size(), 20u);
  for (size_t k = 0; k < got.size(); ++k) {
    EXPECT_EQ(got[k].body.at("n").get<int64_t>(), static_cast<int64_t>(1 + k / 10));
    EXPECT_EQ(got[k].body.at("i").get<int>(), static_cast<int>(k % 10));
    EXPECT_EQ(got[k].envelope.message_id, ids[k]);  // fixed when written
    EXPECT_EQ(got[k].envelope.type, "Ledgered@1");
    EXPECT_EQ(got[k].envelope.kind, "event");
    EXPECT_EQ(got[k].envelope.source, "ordering");
    EXPECT_EQ(got[k].envelope.correlation_id, ids[k]);  // each starts its flow
    EXPECT_FALSE(got[k].envelope.traceparent.empty());
  }
  EXPECT_EQ(db_->scalar("SELECT count(*) FROM shmbus_outbox WHERE sent_at IS NULL"), 0);
  EXPECT_EQ(sut.stats().relayed, 20u);
}

// SQLite hands a commit's rows to the relay of its process from memory: a transaction that
// deletes or rewrites its own outbox rows by hand, in SQL, before it commits must have them
// published as the table holds them, not as they were appended.
TEST_P(OutboxTest, OutboxRowsChangedByHandInTheTransactionArePublishedAsCommitted) {
  Outbox sut(bus_, db_->storage(), test_outbox_options());
  start_handing_over(sut, *db_);
  {
    auto tx = db_->begin();
    const std::string first = sut.publish(tx->tx(), ledger::Ledgered{1, 0});
    const std::string second = sut.publish(tx->tx(), ledger::Ledgered{1, 1});
    const std::string third = sut.publish(tx->tx(), ledger::Ledgered{1, 2});
    tx->exec("DELETE FROM shmbus_outbox WHERE message_id = '" + first + "'");  // not the last: seqs still run on
    tx->exec("UPDATE shmbus_outbox SET payload = (SELECT payload FROM shmbus_outbox WHERE message_id = '" + third +
             "') WHERE message_id = '" + second + "'");
    tx->commit();
  }
  {
    auto tx = db_->begin();
    sut.publish(tx->tx(), ledger::Ledgered{2, 0});
    tx->commit();
  }

  ASSERT_TRUE(sut.flush(30s));
  const std::vector<Received> got = read_topic(bus_, kTopic, 4, 2s);

  // The first row is gone; the second holds the third's payload.
  EXPECT_EQ(ledgered(got), (std::vector<std::pair<int64_t, int>>{{0, 0}, {1, 2}, {1, 2}, {2, 0}}));
}

TEST_P(OutboxTest, ARolledBackTransactionPublishesNothing) {
  Outbox sut(bus_, db_->storage(), test_outbox_options());
  {
    auto tx = db_->begin();
    tx->exec("INSERT INTO ledger(n) VALUES (1)");
    for (int i = 0; i < 5; ++i) sut.publish(tx->tx(), ledger::Ledgered{1, i});
    tx->rollback();
  }
  {
    auto tx = db_->begin();  // destroyed without commit: rolled back too
    sut.publish(tx->tx(), ledger::Ledgered{2, 0});
  }
  {
    auto tx = db_->begin();
    sut.publish(tx->tx(), ledger::Ledgered{3, 0});
    tx->commit();
  }

  ASSERT_TRUE(sut.flush(30s));
  const std::vector<Received> got = read_topic(bus_, kTopic, 1, 2s);

  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].body.at("n").get<int64_t>(), 3);
  EXPECT_EQ(db_->scalar("SELECT count(*) FROM shmbus_outbox"), 1);
  EXPECT_EQ(db_->scalar("SELECT count(*) FROM ledger"), 0);
}

// SQLite hands a commit's rows to the relay of its process: what a ROLLBACK TO a savepoint
// undid must not be among them, though a later insert takes its seq again.
TEST_P(OutboxTest, WhatARollbackToASavepointUndidIsNotPublished) {
  Outbox sut(bus_, db_->storage(), test_outbox_options());
  start_handing_over(sut, *db_);
  {
    auto tx = db_->begin();
    sut.publish(tx->tx(), ledger::Ledgered{1, 0});
    tx->exec("SAVEPOINT s");
    sut.publish(tx->tx(), ledger::Ledgered{1, 1});
    tx->exec("ROLLBACK TO SAVEPOINT s");
    sut.publish(tx->tx(), ledger::Ledgered{1, 2});  // takes the undone row's seq (SQLite)
    tx->commit();
  }
  {
    auto tx = db_->begin();
    sut.publish(tx->tx(), ledger::Ledgered{2, 0});
    tx->exec("SAVEPOINT s");
    sut.publish(tx->tx(), ledger::Ledgered{2, 1});
    tx->exec("ROLLBACK TO SAVEPOINT s");  // the transaction's last row undone
    tx->commit();
  }
  {
    auto tx = db_->begin();
    sut.publish(tx->tx(), ledger::Ledgered{3, 0});
    tx->commit();
  }

  ASSERT_TRUE(sut.flush(30s));
  const std::vector<Received> got = read_topic(bus_, kTopic, 5, 2s);

  EXPECT_EQ(ledgered(got), (std::vector<std::pair<int64_t, int>>{{0, 0}, {1, 0}, {1, 2}, {2, 0}, {3, 0}}));
}

// This process's commits around one of another process (no wake-up, no hand-over from it):
// all three go out in commit order, the other's in its place.
TEST_P(OutboxTest, AnotherProcessesCommitBetweenOursGoesOutInItsPlace) {
  Outbox sut(bus_, db_->storage(), test_outbox_options());
  ASSERT_TRUE(sut.flush(30s));
  {
    auto tx = db_->begin();
    sut.publish(tx->tx(), ledger::Ledgered{10, 0});
    tx->commit();
  }
  ASSERT_TRUE(eventually([&] { return sut.stats().relayed == 1; }, 30s));
  const pid_t child = ::fork();
  if (child == 0) {
    ::execl(OUTBOX_PEER, OUTBOX_PEER, "write-only", database_->url().c_str(), tb_.path().c_str(), "3", nullptr);
    ::_exit(97);
  }
  ASSERT_EQ(shmbus::test::wait_child(child), 0);
  {
    auto tx = db_->begin();
    sut.publish(tx->tx(), ledger::Ledgered{20, 0});
    tx->commit();
  }

  const std::vector<Received> got = read_topic(bus_, kTopic, 5, 30s);

  ASSERT_EQ(got.size(), 5u);
  const std::pair<int64_t, int> want[] = {{10, 0}, {1, 0}, {1, 1}, {1, 2}, {20, 0}};
  for (size_t k = 0; k < 5; ++k) {
    EXPECT_EQ(got[k].body.at("n").get<int64_t>(), want[k].first) << k;
    EXPECT_EQ(got[k].body.at("i").get<int>(), want[k].second) << k;
  }
}

TEST_P(OutboxTest, TheRelayIsWokenByTheCommit) {
  OutboxOptions o = test_outbox_options();
  o.sweep = std::chrono::minutes(10);  // so only the commit's wake-up can deliver within the bound
  Outbox sut(bus_, db_->storage(), o);
  ASSERT_TRUE(sut.flush(30s));         // its first reads are over
  std::this_thread::sleep_for(300ms);  // and flush's own wake-ups consumed: it waits now
  const uint64_t wakeups = sut.stats().wakeups;

  auto tx = db_->begin();
  sut.publish(tx->tx(), ledger::Ledgered{1, 0});
  tx->commit();
  const std::vector<Received> got = read_topic(bus_, kTopic, 1, 30s);

  ASSERT_EQ(got.size(), 1u);
  // SQLite: the committing thread may have published the row itself, and wakes the relay after
  // that (to mark it sent in time), so the wake-up may come just after the message.
  EXPECT_TRUE(eventually([&] { return sut.stats().wakeups > wakeups; }, 30s)) << sut.stats().wakeups;
  EXPECT_EQ(sut.stats().sweeps, 0u);
}

TEST_P(OutboxTest, WhatAnotherProcessCommittedIsRelayed) {
  OutboxOptions o = test_outbox_options();
  // SQLite: no wake-up crosses processes, so the sweep must find them; PostgreSQL: NOTIFY does,
  // and with the sweep at 10 min nothing else could within the bound.
  if (GetParam() == Backend::kPostgres) o.sweep = std::chrono::minutes(10);
  Outbox sut(bus_, db_->storage(), o);
  ASSERT_TRUE(sut.flush(30s));  // its first reads are over: it waits now
  std::this_thread::sleep_for(300ms);
  const uint64_t wakeups = sut.stats().wakeups;
  const uint64_t sweeps = sut.stats().sweeps;
  // A writer process without a relay of its own (fork + exec: this process has threads now).
  const pid_t child = ::fork();
  if (child == 0) {
    ::execl(OUTBOX_PEER, OUTBOX_PEER, "write-only", database_->url().c_str(), tb_.path().c_str(), "5", nullptr);
    ::_exit(97);
  }
  ASSERT_EQ(shmbus::test::wait_child(child), 0);

  const std::vector<Received> got = read_topic(bus_, kTopic, 5, 30s);

  ASSERT_EQ(got.size(), 5u);
  for (int i = 0; i < 5; ++i) EXPECT_EQ(got[i].body.at("i").get<int>(), i);
  if (GetParam() == Backend::kSqlite) {
    EXPECT_GT(sut.stats().sweeps, sweeps);
  } else {
    EXPECT_GT(sut.stats().wakeups, wakeups);
  }
}

TEST_P(OutboxTest, OneRelayPerDatabaseAndAStandbyTakesOver) {
  Db other(database_->url());  // another store object, as another service instance would open
  Outbox first(bus_, db_->storage(), test_outbox_options());
  ASSERT_TRUE(eventually([&] { return first.stats().relaying; }));
  Outbox second(bus_, other.storage(), test_outbox_options());
  for (int n = 1; n <= 50; ++n) {
    auto tx = db_->begin();
    first.publish(tx->tx(), ledger::Ledgered{n, 0});
    tx->commit();
  }
  ASSERT_TRUE(first.flush(30s));
  EXPECT_FALSE(second.stats().relaying);

  first.stop();  // releases the relay lock: the standby takes it at its next look
  {
    auto tx = db_->begin();
    second.publish(tx->tx(), ledger::Ledgered{51, 0});
    tx->commit();
  }
  const std::vector<Received> got = read_topic(bus_, kTopic, 51, 30s);

  ASSERT_EQ(got.size(), 51u);  // each exactly once: never two relays at a time
  for (size_t k = 0; k < got.size(); ++k) EXPECT_EQ(got[k].body.at("n").get<int64_t>(), static_cast<int64_t>(k + 1));
  EXPECT_TRUE(second.stats().relaying);
}

TEST_P(OutboxTest, SentRowsAreRemovedAfterKeepSent) {
  OutboxOptions o = test_outbox_options();
  o.keep_sent = 0ms;
  o.cleanup_every = 20ms;
  Outbox sut(bus_, db_->storage(), o);
  {
    auto tx = db_->begin();
    for (int i = 0; i < 3; ++i) sut.publish(tx->tx(), ledger::Ledgered{1, i});
    tx->commit();
  }
  ASSERT_TRUE(sut.flush(30s));

  // The newest row stays: seqs are never handed out twice (shmbus/outbox/storage.h).
  EXPECT_TRUE(eventually([&] { return db_->scalar("SELECT count(*) FROM shmbus_outbox") == 1; }));
  EXPECT_EQ(db_->scalar("SELECT max(seq) FROM shmbus_outbox"), db_->scalar("SELECT max(seq) FROM shmbus_outbox WHERE sent_at IS NOT NULL"));
  EXPECT_GE(sut.stats().removed, 2u);
  EXPECT_EQ(read_topic(bus_, kTopic, 3).size(), 3u);
}

TEST_P(OutboxTest, KindsAreEnforcedAndACommandNeedsAnEndpoint) {
  Outbox sut(bus_, db_->storage(), test_outbox_options());
  auto tx = db_->begin();

  try {
    sut.publish_json(tx->tx(), service::message_type_of<ledger::Credit>(), "{}", nullptr);
    ADD_FAILURE() << "a command was published";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("outbox.send(tx, message, endpoint)"), std::string::npos) << e.what();
  }
  try {
    sut.send_json(tx->tx(), service::message_type_of<ledger::Ledgered>(), "{}", "ledger", nullptr);
    ADD_FAILURE() << "an event was sent";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("outbox.publish(tx, message)"), std::string::npos) << e.what();
  }
  try {
    sut.send(tx->tx(), ledger::Credit{1, 1}, "nobody");
    ADD_FAILURE() << "a command went to an endpoint without a queue";
  } catch (const service::RequestError& e) {
    EXPECT_EQ(e.code(), service::RequestErrc::kNoEndpoint);
  }
  tx->commit();
  EXPECT_EQ(db_->scalar("SELECT count(*) FROM shmbus_outbox"), 0);
}

TEST_P(OutboxTest, ACommandGoesToItsEndpointsQueue) {
  service::EndpointOptions eo;
  eo.journal = small_journal();
  eo.idle_wait = 5ms;
  service::Endpoint ledger_endpoint(bus_, "ledger", eo);
  std::atomic<int64_t> sum{0};
  ledger_endpoint.handle<ledger::Credit>([&](const ledger::Credit& c, service::Context&) { sum += c.amount; });
  ledger_endpoint.start();
  Outbox sut(bus_, db_->storage(), test_outbox_options());

  auto tx = db_->begin();
  sut.send(tx->tx(), ledger::Credit{1, 7}, "ledger");
  sut.send(tx->tx(), ledger::Credit{2, 5}, "ledger");
  tx->commit();

  EXPECT_TRUE(eventually([&] { return sum.load() == 12; }));
}

INSTANTIATE_TEST_SUITE_P(Stores, OutboxTest, ::testing::Values(Backend::kSqlite, Backend::kPostgres),
                         [](const auto& info) { return std::string(name_of(info.param)); });

}  // namespace
}  // namespace shmbus::outbox::test
