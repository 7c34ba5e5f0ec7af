#include "base/mapped_file.h"

#include <sys/mman.h>
#include <unistd.h>

#include <cerrno>

#include <algorithm>
#include <filesystem>

#include "shmbus/error.h"
#include "base/file.h"

namespace shmbus::base {
namespace bi = boost::interprocess;

namespace {
bi::mode_t to_mode(Access access) { return access == Access::kReadOnly ? bi::read_only : bi::read_write; }
}  // namespace

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
  NewFile spec;
  spec.bytes = bytes;
  spec.mode = mode;
  spec.advice = "free space in /dev/shm or lower the topic capacity";
  return create_file_atomically(path, spec, [&](const TempFile& temp) {
    MappedFile m = open(temp.path, Access::kReadWrite);
    init(m.data());
  });
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

}  // namespace shmbus::base
