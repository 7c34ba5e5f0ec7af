#include "journal/segment_file.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>

#include "log/mapped_file.h"
#include "log/record_format.h"
#include "shmbus/error.h"
#include "topic/process_identity.h"

namespace shmbus::journal {
namespace {

std::string errno_text() { return std::strerror(errno); }

class Fd {
 public:
  explicit Fd(int fd) : fd_(fd) {}
  ~Fd() {
    if (fd_ >= 0) ::close(fd_);
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const { return fd_; }

 private:
  int fd_;
};

}  // namespace

std::string segment_file_name(uint64_t base_position) {
  char name[32];
  std::snprintf(name, sizeof name, "%020llu.seg", static_cast<unsigned long long>(base_position));
  return name;
}

std::optional<uint64_t> parse_segment_file_name(const std::string& file_name) {
  if (file_name.size() != 24 || file_name.substr(20) != ".seg") return std::nullopt;
  uint64_t value = 0;
  for (size_t i = 0; i < 20; ++i) {
    if (file_name[i] < '0' || file_name[i] > '9') return std::nullopt;
    value = value * 10 + static_cast<uint64_t>(file_name[i] - '0');
  }
  return value;
}

std::vector<std::pair<uint64_t, std::string>> list_segments(const std::string& dir) {
  std::vector<std::pair<uint64_t, std::string>> out;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(dir, ec)) {
    if (auto base = parse_segment_file_name(entry.path().filename().string())) out.emplace_back(*base, entry.path().string());
  }
  if (ec) throw Error(dir + ": cannot list the journal directory (" + ec.message() + ")", ErrorKind::kIo);
  std::sort(out.begin(), out.end());
  return out;
}

std::vector<std::string> list_spares(const std::string& dir) {
  std::vector<std::string> out;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(dir, ec)) {
    const std::string name = entry.path().filename().string();
    if (name.starts_with(kSparePrefix) && name.ends_with(".seg")) out.push_back(entry.path().string());
  }
  return out;
}

bool retire_segment(const std::string& dir, const std::string& path, size_t max_spares) {
  if (list_spares(dir).size() < max_spares) {
    const std::string spare = dir + "/" + kSparePrefix + std::filesystem::path(path).filename().string();
    if (::rename(path.c_str(), spare.c_str()) == 0) return true;
  }
  return ::unlink(path.c_str()) == 0;
}

namespace {
// Takes a spare as `temp`, of the right size; false if there is none to take. A spare whose
// old epoch equals the new one (65536 segments apart) could pass for the new segment's records:
// it is deleted instead.
bool take_spare(const std::string& dir, const std::string& temp, const SegmentInfo& info) {
  for (const std::string& spare : list_spares(dir)) {
    if (::rename(spare.c_str(), temp.c_str()) != 0) continue;  // another creator took it
    try {
      uint64_t actual = 0;
      const SegmentInfo old = read_segment_info(temp, &actual);
      if (old.segment_bytes == info.segment_bytes && actual == kSegmentHeaderBytes + info.segment_bytes &&
          old.epoch != info.epoch) {
        return true;
      }
    } catch (const Error&) {
      // not a segment we can reuse
    }
    ::unlink(temp.c_str());
  }
  return false;
}
}  // namespace

bool create_segment(const std::string& dir, const SegmentInfo& info, unsigned mode) {
  const std::string path = dir + "/" + segment_file_name(info.base_position);
  const std::string temp = path + ".creating." + topic::unique_suffix();
  const uint64_t bytes = kSegmentHeaderBytes + info.segment_bytes;
  const bool reused = take_spare(dir, temp, info);
  Fd fd(::open(temp.c_str(), O_RDWR | O_CREAT | (reused ? 0 : O_TRUNC) | O_CLOEXEC, mode));
  if (fd.get() < 0) throw Error(temp + ": cannot create (" + errno_text() + "); check the journal directory", ErrorKind::kIo);
  auto fail = [&](const std::string& what, int err) {
    ::unlink(temp.c_str());
    throw Error(temp + ": " + what + " (" + std::strerror(err) + "); free disk space or lower the segment size",
                ErrorKind::kIo);
  };
  if (!reused) {
    if (int err = ::posix_fallocate(fd.get(), 0, static_cast<off_t>(bytes)); err != 0) {
      ::unlink(temp.c_str());
      throw Error(temp + ": cannot preallocate " + std::to_string(bytes) + " bytes (" + std::strerror(err) + "); " +
                  log::space_advice(dir, bytes, err), ErrorKind::kIo);
    }
  }
  // The whole header page: file header, segment info, and (zero) the time index.
  std::vector<std::byte> header(kSegmentHeaderBytes);
  log::init_file_header(header.data(), log::FileKind::kSegment, bytes);
  SegmentInfo written = info;
  written.flags = static_cast<uint16_t>(reused ? info.flags | kSegmentRecycled : info.flags & ~kSegmentRecycled);
  std::memcpy(header.data() + sizeof(log::FileHeader), &written, sizeof written);
  if (::pwrite(fd.get(), header.data(), header.size(), 0) != static_cast<ssize_t>(header.size())) fail("cannot write", errno);
  if (::link(temp.c_str(), path.c_str()) != 0) {
    const int err = errno;
    ::unlink(temp.c_str());
    if (err == EEXIST) return false;
    throw Error(path + ": cannot create (" + std::strerror(err) + ")", ErrorKind::kIo);
  }
  ::unlink(temp.c_str());
  return true;
}

SegmentInfo read_segment_info(const std::string& path, uint64_t* actual_bytes) {
  Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (fd.get() < 0) throw Error(path + ": cannot open (" + errno_text() + ")", errno == ENOENT ? ErrorKind::kNotFound : ErrorKind::kIo);
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) throw Error(path + ": cannot stat (" + errno_text() + ")", ErrorKind::kIo);
  std::byte header[sizeof(log::FileHeader) + sizeof(SegmentInfo)] = {};
  const ssize_t got = ::pread(fd.get(), header, sizeof header, 0);
  if (got < 0) throw Error(path + ": cannot read (" + errno_text() + ")", ErrorKind::kIo);
  const auto size = static_cast<uint64_t>(st.st_size);
  if (actual_bytes != nullptr) *actual_bytes = size;
  log::FileHeader fh;
  std::memcpy(&fh, header, sizeof fh);
  // A truncated segment still says how big it was made: check everything but the size here;
  // recovery decides what to do with the missing bytes.
  log::check_file_header(header, static_cast<size_t>(got) < sizeof header ? static_cast<size_t>(got) : fh.file_bytes,
                         log::FileKind::kSegment, path);
  SegmentInfo info;
  std::memcpy(&info, header + sizeof(log::FileHeader), sizeof info);
  if (info.segment_bytes == 0 || info.segment_bytes % log::kRecordAlign != 0 ||
      fh.file_bytes != kSegmentHeaderBytes + info.segment_bytes) {
    throw Error(path + ": segment header says " + std::to_string(info.segment_bytes) + " record bytes in a " +
                    std::to_string(fh.file_bytes) + "-byte file; the segment is damaged",
                ErrorKind::kCorrupt);
  }
  return info;
}

}  // namespace shmbus::journal
