#include "py_bus.h"

#include <pybind11/stl.h>

#include <chrono>

#include "py_errors.h"
#include "py_stats.h"

namespace shmbus::python {
namespace {

StartAt start_of(py::handle start) {
  if (py::isinstance<py::str>(start)) {
    std::string s = py::cast<std::string>(start);
    if (s == "earliest") return StartAt::earliest();
    if (s == "latest") return StartAt::latest();
    throw Error("start must be \"earliest\", \"latest\", a position (int) or a time (datetime), got \"" + s + "\"",
                ErrorKind::kInvalidArgument);
  }
  if (PyLong_Check(start.ptr()) && !PyBool_Check(start.ptr())) {
    long long p = py::cast<long long>(start);
    if (p < 0) throw Error("start position must be >= 0", ErrorKind::kInvalidArgument);
    return StartAt::at(static_cast<uint64_t>(p));
  }
  if (py::hasattr(start, "timestamp") && !py::isinstance<py::float_>(start)) {  // a datetime
    const double seconds = py::cast<double>(start.attr("timestamp")());
    return StartAt::time(static_cast<int64_t>(seconds * 1e9));
  }
  throw py::type_error("start must be \"earliest\", \"latest\", a position (int) or a time (datetime)");
}

SubscribeOptions subscribe_options(py::handle start, const std::string& wait) {
  SubscribeOptions o;
  o.start = start_of(start);
  if (wait == "block") {
    o.wait = WaitStrategy::kBlock;
  } else if (wait == "yield") {
    o.wait = WaitStrategy::kYield;
  } else if (wait == "spin") {
    o.wait = WaitStrategy::kSpin;
  } else {
    throw Error("wait must be \"block\", \"yield\" or \"spin\", got \"" + wait + "\"", ErrorKind::kInvalidArgument);
  }
  return o;
}

std::chrono::milliseconds seconds_to_ms(double seconds, const char* what) {
  if (!(seconds >= 0.001)) throw Error(std::string(what) + " must be at least 0.001 seconds", ErrorKind::kInvalidArgument);
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::duration<double>(seconds));
}

}  // namespace

PyBus::PyBus(const std::string& name_or_path, bool create, std::optional<std::string> group) {
  BusOptions options;
  options.create = create;
  options.group = std::move(group);
  py::gil_scoped_release release;  // creating may wait on the bus's file lock
  bus_.emplace(Bus::open(name_or_path, options));
}

Bus& PyBus::bus() {
  if (!bus_) raise_closed("bus");
  return *bus_;
}

void PyBus::adopt(const std::shared_ptr<Closeable>& child) {
  std::erase_if(children_, [](const std::weak_ptr<Closeable>& w) { return w.expired(); });
  children_.push_back(child);
}

bool PyBus::create_topic(const std::string& name, std::optional<uint64_t> capacity, std::optional<std::string> policy,
                         std::optional<double> unblock_timeout, std::optional<double> subscriber_timeout,
                         const std::string& kind, std::optional<std::string> dir, std::optional<uint64_t> segment_size,
                         const std::string& fsync, std::optional<uint64_t> retain_bytes,
                         std::optional<double> retain_age, bool single_publisher) {
  auto lock = lock_releasing_gil(mu_);
  TopicConfig config;
  config.single_publisher = single_publisher;
  if (kind == "journal") {
    config.kind = TopicKind::kJournal;
  } else if (kind != "memory") {
    throw Error("kind must be \"memory\" or \"journal\", got \"" + kind + "\"", ErrorKind::kInvalidArgument);
  }
  if (dir) config.data_dir = *dir;
  if (segment_size) config.segment_bytes = *segment_size;
  parse_fsync(fsync, config);
  if (retain_bytes) config.retain_bytes = *retain_bytes;
  if (retain_age) config.retain_age = seconds_to_ms(*retain_age, "retain_age");
  if (capacity) config.capacity = *capacity;
  if (policy) config.policy = parse_policy(*policy);
  if (unblock_timeout) config.unblock_timeout = seconds_to_ms(*unblock_timeout, "unblock_timeout");
  if (subscriber_timeout) config.subscriber_timeout = seconds_to_ms(*subscriber_timeout, "subscriber_timeout");
  py::gil_scoped_release release;  // a journal found on disk is recovered: that reads it all
  return bus().create_topic(name, config);
}

