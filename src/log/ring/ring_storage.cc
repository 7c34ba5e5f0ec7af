#include "log/ring/ring_storage.h"

#include "log/file_header.h"

namespace shmbus::log::ring {

void RingStorage::create_file(const std::string& temp_dir, uint64_t capacity, unsigned mode) {
  base::MappedFile::create(temp_dir + "/ring", kRingDataOffset + capacity, mode, [&](std::byte* at) {
    init_file_header(at, FileKind::kRing, kRingDataOffset + capacity);
  });
}

RingStorage::RingStorage(const std::string& topic_dir, uint64_t capacity, base::Access access) {
  file_ = base::MappedFile::open(topic_dir + "/ring", access);
  check_file_header(file_.data(), file_.size(), FileKind::kRing, topic_dir + "/ring");
  if (file_.size() != kRingDataOffset + capacity) {
    throw Error(topic_dir + "/ring: size does not match the capacity in meta; remove the topic directory",
                ErrorKind::kCorrupt);
  }
  log_ = LogStorage::ring(file_.data() + kRingDataOffset, capacity);
}

// Once per process: the first lap then does not pay a page fault every 4 KiB (microseconds
// each, in the latency tail). Stats and the CLI's listing never call it.
void RingStorage::populate() {
  std::call_once(populated_, [this] { file_.populate(); });
}

std::pair<std::string, size_t> RingStorage::file_offset_of(uint64_t position) const {
  return {file_.path(), kRingDataOffset + (position & (log_.lap_bytes() - 1))};
}

}  // namespace shmbus::log::ring
