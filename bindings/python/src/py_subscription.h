// shmbus.Subscription (one topic or a pattern) and shmbus.Message.
#pragma once

#include <pybind11/pybind11.h>

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <vector>

#include "py_closeable.h"
#include "shmbus/subscription.h"

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

// The verbs are C++'s (shmbus/subscription.h): poll() never waits, receive() waits,
// try_receive() takes one if one is there.
class PySubscription : public Closeable {
 public:
  // `auto_commit`: a named cursor moves when the next messages are taken (and at close), i.e.
  // once the program has had the previous ones: at-least-once even if it dies mid-batch.
  explicit PySubscription(Subscription subscription, bool auto_commit = false);

  // Up to `max` messages; waits up to `timeout` seconds (None: for ever, 0: not at all) for the
  // first. Ctrl-C interrupts the wait within 50 ms. Empty if the subscription was closed.
  py::list take(size_t max, std::optional<double> timeout);
  py::list poll(size_t max) { return take(max, 0.0); }     // what is ready now; never waits
  py::object try_receive();                                // one Message, or None; never waits
  py::object receive(std::optional<double> timeout);       // one Message, or None on timeout
  py::object next();                                       // iteration: blocks; StopIteration when closed
  // True once a message is ready (consumes nothing; for asyncio, which waits on its own thread).
  bool wait(std::optional<double> timeout);

  void commit();  // named cursor: past every message taken so far
  uint64_t received();
  uint64_t lost();
  py::object position();  // one topic only, else None
  std::string name();     // the topic or the pattern
  bool is_pattern();
  size_t topic_count();
  py::list skipped_topics();  // pattern subscriptions: [(topic, error)] of topics that cannot be opened
  bool closed();
  void close() override;

 private:
  PyMessage to_python(const Sample& sample);
  py::str topic_str(std::string_view topic);  // one Python str per topic, made once
  void commit_raw();  // holds mu_
  bool is_open() const noexcept { return static_cast<bool>(subscription_); }
  Subscription& open_subscription();  // raises ClosedError if closed

  std::mutex mu_;                         // one call at a time (the C++ objects are single-threaded)
  std::atomic<bool> closing_{false};      // lets close() end a wait in progress on another thread
  Subscription subscription_;
  bool auto_commit_ = false;
  // The last batch's samples: their records stay in place (zero-copy memoryviews) until the
  // next batch is taken.
  std::vector<Sample> held_;
  std::vector<std::pair<std::string, py::str>> topic_names_;
};

void register_subscription(py::module_& m);

}  // namespace shmbus::python
