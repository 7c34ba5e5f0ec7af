#include "shmbus/bus.h"

#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <thread>

#include "bus/bus_state.h"
#include "journal/cursor_file.h"
#include "journal/journal_stats.h"
#include "routing/pattern_subscriber_impl.h"
#include "shmbus/error.h"
#include "topic/process_identity.h"
#include "topic/publisher_impl.h"
#include "topic/slots.h"
#include "topic/subscriber_impl.h"

namespace shmbus {
namespace fs = std::filesystem;
using detail::BusState;

namespace detail {

std::string resolve_bus_path(std::string_view name_or_path) {
  if (name_or_path.empty()) throw Error("empty bus name; give a name (e.g. demo) or a directory path", ErrorKind::kInvalidName);
  if (name_or_path.find('/') != std::string_view::npos) return std::string(name_or_path);
  if (name_or_path == "." || name_or_path == ".." || name_or_path[0] == '.') {
    throw Error("invalid bus name \"" + std::string(name_or_path) + "\": use letters, digits, _ - . (not leading .)", ErrorKind::kInvalidName);
  }
  for (char c : name_or_path) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '_' && c != '-' && c != '.') {
      throw Error("invalid bus name \"" + std::string(name_or_path) + "\": use letters, digits, _ - .", ErrorKind::kInvalidName);
    }
  }
  const char* root = std::getenv("SHMBUS_ROOT");
  return std::string(root && *root ? root : "/dev/shm/shmbus") + "/" + std::string(name_or_path);
}

TopicConfig BusState::topic_defaults() const noexcept {
  const bus::BusMeta& m = meta();
  TopicConfig c;
  c.capacity = m.default_capacity;
  c.policy = static_cast<Policy>(m.default_policy);
  c.unblock_timeout = std::chrono::milliseconds(m.default_unblock_timeout_ms);
  c.subscriber_timeout = std::chrono::milliseconds(m.default_subscriber_timeout_ms);
  return c;
}

std::shared_ptr<topic::TopicHandle> BusState::topic(std::string_view name, bool writable, bool create) {
  validate_topic_name(name);
#if defined(__SANITIZE_THREAD__)
  // ThreadSanitizer tells memory apart by address and cannot know that two mappings of one file
  // alias: a subscriber's read-only mapping would hide from it that the subscriber's acquire of
  // a commit pairs with the publisher's stores, and then the next lap's publisher seemed to race
  // the last one. Under TSan a process maps each topic once, read-write.
  writable = true;
#endif
  auto key = std::make_pair(std::string(name), writable);
  {
    std::lock_guard<std::mutex> guard(mutex);
    if (auto cached = open_topics[key].lock()) return cached;
  }
  if (create && !fs::exists(topic_dir(name))) create_topic(name, topic_defaults());
  auto handle = topic::TopicHandle::open(topic_dir(name), writable ? log::Access::kReadWrite : log::Access::kReadOnly);
  std::lock_guard<std::mutex> guard(mutex);
  // Threads that opened the topic at the same time all use the first handle: one set of
  // mappings (and of journal segment makers) per process.
  if (auto cached = open_topics[key].lock()) return cached;
  open_topics[key] = handle;
  return handle;
}

}  // namespace detail

namespace {

void make_bus_dir(const std::string& path, const BusOptions& options) {
  fs::path p(path);
  std::error_code ec;
  if (p.has_parent_path() && !fs::exists(p.parent_path())) {
    fs::create_directories(p.parent_path(), ec);
    // The default root is shared by every user, like /tmp: sticky and world-writable.
    if (!ec && p.parent_path() == "/dev/shm/shmbus") ::chmod(p.parent_path().c_str(), 01777);
  }
  if (::mkdir(path.c_str(), options.group ? 0770 : 0700) != 0 && errno != EEXIST) {
    throw Error(path + ": cannot create the bus directory (" + std::strerror(errno) + "); check permissions", ErrorKind::kIo);
  }
  if (options.group) {
    struct group* g = ::getgrnam(options.group->c_str());
    if (g == nullptr) throw Error("no such group \"" + *options.group + "\" for bus " + path, ErrorKind::kInvalidArgument);
    if (::chown(path.c_str(), static_cast<uid_t>(-1), g->gr_gid) != 0 || ::chmod(path.c_str(), 0770) != 0) {
      throw Error(path + ": cannot give the bus to group " + *options.group + " (" + std::strerror(errno) + ")", ErrorKind::kIo);
    }
  }
  fs::create_directories(path + "/topics", ec);
}

void init_bus_meta(std::byte* at, const TopicConfig& defaults) {
  auto* m = new (at) bus::BusMeta{};
  log::init_file_header(&m->file, log::FileKind::kBusMeta, sizeof(bus::BusMeta));
  m->created_ns = topic::realtime_ns();
  m->default_capacity = defaults.capacity;
  m->default_policy = static_cast<uint32_t>(defaults.policy);
  m->default_unblock_timeout_ms = static_cast<uint64_t>(defaults.unblock_timeout.count());
  m->default_subscriber_timeout_ms = static_cast<uint64_t>(defaults.subscriber_timeout.count());
}

// A bus directory we may not enter (another user's 0700 bus): say whose it is and how buses
// are shared, before any look inside fails with a bare "Permission denied".
void check_bus_access(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) return;  // new, or not a directory: said below
  if (::faccessat(AT_FDCWD, path.c_str(), R_OK | W_OK | X_OK, AT_EACCESS) == 0 || errno != EACCES) return;
  const struct passwd* me = ::getpwuid(::geteuid());
  throw Error(path + ": permission denied: this bus is " + log::owner_text(path) + ", and you are " +
                  (me ? std::string(me->pw_name) : "uid " + std::to_string(::geteuid())) +
                  ". A bus is private to its owner unless it is created shared with a group: its owner can "
                  "remove it and create it again with BusOptions::group (shmbus --group GROUP, "
                  "shmbus.Bus(name, group=GROUP)) and add you to that group; or use a bus of your own "
                  "(another name, or SHMBUS_ROOT)", ErrorKind::kIo);
}

