// Files by descriptor: an owning fd, whole reads, and the one way shmbus creates a file
// (temporary file, fill, optional fsync, link into place, optional fsync of the directory).
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <string>

namespace shmbus::base {

// Owns a file descriptor: closed by the destructor, moved not copied.
class UniqueFd {
 public:
  UniqueFd() = default;
  explicit UniqueFd(int fd) noexcept : fd_(fd) {}
  UniqueFd(UniqueFd&& other) noexcept : fd_(other.release()) {}
  UniqueFd& operator=(UniqueFd&& other) noexcept;
  UniqueFd(const UniqueFd&) = delete;
  UniqueFd& operator=(const UniqueFd&) = delete;
  ~UniqueFd() { reset(); }

  // ::open(path, flags | O_CLOEXEC, mode); an invalid UniqueFd on failure, errno as open left it.
  static UniqueFd open(const std::string& path, int flags, unsigned mode = 0) noexcept;

  int get() const noexcept { return fd_; }
  bool valid() const noexcept { return fd_ >= 0; }
  int release() noexcept;
  void reset(int fd = -1) noexcept;  // closes the one held (dropping its flock, if any)

 private:
  int fd_ = -1;
};

// Throws Error(`path`: cannot `what` (strerror(err))[; `advice`]), ErrorKind::kNotFound for
// ENOENT, else kIo.
[[noreturn]] void throw_file_error(const std::string& path, const std::string& what, int err,
                                   const std::string& advice = "");

// Reads up to `bytes` from `offset` on, retrying EINTR and short reads; fewer only at the end of
// the file. Returns the bytes read, or -1 (errno set).
ssize_t pread_full(int fd, void* out, size_t bytes, uint64_t offset) noexcept;

enum class Durability : uint8_t {
  kNone,    // the new file survives a process crash (page cache), not a power loss
  kSynced,  // fsync of the file before it is linked into place, and of the directory after
};

// The temporary file create_file_atomically() hands its `fill`: write its content here.
struct TempFile {
  const std::string& path;
  int fd;       // open read-write
  bool reused;  // it came from NewFile::reuse (its bytes are the old file's), else zero-filled
};

struct NewFile {
  uint64_t bytes = 0;
  unsigned mode = 0600;  // permission bits, set exactly (the umask does not narrow them)
  std::string advice;    // what to do when the space cannot be allocated ("free disk space ...")
  Durability durability = Durability::kNone;
  // Optional: moves an old file of `bytes` (a spare segment) to the temporary path and returns
  // true, or returns false to make a new one. A reused file is not allocated or zeroed again.
  std::function<bool(const std::string& temp_path)> reuse;
};

// Creates `path` atomically, so that nobody ever opens a half-made file:
//   1. a temporary file beside it, ".<name>.creating.<unique_suffix()>" (a leading '.' makes no
//      valid topic, segment or cursor name, so listings pass over it), taken from `reuse` or
//      made and allocated (posix_fallocate: a full disk is this clear error, not a SIGBUS in a
//      publisher later; ftruncate where the filesystem cannot preallocate);
//   2. `fill` writes the content;
//   3. with kSynced, fsync;
//   4. link(2) to `path`: it fails if `path` exists, so exactly one of racing creators wins;
//   5. the temporary name is removed (also when a step throws); with kSynced, fsync of the
//      directory.
// Returns false (leaving the existing file alone) if `path` existed. Throws Error with the path
// and what to do when the filesystem refuses.
bool create_file_atomically(const std::string& path, const NewFile& spec, const std::function<void(const TempFile&)>& fill);

// Why a file of `bytes` could not be allocated in `dir` (posix_fallocate said `err`) and what
// to do: "DIR has 60 MiB free of 64 MiB, the file needs 256 MiB: free space there, ...".
std::string space_advice(const std::string& dir, uint64_t bytes, int err);
// "DIR has 60 MiB free of 64 MiB" (statvfs), or "" if DIR cannot be looked at.
std::string free_space_text(const std::string& dir);
// "owned by user alice (uid 1000), group staff, mode 0700", or "" if PATH cannot be looked at.
std::string owner_text(const std::string& path);

}  // namespace shmbus::base
