// A queue as one process sees it: its config (in the bus directory) and, per bound journal
// topic, the topic and the queue's state file beside its segments.
#pragma once

#include <atomic>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "bus/bus_state.h"
#include "log/log_storage.h"
#include "messaging/queue_file.h"
#include "shmbus/header_filter.h"
#include "shmbus/queue.h"
#include "topic/publisher_impl.h"
#include "topic/topic_handle.h"

namespace shmbus::detail {

// One bound topic: the topic's log and the queue's state for it.
struct BoundTopic {
  std::string name;
  std::shared_ptr<topic::TopicHandle> topic;
  std::shared_ptr<messaging::QueueFileHandle> state;
};

// The record an entry below D points at, as slow paths (stats, cancel) read it; nullopt if it
// is not readable as a record now. `log` is the caller's copy (its own segment cache).
struct QueuedRecord {
  HeadersView headers;
  int64_t timestamp_ns = 0;
};
std::optional<QueuedRecord> read_queued(log::LogStorage& log, const BoundTopic& t, uint64_t seq) noexcept;

class QueueImpl : public std::enable_shared_from_this<QueueImpl> {
 public:
  // Creates `<bus>/queues/<name>` with `config` (or checks that an existing one has the same
  // bindings), then makes the state files of the journal topics that match. Throws Error.
  static std::shared_ptr<QueueImpl> create(std::shared_ptr<bus::BusState> bus, std::string_view name,
                                           const QueueConfig& config);
  // Opens an existing queue. Throws Error (kNotFound) if there is none.
  static std::shared_ptr<QueueImpl> open(std::shared_ptr<bus::BusState> bus, std::string_view name);
  static bool remove(bus::BusState& bus, std::string_view name);
  static std::vector<std::string> list(const bus::BusState& bus);

  const std::string& name() const noexcept { return name_; }
  const QueueConfig& config() const noexcept { return config_; }
  // False when the queue takes every record of its topics (no header filter).
  bool filters() const noexcept { return filters_; }
  const HeaderFilter& filter() const noexcept { return filter_; }
  bus::BusState& bus() const noexcept { return *bus_; }
  std::shared_ptr<bus::BusState> bus_ptr() const noexcept { return bus_; }
  // Attaches topics created since the last call that match a binding (registry generation).
  // Set-up path: allocates, may throw. Returns the bound topics (stable: only appended to).
  void refresh();
  bool registry_changed() const noexcept;
  size_t topic_count() const noexcept;
  BoundTopic& topic_at(size_t i) noexcept;
  QueueStats stats();
  uint64_t purge();
  uint64_t cancel(std::string_view message_id);
  // Appends to <name>.dlq (a journal topic, created on first use). Thread-safe; slow path:
  // allocates and may throw Error (the topic cannot be made).
  Result<uint64_t> publish_dead_letter(std::span<const std::byte> payload, std::span<const Header> headers);

 private:
  void bind_topic(const std::string& name);
  std::shared_ptr<bus::BusState> bus_;
  std::string name_;
  QueueConfig config_;
  HeaderFilter filter_;
  bool filters_ = false;
  int64_t created_ns_ = 0;
  mutable std::mutex mu_;  // bound_ (set-up path; consumers copy what they need)
  std::vector<std::unique_ptr<BoundTopic>> bound_;
  // bound_.size(), for topic_count() without mu_ (a consumer asks at every poll): stored with
  // release after the push_back, under mu_; pairs with topic_count()'s acquire, whose caller
  // then takes mu_ in topic_at() for the new element.
  std::atomic<size_t> bound_count_{0};
  std::atomic<uint64_t> seen_generation_{~0ull};  // written under mu_; read by registry_changed()
  std::mutex dlq_mu_;
  std::unique_ptr<PublisherImpl> dlq_;
};

}  // namespace shmbus::detail
