// Subscription::commit(position): a named cursor moved to a chosen record while reading goes on
// ahead (what the bridge's outbound link does with publisher confirms).
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "shmbus/shmbus.h"
#include "support/test_bus.h"

namespace shmbus {
namespace {

TopicConfig journal() {
  TopicConfig c;
  c.kind = TopicKind::kJournal;
  c.segment_bytes = 1u << 20;
  return c;
}

SubscribeOptions manual_cursor() {
  SubscribeOptions o{StartAt::earliest()};
  o.cursor = "outbox";
  o.commit = CommitMode::kManual;
  return o;
}

// Publishes n records "0".."n-1" and returns their positions.
std::vector<uint64_t> publish(Bus& bus, int n) {
  Publisher pub = bus.publisher("orders");
  std::vector<uint64_t> positions;
  for (int i = 0; i < n; ++i) positions.push_back(*pub.publish(std::to_string(i)));
  return positions;
}

std::vector<std::string> drain(Subscription& sub) {
  std::vector<std::string> texts;
  while (*sub.poll([&](const Message& m) { texts.emplace_back(m.text()); }) > 0) {
  }
  return texts;
}

TEST(CommitPosition, ResumesAtTheFirstRecordNotDone) {
  test::TempBus tb;
  Bus bus = tb.open();
  ASSERT_TRUE(bus.create_topic("orders", journal()));
  const std::vector<uint64_t> at = publish(bus, 10);
  {
    Subscription sut = bus.subscribe("orders", manual_cursor());
    ASSERT_EQ(drain(sut).size(), 10u);  // read ahead: all ten

    Result<void> r = sut.commit(at[4]);  // 0..3 done, 4 is the first not done

    ASSERT_TRUE(r);
    TopicStats s = bus.stats("orders");
    ASSERT_EQ(s.cursors.size(), 1u);
    EXPECT_EQ(s.cursors[0].position, at[4]);
    EXPECT_EQ(s.cursors[0].lag_records, 6u);
  }
  Subscription again = bus.subscribe("orders", manual_cursor());
  std::vector<std::string> rest = drain(again);
  ASSERT_EQ(rest.size(), 6u);
  EXPECT_EQ(rest.front(), "4");
}

TEST(CommitPosition, PositionCommitsEverythingRead) {
  test::TempBus tb;
  Bus bus = tb.open();
  ASSERT_TRUE(bus.create_topic("orders", journal()));
  static_cast<void>(publish(bus, 3));
  Subscription sut = bus.subscribe("orders", manual_cursor());
  ASSERT_EQ(drain(sut).size(), 3u);

  ASSERT_TRUE(sut.commit(sut.position()));

  EXPECT_EQ(bus.stats("orders").cursors[0].lag_records, 0u);
}

TEST(CommitPosition, BackwardsAheadOrNotARecordIsInvalidArgument) {
  test::TempBus tb;
  Bus bus = tb.open();
  ASSERT_TRUE(bus.create_topic("orders", journal()));
  const std::vector<uint64_t> at = publish(bus, 5);
  Subscription sut = bus.subscribe("orders", manual_cursor());
  ASSERT_EQ(*sut.poll([](const Message&) {}, 3), 3u);  // read 0..2, position() = at[3]
  ASSERT_TRUE(sut.commit(at[2]));

  Result<void> backwards = sut.commit(at[1]);
  Result<void> unread = sut.commit(at[4]);
  Result<void> inside = sut.commit(at[2] + 8);

  ASSERT_FALSE(backwards);
  EXPECT_EQ(backwards.error(), Errc::kInvalidArgument);
  ASSERT_FALSE(unread);
  EXPECT_EQ(unread.error(), Errc::kInvalidArgument);
  ASSERT_FALSE(inside);
  EXPECT_EQ(inside.error(), Errc::kInvalidArgument);
  EXPECT_EQ(bus.stats("orders").cursors[0].position, at[2]);  // untouched by the refusals
}

TEST(CommitPosition, WithoutANamedCursorIsInvalidArgument) {
  test::TempBus tb;
  Bus bus = tb.open();
  Subscription topic = bus.subscribe("prices");
  Subscription pattern = bus.subscribe("prices.#");

  EXPECT_EQ(topic.commit(0).error(), Errc::kInvalidArgument);
  EXPECT_EQ(pattern.commit(0).error(), Errc::kInvalidArgument);
  EXPECT_EQ(Subscription().commit(0).error(), Errc::kClosed);
}

}  // namespace
}  // namespace shmbus
