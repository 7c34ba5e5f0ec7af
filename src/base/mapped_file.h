// A whole file mapped into memory (Boost.Interprocess), created atomically when new.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>

#include <boost/interprocess/file_mapping.hpp>
#include <boost/interprocess/mapped_region.hpp>

namespace shmbus::base {

enum class Access { kReadOnly, kReadWrite };

class MappedFile {
 public:
  MappedFile() = default;
  // Maps an existing file. Throws Error with the path and what to do.
  static MappedFile open(const std::string& path, Access access);
  // Creates `path` of `bytes` zero bytes with create_file_atomically() (base/file.h): `init`
  // fills the mapped temporary file before it is linked into place, so nobody ever maps a
  // half-made file. Returns false (and leaves the
  // existing file alone) if `path` exists already. `mode` is the file's permission bits.
  static bool create(const std::string& path, size_t bytes, unsigned mode,
                     const std::function<void(std::byte*)>& init);

  std::byte* data() const noexcept { return static_cast<std::byte*>(region_.get_address()); }
  size_t size() const noexcept { return region_.get_size(); }
  const std::string& path() const noexcept { return path_; }
  // Faults every page in now, so the first lap of a ring does not pay a page fault per page.
  void populate() const noexcept;
  // Writes the mapping's dirty pages to the file and waits for the disk (msync MS_SYNC).
  // False if the operating system refused.
  bool sync() noexcept { return region_.flush(0, 0, /*async=*/false); }

 private:
  std::string path_;
  bool writable_ = false;
  boost::interprocess::file_mapping file_;
  boost::interprocess::mapped_region region_;
};

// Maps bytes [offset, offset + bytes) of `path` read-write (whole pages) for a few atomic
// updates, so that a party that maps the file read-only (a subscriber) can still void an
// abandoned claim.
class WritableRange {
 public:
  WritableRange(const std::string& path, size_t offset, size_t bytes);
  std::byte* at(size_t offset) const noexcept;

 private:
  size_t page_start_;
  boost::interprocess::file_mapping file_;
  boost::interprocess::mapped_region region_;
};

}  // namespace shmbus::base