bool PyBus::remove_topic(const std::string& name, bool force) {
  auto lock = lock_releasing_gil(mu_);
  py::gil_scoped_release release;  // deleting a big topic's files takes a while
  return bus().remove_topic(name, force);
}

bool PyBus::topic_exists(const std::string& name) {
  auto lock = lock_releasing_gil(mu_);
  return bus().topic_exists(name);
}

std::vector<std::string> PyBus::topics() {
  auto lock = lock_releasing_gil(mu_);
  return bus().topics();
}

TopicStats PyBus::stats(const std::string& name) {
  auto lock = lock_releasing_gil(mu_);
  return bus().stats(name);
}

std::shared_ptr<PyPublisher> PyBus::publisher(const std::string& topic) {
  auto lock = lock_releasing_gil(mu_);
  auto out = std::make_shared<PyPublisher>(bus().publisher(topic));
  adopt(out);
  return out;
}

std::shared_ptr<PySubscription> PyBus::subscribe(const std::string& name, py::handle start, const std::string& wait,
                                                 std::optional<std::string> cursor, const std::string& commit) {
  SubscribeOptions options = subscribe_options(start, wait);
  if (commit != "auto" && commit != "manual") {
    throw Error("commit must be \"auto\" or \"manual\", got \"" + commit + "\"", ErrorKind::kInvalidArgument);
  }
  if (cursor) {
    options.cursor = *cursor;
    if (options.cursor.empty()) throw Error("cursor name is empty", ErrorKind::kInvalidName);
  }
  // Python programs use messages after take() returns: the binding commits on the next take.
  options.commit = CommitMode::kManual;
  auto lock = lock_releasing_gil(mu_);
  auto out = std::make_shared<PySubscription>(bus().subscribe(name, options), cursor && commit == "auto");
  adopt(out);
  return out;
}

void PyBus::set_cursor(const std::string& topic, const std::string& name, py::handle where) {
  const StartAt at = start_of(where);
  auto lock = lock_releasing_gil(mu_);
  bus().set_cursor(topic, name, at);
}

bool PyBus::remove_cursor(const std::string& topic, const std::string& name) {
  auto lock = lock_releasing_gil(mu_);
  return bus().remove_cursor(topic, name);
}

std::shared_ptr<PyQueue> PyBus::create_queue(const std::string& name, const std::vector<std::string>& bindings,
                                             uint32_t max_deliveries, double lease, std::optional<std::string> retry,
                                             const std::string& filter, const std::string& ordering_key,
                                             bool single_active, double dedup_window, const std::string& expired) {
  const QueueConfig config = queue_config(
      bindings, {max_deliveries, lease, std::move(retry), filter, ordering_key, single_active, dedup_window, expired});
  auto lock = lock_releasing_gil(mu_);
  std::optional<Queue> q;
  {
    py::gil_scoped_release release;  // makes the state file of every bound topic
    q.emplace(bus().create_queue(name, config));
  }
  auto out = std::make_shared<PyQueue>(std::move(*q));
  adopt(out);
  return out;
}

std::shared_ptr<PyQueue> PyBus::queue(const std::string& name) {
  auto lock = lock_releasing_gil(mu_);
  std::optional<Queue> q;
  {
    py::gil_scoped_release release;
    q.emplace(bus().queue(name));
  }
  auto out = std::make_shared<PyQueue>(std::move(*q));
  adopt(out);
  return out;
}

std::vector<std::string> PyBus::queues() {
  auto lock = lock_releasing_gil(mu_);
  return bus().queues();
}

bool PyBus::remove_queue(const std::string& name) {
  auto lock = lock_releasing_gil(mu_);
  return bus().remove_queue(name);
}

std::string PyBus::path() {
  auto lock = lock_releasing_gil(mu_);
  return bus().path();
}

bool PyBus::closed() {
  auto lock = lock_releasing_gil(mu_);
  return !bus_;
}

void PyBus::close() {
  std::vector<std::weak_ptr<Closeable>> children;
  {
    auto lock = lock_releasing_gil(mu_);
    children.swap(children_);
    bus_.reset();
  }
  for (auto& w : children) {
    if (auto c = w.lock()) c->close();
  }
}

