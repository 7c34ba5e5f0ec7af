#include "log/mapped_file.h"

#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>

#include "shmbus/error.h"
#include "topic/process_identity.h"

namespace shmbus::log {
namespace bi = boost::interprocess;

namespace {
bi::mode_t to_mode(Access access) { return access == Access::kReadOnly ? bi::read_only : bi::read_write; }

std::string errno_text() { return std::strerror(errno); }

std::string mib(uint64_t bytes) {
  if (bytes < (1u << 20)) return std::to_string((bytes + 1023) >> 10) + " KiB";
  return std::to_string(bytes >> 20) + " MiB";
}

}  // namespace

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

MappedFile MappedFile::open(const std::string& path, Access access) {
  MappedFile m;
  m.path_ = path;
  m.writable_ = access == Access::kReadWrite;
  try {
    m.file_ = bi::file_mapping(path.c_str(), to_mode(access));
    m.region_ = bi::mapped_region(m.file_, to_mode(access));
  } catch (const bi::interprocess_exception& e) {
    std::error_code ec;
    if (!std::filesystem::exists(path, ec)) {
      throw Error(path + ": no such file; create the topic or bus first (shmbus topic create)", ErrorKind::kNotFound);
    }
    if (std::filesystem::file_size(path, ec) == 0) {
      throw Error(path + ": empty file, not a shmbus file; remove it or point at the right bus", ErrorKind::kNotShmbus);
    }
    if (::access(path.c_str(), m.writable_ ? R_OK | W_OK : R_OK) != 0 && errno == EACCES) {
      throw Error(path + ": permission denied (" + owner_text(path) + "); the bus's owner can share it with a group " +
                  "(BusOptions::group, shmbus --group GROUP) that you are in", ErrorKind::kIo);
    }
    throw Error(path + ": cannot map (" + e.what() + "); check permissions and free space in " +
                std::filesystem::path(path).parent_path().string(), ErrorKind::kIo);
  }
  return m;
}

bool MappedFile::create(const std::string& path, size_t bytes, unsigned mode,
                        const std::function<void(std::byte*)>& init) {
  std::string temp = path + ".tmp." + topic::unique_suffix();
  int fd = ::open(temp.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
  if (fd < 0) throw Error(temp + ": cannot create (" + errno_text() + "); check the bus directory's permissions", ErrorKind::kIo);
  // The temporary file goes whatever step fails below (it may hold megabytes of /dev/shm).
  struct Unlink {
    const std::string& path;
    ~Unlink() { ::unlink(path.c_str()); }
  } unlink_temp{temp};
  // Allocated now, not on first touch: a full /dev/shm is this clear error, not a SIGBUS in a
  // publisher later (ftruncate where the filesystem cannot preallocate).
  int err = ::posix_fallocate(fd, 0, static_cast<off_t>(bytes));
  if (err == EOPNOTSUPP || err == EINVAL) err = ::ftruncate(fd, static_cast<off_t>(bytes)) == 0 ? 0 : errno;
  if (err != 0) {
    std::string why = std::strerror(err);
    ::close(fd);
    throw Error(temp + ": cannot size to " + std::to_string(bytes) + " bytes (" + why + "); " +
                space_advice(std::filesystem::path(path).parent_path().string(), bytes, err), ErrorKind::kIo);
  }
  ::fchmod(fd, mode);  // the umask must not narrow the bus's chosen permissions
  ::close(fd);
  {
    MappedFile m = open(temp, Access::kReadWrite);
    init(m.data());
  }
  // link() fails if `path` exists: exactly one creator wins, and the loser's file is dropped.
  bool created = ::link(temp.c_str(), path.c_str()) == 0;
  int link_errno = errno;
  if (!created && link_errno != EEXIST) {
    throw Error(path + ": cannot create (" + std::string(std::strerror(link_errno)) + ")", ErrorKind::kIo);
  }
  return created;
}

void MappedFile::populate() const noexcept {
#ifdef MADV_POPULATE_WRITE
  // Best effort (older kernels say EINVAL): page tables filled now, not one fault per page later.
  ::madvise(data(), size(), writable_ ? MADV_POPULATE_WRITE : MADV_POPULATE_READ);
#endif
}

WritableRange::WritableRange(const std::string& path, size_t offset, size_t bytes)
    : page_start_(offset & ~(static_cast<size_t>(bi::mapped_region::get_page_size()) - 1)) {
  try {
    file_ = bi::file_mapping(path.c_str(), bi::read_write);
    region_ = bi::mapped_region(file_, bi::read_write, static_cast<bi::offset_t>(page_start_),
                                offset + std::max<size_t>(bytes, 1) - page_start_);
  } catch (const bi::interprocess_exception& e) {
    throw Error(path + ": cannot map bytes read-write to void an abandoned claim (" + e.what() + ")", ErrorKind::kIo);
  }
}

std::byte* WritableRange::at(size_t offset) const noexcept {
  return static_cast<std::byte*>(region_.get_address()) + (offset - page_start_);
}

}  // namespace shmbus::log
