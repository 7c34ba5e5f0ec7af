// The publisher behind shmbus::Publisher: claim with backpressure, fill, commit, wake.
#pragma once

#include <memory>
#include <span>
#include <string>

#include "log/claim.h"
#include "shmbus/publisher.h"
#include "base/realtime_clock.h"
#include "topic/slots.h"
#include "topic/topic_handle.h"

namespace shmbus::detail {

class PublisherImpl {
 public:
  // `doorbell`: the bus-wide wake-up of pattern subscribers (may be null); `keep_alive` holds
  // whatever maps it.
  PublisherImpl(std::shared_ptr<topic::TopicHandle> topic, base::Wakeup* doorbell, std::shared_ptr<void> keep_alive);
  ~PublisherImpl();
  PublisherImpl(const PublisherImpl&) = delete;
  PublisherImpl& operator=(const PublisherImpl&) = delete;

  // `wait_durable` false: on an fsync `always` journal, return once committed (pipelined).
  Result<uint64_t> publish(std::span<const std::byte> payload, std::span<const Header> headers, bool may_wait,
                           bool wait_durable = true) noexcept;
  Result<Claim> claim(size_t payload_bytes, std::span<const Header> headers, bool may_wait) noexcept;
  Result<uint64_t> commit(Claim& claim, bool wait_durable = true) noexcept;
  uint64_t durable_position() const noexcept;
  Result<uint64_t> wait_durable(uint64_t position, std::chrono::nanoseconds timeout) noexcept;
  void abort(Claim& claim) noexcept;

  size_t max_payload() const noexcept { return max_record_ - log::kHeaderBytes; }
  // Publisher::explain(): slow path, allocates (publish_explain.cc).
  std::string explain(Errc error) const;
  const std::string& topic() const noexcept { return topic_->name(); }
  Policy policy() const noexcept { return policy_; }
  // Keeps the topic's mappings alive (for views of claimed frames that outlive a call).
  std::shared_ptr<const void> mapping_keepalive() const noexcept { return topic_; }

 private:
  Result<void> claim_frame(size_t record_len, uint8_t flags, bool may_wait, log::ClaimedFrame& out) noexcept;
  bool has_space(uint64_t end) noexcept;
  Result<void> wait_for_space(uint64_t end) noexcept;
  void write_header(const log::ClaimedFrame& c, std::span<const Header> headers, size_t headers_len) noexcept;
  void after_commit(size_t payload_bytes) noexcept;
  Errc abandoned() noexcept;  // counts a claim lost to an unblocker or a lap, clears our intent
  // True if the tail is more than a lap past `position`: our claim's bytes belong to a newer lap.
  bool stale_after_a_lap(uint64_t position) const noexcept;
  static log::ClaimedFrame frame_of(const Claim& claim) noexcept;

  std::shared_ptr<topic::TopicHandle> topic_;
  std::shared_ptr<void> keep_alive_;
  topic::TopicMeta& meta_;
  base::Wakeup* doorbell_;
  // Before handle_: a refused single publisher takes no slot.
  topic::SinglePublisherHold single_hold_;
  topic::SlotHandle handle_;
  log::LogStorage storage_;
  Policy policy_;
  uint64_t lap_;
  log::Storage& hooks_;     // the storage's per-record hooks (seal, after_commit, durable_through)
  bool seals_;              // records carry a CRC32C; after_commit() wants each one
  bool durable_on_commit_;  // commit() returns once the record is durable (journal, fsync `always`)
  uint64_t max_record_;
  // Single-publisher topics: we claim and commit by plain stores, knowing the tail; the wake-up
  // after a commit needs a fence of its own unless this process takes part in heavy_fence().
  bool single_;
  bool light_fence_;
  log::TailValue tail_value_{};
  // The sizes of the last record refused as too large (for explain()); SIZE_MAX: none yet.
  size_t refused_payload_ = SIZE_MAX;
  size_t refused_headers_ = 0;
  // Cached copy of the slowest subscriber's position (rigtorp's cached index): the slots are
  // scanned again only when the cache says "no space" or a subscriber attached.
  uint64_t min_position_cache_ = 0;
  uint64_t subscriber_generation_cache_ = ~0ull;
  uint64_t published_ = 0;
  uint64_t bytes_ = 0;
  base::RealtimeClock clock_;  // record timestamps
};

}  // namespace shmbus::detail
