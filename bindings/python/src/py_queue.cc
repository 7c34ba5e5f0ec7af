#include "py_queue.h"

#include <pybind11/stl.h>

#include <chrono>
#include <cmath>

#include "py_buffers.h"
#include "py_errors.h"

namespace shmbus::python {
namespace {

constexpr auto kWaitSlice = std::chrono::milliseconds(50);  // how often a wait looks for Ctrl-C and close()

std::chrono::nanoseconds seconds(double s, const char* what) {
  if (std::isnan(s) || s < 0) throw py::value_error(std::string(what) + " must be >= 0 seconds");
  return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::duration<double>(s));
}

[[noreturn]] void raise_held_limit(uint32_t prefetch) {
  raise_errc(Errc::kHeldLimit, "receive",
             "this consumer holds prefetch=" + std::to_string(prefetch) +
                 " unsettled deliveries; ack, nack, reject or release one first (or raise prefetch)");
}

}  // namespace

QueueConfig queue_config(const std::vector<std::string>& bindings, const PyQueueOptions& o) {
  QueueConfig c;
  c.bindings = bindings;
  c.max_deliveries = o.max_deliveries;
  if (!(o.lease >= 0.001)) throw Error("lease must be at least 0.001 seconds", ErrorKind::kInvalidArgument);
  c.lease = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::duration<double>(o.lease));
  if (o.retry) c.retry = RetryPolicy::parse(*o.retry);
  c.filter = o.filter;
  c.ordering_key = o.ordering_key;
  c.single_active = o.single_active;
  if (!(o.dedup_window >= 0)) throw Error("dedup_window must not be negative", ErrorKind::kInvalidArgument);
  c.dedup_window = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::duration<double>(o.dedup_window));
  c.expired = parse_expired_action(o.expired);
  return c;
}

PyConsumer::PyConsumer(Consumer consumer, std::string queue, uint32_t prefetch)
    : consumer_(std::move(consumer)), queue_(std::move(queue)), prefetch_(prefetch) {}

py::object PyConsumer::to_python(Delivery d) {
  PyDelivery out;
  const Message& m = d.message();
  out.topic = py::str(m.topic.data(), m.topic.size());
  out.position = m.position;
  out.seq = m.seq;
  out.timestamp_ns = m.timestamp_ns;
  out.attempt = d.attempt();
  out.headers = headers_to_dict(m.headers);
  out.message_id = m.message_id();
  out.owner = this;
  out.delivery = std::make_shared<Delivery>(std::move(d));
  // Zero copy: the view holds the Delivery, whose pin keeps the journal segment mapped.
  const Message& kept = out.delivery->message();
  out.payload = view_of(std::shared_ptr<const void>(out.delivery), kept.payload.data(), kept.payload.size(),
                        /*writable=*/false);
  return py::cast(std::move(out));
}

py::object PyConsumer::take(std::optional<double> timeout) {
  std::optional<std::chrono::steady_clock::time_point> deadline;
  if (timeout) deadline = std::chrono::steady_clock::now() + seconds(*timeout, "timeout");
  auto lock = lock_releasing_gil(mu_);
  if (!consumer_) raise_closed("consumer");
  for (;;) {
    if (closing_.load(std::memory_order_relaxed)) return py::none();  // relaxed: a flag; the mutex orders the rest
    const auto now = std::chrono::steady_clock::now();
    const auto slice = deadline ? std::clamp<std::chrono::nanoseconds>(*deadline - now, std::chrono::nanoseconds(0), kWaitSlice)
                                : std::chrono::nanoseconds(kWaitSlice);
    Result<Delivery> got = Errc::kTimeout;
    {
      py::gil_scoped_release release;
      got = slice.count() == 0 ? consumer_->try_receive() : consumer_->receive(slice);
    }
    if (got) return to_python(std::move(*got));
    if (got.error() == Errc::kHeldLimit) raise_held_limit(prefetch_);
    if (got.error() != Errc::kTimeout) raise_errc(got.error(), "receive from queue " + queue_);
    if (PyErr_CheckSignals() != 0) throw py::error_already_set();
    if (deadline && std::chrono::steady_clock::now() >= *deadline) return py::none();
  }
}

py::object PyConsumer::try_receive() { return take(0.0); }
py::object PyConsumer::receive(std::optional<double> timeout) { return take(timeout); }

