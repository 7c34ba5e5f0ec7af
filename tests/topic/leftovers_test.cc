// A ring is reused without zeroing, and a lap's frames start where the previous lap had payload.
// Payload that looks exactly like claimed or committed commit words of the next lap must not
// fool readers (kEmpty, not kPending/kCorrupt): the pair must carry the seq the tail had there.
#include <gtest/gtest.h>

#include <cstring>
#include <vector>

#include "log/record_format.h"
#include "shmbus/bus.h"
#include "support/test_bus.h"

namespace shmbus {
namespace {

using test::TempBus;

// 208 bytes of words that each decode as a frame claimed in lap 1 (pending or committed).
std::vector<std::byte> lap_one_lookalikes() {
  std::vector<std::byte> payload(208);
  for (size_t i = 0; i < payload.size() / 8; ++i) {
    const int32_t len = i % 2 ? 48 : -48;
    const uint64_t word = log::CommitWord{len, log::kTypeData, 0, /*epoch=*/1}.encode();
    std::memcpy(payload.data() + 8 * i, &word, 8);
  }
  return payload;
}

TEST(Leftovers, PayloadThatLooksLikeNextLapWordsIsNotMistakenForRecords) {
  constexpr uint64_t kRing = 64 << 10;
  TempBus tb;
  Bus bus = tb.open();
  bus.create_topic("left", test::ring_config(kRing, Policy::kBlock));
  Subscription sub = bus.subscribe("left", {StartAt::latest(), WaitStrategy::kSpin});
  Publisher pub = bus.publisher("left");

  // Lap 0: 240-byte frames full of lookalikes, read as they come so `block` never waits.
  const std::vector<std::byte> garbage = lap_one_lookalikes();
  uint64_t lap0 = 0;
  while (bus.stats("left").tail_position < kRing) {
    ASSERT_TRUE(pub.publish(garbage));
    Result<size_t> n = sub.poll([](const Message&) {}, 16);
    ASSERT_TRUE(n) << to_string(n.error());
    lap0 += *n;
  }
  ASSERT_TRUE(sub.poll([&](const Message&) { ++lap0; }));
  ASSERT_EQ(sub.position(), bus.stats("left").tail_position);

  // Lap 1 and on: 48-byte frames, whose starts land in the middle of lap 0's payloads. At the
  // tail the subscriber must see nothing, and each record must arrive exactly as published.
  for (uint64_t i = 0; i < 5000; ++i) {
    Result<size_t> idle = sub.poll([](const Message&) {}, 16);
    ASSERT_TRUE(idle) << "record " << i << ": " << to_string(idle.error());
    ASSERT_EQ(*idle, 0u) << "record " << i << ": leftovers were delivered";
    uint64_t payload[2] = {i, ~i};
    ASSERT_TRUE(pub.publish(std::as_bytes(std::span(payload)))) << "record " << i;
    uint64_t got[2] = {0, 0};
    size_t seen = 0;
    Result<size_t> n = sub.poll([&](const Message& m) {
      ASSERT_EQ(m.payload.size(), sizeof got);
      std::memcpy(got, m.payload.data(), sizeof got);
      ++seen;
    }, 16);
    ASSERT_TRUE(n) << "record " << i << ": " << to_string(n.error());
    ASSERT_EQ(seen, 1u) << "record " << i;
    ASSERT_EQ(got[0], i);
    ASSERT_EQ(got[1], ~i);
  }
  EXPECT_EQ(bus.stats("left").tail_seq, lap0 + 5000);
}

}  // namespace
}  // namespace shmbus
