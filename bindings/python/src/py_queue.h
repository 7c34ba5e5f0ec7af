// shmbus.Queue, shmbus.Consumer and shmbus.Delivery: durable queues (shmbus/queue.h) from Python.
#pragma once

#include <pybind11/pybind11.h>

#include <atomic>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "py_closeable.h"
#include "shmbus/queue.h"

namespace shmbus::python {

class PyConsumer;

// One delivery. `payload` is a read-only memoryview into the topic's journal: it keeps the
// record mapped for as long as the view (or this Delivery) lives, settled or not.
struct PyDelivery {
  std::shared_ptr<Delivery> delivery;  // the lease; the memoryview holds it too
  const PyConsumer* owner = nullptr;   // settled only through the consumer that received it
  py::str topic;
  uint64_t position = 0;
  uint64_t seq = 0;
  int64_t timestamp_ns = 0;
  uint32_t attempt = 0;
  py::dict headers;
  py::object payload;
  std::string message_id;
  bool settled() const noexcept { return !*delivery; }
};

// The verbs of shmbus::Consumer; one call at a time (a mutex, waited on without the GIL).
class PyConsumer : public Closeable {
 public:
  PyConsumer(Consumer consumer, std::string queue, uint32_t prefetch);

  py::object try_receive();                           // a Delivery, or None; never waits
  py::object receive(std::optional<double> timeout);  // waits (None: for ever); None on timeout
  void ack(PyDelivery& d);
  void nack(PyDelivery& d, std::optional<double> delay, const std::string& error);
  void reject(PyDelivery& d, const std::string& error);
  void extend(PyDelivery& d);
  void sync();
  void release(PyDelivery& d);
  uint32_t held();
  const std::string& queue() const noexcept { return queue_; }
  bool closed();
  void close() override;  // unsettled deliveries go back uncharged

 private:
  enum class Verb { kAck, kNack, kReject, kExtend, kRelease };
  void settle(PyDelivery& d, Verb verb, std::optional<std::chrono::nanoseconds> delay, const std::string& error);
  py::object take(std::optional<double> timeout);
  py::object to_python(Delivery d);

  std::mutex mu_;
  std::atomic<bool> closing_{false};  // ends a wait on another thread within a slice
  std::optional<Consumer> consumer_;
  std::string queue_;
  uint32_t prefetch_;
};

// A queue handle: its consumers are closed with it (and with the Bus).
class PyQueue : public Closeable {
 public:
  explicit PyQueue(Queue queue);
  std::string name();
  std::shared_ptr<PyConsumer> consumer(uint32_t prefetch);
  QueueStats stats();  // a shmbus.QueueStats (py_stats.h)
  uint64_t purge();
  uint64_t cancel(const std::string& message_id);
  void close() override;

 private:
  Queue& open_queue();
  std::mutex mu_;
  std::optional<Queue> queue_;
  std::string name_;
  std::vector<std::weak_ptr<PyConsumer>> consumers_;
};

// QueueConfig from Python's keyword arguments (Bus.create_queue).
// The queue options beyond the bindings, as Python passes them (seconds as floats).
struct PyQueueOptions {
  uint32_t max_deliveries = QueueConfig{}.max_deliveries;
  double lease = 30.0;
  std::optional<std::string> retry;
  std::string filter;
  std::string ordering_key;
  bool single_active = false;
  double dedup_window = 0;
  std::string expired = "dead-letter";
};
QueueConfig queue_config(const std::vector<std::string>& bindings, const PyQueueOptions& o);

void register_queue(py::module_& m);

}  // namespace shmbus::python
