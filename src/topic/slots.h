// Publisher and subscriber slots in a topic's meta: attach, detach, liveness, eviction.
#pragma once

#include <cstdint>

#include "topic/topic_meta.h"

namespace shmbus::topic {

struct SlotHandle {
  uint32_t index = 0;
  uint64_t owner = 0;       // our token
  uint64_t generation = 0;  // subscriber slots: changes if we are evicted
};

// Takes a free slot, or one whose owner died. Throws Error if all are taken by live processes.
SlotHandle attach_publisher(TopicMeta& meta, const char* topic);
void detach_publisher(TopicMeta& meta, const SlotHandle& slot) noexcept;

// Single-publisher topics: takes the topic for this process's publisher (free, or its holder
// died). Throws Error (kInUse) naming the live holder otherwise, this process included.
void take_single_publisher(TopicMeta& meta, const char* topic);
void release_single_publisher(TopicMeta& meta) noexcept;

// Holds a single-publisher topic for as long as it lives (nothing when the topic takes many).
class SinglePublisherHold {
 public:
  SinglePublisherHold(TopicMeta& meta, const char* topic) : meta_(meta.config.single_publisher ? &meta : nullptr) {
    if (meta_ != nullptr) take_single_publisher(*meta_, topic);
  }
  ~SinglePublisherHold() {
    if (meta_ != nullptr) release_single_publisher(*meta_);
  }
  SinglePublisherHold(const SinglePublisherHold&) = delete;
  SinglePublisherHold& operator=(const SinglePublisherHold&) = delete;
  bool held() const noexcept { return meta_ != nullptr; }

 private:
  TopicMeta* meta_;
};

// Attaches a subscriber whose next read is at `position`; `follows_registry` for one a pattern
// subscriber owns (it does not hold the topic against removal).
SlotHandle attach_subscriber(TopicMeta& meta, const char* topic, uint64_t position, bool follows_registry = false);
void detach_subscriber(TopicMeta& meta, const SlotHandle& slot) noexcept;
// True while the slot is still ours (not evicted). Two relaxed loads of our own line.
bool still_attached(const TopicMeta& meta, const SlotHandle& slot) noexcept;

// Lowest position of an attached subscriber, or `none` if there is none.
uint64_t min_subscriber_position(const TopicMeta& meta, uint64_t none) noexcept;

// Evicts subscribers whose process died, and those that hold the log below `blocking_below`
// whose heartbeat is older than the topic's subscriber timeout. Returns how many.
uint32_t evict_subscribers(TopicMeta& meta, uint64_t blocking_below, int64_t now_ns) noexcept;

// Lowest position a publisher is claiming at (its intent), or `none`. A claim lands at or after it.
uint64_t min_publisher_intent(const TopicMeta& meta, uint64_t none) noexcept;
// True if a live publisher's intent lies in [from, to): its claim there may still commit.
bool live_claimant(const TopicMeta& meta, uint64_t from, uint64_t to) noexcept;

uint32_t attached_publishers(const TopicMeta& meta) noexcept;
uint32_t attached_subscribers(const TopicMeta& meta) noexcept;

}  // namespace shmbus::topic
