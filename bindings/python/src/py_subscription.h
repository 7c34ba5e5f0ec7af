// shmbus.Subscription (one topic or a pattern) and shmbus.Message.
#pragma once

#include <pybind11/pybind11.h>

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <variant>
#include <vector>

#include "py_closeable.h"
#include "shmbus/pattern_subscriber.h"
#include "shmbus/subscriber.h"

namespace shmbus::detail {
class SubscriberImpl;
}

namespace shmbus::python {

// A record as Python sees it. `data` is a read-only memoryview into the ring for `block`/`fail`
// topics (valid until the next message is taken from the same subscription: the subscription
// keeps publishers off it until then), and bytes for `overwrite` topics, whose ring bytes may be
// overwritten at any moment.
struct PyMessage {
  py::str topic;
  uint64_t position = 0;
  uint64_t seq = 0;
  int64_t timestamp_ns = 0;
  py::dict headers;
  py::object data;
};

class PySubscription : public Closeable {
 public:
  // `auto_commit`: a named cursor moves when the next messages are taken (and at close), i.e.
  // once the program has had the previous ones: at-least-once even if it dies mid-batch.
  explicit PySubscription(Subscriber subscriber, bool auto_commit = false);
  explicit PySubscription(PatternSubscriber subscriber);

  // Up to `max` messages; waits up to `timeout` seconds (None: for ever, 0: not at all) for the
  // first. Ctrl-C interrupts the wait within 50 ms. Empty if the subscription was closed.
  py::list take(size_t max, std::optional<double> timeout);
  py::object poll(std::optional<double> timeout);  // one Message, or None on timeout
  py::object next();                               // iteration: blocks; StopIteration when closed
  // True once a message is ready (consumes nothing; for asyncio, which polls on its own thread).
  bool wait(std::optional<double> timeout);

  void commit();  // named cursor: past every message taken so far
  uint64_t received();
  uint64_t lost();
  py::object position();  // single-topic subscriptions only, else None
  std::string name();     // the topic or the pattern
  size_t topic_count();
  py::list skipped_topics();  // pattern subscriptions: [(topic, error)] of topics that cannot be opened
  bool closed();
  void close() override;

 private:
  Result<size_t> poll_raw(MessageHandler handler, size_t max) noexcept;
  Result<void> wait_raw(std::chrono::nanoseconds timeout) noexcept;
  detail::SubscriberImpl* source() noexcept;  // the topic subscriber of the message being delivered
  PyMessage to_python(const Message& m);
  void release_holds() noexcept;
  void commit_raw();  // holds mu_
  bool is_open() const noexcept;

  std::mutex mu_;                         // one call at a time (the C++ objects are single-threaded)
  std::atomic<bool> closing_{false};      // lets close() end a wait in progress on another thread
  std::variant<std::monostate, Subscriber, PatternSubscriber> subscriber_;
  bool auto_commit_ = false;
  std::vector<detail::SubscriberImpl*> held_;  // topic subscribers holding the last message's record
  // Per topic subscriber: its name as a Python str and a memoryview of its whole ring, which
  // messages slice (one object per message instead of an exporter and a view).
  struct SourceCache {
    detail::SubscriberImpl* source;
    py::str topic;
    py::object ring;
  };
  std::vector<SourceCache> sources_;
  SourceCache& cache_for(detail::SubscriberImpl* src);
};

void register_subscription(py::module_& m);

}  // namespace shmbus::python
