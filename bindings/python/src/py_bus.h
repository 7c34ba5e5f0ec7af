// shmbus.Bus: opens a bus, creates topics, hands out publishers and subscriptions.
#pragma once

#include <pybind11/pybind11.h>

#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "py_closeable.h"
#include "py_publisher.h"
#include "py_queue.h"
#include "py_subscription.h"
#include "shmbus/bus.h"

namespace shmbus::python {

class PyBus {
 public:
  PyBus(const std::string& name_or_path, bool create, std::optional<std::string> group);

  bool create_topic(const std::string& name, std::optional<uint64_t> capacity, std::optional<std::string> policy,
                    std::optional<double> unblock_timeout, std::optional<double> subscriber_timeout,
                    const std::string& kind, std::optional<std::string> dir, std::optional<uint64_t> segment_size,
                    const std::string& fsync, std::optional<uint64_t> retain_bytes, std::optional<double> retain_age,
                    bool single_publisher);
  bool topic_exists(const std::string& name);
  std::vector<std::string> topics();
  TopicStats stats(const std::string& name);  // a shmbus.TopicStats (py_stats.h)
  std::shared_ptr<PyPublisher> publisher(const std::string& topic);
  // `name`: a topic, or a pattern (`*`, `#`). `start`: "earliest", "latest", a position (int) or
  // a time (datetime); `wait`: "block", "yield" or "spin"; `cursor`: a named cursor (one journal
  // topic; refused with a pattern), `commit`: "auto" | "manual".
  std::shared_ptr<PySubscription> subscribe(const std::string& name, py::handle start, const std::string& wait,
                                            std::optional<std::string> cursor, const std::string& commit);
  void set_cursor(const std::string& topic, const std::string& name, py::handle where);
  bool remove_cursor(const std::string& topic, const std::string& name);
  bool remove_topic(const std::string& name, bool force);
  // Durable queues (shmbus/queue.h). `lease` in seconds; `retry` as RetryPolicy::parse() reads it.
  std::shared_ptr<PyQueue> create_queue(const std::string& name, const std::vector<std::string>& bindings,
                                        uint32_t max_deliveries, double lease, std::optional<std::string> retry,
                                        const std::string& filter, const std::string& ordering_key, bool single_active,
                                        double dedup_window, const std::string& expired);
  std::shared_ptr<PyQueue> queue(const std::string& name);
  std::vector<std::string> queues();
  bool remove_queue(const std::string& name);
  std::string path();
  bool closed();
  // Closes the publishers and subscriptions it handed out, then itself.
  void close();

 private:
  Bus& bus();
  void adopt(const std::shared_ptr<Closeable>& child);

  std::mutex mu_;
  std::optional<Bus> bus_;
  std::vector<std::weak_ptr<Closeable>> children_;
};

void register_bus(py::module_& m);

}  // namespace shmbus::python
