// A queue's config file (<bus>/queues/<name>.conf, text), its bound topics and their state files.
#include "messaging/queue_impl.h"

#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "base/process_identity.h"
#include "bus/registry.h"
#include "log/tail.h"
#include "shmbus/error.h"
#include "shmbus/header_filter.h"
#include "shmbus/pattern.h"

namespace shmbus::detail {
namespace fs = std::filesystem;
namespace {

std::string queues_dir(const bus::BusState& bus) { return bus.path + "/queues"; }
std::string config_path(const bus::BusState& bus, std::string_view name) {
  return queues_dir(bus) + "/" + std::string(name) + ".conf";
}

std::string render(const QueueConfig& c, int64_t created_ns) {
  std::ostringstream out;
  out << "created_ns=" << created_ns << "\nmax_deliveries=" << c.max_deliveries << "\nlease_ms=" << c.lease.count()
      << "\nretry=" << c.retry.to_string() << "\nfilter=" << c.filter << "\nordering_key=" << c.ordering_key
      << "\nsingle_active=" << (c.single_active ? 1 : 0) << "\ndedup_window_ms=" << c.dedup_window.count()
      << "\nexpired=" << to_string(c.expired) << '\n';
  for (const std::string& b : c.bindings) out << "bind=" << b << '\n';
  return out.str();
}

QueueConfig parse_config(const std::string& text, const std::string& path, int64_t& created_ns) {
  QueueConfig c;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    const size_t eq = line.find('=');
    if (eq == std::string::npos) continue;
    const std::string key = line.substr(0, eq), value = line.substr(eq + 1);
    try {
      if (key == "created_ns") created_ns = std::stoll(value);
      else if (key == "max_deliveries") c.max_deliveries = static_cast<uint32_t>(std::stoul(value));
      else if (key == "lease_ms") c.lease = std::chrono::milliseconds(std::stoll(value));
      else if (key == "retry") c.retry = RetryPolicy::parse(value);
      else if (key == "bind") c.bindings.push_back(value);
      else if (key == "filter") c.filter = value;
      else if (key == "ordering_key") c.ordering_key = value;
      else if (key == "single_active") c.single_active = value == "1";
      else if (key == "dedup_window_ms") c.dedup_window = std::chrono::milliseconds(std::stoll(value));
      else if (key == "expired") c.expired = parse_expired_action(value);
    } catch (const std::exception& e) {
      throw Error(path + ": bad line \"" + line + "\" (" + e.what() + "); fix or remove the queue", ErrorKind::kCorrupt);
    }
  }
  return c;
}

void validate_config(const QueueConfig& c, std::string_view name) {
  validate_queue_name(name);
  auto bad = [&](const std::string& what) {
    return Error("queue " + std::string(name) + ": " + what, ErrorKind::kInvalidArgument);
  };
  if (c.bindings.empty()) throw bad("bind it to at least one topic or pattern (e.g. orders.#)");
  for (const std::string& b : c.bindings) validate_pattern(b);
  if (c.max_deliveries == 0 || c.max_deliveries > 255) throw bad("max deliveries must be 1 .. 255");
  if (c.lease.count() <= 0) throw bad("the lease must be positive");
  if (c.dedup_window.count() < 0) throw bad("the dedup window must not be negative");
  if (c.ordering_key.find_first_of("\n\r") != std::string::npos || c.ordering_key.size() > 255) {
    throw bad("the ordering key must be a header name (one line, at most 255 bytes)");
  }
  if (c.filter.find_first_of("\n\r") != std::string::npos) throw bad("the header filter must be one line");
  (void)HeaderFilter::parse(c.filter);  // throws, saying which argument is wrong
}

// Everything that decides what the queue delivers and how (the creation time aside).
bool same_semantics(const QueueConfig& a, const QueueConfig& b) {
  return render(a, 0) == render(b, 0);
}

// Writes `text` to `path` unless it exists: temp file, then link(2), so exactly one creator wins.
bool write_new_file(const std::string& path, const std::string& text) {
  const std::string temp = path + ".tmp." + base::unique_suffix();
  {
    std::ofstream out(temp, std::ios::trunc);
    out << text;
    if (!out.flush()) throw Error(temp + ": cannot write (" + std::strerror(errno) + ")", ErrorKind::kIo);
  }
  const bool created = ::link(temp.c_str(), path.c_str()) == 0;
  const int err = errno;
  ::unlink(temp.c_str());
  if (!created && err != EEXIST) throw Error(path + ": cannot create (" + std::strerror(err) + ")", ErrorKind::kIo);
  return created;
}

std::string read_file(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw Error("no queue at " + path + "; create it first (shmbus queue create)", ErrorKind::kNotFound);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

}  // namespace

std::shared_ptr<QueueImpl> QueueImpl::create(std::shared_ptr<bus::BusState> bus, std::string_view name,
                                             const QueueConfig& config) {
  validate_config(config, name);
  fs::create_directories(queues_dir(*bus));
  const int64_t now = base::realtime_ns();
  if (!write_new_file(config_path(*bus, name), render(config, now))) {
    auto existing = open(bus, name);
    if (!same_semantics(existing->config(), config)) {
      throw Error("queue " + std::string(name) + " exists with another configuration; remove it first (shmbus queue rm)",
                  ErrorKind::kInvalidArgument);
    }
    return existing;
  }
  return open(std::move(bus), name);
}

std::shared_ptr<QueueImpl> QueueImpl::open(std::shared_ptr<bus::BusState> bus, std::string_view name) {
  validate_queue_name(name);
  auto q = std::make_shared<QueueImpl>();
  q->bus_ = std::move(bus);
  q->name_ = std::string(name);
  const std::string path = config_path(*q->bus_, name);
  q->config_ = parse_config(read_file(path), path, q->created_ns_);
  validate_config(q->config_, name);
  q->filter_ = HeaderFilter::parse(q->config_.filter);
  q->filters_ = !q->config_.filter.empty();
  q->refresh();
  return q;
}

bool QueueImpl::remove(bus::BusState& bus, std::string_view name) {
  validate_queue_name(name);
  std::error_code ec;
  return fs::remove(config_path(bus, name), ec);
}

std::vector<std::string> QueueImpl::list(const bus::BusState& bus) {
  std::vector<std::string> out;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(queues_dir(bus), ec)) {
    const std::string f = e.path().filename().string();
    if (f.size() > 5 && f.ends_with(".conf") && f.find(".tmp.") == std::string::npos) out.push_back(f.substr(0, f.size() - 5));
  }
  std::sort(out.begin(), out.end());
  return out;
}