void register_bus(py::module_& m) {
  py::class_<PyBus, std::shared_ptr<PyBus>>(m, "Bus",
                                            "A bus: by name (/dev/shm/shmbus/NAME) or by directory path.")
      .def(py::init<const std::string&, bool, std::optional<std::string>>(), py::arg("name_or_path"),
           py::arg("create") = true, py::arg("group") = py::none())
      .def("create_topic", &PyBus::create_topic, py::arg("name"), py::kw_only(), py::arg("capacity") = py::none(),
           py::arg("policy") = py::none(), py::arg("unblock_timeout") = py::none(),
           py::arg("subscriber_timeout") = py::none(), py::arg("kind") = "memory", py::arg("dir") = py::none(),
           py::arg("segment_size") = py::none(), py::arg("fsync") = "never", py::arg("retain_bytes") = py::none(),
           py::arg("retain_age") = py::none(), py::arg("single_publisher") = false,
           "Creates a topic: a memory ring, or (kind=\"journal\") segment files in `dir` that outlive the bus, "
           "trimmed to retain_bytes / retain_age (seconds); single_publisher: one publisher at a time, by plain "
           "stores (a second one raises InUseError). False if it existed (it is left as it was).")
      .def("topic_exists", &PyBus::topic_exists, py::arg("name"))
      .def("remove_topic", &PyBus::remove_topic, py::arg("name"), py::kw_only(), py::arg("force") = false,
           "Removes a topic (False if there was none); the name can be created again at once. Raises InUseError "
           "(naming the pids) while live processes publish or subscribe to it, unless force=True: then they keep "
           "working on the removed topic, which nobody else sees.")
      .def("topics", &PyBus::topics)
      .def("stats", &PyBus::stats, py::arg("name"), "A TopicStats: the topic's counters (and a journal's).")
      .def("publisher", &PyBus::publisher, py::arg("topic"), "A publisher (creates the topic if it is new).")
      .def("subscribe", &PyBus::subscribe, py::arg("name"), py::kw_only(), py::arg("start") = "latest",
           py::arg("wait") = "block", py::arg("cursor") = py::none(), py::arg("commit") = "auto",
           "One topic (\"orders.eu\": created if it is new) or every topic matching a pattern (\"orders.#\": "
           "* one word, # any), now and later. start: \"earliest\", \"latest\", a position or a datetime. "
           "cursor: a named cursor of one journal topic (not a pattern), resumed after restarts (start applies "
           "when it is new); commit=\"auto\" moves it when the next messages are taken, \"manual\" on .commit().")
      .def("set_cursor", &PyBus::set_cursor, py::arg("topic"), py::arg("name"), py::arg("where"),
           "Moves (or creates) a named cursor: \"earliest\", \"latest\", a position or a datetime.")
      .def("remove_cursor", &PyBus::remove_cursor, py::arg("topic"), py::arg("name"),
           "Deletes a named cursor; False if there was none.")
      .def("create_queue", &PyBus::create_queue, py::arg("name"), py::kw_only(), py::arg("bindings"),
           py::arg("max_deliveries") = QueueConfig{}.max_deliveries,
           py::arg("lease") = std::chrono::duration<double>(QueueConfig{}.lease).count(),
           py::arg("retry") = py::none(), py::arg("filter") = "", py::arg("ordering_key") = "",
           py::arg("single_active") = false, py::arg("dedup_window") = 0.0, py::arg("expired") = "dead-letter",
           "Creates a durable queue bound to journal topics by name or pattern (or opens it if it exists with the "
           "same configuration). lease: seconds a stalled consumer keeps a delivery; retry: "
           "\"exponential:min=100ms,max=30s,factor=2,jitter=0.2\" (any subset of the keys); filter: a header "
           "filter (\"x-match=any,type=OrderPlaced\"); ordering_key: the header that orders records per key "
           "(\"key\"); single_active: one consumer at a time; dedup_window: seconds in which a message-id is "
           "dispatched once; expired: \"dead-letter\" or \"drop\" for records past their expires-at.")
      .def("queue", &PyBus::queue, py::arg("name"), "Opens an existing queue; NotFoundError if there is none.")
      .def("queues", &PyBus::queues, "The names of the bus's queues.")
      .def("remove_queue", &PyBus::remove_queue, py::arg("name"),
           "Removes a queue (False if there was none); its dead-letter topic NAME.dlq stays.")
      .def_property_readonly("path", &PyBus::path)
      .def_property_readonly("closed", &PyBus::closed)
      .def("close", &PyBus::close)
      .def("__enter__", [](std::shared_ptr<PyBus> self) { return self; })
      .def("__exit__", [](PyBus& self, py::args) { self.close(); });
}

}  // namespace shmbus::python
