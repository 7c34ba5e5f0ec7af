// The publish and poll hot paths allocate nothing: every operator new is counted.
#include <gtest/gtest.h>

#include <atomic>
#include <cstdlib>
#include <new>
#include <vector>

#include "shmbus/shmbus.h"
#include "support/test_bus.h"

namespace {
std::atomic<uint64_t> g_allocations{0};
}

void* operator new(std::size_t n) {
  g_allocations.fetch_add(1, std::memory_order_relaxed);
  if (void* p = std::malloc(n == 0 ? 1 : n)) return p;
  throw std::bad_alloc();
}
void operator delete(void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }

namespace shmbus {
namespace {

void publish_and_poll(Publisher& pub, Subscription& sub, Subscription& pattern, int rounds) {
  const Header headers[] = {{"type", "Tick"}};
  uint64_t seen = 0;
  for (int i = 0; i < rounds; ++i) {
    ASSERT_TRUE(pub.publish("payload-64-bytes-payload-64-bytes-payload-64-bytes-payload-64-by", headers));
    Result<Claim> c = pub.claim(16);
    ASSERT_TRUE(c);
    ASSERT_TRUE(pub.commit(*c));
    ASSERT_TRUE(sub.poll([&](const Message& m) { seen += m.payload.size(); }));
    ASSERT_TRUE(pattern.poll([&](const Message& m) { seen += m.payload.size(); }));
  }
  EXPECT_GT(seen, 0u);
}

TEST(HotPath, PublishAndPollAllocateNothing) {
  test::TempBus tb;
  Bus bus = tb.open();
  TopicConfig config;
  config.capacity = 1 << 16;  // small: the loop wraps the ring many times
  bus.create_topic("hot", config);
  Publisher pub = bus.publisher("hot");
  Subscription sub = bus.subscribe("hot");
  Subscription pattern = bus.subscribe("hot.#");
  publish_and_poll(pub, sub, pattern, 100);  // warm-up

  const uint64_t before = g_allocations.load();
  publish_and_poll(pub, sub, pattern, 20'000);
  const uint64_t after = g_allocations.load();

  EXPECT_EQ(after - before, 0u);
}

// HeaderFilter::matches is on a queue's delivery path: it looks headers up in place.
TEST(HotPath, HeaderFilterMatchesAllocatesNothing) {
  const HeaderFilter all = HeaderFilter::parse("type=OrderPlaced@2,region,x-ignored=1");
  const HeaderFilter any = HeaderFilter::parse("x-match=any-with-x,x-death-reason=rejected,kind=event");
  const Header headers[] = {{"message-id", "m-1"}, {"type", "OrderPlaced@2"}, {"region", "eu"}, {"kind", "event"}};
  std::vector<std::byte> block(encoded_headers_size(headers));
  encode_headers(headers, block);
  const HeadersView view(block);

  const uint64_t before = g_allocations.load();
  int matched = 0;
  for (int i = 0; i < 1000; ++i) matched += int{all.matches(view)} + int{any.matches(view)};
  const uint64_t after = g_allocations.load();

  EXPECT_EQ(matched, 2000);
  EXPECT_EQ(after - before, 0u);
}

}  // namespace
}  // namespace shmbus