bool QueueImpl::registry_changed() const noexcept {
  // SYNC: registry generation (read) — pairs with bump_generation() (bus/registry_entry.cc).
  return bus::load_generation(bus_->registry()) != seen_generation_.load(std::memory_order_relaxed);
}

void QueueImpl::refresh() {
  std::lock_guard<std::mutex> guard(mu_);
  const uint64_t generation = bus::load_generation(bus_->registry());
  if (generation == seen_generation_.load(std::memory_order_relaxed)) return;
  for (const std::string& topic : bus_->registered_topics()) {
    if (topic == name_ + ".dlq") continue;  // our own dead letters never come back by themselves
    bool wanted = false;
    for (const std::string& b : config_.bindings) wanted |= pattern_matches(b, topic);
    bool have = false;
    for (const auto& t : bound_) have |= t->name == topic;
    if (wanted && !have) bind_topic(topic);
  }
  seen_generation_.store(generation, std::memory_order_relaxed);
}

// A topic that existed when the queue was created joins at its tail (what comes next); one
// created later joins at its start (everything published to it is the queue's).
void QueueImpl::bind_topic(const std::string& name) {
  std::shared_ptr<topic::TopicHandle> handle;
  try {
    handle = bus_->topic(name, /*writable=*/false, /*create=*/false);  // consumers only read the log
  } catch (const Error&) {
    return;  // removed meanwhile, or damaged: not ours to serve
  }
  // A memory topic's queue state lives beside its ring in the bus directory (gone with it). An
  // overwrite ring is passed over: it would overwrite what a consumer holds.
  const bool ring = !handle->storage().keeps_records();
  if (ring && handle->policy() == Policy::kOverwrite) return;
  messaging::QueueStart start;
  if (handle->meta().config.created_ns < created_ns_) {
    const log::TailValue t = log::read_tail_exact(handle->meta().tail);
    start = {t.position, t.seq};
  }
  const std::string dir = ring ? bus_->topic_dir(name) : handle->storage().cursor_dir();
  auto state = messaging::QueueFileHandle::open_or_create(dir, name_, name, config_, start);
  bound_.push_back(std::make_unique<BoundTopic>(BoundTopic{name, std::move(handle), std::move(state)}));
  bound_count_.store(bound_.size(), std::memory_order_release);
}

size_t QueueImpl::topic_count() const noexcept {
  // acquire: pairs with bind_topic()'s release (topics are only ever added).
  return bound_count_.load(std::memory_order_acquire);
}

BoundTopic& QueueImpl::topic_at(size_t i) noexcept {
  std::lock_guard<std::mutex> guard(mu_);
  return *bound_[i];
}

Result<uint64_t> QueueImpl::publish_dead_letter(std::span<const std::byte> payload, std::span<const Header> headers) {
  std::lock_guard<std::mutex> guard(dlq_mu_);
  if (!dlq_) {
    TopicConfig c;
    c.kind = TopicKind::kJournal;
    bus_->create_topic(name_ + ".dlq", c);
    dlq_ = std::make_unique<PublisherImpl>(bus_->topic(name_ + ".dlq", true, false), &bus_->meta().doorbell, bus_);
  }
  return dlq_->publish(payload, headers, /*may_wait=*/true);
}

}  // namespace shmbus::detail
