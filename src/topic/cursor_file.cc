#include "topic/cursor_file.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>

#include "log/record_format.h"
#include "shmbus/error.h"
#include "base/file.h"
#include "base/process_identity.h"

namespace shmbus::topic {
namespace fs = std::filesystem;

namespace {
constexpr size_t kCursorFileBytes = 4096;
constexpr size_t kMaxCursorName = 64;

// Opens `path` and takes its flock (exclusive, or shared just to test), making sure the lock is
// on the file that is at `path` now (a remover may have unlinked the one we opened).
struct LockedFile {
  enum class State : uint8_t { kHeld, kMissing, kBusy };  // kBusy: somebody else holds it
  State state;
  base::UniqueFd fd;  // valid when kHeld
};
LockedFile lock_file(const std::string& path, int operation) {
  for (;;) {
    base::UniqueFd fd = base::UniqueFd::open(path, O_RDWR);
    if (!fd.valid()) {
      if (errno == ENOENT) return {LockedFile::State::kMissing, {}};
      base::throw_file_error(path, "open", errno);
    }
    if (::flock(fd.get(), operation | LOCK_NB) != 0) return {LockedFile::State::kBusy, {}};
    struct stat held {}, now {};
    if (::fstat(fd.get(), &held) == 0 && ::stat(path.c_str(), &now) == 0 && held.st_ino == now.st_ino) {
      return {LockedFile::State::kHeld, std::move(fd)};
    }
    // Replaced or removed meanwhile: try the file that is there now.
  }
}

void make_cursor(const std::string& path, uint64_t position, uint64_t seq) {
  base::MappedFile::create(path, kCursorFileBytes, 0600, [&](std::byte* at) {
    log::init_file_header(at, log::FileKind::kCursor, kCursorFileBytes);
    auto* state = reinterpret_cast<CursorState*>(at);  // a zeroed page: the atomics are zero
    state->position.store(position, std::memory_order_relaxed);
    state->seq.store(seq, std::memory_order_relaxed);
    state->committed_ns.store(base::realtime_ns(), std::memory_order_relaxed);
  });
}

base::MappedFile map_cursor(const std::string& path, base::Access access) {
  base::MappedFile file = base::MappedFile::open(path, access);
  log::check_file_header(file.data(), file.size(), log::FileKind::kCursor, path);
  const auto* state = reinterpret_cast<const CursorState*>(file.data());
  if (state->position.load(std::memory_order_acquire) % log::kRecordAlign != 0) {
    throw Error(path + ": the cursor's position is not a record boundary; the file is damaged: set it with "
                       "`shmbus cursor set` or remove it with `shmbus cursor reset`", ErrorKind::kCorrupt);
  }
  return file;
}

std::string in_use_message(const std::string& name) {
  return "cursor " + name + " is in use by another subscriber (a live process holds it); stop that one or use another name";
}

// Holds the lock of an existing or new cursor file; throws if somebody else holds it.
base::UniqueFd lock_or_create(const std::string& journal_dir, const std::string& name, uint64_t position, uint64_t seq,
                   bool* created) {
  CursorFile::validate_name(name);
  const std::string dir = CursorFile::dir_of(journal_dir);
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) throw Error(dir + ": cannot create the cursor directory (" + ec.message() + ")", ErrorKind::kIo);
  const std::string path = dir + "/" + name;
  for (;;) {
    LockedFile locked = lock_file(path, LOCK_EX);
    if (locked.state == LockedFile::State::kBusy) throw Error(in_use_message(name), ErrorKind::kInvalidArgument);
    if (locked.state == LockedFile::State::kHeld) return std::move(locked.fd);
    make_cursor(path, position, seq);  // false if a racer made it first: lock that one
    if (created != nullptr) *created = true;
  }
}
}  // namespace

void CursorFile::validate_name(std::string_view name) {
  bool ok = !name.empty() && name.size() <= kMaxCursorName;
  for (char c : name) {
    ok = ok && ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-');
  }
  if (!ok) {
    throw Error("invalid cursor name \"" + std::string(name.substr(0, 80)) +
                    "\": use 1 to 64 characters of A-Z a-z 0-9 _ -", ErrorKind::kInvalidName);
  }
}

CursorFile CursorFile::acquire(const std::string& journal_dir, const std::string& name, uint64_t position, uint64_t seq,
                               bool* created) {
  if (created != nullptr) *created = false;
  CursorFile cursor;
  cursor.lock_ = lock_or_create(journal_dir, name, position, seq, created);  // unlocked again should mapping throw
  cursor.file_ = map_cursor(dir_of(journal_dir) + "/" + name, base::Access::kReadWrite);
  return cursor;
}

uint64_t CursorFile::position() const noexcept {
  // Acquire: pairs with store()'s release (ours, or an earlier holder's).
  return state()->position.load(std::memory_order_acquire);
}

uint64_t CursorFile::seq() const noexcept { return state()->seq.load(std::memory_order_relaxed); }

void CursorFile::store(uint64_t position, uint64_t seq, bool sync) noexcept {
  CursorState* s = state();
  // Relaxed: seq and time describe the position (for lag); the position's release publishes them.
  s->seq.store(seq, std::memory_order_relaxed);
  s->committed_ns.store(base::realtime_ns(), std::memory_order_relaxed);
  // SYNC: cursor (commit) — pairs with position()'s acquire and list()'s.
  s->position.store(position, std::memory_order_release);
  if (sync) ::msync(file_.data(), kCursorFileBytes, MS_SYNC);
}

std::vector<CursorValue> CursorFile::list(const std::string& journal_dir) {
  std::vector<CursorValue> out;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(dir_of(journal_dir), ec)) {
    const std::string name = entry.path().filename().string();
    if (name.empty() || name[0] == '.') continue;  // a cursor being created
    base::MappedFile file = map_cursor(entry.path().string(), base::Access::kReadOnly);
    const auto* s = reinterpret_cast<const CursorState*>(file.data());
    CursorValue v;
    v.name = name;
    v.position = s->position.load(std::memory_order_acquire);  // pairs with store()
    v.seq = s->seq.load(std::memory_order_relaxed);
    v.committed_ns = s->committed_ns.load(std::memory_order_relaxed);
    v.in_use = lock_file(entry.path().string(), LOCK_SH).state == LockedFile::State::kBusy;
    out.push_back(std::move(v));
  }
  std::sort(out.begin(), out.end(), [](const CursorValue& a, const CursorValue& b) { return a.name < b.name; });
  return out;
}

void CursorFile::set(const std::string& journal_dir, const std::string& name, uint64_t position, uint64_t seq) {
  CursorFile cursor = acquire(journal_dir, name, position, seq, nullptr);
  cursor.store(position, seq, /*sync=*/true);
}

bool CursorFile::remove(const std::string& journal_dir, const std::string& name) {
  validate_name(name);
  const std::string path = dir_of(journal_dir) + "/" + name;
  const LockedFile locked = lock_file(path, LOCK_EX);
  if (locked.state == LockedFile::State::kMissing) return false;
  if (locked.state == LockedFile::State::kBusy) throw Error(in_use_message(name), ErrorKind::kInvalidArgument);
  return ::unlink(path.c_str()) == 0;  // while we hold the lock; it is dropped after
}

}  // namespace shmbus::topic
