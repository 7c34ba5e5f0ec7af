#include "base/file.h"

#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>

#include "shmbus/error.h"
#include "base/process_identity.h"

namespace shmbus::base {

UniqueFd& UniqueFd::operator=(UniqueFd&& other) noexcept {
  if (this != &other) reset(other.release());
  return *this;
}

UniqueFd UniqueFd::open(const std::string& path, int flags, unsigned mode) noexcept {
  return UniqueFd(::open(path.c_str(), flags | O_CLOEXEC, mode));
}

int UniqueFd::release() noexcept {
  const int fd = fd_;
  fd_ = -1;
  return fd;
}

void UniqueFd::reset(int fd) noexcept {
  if (fd_ >= 0) ::close(fd_);
  fd_ = fd;
}

void throw_file_error(const std::string& path, const std::string& what, int err, const std::string& advice) {
  throw Error(path + ": cannot " + what + " (" + std::strerror(err) + ")" + (advice.empty() ? "" : "; " + advice),
              err == ENOENT ? ErrorKind::kNotFound : ErrorKind::kIo);
}

ssize_t pread_full(int fd, void* out, size_t bytes, uint64_t offset) noexcept {
  size_t done = 0;
  while (done < bytes) {
    const ssize_t n = ::pread(fd, static_cast<std::byte*>(out) + done, bytes - done, static_cast<off_t>(offset + done));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return -1;
    if (n == 0) break;
    done += static_cast<size_t>(n);
  }
  return static_cast<ssize_t>(done);
}

namespace {

// Unlinks the temporary name when creation ends, however it ends.
class TempName {
 public:
  explicit TempName(std::string path) : path_(std::move(path)) {}
  ~TempName() { ::unlink(path_.c_str()); }
  TempName(const TempName&) = delete;
  TempName& operator=(const TempName&) = delete;
  const std::string& path() const noexcept { return path_; }

 private:
  std::string path_;
};

std::string mib(uint64_t bytes) {
  if (bytes < (1u << 20)) return std::to_string((bytes + 1023) >> 10) + " KiB";
  return std::to_string(bytes >> 20) + " MiB";
}

std::string temp_path_for(const std::string& path) {
  const std::filesystem::path target(path);
  return (target.parent_path() / ("." + target.filename().string() + ".creating." + unique_suffix())).string();
}

// Step 1 for a new file: allocated now, not on first touch.
void allocate(const UniqueFd& fd, const std::string& temp, const NewFile& spec) {
  int err = ::posix_fallocate(fd.get(), 0, static_cast<off_t>(spec.bytes));
  if (err == EOPNOTSUPP || err == EINVAL) err = ::ftruncate(fd.get(), static_cast<off_t>(spec.bytes)) == 0 ? 0 : errno;
  if (err != 0) {
    const std::string dir = std::filesystem::path(temp).parent_path().string();
    throw_file_error(temp, "allocate " + std::to_string(spec.bytes) + " bytes", err,
                     space_advice(dir, spec.bytes, err) + (spec.advice.empty() ? "" : "; or " + spec.advice));
  }
}

void sync_directory_of(const std::string& path) {
  const std::string dir = std::filesystem::path(path).parent_path().string();
  const UniqueFd fd = UniqueFd::open(dir.empty() ? "." : dir, O_RDONLY | O_DIRECTORY);
  if (!fd.valid() || ::fsync(fd.get()) != 0) throw_file_error(dir, "fsync the directory", errno);
}

}  // namespace

bool create_file_atomically(const std::string& path, const NewFile& spec, const std::function<void(const TempFile&)>& fill) {
  const TempName temp(temp_path_for(path));
  const bool reused = spec.reuse && spec.reuse(temp.path());
  const UniqueFd fd = UniqueFd::open(temp.path(), O_RDWR | O_CREAT | (reused ? 0 : O_TRUNC), spec.mode);
  if (!fd.valid()) {
    throw_file_error(temp.path(), "create", errno, "check the permissions of its directory");
  }
  if (!reused) allocate(fd, temp.path(), spec);
  ::fchmod(fd.get(), spec.mode);  // the umask must not narrow the bus's chosen permissions
  fill(TempFile{temp.path(), fd.get(), reused});
  const bool synced = spec.durability == Durability::kSynced;
  if (synced && ::fsync(fd.get()) != 0) throw_file_error(temp.path(), "fsync", errno, spec.advice);
  // 4. link() fails if `path` exists: exactly one creator wins, and the loser's file is dropped.
  if (::link(temp.path().c_str(), path.c_str()) != 0) {
    if (errno == EEXIST) return false;
    throw_file_error(path, "create", errno, "check the permissions of its directory");
  }
  if (synced) {
    ::unlink(temp.path().c_str());  // before the directory's fsync, so that it records both names
    sync_directory_of(path);
  }
  return true;
}

std::string space_advice(const std::string& dir, uint64_t bytes, int err) {
  if (err == EFBIG) {
    return "the process's file size limit (ulimit -f, RLIMIT_FSIZE) is below " + std::to_string(bytes) +
           " bytes: raise it, or lower the topic capacity / segment size";
  }
  std::string free_text = free_space_text(dir);
  return (free_text.empty() ? dir : free_text) + ", the file needs " + mib(bytes) +
         ": free space there (remove unused topics or buses), or lower the topic capacity / segment size";
}

std::string free_space_text(const std::string& dir) {
  struct statvfs v {};
  if (::statvfs(dir.c_str(), &v) != 0) return "";
  const uint64_t block = v.f_frsize != 0 ? v.f_frsize : v.f_bsize;
  return dir + " has " + mib(static_cast<uint64_t>(v.f_bavail) * block) + " free of " +
         mib(static_cast<uint64_t>(v.f_blocks) * block);
}

std::string owner_text(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return "";
  char mode[8];
  std::snprintf(mode, sizeof mode, "%04o", static_cast<unsigned>(st.st_mode & 07777));
  const struct passwd* user = ::getpwuid(st.st_uid);
  const struct group* group = ::getgrgid(st.st_gid);
  return "owned by user " + (user ? std::string(user->pw_name) : "#" + std::to_string(st.st_uid)) + " (uid " +
         std::to_string(st.st_uid) + "), group " + (group ? std::string(group->gr_name) : "#" + std::to_string(st.st_gid)) +
         ", mode " + mode;
}

}  // namespace shmbus::base
