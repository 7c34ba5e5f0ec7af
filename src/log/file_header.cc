#include "log/file_header.h"

#include <cstring>
#include <string>

#include "shmbus/error.h"

namespace shmbus::log {

const char* to_string(FileKind kind) noexcept {
  switch (kind) {
    case FileKind::kBusMeta: return "bus meta";
    case FileKind::kRegistry: return "registry";
    case FileKind::kTopicMeta: return "topic meta";
    case FileKind::kRing: return "ring";
    case FileKind::kSegment: return "journal segment";
    case FileKind::kCursor: return "cursor";
    case FileKind::kQueue: return "queue state";
  }
  return "unknown";
}

void init_file_header(void* at, FileKind kind, uint64_t file_bytes) noexcept {
  FileHeader h{kMagic, kLayoutVersion, kind, file_bytes, 0};
  std::memcpy(at, &h, sizeof h);
}

void check_file_header(const void* data, size_t mapped_bytes, FileKind kind, const std::string& path) {
  if (mapped_bytes < sizeof(FileHeader)) {
    throw Error(path + ": " + std::to_string(mapped_bytes) +
                " bytes is too short to be a shmbus file; remove it or point at the right bus", ErrorKind::kNotShmbus);
  }
  FileHeader h;
  std::memcpy(&h, data, sizeof h);
  if (h.magic != kMagic) {
    throw Error(path + ": not a shmbus file (bad magic number); point at a bus directory or remove it", ErrorKind::kNotShmbus);
  }
  if (h.version != kLayoutVersion) {
    throw Error(path + ": layout version " + std::to_string(h.version) + ", this build reads version " +
                std::to_string(kLayoutVersion) +
                "; use the shmbus release that created it, or remove the bus and create it again", ErrorKind::kVersion);
  }
  if (h.kind != kind) {
    throw Error(path + ": is a shmbus " + to_string(h.kind) + " file, expected a " + to_string(kind) +
                " file; the bus directory is damaged: remove it and create it again", ErrorKind::kCorrupt);
  }
  if (h.file_bytes != mapped_bytes) {
    throw Error(path + ": file is " + std::to_string(mapped_bytes) + " bytes, its header says " +
                std::to_string(h.file_bytes) + "; it was truncated or damaged: remove the topic or bus", ErrorKind::kCorrupt);
  }
}

}  // namespace shmbus::log
