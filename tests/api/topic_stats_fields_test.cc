// The one table of TopicStats fields (shmbus/topic_stats_fields.h).
#include <gtest/gtest.h>

#include <cstdint>
#include <set>
#include <span>
#include <string>
#include <type_traits>
#include <vector>

#include "shmbus/shmbus.h"
#include "support/test_bus.h"

namespace shmbus {
namespace {

// A new member of TopicStats must get its row in the table: this trips when the struct grows
// (the size is libstdc++'s on x86-64, where CI builds).
#if defined(__GLIBCXX__) && defined(__x86_64__)
static_assert(sizeof(TopicStats) == 328, "TopicStats changed: add the field to shmbus/topic_stats_fields.h, "
                                         "then update this size");
#endif

std::vector<StatField> fields_of(const TopicStats& s) {
  std::vector<StatField> out;
  for_each_field(s, [&](const StatField& f, const auto&) { out.push_back(f); });
  return out;
}

TEST(TopicStatsFields, NamesAreUniqueSnakeCaseAndDescribed) {
  std::set<std::string> seen;
  for (const StatField& f : fields_of(TopicStats{})) {
    EXPECT_TRUE(seen.insert(std::string(f.name)).second) << f.name;
    EXPECT_EQ(f.name.find_first_not_of("abcdefghijklmnopqrstuvwxyz_"), std::string_view::npos) << f.name;
    EXPECT_FALSE(f.description.empty()) << f.name;
  }
  EXPECT_EQ(seen.size(), 31u);
}

TEST(TopicStatsFields, JournalFieldsDoNotApplyToMemoryTopics) {
  size_t memory = 0, journal = 0;
  for (const StatField& f : fields_of(TopicStats{})) {
    memory += applies(f, TopicKind::kMemory);
    journal += applies(f, TopicKind::kJournal);
  }
  EXPECT_EQ(memory, 14u);
  EXPECT_EQ(journal, 31u);
}

TEST(TopicStatsFields, ValuesAreThoseOfTheTopic) {
  test::TempBus tb;
  Bus bus = tb.open();
  Publisher pub = bus.publisher("counted");
  ASSERT_TRUE(pub.publish("12345"));
  const TopicStats sut = bus.stats("counted");
  uint64_t published = 0, bytes = 0;
  std::string name, kind;

  for_each_field(sut, [&](const StatField& f, const auto& value) {
    using V = std::decay_t<decltype(value)>;
    if constexpr (std::is_same_v<V, uint64_t>) {
      if (f.name == "published") published = value;
      if (f.name == "bytes") bytes = value;
    } else if constexpr (std::is_same_v<V, std::string_view>) {
      if (f.name == "name") name = value;
      if (f.name == "kind") kind = value;
    }
  });

  EXPECT_EQ(published, 1u);
  EXPECT_EQ(bytes, 5u);
  EXPECT_EQ(name, "counted");
  EXPECT_EQ(kind, "memory");
}

TEST(TopicStatsFields, CursorFieldsAreVisitedPerCursor) {
  TopicStats s;
  s.kind = TopicKind::kJournal;
  s.cursors.push_back(CursorStats{"billing", 64, 10, 2, 7, true});
  size_t cursors = 0;
  std::vector<std::string> names;

  for_each_field(s, [&](const StatField& f, const auto& value) {
    if constexpr (std::is_same_v<std::decay_t<decltype(value)>, std::span<const CursorStats>>) {
      EXPECT_EQ(f.unit, StatUnit::kList);
      for (const CursorStats& c : value) {
        ++cursors;
        for_each_field(c, [&](const StatField& cf, const auto&) { names.emplace_back(cf.name); });
      }
    }
  });

  EXPECT_EQ(cursors, 1u);
  EXPECT_EQ(names, (std::vector<std::string>{"name", "position", "lag_bytes", "lag_records", "committed_ns", "in_use"}));
}

}  // namespace
}  // namespace shmbus
