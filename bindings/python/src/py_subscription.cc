#include "py_subscription.h"

#include <pybind11/stl.h>

#include <algorithm>
#include <chrono>
#include <cmath>

#include "py_buffers.h"
#include "py_errors.h"

namespace shmbus::python {
namespace {

constexpr auto kWaitSlice = std::chrono::milliseconds(50);  // how often a wait looks for Ctrl-C

std::optional<std::chrono::steady_clock::time_point> deadline_of(std::optional<double> timeout) {
  if (!timeout) return std::nullopt;
  if (std::isnan(*timeout) || *timeout < 0) throw py::value_error("timeout must be None or >= 0 seconds");
  return std::chrono::steady_clock::now() +
         std::chrono::duration_cast<std::chrono::steady_clock::duration>(std::chrono::duration<double>(*timeout));
}

}  // namespace

PySubscription::PySubscription(Subscription subscription, bool auto_commit)
    : subscription_(std::move(subscription)), auto_commit_(auto_commit) {}

Subscription& PySubscription::open_subscription() {
  if (!is_open()) raise_closed("subscription");
  return subscription_;
}

py::str PySubscription::topic_str(std::string_view topic) {
  for (const auto& [name, str] : topic_names_) {
    if (name == topic) return str;
  }
  topic_names_.emplace_back(std::string(topic), py::str(topic.data(), topic.size()));
  return topic_names_.back().second;
}

PyMessage PySubscription::to_python(const Sample& sample) {
  const Message& m = sample.message();
  PyMessage out;
  out.topic = topic_str(m.topic);
  out.position = m.position;
  out.seq = m.seq;
  out.timestamp_ns = m.timestamp_ns;
  out.headers = headers_to_dict(m.headers);
  if (sample.mapping() == nullptr) {
    // An overwrite topic: the sample holds a private copy, which goes with it.
    out.data = py::bytes(reinterpret_cast<const char*>(m.payload.data()), m.payload.size());
  } else {
    // Zero copy: the view keeps the mapping, the held sample keeps publishers off the bytes.
    out.data = view_of(sample.mapping(), m.payload.data(), m.payload.size(), /*writable=*/false);
  }
  return out;
}

py::list PySubscription::take(size_t max, std::optional<double> timeout) {
  if (max == 0) throw py::value_error("max must be at least 1");
  const auto deadline = deadline_of(timeout);
  auto lock = lock_releasing_gil(mu_);
  py::list out;
  if (!is_open() || closing_.load(std::memory_order_relaxed)) return out;  // relaxed: a flag, the mutex orders the rest
  held_.clear();  // the previous batch's samples: publishers may have their space now
  if (auto_commit_) commit_raw();  // the program has had every message taken before
  for (;;) {
    while (out.size() < max) {
      Result<Sample> got = subscription_.try_receive();
      if (!got) {
        if (got.error() == Errc::kTimeout || got.error() == Errc::kHeldLimit) break;  // none now / a full batch
        raise_errc(got.error(), "poll of " + name());
      }
      out.append(py::cast(to_python(*got)));
      held_.push_back(std::move(*got));
    }
    if (!out.empty()) return out;
    auto now = std::chrono::steady_clock::now();
    if (deadline && now >= *deadline) return out;
    auto slice = deadline ? std::min<std::chrono::nanoseconds>(*deadline - now, kWaitSlice) : kWaitSlice;
    Result<void> w;
    {
      py::gil_scoped_release release;
      w = subscription_.wait(slice);
    }
    if (PyErr_CheckSignals() != 0) throw py::error_already_set();
    if (closing_.load(std::memory_order_relaxed)) return out;
    if (!w && w.error() != Errc::kTimeout) raise_errc(w.error(), "wait on " + name());
  }
}

py::object PySubscription::try_receive() {
  py::list got = take(1, 0.0);
  if (got.empty()) return py::none();
  return got[0];
}

py::object PySubscription::receive(std::optional<double> timeout) {
  py::list got = take(1, timeout);
  if (got.empty()) return py::none();
  return got[0];
}

py::object PySubscription::next() {
  py::list got = take(1, std::nullopt);
  if (got.empty()) throw py::stop_iteration();
  return got[0];
}

bool PySubscription::wait(std::optional<double> timeout) {
  const auto deadline = deadline_of(timeout);
  auto lock = lock_releasing_gil(mu_);
  open_subscription();
  for (;;) {
    auto now = std::chrono::steady_clock::now();
    auto slice = deadline ? std::min<std::chrono::nanoseconds>(*deadline - now, kWaitSlice) : kWaitSlice;
    if (slice.count() < 0) slice = std::chrono::nanoseconds(0);
    Result<void> w;
    {
      py::gil_scoped_release release;
      w = subscription_.wait(slice);
    }
    if (w) return true;
    if (w.error() != Errc::kTimeout) raise_errc(w.error(), "wait on " + name());
    if (closing_.load(std::memory_order_relaxed) || (deadline && std::chrono::steady_clock::now() >= *deadline)) {
      return false;
    }
  }
}

void PySubscription::commit_raw() {
  Result<void> r = subscription_.commit();
  if (!r && r.error() == Errc::kInvalidArgument) {
    throw Error(subscription_.is_pattern()
                    ? "commit needs a named cursor, and pattern \"" + name() +
                          "\" has none: subscribe to one topic with cursor=\"name\""
                    : "commit needs a named cursor: bus.subscribe(\"" + name() + "\", cursor=\"name\")",
                ErrorKind::kInvalidArgument);
  }
  if (!r) raise_errc(r.error(), "commit on " + name());
}

void PySubscription::commit() {
  auto lock = lock_releasing_gil(mu_);
  open_subscription();
  commit_raw();
}

uint64_t PySubscription::received() {
  auto lock = lock_releasing_gil(mu_);
  return open_subscription().received();
}

uint64_t PySubscription::lost() {
  auto lock = lock_releasing_gil(mu_);
  return open_subscription().lost();
}

py::object PySubscription::position() {
  auto lock = lock_releasing_gil(mu_);
  Subscription& s = open_subscription();
  if (s.is_pattern()) return py::none();
  return py::int_(s.position());
}

std::string PySubscription::name() {
  return is_open() ? std::string(subscription_.name()) : "closed subscription";
}

bool PySubscription::is_pattern() {
  auto lock = lock_releasing_gil(mu_);
  return open_subscription().is_pattern();
}

size_t PySubscription::topic_count() {
  auto lock = lock_releasing_gil(mu_);
  return open_subscription().topic_count();
}

py::list PySubscription::skipped_topics() {
  auto lock = lock_releasing_gil(mu_);
  py::list out;
  if (is_open()) {
    for (const SkippedTopic& t : subscription_.skipped_topics()) out.append(py::make_tuple(t.topic, t.error));
  }
  return out;
}

bool PySubscription::closed() { return !is_open(); }

void PySubscription::close() {
  closing_.store(true, std::memory_order_relaxed);  // a wait on another thread ends within a slice
  auto lock = lock_releasing_gil(mu_);
  if (auto_commit_ && is_open()) {
    static_cast<void>(subscription_.commit());  // the program has had them all
  }
  held_.clear();  // their owners go away with the subscription
  subscription_ = Subscription();
}

void register_subscription(py::module_& m) {
  py::class_<PyMessage>(m, "Message", "A record: topic, position, seq, timestamp, headers, data.")
      .def_readonly("topic", &PyMessage::topic)
      .def_readonly("position", &PyMessage::position, "Byte offset in the topic's log: the message id.")
      .def_readonly("seq", &PyMessage::seq, "Index of the record in its topic (0, 1, 2, ...).")
      .def_readonly("timestamp_ns", &PyMessage::timestamp_ns, "CLOCK_REALTIME at publish, nanoseconds.")
      .def_property_readonly("timestamp", [](const PyMessage& m) { return static_cast<double>(m.timestamp_ns) / 1e9; },
                             "Seconds since the epoch (like time.time()).")
      .def_readonly("headers", &PyMessage::headers)
      .def_property_readonly(
          "message_id",
          [](const PyMessage& m) -> py::object {
            const std::string key(header_keys::kMessageId);
            if (m.headers.contains(key)) return m.headers[key.c_str()];
            // Without the header, the id the library derives (Message::message_id()).
            const std::string topic = py::cast<std::string>(m.topic);
            Message bare;
            bare.topic = topic;
            bare.position = m.position;
            return py::str(bare.message_id());
          },
          "The `message-id` header if the publisher set one, else \"<topic>@<position>\": drop duplicates by it.")
      .def_readonly("data", &PyMessage::data,
                    "memoryview into the log (block/fail topics; valid until the next message is taken from the "
                    "same subscription), or bytes (overwrite topics).")
      .def("__bytes__", [](const PyMessage& m) {
        PyObject* b = PyBytes_FromObject(m.data.ptr());
        if (b == nullptr) throw py::error_already_set();
        return py::reinterpret_steal<py::bytes>(b);
      })
      .def("__repr__", [](const PyMessage& m) {
        return "<shmbus.Message " + std::string(py::str(m.topic)) + " @" + std::to_string(m.position) + " seq=" +
               std::to_string(m.seq) + " " + std::to_string(py::len(m.data)) + " bytes>";
      });

  py::class_<PySubscription, std::shared_ptr<PySubscription>>(
      m, "Subscription", "Reads one topic or every topic matching a pattern (from Bus.subscribe()). poll() never waits, "
      "receive() waits, try_receive() takes one if one is ready; iterate (for msg in sub) or await.")
      .def("poll", &PySubscription::poll, py::arg("max") = 1024,
           "The messages ready now, up to `max` (a list, maybe empty); never waits.")
      .def("try_receive", &PySubscription::try_receive, "The next message if one is ready, else None; never waits.")
      .def("receive", &PySubscription::receive, py::arg("timeout") = py::none(),
           "The next message, waiting up to `timeout` seconds (None: for ever); None on timeout.")
      .def("receive_many", &PySubscription::take, py::arg("max") = 1024, py::arg("timeout") = py::none(),
           "Up to `max` messages: waits up to `timeout` seconds (None: for ever) for the first, then takes what "
           "is ready.")
      .def("wait", &PySubscription::wait, py::arg("timeout") = py::none(),
           "Waits until a message is ready (consumes nothing); False on timeout.")
      .def("__iter__", [](std::shared_ptr<PySubscription> self) { return self; })
      .def("__next__", &PySubscription::next)
      .def("commit", &PySubscription::commit,
           "Named cursor: moves it past every message taken so far (commit=\"manual\"; \"auto\" does it when "
           "the next messages are taken, and at close).")
      .def_property_readonly("received", &PySubscription::received)
      .def_property_readonly("lost", &PySubscription::lost, "Records lost to lapping (overwrite topics) or removed by retention before they were read (journals).")
      .def_property_readonly("position", &PySubscription::position,
                             "Next position to read (one topic; None for a pattern).")
      .def_property_readonly("is_pattern", &PySubscription::is_pattern)
      .def_property_readonly("name", [](PySubscription& s) { return s.name(); })
      .def_property_readonly("topic_count", &PySubscription::topic_count)
      .def_property_readonly("skipped_topics", &PySubscription::skipped_topics,
                             "Pattern subscriptions: (topic, error) of each matching topic that could not be "
                             "opened (damaged files, no permission); retried now and then, the others are served.")
      .def_property_readonly("closed", &PySubscription::closed)
      .def("close", &PySubscription::close)
      .def("__enter__", [](std::shared_ptr<PySubscription> self) { return self; })
      .def("__exit__", [](PySubscription& self, py::args) { self.close(); });
}

}  // namespace shmbus::python
