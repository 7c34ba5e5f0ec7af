// The first bytes of every shared file: magic, layout version, what the file is.
// Protocol spec: docs/format.md section 4.1.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <type_traits>

namespace shmbus::log {

inline constexpr uint64_t kMagic = 0x3130535542484d53ull;  // "SMHBUS01" read as little-endian bytes
// 2: claim pair {word, seq}, 16-byte frames; 3: journal topics; 4: retention, time index, cursors
// 5: the tail arbitrates claims, the claim pair is written at commit
// 6: registry entries with an entry word (state | version), tombstones and reuse (topic removal);
//    the topic meta's Counters gained the `removed` flag
// 7: single-publisher topics (TopicConfigBlock::single_publisher, Counters::single_publisher)
inline constexpr uint32_t kLayoutVersion = 7;

enum class FileKind : uint32_t { kBusMeta = 1, kRegistry = 2, kTopicMeta = 3, kRing = 4, kSegment = 5, kCursor = 6, kQueue = 7 };

struct FileHeader {
  uint64_t magic;
  uint32_t version;
  FileKind kind;
  uint64_t file_bytes;  // the size the creator gave the file: a shorter file is truncated
  uint64_t reserved;
};
static_assert(sizeof(FileHeader) == 32 && std::is_trivially_copyable_v<FileHeader>);

const char* to_string(FileKind kind) noexcept;

// Fills a header for a file being created.
void init_file_header(void* at, FileKind kind, uint64_t file_bytes) noexcept;

// Throws Error (with the path and what to do) unless `data` starts with a header of `kind` and
// this layout version, and the mapping is as big as the header says.
void check_file_header(const void* data, size_t mapped_bytes, FileKind kind, const std::string& path);

}  // namespace shmbus::log
