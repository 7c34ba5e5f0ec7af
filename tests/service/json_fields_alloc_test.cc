// The direct codec allocates only what the message itself holds: decode<T> the struct's
// strings past the small-string buffer and its vectors' room, encode<T> the result string once.
// Counted by replacing the global operator new in this binary alone.
#include <gtest/gtest.h>

#include <cstdlib>
#include <new>
#include <string>
#include <vector>

#include "shmbus/service/service.h"

// GCC sees the replaced new and delete inlined as malloc and free paired with new: they are
// this file's own pair.
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"

namespace {
thread_local long allocations = 0;  // this thread's, so gtest's own threads do not count
}  // namespace

void* operator new(std::size_t n) {
  ++allocations;
  if (void* p = std::malloc(n == 0 ? 1 : n)) return p;
  throw std::bad_alloc();
}
void operator delete(void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }

namespace alloc_test {
struct Order {
  int64_t order = 0;
  std::string customer;  // short: in the string itself
  std::string sku;
  int quantity = 0;
  double amount = 0;
  std::string note;      // long when the test says so: one allocation of its own
  std::vector<int> lines;
};
SHMBUS_FIELDS(Order, order, customer, sku, quantity, amount, note, lines)
}  // namespace alloc_test
SHMBUS_MESSAGE(alloc_test::Order, "AllocOrder", 1, command);

namespace shmbus::service {
namespace {

long allocations_of(auto&& f) {
  const long before = allocations;
  f();
  return allocations - before;
}

TEST(JsonFieldsAlloc, WarmDecodeAllocatesOnlyTheMessagesOwn) {
  const std::string small = R"({"amount":129.95,"customer":"customer-00042","lines":[],"note":"ring twice","order":1000001,"quantity":3,"sku":"SKU-778899","unknown":{"a":["b",1]}})";
  const std::string big = R"({"amount":1,"customer":"c","lines":[1,2,3],"note":"a note far longer than any small-string buffer holds","order":2,"quantity":1,"sku":"s"})";
  for (int warm = 0; warm < 3; ++warm) {
    (void)decode<alloc_test::Order>(small);
    (void)decode<alloc_test::Order>(big);
  }
  EXPECT_EQ(allocations_of([&] { EXPECT_EQ(decode<alloc_test::Order>(small).quantity, 3); }), 0);
  // What the message's own members cost built by hand: the long note, the vector as it grows.
  const long own = allocations_of([] {
    std::string note = "a note far longer than any small-string buffer holds";
    std::vector<int> lines;
    for (int i = 1; i <= 3; ++i) lines.push_back(i);
  });
  EXPECT_GE(own, 2);
  EXPECT_EQ(allocations_of([&] { EXPECT_EQ(decode<alloc_test::Order>(big).lines.size(), 3u); }), own);
}

TEST(JsonFieldsAlloc, WarmEncodeAllocatesTheResultOnce) {
  const alloc_test::Order order{1000001, "customer-00042", "SKU-778899", 3, 129.95, "ring twice", {1, 2}};
  for (int warm = 0; warm < 3; ++warm) (void)encode(order);
  std::string text;
  EXPECT_EQ(allocations_of([&] { text = encode(order); }), 1);
  EXPECT_EQ(text, nlohmann::json(order).dump());
}

}  // namespace
}  // namespace shmbus::service
