// The registry's entry protocol, with states written straight into a table (bus_files.h).
#include <gtest/gtest.h>

#include <atomic>
#include <cstring>
#include <memory>
#include <string>
#include <thread>

#include "bus/registry.h"

namespace shmbus::bus {
namespace {

// A zeroed table, as a new registry file is.
std::unique_ptr<Registry> empty_registry() {
  auto r = std::make_unique<Registry>();
  std::memset(static_cast<void*>(r.get()), 0, sizeof(Registry));
  return r;
}

// Writes entry `index` as a writer would have left it: `state` at `version`, payload `name`.
void set_entry(Registry& r, uint32_t index, uint64_t state, uint64_t version, const std::string& name,
               int64_t created_ns = 7) {
  RegistryEntry& e = r.entries[index];
  e.created_ns = created_ns;
  e.name_len = static_cast<uint32_t>(name.size());
  std::memset(e.name, 0, sizeof e.name);
  std::memcpy(e.name, name.data(), name.size());
  e.word.store((version << kEntryVersionShift) | state, std::memory_order_relaxed);
  if (index >= r.high_water.load(std::memory_order_relaxed)) r.high_water.store(index + 1, std::memory_order_relaxed);
}

TEST(RegistryEntry, ReadyEntryIsCopiedWhole) {
  auto sut = empty_registry();
  set_entry(*sut, 0, kEntryReady, 2, "orders.eu", 42);
  EntryCopy copy;
  ASSERT_TRUE(read_entry(sut->entries[0], copy));
  EXPECT_EQ(copy.name(), "orders.eu");
  EXPECT_EQ(copy.created_ns, 42);
  EXPECT_EQ(entry_state(copy.word), kEntryReady);
  EXPECT_EQ(entry_version(copy.word), 2u);
}

TEST(RegistryEntry, WritingRemovedAndEmptyEntriesAreNotTopics) {
  auto sut = empty_registry();
  set_entry(*sut, 0, kEntryWriting, 1, "half.made");
  set_entry(*sut, 1, kEntryRemoved, 3, "gone");
  EntryCopy copy;
  EXPECT_FALSE(read_entry(sut->entries[0], copy));
  EXPECT_EQ(entry_state(copy.word), kEntryWriting);
  EXPECT_FALSE(read_entry(sut->entries[1], copy));
  EXPECT_EQ(entry_state(copy.word), kEntryRemoved);
  EXPECT_FALSE(read_entry(sut->entries[2], copy));
  EXPECT_EQ(copy.word, kEntryEmpty);
  EXPECT_EQ(find_entry(*sut, "gone"), kNoEntry);
  EXPECT_EQ(find_entry(*sut, "half.made"), kNoEntry);
}

TEST(RegistryEntry, DamagedNameLengthIsNotATopic) {
  auto sut = empty_registry();
  set_entry(*sut, 0, kEntryReady, 2, "x");
  sut->entries[0].name_len = 100000;
  EntryCopy copy;
  EXPECT_FALSE(read_entry(sut->entries[0], copy));
  EXPECT_EQ(copy.name_len, 0u);
}

TEST(RegistryEntry, DamagedHighWaterNeverSendsAScanOutOfBounds) {
  auto sut = empty_registry();
  sut->high_water.store(~0u, std::memory_order_relaxed);
  EXPECT_EQ(load_high_water(*sut), kMaxTopics);
  EXPECT_EQ(find_entry(*sut, "anything"), kNoEntry);
}

TEST(RegistryEntry, FillMakesReadyEntryAndBumpsGeneration) {
  auto sut = empty_registry();
  fill_entry(*sut, 0, "a.b", 0, 5);
  EntryCopy copy;
  ASSERT_TRUE(read_entry(sut->entries[0], copy));
  EXPECT_EQ(copy.name(), "a.b");
  EXPECT_EQ(entry_version(copy.word), 2u);  // Empty -> Writing -> Ready
  EXPECT_EQ(load_generation(*sut), 1u);
  EXPECT_EQ(load_high_water(*sut), 1u);
  EXPECT_EQ(sut->live.load(), 1u);
}

TEST(RegistryEntry, TombstoneKeepsNameButIsNoTopicAndBumpsGeneration) {
  auto sut = empty_registry();
  fill_entry(*sut, 0, "a.b", 0, 5);
  tombstone_entry(*sut, 0);
  const uint64_t word = load_entry_word(sut->entries[0]);
  EXPECT_EQ(entry_state(word), kEntryRemoved);
  EXPECT_EQ(entry_version(word), 3u);
  EXPECT_EQ(load_generation(*sut), 2u);
  EXPECT_EQ(find_entry(*sut, "a.b"), kNoEntry);
  EXPECT_EQ(sut->live.load(), 0u);
}

TEST(RegistryEntry, FreeEntryReusesTheLowestTombstoneBeforeTheHighWater) {
  auto sut = empty_registry();
  set_entry(*sut, 0, kEntryReady, 2, "a");
  set_entry(*sut, 1, kEntryRemoved, 3, "b");
  set_entry(*sut, 2, kEntryRemoved, 3, "c");
  set_entry(*sut, 3, kEntryReady, 2, "d");
  EXPECT_EQ(free_entry(*sut), 1u);
  fill_entry(*sut, 1, "e", 0, 9);
  EXPECT_EQ(free_entry(*sut), 2u);
  EXPECT_EQ(load_high_water(*sut), 4u);  // reuse does not move it
  EXPECT_EQ(entry_version(load_entry_word(sut->entries[1])), 5u);
}

TEST(RegistryEntry, WritingEntryLeftByADeadFillerIsReused) {
  auto sut = empty_registry();
  set_entry(*sut, 0, kEntryWriting, 1, "");
  EXPECT_EQ(free_entry(*sut), 0u);
}

TEST(RegistryEntry, FullTableHasNoFreeEntry) {
  auto sut = empty_registry();
  for (uint32_t i = 0; i < kMaxTopics; ++i) set_entry(*sut, i, kEntryReady, 2, "t" + std::to_string(i));
  EXPECT_EQ(free_entry(*sut), kNoEntry);
  set_entry(*sut, 4000, kEntryRemoved, 3, "t4000");
  EXPECT_EQ(free_entry(*sut), 4000u);
}

TEST(RegistryEntry, VersionGoesUpOnEveryChangeSoAReusedEntryNeverLooksTheSame) {
  auto sut = empty_registry();
  fill_entry(*sut, 0, "same.name", 0, 1);
  const uint64_t first = load_entry_word(sut->entries[0]);
  tombstone_entry(*sut, 0);
  fill_entry(*sut, 0, "same.name", 0, 1);
  const uint64_t second = load_entry_word(sut->entries[0]);
  EXPECT_EQ(entry_state(second), kEntryReady);
  EXPECT_NE(first, second);
  EXPECT_EQ(entry_version(second), entry_version(first) + 3);
}

// A reader copying while a writer refills the same entry never gets a mix of two names: every
// whole copy is one fill's (name of one repeated letter, created_ns that letter).
TEST(RegistryEntry, CopiesRacingARefillAreWholeOrDropped) {
  auto sut = empty_registry();
  fill_entry(*sut, 0, std::string(200, 'a'), 0, 'a');
  constexpr int kRefills = 20000;
  std::atomic<bool> done{false};
  std::thread writer([&] {
    for (int i = 0; i < kRefills; ++i) {
      const char c = static_cast<char>('a' + i % 26);
      tombstone_entry(*sut, 0);
      fill_entry(*sut, 0, std::string(static_cast<size_t>(100 + i % 100), c), 0, c);
    }
    done.store(true, std::memory_order_release);
  });
  uint64_t whole = 0, torn = 0;
  EntryCopy copy;
  while (!done.load(std::memory_order_acquire)) {
    if (!read_entry(sut->entries[0], copy)) {
      ++torn;
      continue;
    }
    ++whole;
    const std::string_view name = copy.name();
    ASSERT_GE(name.size(), 100u);
    ASSERT_EQ(static_cast<int64_t>(name[0]), copy.created_ns);
    ASSERT_EQ(name.find_first_not_of(name[0]), std::string_view::npos) << name;
  }
  writer.join();
  EXPECT_GT(whole + torn, 0u);
}

}  // namespace
}  // namespace shmbus::bus
