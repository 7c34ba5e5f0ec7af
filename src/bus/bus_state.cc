// The bus directory: opening and creating it, the topic cache, topic stats, named cursors.
#include "bus/bus_state.h"

#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <thread>

#include "base/file.h"
#include "base/process_identity.h"
#include "log/file_header.h"
#include "shmbus/error.h"
#include "shmbus/pattern.h"

namespace shmbus::bus {
namespace fs = std::filesystem;

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
  const BusMeta& m = meta();
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
    // A removed topic's handle still maps the old files: never hand it out for the name.
    if (auto cached = open_topics[key].lock(); cached && !cached->removed()) return cached;
  }
  std::shared_ptr<topic::TopicHandle> handle;
  for (int attempt = 0;; ++attempt) {
    if (create && !fs::exists(topic_dir(name))) create_topic(name, topic_defaults());
    try {
      handle = topic::TopicHandle::open(topic_dir(name), writable ? base::Access::kReadWrite : base::Access::kReadOnly);
      break;
    } catch (const Error& e) {
      // Another process removed the topic between our check and our open: make it again.
      if (!create || e.kind() != ErrorKind::kNotFound || attempt == 2) throw;
    }
  }
  std::lock_guard<std::mutex> guard(mutex);
  // Threads that opened the topic at the same time all use the first handle: one set of
  // mappings (and of journal segment makers) per process.
  if (auto cached = open_topics[key].lock(); cached && !cached->removed()) return cached;
  // Topics come and go all day (request/reply, retries): drop the names whose handles are gone
  // now and then, so the cache does not grow with every name this process ever used.
  if (open_topics.size() >= 2 * prune_at) {
    std::erase_if(open_topics, [](const auto& kv) { return kv.second.expired(); });
    prune_at = std::max<size_t>(64, open_topics.size());
  }
  open_topics[key] = handle;
  return handle;
}

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
  auto* m = new (at) BusMeta{};
  log::init_file_header(&m->file, log::FileKind::kBusMeta, sizeof(BusMeta));
  m->created_ns = base::realtime_ns();
  m->default_capacity = defaults.capacity;
  m->default_policy = static_cast<uint32_t>(defaults.policy);
  m->default_unblock_timeout_ms = static_cast<uint64_t>(defaults.unblock_timeout.count());
  m->default_subscriber_timeout_ms = static_cast<uint64_t>(defaults.subscriber_timeout.count());
}

// A bus being created by another process may lack bus.meta for a moment: wait a little.
// A bus directory we may not enter (another user's 0700 bus): say whose it is and how buses
// are shared, before any look inside fails with a bare "Permission denied".
void check_bus_access(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) return;  // new, or not a directory: said below
  if (::faccessat(AT_FDCWD, path.c_str(), R_OK | W_OK | X_OK, AT_EACCESS) == 0 || errno != EACCES) return;
  const struct passwd* me = ::getpwuid(::geteuid());
  throw Error(path + ": permission denied: this bus is " + base::owner_text(path) + ", and you are " +
                  (me ? std::string(me->pw_name) : "uid " + std::to_string(::geteuid())) +
                  ". A bus is private to its owner unless it is created shared with a group: its owner can "
                  "remove it and create it again with BusOptions::group (shmbus --group GROUP, "
                  "shmbus.Bus(name, group=GROUP)) and add you to that group; or use a bus of your own "
                  "(another name, or SHMBUS_ROOT)", ErrorKind::kIo);
}

bool wait_for_file(const std::string& path) {
  for (int i = 0; i < 100; ++i) {
    std::error_code ec;  // a directory we may not look into was refused earlier, with its owner
    if (fs::exists(path, ec)) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return false;
}

}  // namespace

std::shared_ptr<BusState> BusState::open(std::string_view name_or_path, const BusOptions& options) {
  auto state = std::make_shared<BusState>();
  state->path = resolve_bus_path(name_or_path);
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
    base::MappedFile::create(state->path + "/registry", sizeof(Registry), 0600, [](std::byte* at) {
      log::init_file_header(new (at) Registry{}, log::FileKind::kRegistry, sizeof(Registry));
    });
    // bus.meta last: its presence says the bus is complete.
    base::MappedFile::create(state->path + "/bus.meta", sizeof(BusMeta), 0600,
                            [&](std::byte* at) { init_bus_meta(at, options.topic_defaults); });
  } else if (!has_meta && !wait_for_file(state->path + "/bus.meta")) {
    throw Error(state->path + ": not a shmbus bus (no bus.meta); point at a bus directory", ErrorKind::kNotShmbus);
  }
  state->file_mode = options.group ? 0660 : 0600;
  state->meta_file = base::MappedFile::open(state->path + "/bus.meta", base::Access::kReadWrite);
  log::check_file_header(state->meta_file.data(), state->meta_file.size(), log::FileKind::kBusMeta,
                         state->path + "/bus.meta");
  if (!wait_for_file(state->path + "/registry")) {
    throw Error(state->path + "/registry: missing; the bus is damaged: remove it and create it again", ErrorKind::kCorrupt);
  }
  state->registry_file = base::MappedFile::open(state->path + "/registry", base::Access::kReadWrite);
  log::check_file_header(state->registry_file.data(), state->registry_file.size(), log::FileKind::kRegistry,
                         state->path + "/registry");
  fs::create_directories(state->path + "/topics", ec);
  state->reconcile_registry();
  return state;
}

}  // namespace shmbus::bus
