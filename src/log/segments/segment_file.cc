#include "log/segments/segment_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>

#include "log/record_format.h"
#include "shmbus/error.h"
#include "base/file.h"

namespace shmbus::log::segments {

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
  base::NewFile spec;
  spec.bytes = kSegmentHeaderBytes + info.segment_bytes;
  spec.mode = mode;
  spec.advice = "free disk space or lower the segment size";
  spec.reuse = [&](const std::string& temp) { return take_spare(dir, temp, info); };
  return base::create_file_atomically(dir + "/" + segment_file_name(info.base_position), spec, [&](const base::TempFile& temp) {
    // The whole header page: file header, segment info, and (zero) the time index.
    std::vector<std::byte> header(kSegmentHeaderBytes);
    log::init_file_header(header.data(), log::FileKind::kSegment, spec.bytes);
    SegmentInfo written = info;
    written.flags = static_cast<uint16_t>(temp.reused ? info.flags | kSegmentRecycled : info.flags & ~kSegmentRecycled);
    std::memcpy(header.data() + sizeof(log::FileHeader), &written, sizeof written);
    if (::pwrite(temp.fd, header.data(), header.size(), 0) != static_cast<ssize_t>(header.size())) {
      base::throw_file_error(temp.path, "write", errno, spec.advice);
    }
  });
}

SegmentInfo read_segment_info(const std::string& path, uint64_t* actual_bytes) {
  const base::UniqueFd fd = base::UniqueFd::open(path, O_RDONLY);
  if (!fd.valid()) base::throw_file_error(path, "open", errno);
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) base::throw_file_error(path, "stat", errno);
  std::byte header[sizeof(log::FileHeader) + sizeof(SegmentInfo)] = {};
  const ssize_t got = base::pread_full(fd.get(), header, sizeof header, 0);
  if (got < 0) base::throw_file_error(path, "read", errno);
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

}  // namespace shmbus::log::segments