void PyConsumer::settle(PyDelivery& d, Verb verb, std::optional<std::chrono::nanoseconds> delay,
                        const std::string& error) {
  if (d.owner != this) {
    throw Error("this delivery came from another consumer: settle it through the one that received it",
                ErrorKind::kInvalidArgument);
  }
  auto lock = lock_releasing_gil(mu_);
  if (!consumer_) raise_closed("consumer");
  if (d.settled()) {
    throw Error("delivery " + d.message_id + " is settled already (acked, nacked, rejected or released)",
                ErrorKind::kInvalidArgument);
  }
  Result<void> r;
  {
    py::gil_scoped_release release;  // nack at the limit and reject publish a dead letter
    Delivery& cd = *d.delivery;
    switch (verb) {
      case Verb::kAck: r = consumer_->ack(cd); break;
      case Verb::kNack: r = consumer_->nack(cd, delay, error); break;
      case Verb::kReject: r = consumer_->reject(cd, error); break;
      case Verb::kExtend: r = consumer_->extend(cd); break;
      case Verb::kRelease: r = consumer_->release(cd); break;
    }
  }
  if (!r && r.error() == Errc::kStaleLease) {
    raise_errc(r.error(), "delivery " + d.message_id,
               "the lease was taken away (it expired, or this process was presumed dead): another consumer may "
               "hold the record now; nothing was settled");
  }
  if (!r) raise_errc(r.error(), "settling delivery " + d.message_id + " of queue " + queue_);
}

void PyConsumer::ack(PyDelivery& d) { settle(d, Verb::kAck, std::nullopt, {}); }
void PyConsumer::nack(PyDelivery& d, std::optional<double> delay, const std::string& error) {
  std::optional<std::chrono::nanoseconds> ns;
  if (delay) ns = seconds(*delay, "delay");
  settle(d, Verb::kNack, ns, error);
}
void PyConsumer::reject(PyDelivery& d, const std::string& error) { settle(d, Verb::kReject, std::nullopt, error); }
void PyConsumer::extend(PyDelivery& d) { settle(d, Verb::kExtend, std::nullopt, {}); }
void PyConsumer::release(PyDelivery& d) { settle(d, Verb::kRelease, std::nullopt, {}); }

void PyConsumer::sync() {
  auto lock = lock_releasing_gil(mu_);
  if (!consumer_) throw Error("sync on a closed consumer", ErrorKind::kInvalidArgument);
  Result<void> r = Errc::kClosed;
  {
    py::gil_scoped_release release;  // msync
    r = consumer_->sync();
  }
  if (!r) raise_errc(r.error(), "sync of queue " + queue_, "the queue's state file could not be written to disk");
}

uint32_t PyConsumer::held() {
  auto lock = lock_releasing_gil(mu_);
  return consumer_ ? consumer_->held() : 0;
}

bool PyConsumer::closed() { return !consumer_; }

void PyConsumer::close() {
  closing_.store(true, std::memory_order_relaxed);  // a receive on another thread ends within a slice
  auto lock = lock_releasing_gil(mu_);
  py::gil_scoped_release release;
  consumer_.reset();  // its unsettled leases go back uncharged (ConsumerImpl::release_all)
}

PyQueue::PyQueue(Queue queue) : queue_(std::move(queue)), name_(queue_->name()) {}

Queue& PyQueue::open_queue() {
  if (!queue_) raise_closed("queue");
  return *queue_;
}

std::string PyQueue::name() { return name_; }

std::shared_ptr<PyConsumer> PyQueue::consumer(uint32_t prefetch) {
  auto lock = lock_releasing_gil(mu_);
  Queue& q = open_queue();
  std::optional<Consumer> c;
  {
    py::gil_scoped_release release;  // attaching maps every bound topic's state file
    c.emplace(q.consumer(ConsumerOptions{prefetch}));
  }
  auto out = std::make_shared<PyConsumer>(std::move(*c), name_, prefetch);
  std::erase_if(consumers_, [](const std::weak_ptr<PyConsumer>& w) { return w.expired(); });
  consumers_.push_back(out);
  return out;
}

QueueStats PyQueue::stats() {
  auto lock = lock_releasing_gil(mu_);
  Queue& q = open_queue();
  py::gil_scoped_release release;
  return q.stats();
}

uint64_t PyQueue::purge() {
  auto lock = lock_releasing_gil(mu_);
  Queue& q = open_queue();
  py::gil_scoped_release release;
  return q.purge();
}

uint64_t PyQueue::cancel(const std::string& message_id) {
  auto lock = lock_releasing_gil(mu_);
  Queue& q = open_queue();
  py::gil_scoped_release release;
  return q.cancel(message_id);
}

void PyQueue::close() {
  std::vector<std::weak_ptr<PyConsumer>> consumers;
  {
    auto lock = lock_releasing_gil(mu_);
    consumers.swap(consumers_);
    queue_.reset();
  }
  for (auto& w : consumers) {
    if (auto c = w.lock()) c->close();
  }
}