// A bus being created by another process may lack bus.meta for a moment: wait a little.
bool wait_for_file(const std::string& path) {
  for (int i = 0; i < 100; ++i) {
    std::error_code ec;  // a directory we may not look into was refused earlier, with its owner
    if (fs::exists(path, ec)) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return false;
}

}  // namespace

Bus Bus::open(std::string_view name_or_path, const BusOptions& options) {
  auto state = std::make_shared<BusState>();
  state->path = detail::resolve_bus_path(name_or_path);
  check_bus_access(state->path);
  std::error_code ec;
  if (fs::exists(state->path, ec) && !fs::is_directory(state->path, ec)) {
    throw Error(state->path + ": is a file, not a bus directory; give a bus name or directory", ErrorKind::kNotShmbus);
  }
  const bool has_meta = fs::exists(state->path + "/bus.meta", ec);
  const bool dir_exists = fs::exists(state->path, ec);
  // Only a new or empty directory becomes a bus; a directory with other files in it is either
  // a bus being created by another process right now (bus.meta comes last) or not a bus.
  const bool fresh = !dir_exists || fs::is_empty(state->path, ec);
  if (!has_meta && fresh) {
    if (!options.create) {
      throw Error(state->path + ": no bus here; create it first (open with create) or check the name", ErrorKind::kNotFound);
    }
    topic::validate_config(options.topic_defaults, "(bus defaults)");
    make_bus_dir(state->path, options);
    log::MappedFile::create(state->path + "/registry", sizeof(bus::Registry), 0600, [](std::byte* at) {
      log::init_file_header(new (at) bus::Registry{}, log::FileKind::kRegistry, sizeof(bus::Registry));
    });
    // bus.meta last: its presence says the bus is complete.
    log::MappedFile::create(state->path + "/bus.meta", sizeof(bus::BusMeta), 0600,
                            [&](std::byte* at) { init_bus_meta(at, options.topic_defaults); });
  } else if (!has_meta && !wait_for_file(state->path + "/bus.meta")) {
    throw Error(state->path + ": not a shmbus bus (no bus.meta); point at a bus directory", ErrorKind::kNotShmbus);
  }
  state->file_mode = options.group ? 0660 : 0600;
  state->meta_file = log::MappedFile::open(state->path + "/bus.meta", log::Access::kReadWrite);
  log::check_file_header(state->meta_file.data(), state->meta_file.size(), log::FileKind::kBusMeta,
                         state->path + "/bus.meta");
  if (!wait_for_file(state->path + "/registry")) {
    throw Error(state->path + "/registry: missing; the bus is damaged: remove it and create it again", ErrorKind::kCorrupt);
  }
  state->registry_file = log::MappedFile::open(state->path + "/registry", log::Access::kReadWrite);
  log::check_file_header(state->registry_file.data(), state->registry_file.size(), log::FileKind::kRegistry,
                         state->path + "/registry");
  fs::create_directories(state->path + "/topics", ec);
  state->reconcile_registry();
  return Bus(std::move(state));
}

const std::string& Bus::path() const noexcept { return state_->path; }

bool Bus::create_topic(std::string_view name, const TopicConfig& config) {
  return state_->create_topic(name, config);
}

bool Bus::topic_exists(std::string_view name) const {
  validate_topic_name(name);
  return fs::exists(state_->topic_dir(name) + "/meta");
}

std::vector<std::string> Bus::topics() const { return state_->registered_topics(); }

