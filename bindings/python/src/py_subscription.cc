#include "py_subscription.h"

#include <pybind11/stl.h>

#include <algorithm>
#include <chrono>
#include <cmath>

#include "py_buffers.h"
#include "py_errors.h"
#include "routing/pattern_subscriber_impl.h"
#include "topic/subscriber_impl.h"

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

PySubscription::PySubscription(Subscriber subscriber, bool auto_commit)
    : subscriber_(std::move(subscriber)), auto_commit_(auto_commit) {}
PySubscription::PySubscription(PatternSubscriber subscriber) : subscriber_(std::move(subscriber)) {}

bool PySubscription::is_open() const noexcept { return subscriber_.index() != 0; }

Result<size_t> PySubscription::poll_raw(MessageHandler handler, size_t max) noexcept {
  if (auto* s = std::get_if<Subscriber>(&subscriber_)) return s->poll(handler, max);
  return std::get<PatternSubscriber>(subscriber_).poll(handler, max);
}

Result<void> PySubscription::wait_raw(std::chrono::nanoseconds timeout) noexcept {
  if (auto* s = std::get_if<Subscriber>(&subscriber_)) return s->wait(timeout);
  return std::get<PatternSubscriber>(subscriber_).wait(timeout);
}

detail::SubscriberImpl* PySubscription::source() noexcept {
  if (auto* s = std::get_if<Subscriber>(&subscriber_)) return s->impl();
  return std::get<PatternSubscriber>(subscriber_).impl()->source();
}

void PySubscription::release_holds() noexcept {
  for (detail::SubscriberImpl* s : held_) s->release_hold();
  held_.clear();
}

PySubscription::SourceCache& PySubscription::cache_for(detail::SubscriberImpl* src) {
  for (SourceCache& c : sources_) {
    if (c.source == src) return c;
  }
  py::object ring = py::none();
  std::span<const std::byte> bytes = src->ring_bytes();
  if (!src->delivers_copies() && !bytes.empty()) {
    ring = view_of(src->mapping_keepalive(), bytes.data(), bytes.size(), /*writable=*/false);
  }
  sources_.push_back({src, py::str(std::string(src->topic())), std::move(ring)});
  return sources_.back();
}

PyMessage PySubscription::to_python(const Message& m) {
  detail::SubscriberImpl* src = source();
  SourceCache& cache = cache_for(src);
  PyMessage out;
  out.topic = cache.topic;
  out.position = m.position;
  out.seq = m.seq;
  out.timestamp_ns = m.timestamp_ns;
  out.headers = headers_to_dict(m.headers);
  const auto* bytes = reinterpret_cast<const char*>(m.payload.data());
  if (src->delivers_copies()) {
    out.data = py::bytes(bytes, m.payload.size());
  } else {
    // The first record of this batch from this topic is the oldest: hold the position there.
    if (std::find(held_.begin(), held_.end(), src) == held_.end()) {
      src->hold(m.position);
      held_.push_back(src);
    }
    if (cache.ring.is_none()) {  // a journal: a view of its own (the segments stay mapped)
      out.data = view_of(src->mapping_keepalive(), m.payload.data(), m.payload.size(), /*writable=*/false);
    } else {
      const auto offset = static_cast<Py_ssize_t>(m.payload.data() - src->ring_bytes().data());
      PyObject* slice = PySequence_GetSlice(cache.ring.ptr(), offset, offset + static_cast<Py_ssize_t>(m.payload.size()));
      if (slice == nullptr) throw py::error_already_set();
      out.data = py::reinterpret_steal<py::object>(slice);
    }
  }
  return out;
}

py::list PySubscription::take(size_t max, std::optional<double> timeout) {
  if (max == 0) throw py::value_error("max must be at least 1");
  const auto deadline = deadline_of(timeout);
  auto lock = lock_releasing_gil(mu_);
  py::list out;
  if (!is_open() || closing_.load(std::memory_order_relaxed)) return out;  // relaxed: a flag, the mutex orders the rest
  release_holds();
  if (auto_commit_) commit_raw();  // the program has had every message taken before
  std::optional<py::error_already_set> failure;
  auto handler = [&](const Message& m) {
    if (failure) return;
    try {
      out.append(py::cast(to_python(m)));
    } catch (py::error_already_set& e) {
      failure = std::move(e);
    }
  };
  for (;;) {
    Result<size_t> n = poll_raw(handler, max);
    if (failure) throw std::move(*failure);
    if (!n) raise_errc(n.error(), "poll of " + name());
    if (*n > 0) return out;
    auto now = std::chrono::steady_clock::now();
    if (deadline && now >= *deadline) return out;
    auto slice = deadline ? std::min<std::chrono::nanoseconds>(*deadline - now, kWaitSlice) : kWaitSlice;
    Result<void> w;
    {
      py::gil_scoped_release release;
      w = wait_raw(slice);
    }
    if (PyErr_CheckSignals() != 0) throw py::error_already_set();
    if (closing_.load(std::memory_order_relaxed)) return out;
    if (!w && w.error() != Errc::kTimeout) raise_errc(w.error(), "wait on " + name());
  }
}

