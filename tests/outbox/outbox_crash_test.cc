// The outbox under kill -9, against SQLite and PostgreSQL alike: a writer process (transactions
// with a ledger row and 3 events each, every 4th rolled back, and its relay thread) is killed
// 200 times, at random among: right after a commit, before the relay heard of it
// (outbox.after_commit); after the relay published a message and before it marked it sent
// (outbox.relay.after_publish); at a random moment. Then one more run drains what is left.
// Every committed message must be on the bus at least once, first occurrences in commit order,
// resends the same records (message-id and payload), nothing ever published that a rollback or
// a kill before the commit undid.
#include <gtest/gtest.h>

#include <map>
#include <set>
#include <random>

#include "outbox_test_support.h"

namespace shmbus::outbox::test {
namespace {

using namespace std::chrono_literals;
using shmbus::test::TempBus;

constexpr int kKills = 200;
constexpr int kTransactionsPerRun = 10;
constexpr int kEventsPerTransaction = 3;

class OutboxCrashTest : public ::testing::TestWithParam<Backend> {};

pid_t spawn_writer(const std::string& url, const std::string& bus, const std::string& kill_point, int transactions) {
  const pid_t pid = ::fork();
  if (pid == 0) {
    if (!kill_point.empty()) ::setenv("SHMBUS_KILL_POINT", kill_point.c_str(), 1);
    const std::string n = std::to_string(transactions);
    ::execl(OUTBOX_PEER, OUTBOX_PEER, "writer", url.c_str(), bus.c_str(), n.c_str(), nullptr);
    ::_exit(97);
  }
  return pid;
}

TEST_P(OutboxCrashTest, EveryCommittedMessageReachesTheBusInOrderAndNothingElse) {
  SKIP_WITHOUT_DATABASE(GetParam());
  TestDatabase database(GetParam());
  TempBus tb;
  Bus bus = tb.open();
  bus.create_topic("events.Ledgered", small_journal());
  const uint64_t seed = std::random_device{}();
  std::printf("seed %llu\n", static_cast<unsigned long long>(seed));
  std::mt19937_64 rng(seed);

  int killed[3] = {0, 0, 0};
  for (int k = 0; k < kKills; ++k) {
    const int mode = static_cast<int>(rng() % 3);
    std::string point;
    if (mode == 0) point = "outbox.after_commit:" + std::to_string(1 + rng() % 8);
    if (mode == 1) point = "outbox.relay.after_publish:" + std::to_string(1 + rng() % 24);
    const pid_t writer = spawn_writer(database.url(), tb.path(), point, kTransactionsPerRun);
    if (mode == 2) {
      std::this_thread::sleep_for(std::chrono::microseconds(rng() % 15000));
      ::kill(writer, SIGKILL);
    }
    const int code = shmbus::test::wait_child(writer, 120s);
    ASSERT_TRUE(code == 0 || code == 128 + SIGKILL) << "run " << k << ": the writer failed with " << code;
    if (code != 0) ++killed[mode];
  }
  ASSERT_EQ(shmbus::test::wait_child(spawn_writer(database.url(), tb.path(), "", 0), 120s), 0);  // drains

  Db db(database.url());
  const std::vector<int64_t> committed = db.column("SELECT n FROM ledger ORDER BY n");
  std::vector<std::pair<int64_t, int>> expected;
  for (int64_t n : committed) {
    for (int i = 0; i < kEventsPerTransaction; ++i) expected.emplace_back(n, i);
  }
  const std::vector<Received> got = read_topic(bus, "events.Ledgered", expected.size(), 60s);

  std::map<std::pair<int64_t, int>, size_t> index;  // (n, i) -> its place in commit order
  for (size_t k = 0; k < expected.size(); ++k) index[expected[k]] = k;
  std::map<std::pair<int64_t, int>, std::string> id_of;
  size_t next = 0;  // the first committed message not seen yet
  size_t resent = 0;
  for (const Received& r : got) {
    const std::pair<int64_t, int> key{r.body.at("n").get<int64_t>(), r.body.at("i").get<int>()};
    auto it = index.find(key);
    ASSERT_NE(it, index.end()) << "published but never committed: n " << key.first << " i " << key.second
                               << (key.first % 4 == 3 ? " (rolled back)" : " (killed before its commit)");
    auto [known, fresh] = id_of.emplace(key, r.envelope.message_id);
    if (fresh) {
      ASSERT_EQ(it->second, next) << "n " << key.first << " i " << key.second << " came before an earlier commit";
      ++next;
    } else {
      EXPECT_EQ(known->second, r.envelope.message_id) << "a resend must be the same message";
      ++resent;
    }
  }
  EXPECT_EQ(next, expected.size()) << "committed messages missing from the bus";
  std::set<std::string> ids;
  for (const auto& [key, id] : id_of) ids.insert(id);
  EXPECT_EQ(ids.size(), id_of.size()) << "two messages with one message-id";
  EXPECT_EQ(db.scalar("SELECT count(*) FROM shmbus_outbox WHERE sent_at IS NULL"), 0);
  // The windows were hit: kills at each point, and resends from the publish-before-mark one.
  EXPECT_GT(killed[0], 10);
  EXPECT_GT(killed[1], 10);
  EXPECT_GT(resent, 0u);
  std::printf("%zu committed transactions, %zu messages, %zu resent; killed after commit %d, after publish %d, "
              "at random %d\n",
              committed.size(), expected.size(), resent, killed[0], killed[1], killed[2]);
}

INSTANTIATE_TEST_SUITE_P(Stores, OutboxCrashTest, ::testing::Values(Backend::kSqlite, Backend::kPostgres),
                         [](const auto& info) { return std::string(name_of(info.param)); });

}  // namespace
}  // namespace shmbus::outbox::test