TopicStats Bus::stats(std::string_view name) const {
  auto handle = state_->topic(name, /*writable=*/false, /*create=*/false);
  const topic::TopicMeta& m = handle->meta();
  TopicStats s;
  s.name = std::string(name);
  s.config = handle->config();
  s.kind = s.config.kind;
  // Relaxed: statistics.
  s.flushed_position = m.flush.flushed_position.load(std::memory_order_relaxed);
  s.flushes = m.flush.flushes.load(std::memory_order_relaxed);
  s.flushed_records = m.flush.flushed_records.load(std::memory_order_relaxed);
  const log::TailValue tail = log::read_tail_exact(const_cast<log::Tail&>(m.tail));
  s.tail_position = tail.position;
  s.tail_seq = tail.seq;
  // Relaxed: statistics; each counter has one writer or is an RMW.
  s.published = m.counters.retired_published.load(std::memory_order_relaxed);
  s.bytes = m.counters.retired_bytes.load(std::memory_order_relaxed);
  s.lost = m.counters.retired_lost.load(std::memory_order_relaxed);
  for (const auto& p : m.publishers) {
    s.published += p.published.load(std::memory_order_relaxed);
    s.bytes += p.bytes.load(std::memory_order_relaxed);
  }
  for (const auto& sub : m.subscribers) s.lost += sub.lost.load(std::memory_order_relaxed);
  s.unblocked = m.counters.unblocked.load(std::memory_order_relaxed);
  s.evicted = m.counters.evicted.load(std::memory_order_relaxed);
  s.publishers = topic::attached_publishers(m);
  s.subscribers = topic::attached_subscribers(m);
  if (s.kind == TopicKind::kJournal) journal::fill_journal_stats(m, handle->data_dir(), s);
  return s;
}

namespace {
std::shared_ptr<topic::TopicHandle> journal_topic(detail::BusState& state, std::string_view name) {
  auto handle = state.topic(name, /*writable=*/false, /*create=*/false);
  if (handle->kind() != TopicKind::kJournal) {
    throw Error("topic " + std::string(name) + " is a memory topic: named cursors need a journal topic",
                ErrorKind::kInvalidArgument);
  }
  return handle;
}
}  // namespace

void Bus::set_cursor(std::string_view topic, std::string_view name, const StartAt& where) {
  journal::CursorFile::validate_name(name);
  auto handle = journal_topic(*state_, topic);
  detail::SubscriberImpl probe(handle, SubscribeOptions(where), state_);  // finds the record and its seq
  journal::CursorFile::set(handle->data_dir(), std::string(name), probe.position(), probe.expected_seq());
}

bool Bus::remove_cursor(std::string_view topic, std::string_view name) {
  return journal::CursorFile::remove(journal_topic(*state_, topic)->data_dir(), std::string(name));
}

Publisher Bus::publisher(std::string_view topic) {
  auto handle = state_->topic(topic, /*writable=*/true, /*create=*/true);
  return Publisher(std::make_unique<detail::PublisherImpl>(handle, &state_->meta().doorbell, state_));
}

Subscriber Bus::subscriber(std::string_view topic, const SubscribeOptions& options) {
  auto handle = state_->topic(topic, /*writable=*/false, /*create=*/true);
  return Subscriber(std::make_unique<detail::SubscriberImpl>(handle, options, state_));
}

PatternSubscriber Bus::subscribe(std::string_view pattern, const SubscribeOptions& options) {
  validate_pattern(pattern);
  return PatternSubscriber(std::make_unique<detail::PatternSubscriberImpl>(state_, std::string(pattern), options));
}

Policy parse_policy(std::string_view text) {
  if (text == "block") return Policy::kBlock;
  if (text == "fail") return Policy::kFail;
  if (text == "overwrite") return Policy::kOverwrite;
  throw Error("unknown policy \"" + std::string(text) + "\": use block, fail or overwrite", ErrorKind::kInvalidArgument);
}

const char* to_string(Policy policy) noexcept {
  switch (policy) {
    case Policy::kBlock: return "block";
    case Policy::kFail: return "fail";
    case Policy::kOverwrite: return "overwrite";
  }
  return "unknown";
}

void parse_fsync(std::string_view text, TopicConfig& config) {
  if (text == "never") {
    config.fsync = FsyncPolicy::kNever;
  } else if (text == "always") {
    config.fsync = FsyncPolicy::kAlways;
  } else if (text.starts_with("interval=") && text.size() > 9 &&
             text.substr(9).find_first_not_of("0123456789") == std::string_view::npos && text.size() < 19) {
    config.fsync = FsyncPolicy::kInterval;
    config.fsync_interval = std::chrono::milliseconds(std::stoll(std::string(text.substr(9))));
  } else {
    throw Error("unknown fsync policy \"" + std::string(text) + "\": use never, interval=MS or always",
                ErrorKind::kInvalidArgument);
  }
}

std::string to_string(FsyncPolicy policy, std::chrono::milliseconds interval) {
  switch (policy) {
    case FsyncPolicy::kNever: return "never";
    case FsyncPolicy::kAlways: return "always";
    case FsyncPolicy::kInterval: return "interval=" + std::to_string(interval.count());
  }
  return "unknown";
}

const char* to_string(TopicKind kind) noexcept {
  switch (kind) {
    case TopicKind::kMemory: return "memory";
    case TopicKind::kJournal: return "journal";
  }
  return "unknown";
}

}  // namespace shmbus