py::object PySubscription::poll(std::optional<double> timeout) {
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
  if (!is_open()) raise_closed("subscription");
  for (;;) {
    auto now = std::chrono::steady_clock::now();
    auto slice = deadline ? std::min<std::chrono::nanoseconds>(*deadline - now, kWaitSlice) : kWaitSlice;
    if (slice.count() < 0) slice = std::chrono::nanoseconds(0);
    Result<void> w;
    {
      py::gil_scoped_release release;
      w = wait_raw(slice);
    }
    if (w) return true;
    if (w.error() != Errc::kTimeout) raise_errc(w.error(), "wait on " + name());
    if (closing_.load(std::memory_order_relaxed) || (deadline && std::chrono::steady_clock::now() >= *deadline)) {
      return false;
    }
  }
}

void PySubscription::commit_raw() {
  auto* s = std::get_if<Subscriber>(&subscriber_);
  Result<void> r = s != nullptr ? s->commit() : Result<void>(Errc::kInvalidArgument);
  if (!r && r.error() == Errc::kInvalidArgument) {
    throw Error("commit needs a named cursor: bus.subscriber(topic, cursor=\"name\")", ErrorKind::kInvalidArgument);
  }
  if (!r) raise_errc(r.error(), "commit on " + name());
}

void PySubscription::commit() {
  auto lock = lock_releasing_gil(mu_);
  if (!is_open()) raise_closed("subscription");
  commit_raw();
}

uint64_t PySubscription::received() {
  auto lock = lock_releasing_gil(mu_);
  if (auto* s = std::get_if<Subscriber>(&subscriber_)) return s->received();
  if (auto* p = std::get_if<PatternSubscriber>(&subscriber_)) return p->received();
  raise_closed("subscription");
}

uint64_t PySubscription::lost() {
  auto lock = lock_releasing_gil(mu_);
  if (auto* s = std::get_if<Subscriber>(&subscriber_)) return s->lost();
  if (auto* p = std::get_if<PatternSubscriber>(&subscriber_)) return p->lost();
  raise_closed("subscription");
}

py::object PySubscription::position() {
  auto lock = lock_releasing_gil(mu_);
  if (auto* s = std::get_if<Subscriber>(&subscriber_)) return py::int_(s->position());
  if (!is_open()) raise_closed("subscription");
  return py::none();
}

std::string PySubscription::name() {
  if (auto* s = std::get_if<Subscriber>(&subscriber_)) return std::string(s->topic());
  if (auto* p = std::get_if<PatternSubscriber>(&subscriber_)) return std::string(p->pattern());
  return "closed subscription";
}

size_t PySubscription::topic_count() {
  auto lock = lock_releasing_gil(mu_);
  if (std::holds_alternative<Subscriber>(subscriber_)) return 1;
  if (auto* p = std::get_if<PatternSubscriber>(&subscriber_)) return p->topic_count();
  raise_closed("subscription");
}

py::list PySubscription::skipped_topics() {
  auto lock = lock_releasing_gil(mu_);
  py::list out;
  if (auto* p = std::get_if<PatternSubscriber>(&subscriber_)) {
    for (const SkippedTopic& t : p->skipped_topics()) out.append(py::make_tuple(t.topic, t.error));
  }
  return out;
}

bool PySubscription::closed() { return !is_open(); }

void PySubscription::close() {
  closing_.store(true, std::memory_order_relaxed);  // a wait on another thread ends within a slice
  auto lock = lock_releasing_gil(mu_);
  if (auto_commit_ && std::holds_alternative<Subscriber>(subscriber_)) {
    static_cast<void>(std::get<Subscriber>(subscriber_).commit());  // the program has had them all
  }
  held_.clear();  // their owners go away with the subscriber
  sources_.clear();
  subscriber_ = std::monostate{};
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
      m, "Subscription", "Reads one topic or every topic matching a pattern (from Bus.subscribe()).")
      .def("poll", &PySubscription::poll, py::arg("timeout") = py::none(),
           "The next message, waiting up to `timeout` seconds (None: for ever); None on timeout.")
      .def("poll_many", &PySubscription::take, py::arg("max") = 1024, py::arg("timeout") = py::none(),
           "Up to `max` messages that are ready, waiting up to `timeout` seconds for the first.")
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
                             "Next position to read (single-topic subscriptions; None for patterns).")
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