void register_queue(py::module_& m) {
  py::class_<PyDelivery>(m, "Delivery",
                         "One attempt to hand a queued record to a consumer: settle it with the Consumer's ack, nack, "
                         "reject or release.")
      .def_readonly("topic", &PyDelivery::topic)
      .def_readonly("position", &PyDelivery::position, "Byte offset of the record in its topic's log.")
      .def_readonly("seq", &PyDelivery::seq, "Index of the record in its topic.")
      .def_readonly("timestamp_ns", &PyDelivery::timestamp_ns, "CLOCK_REALTIME at publish, nanoseconds.")
      .def_readonly("attempt", &PyDelivery::attempt, "1 for the first delivery; failed attempts so far + 1.")
      .def_readonly("headers", &PyDelivery::headers)
      .def_readonly("message_id", &PyDelivery::message_id,
                    "The `message-id` header, else \"<topic>@<position>\": drop duplicates by it.")
      .def_readonly("payload", &PyDelivery::payload,
                    "Read-only memoryview of the payload, valid while this Delivery (or the view) lives.")
      .def_property_readonly("settled", &PyDelivery::settled, "True once acked, nacked, rejected or released.")
      .def("__bytes__", [](const PyDelivery& d) {
        PyObject* b = PyBytes_FromObject(d.payload.ptr());
        if (b == nullptr) throw py::error_already_set();
        return py::reinterpret_steal<py::bytes>(b);
      })
      .def("__repr__", [](const PyDelivery& d) {
        return "<shmbus.Delivery " + std::string(py::str(d.topic)) + " seq=" + std::to_string(d.seq) +
               " attempt=" + std::to_string(d.attempt) + (d.settled() ? " settled" : "") + ">";
      });

  py::class_<PyConsumer, std::shared_ptr<PyConsumer>>(
      m, "Consumer", "Takes deliveries of a queue (Queue.consumer()). One of many: each record goes to one consumer.")
      .def("try_receive", &PyConsumer::try_receive, "The next Delivery if one is ready, else None; never waits.")
      .def("receive", &PyConsumer::receive, py::arg("timeout") = py::none(),
           "The next Delivery, waiting up to `timeout` seconds (None: for ever); None on timeout. Raises "
           "WouldBlockError while `prefetch` deliveries are held unsettled.")
      .def("ack", &PyConsumer::ack, py::arg("delivery"), "Done: the record is settled. StaleLeaseError if the lease was lost.")
      .def("nack", &PyConsumer::nack, py::arg("delivery"), py::kw_only(), py::arg("delay") = py::none(),
           py::arg("error") = "",
           "Failed: retry after the queue's backoff (or `delay` seconds); past max_deliveries the record is "
           "dead-lettered (delivery_limit) with `error` as x-death-error.")
      .def("reject", &PyConsumer::reject, py::arg("delivery"), py::arg("error") = "",
           "Dead-letter now (reason rejected), with `error` as x-death-error.")
      .def("extend", &PyConsumer::extend, py::arg("delivery"), "Renews the lease for another lease time.")
      .def("sync", &PyConsumer::sync, "Makes the settlements so far durable (one msync per journal topic).")
      .def("release", &PyConsumer::release, py::arg("delivery"),
           "Gives the delivery back uncharged (not a failure: a shutdown, a cancelled task).")
      .def_property_readonly("held", &PyConsumer::held, "Deliveries received and not yet settled.")
      .def_property_readonly("queue", &PyConsumer::queue)
      .def_property_readonly("closed", &PyConsumer::closed)
      .def("close", &PyConsumer::close, "Closes it; unsettled deliveries go back uncharged.")
      .def("__enter__", [](std::shared_ptr<PyConsumer> self) { return self; })
      .def("__exit__", [](PyConsumer& self, py::args) { self.close(); });

  py::class_<PyQueue, std::shared_ptr<PyQueue>>(m, "Queue",
                                                "A durable queue (Bus.create_queue / Bus.queue): competing consumers, "
                                                "retries with backoff, dead letters in <name>.dlq.")
      .def_property_readonly("name", &PyQueue::name)
      .def("consumer", &PyQueue::consumer, py::kw_only(), py::arg("prefetch") = ConsumerOptions{}.prefetch,
           "A new consumer; `prefetch` bounds the deliveries it holds unsettled.")
      .def("stats", &PyQueue::stats, "A QueueStats: counts and settings (the fields of `shmbus queue stat --json`).")
      .def("purge", &PyQueue::purge,
           "Passes over every record not yet delivered (they stay in the topics); returns how many.")
      .def("cancel", &PyQueue::cancel, py::arg("message_id"),
           "Cancels delayed records (not-before still ahead) with this message-id; returns how many.")
      .def("close", &PyQueue::close)
      .def("__enter__", [](std::shared_ptr<PyQueue> self) { return self; })
      .def("__exit__", [](PyQueue& self, py::args) { self.close(); });
}

}  // namespace shmbus::python
