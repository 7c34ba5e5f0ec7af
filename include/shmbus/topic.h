// Topic configuration and statistics.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace shmbus {

// What a publisher does when a subscriber has not yet read the space it needs (memory topics).
enum class Policy : uint8_t {
  kBlock,      // wait for the slowest live subscriber (dead or stale ones are evicted)
  kFail,       // return Errc::kWouldBlock at once
  kOverwrite,  // never wait: a lapped subscriber counts its exact loss and jumps ahead
};

enum class TopicKind : uint8_t { kMemory = 1, kJournal = 2 };

// When a journal's records reach the disk. kNever: the page cache (survives any process crash,
// not a power cut). kInterval: a background flush every fsync_interval. kAlways: publish()
// returns once its record is on disk; concurrent publishers share flushes (group commit).
enum class FsyncPolicy : uint8_t { kNever = 0, kInterval = 1, kAlways = 2 };

struct TopicConfig {
  uint64_t capacity = 8ull << 20;  // ring bytes: a power of two, 4 KiB .. 1 TiB
  Policy policy = Policy::kBlock;
  // A claimed frame whose publisher lives but has not committed for this long is unblocked.
  std::chrono::milliseconds unblock_timeout{1000};
  // A subscriber whose process lives but has not polled or waited for this long is evicted
  // (block policy), so a stopped process cannot stall publishers forever.
  std::chrono::milliseconds subscriber_timeout{10000};
  // One publisher at a time (in any process; a second one is refused until the first is gone
  // or dead). It claims and commits records by plain stores instead of CAS: about twice the
  // message rate of a shared topic. A claim of a live publisher is never unblocked, however
  // long it takes (`unblock_timeout` applies only once it died), so a stopped publisher holds
  // its subscribers up, as with any single-producer ring.
  bool single_publisher = false;
  // Journal topics: records go to segment files in `data_dir` (default: the topic's directory in
  // the bus), `segment_bytes` each (a power of two), and survive the bus and the machine.
  // `capacity` and `policy` do not apply: a journal never overwrites and never waits for space.
  TopicKind kind = TopicKind::kMemory;
  std::string data_dir;
  uint64_t segment_bytes = 64ull << 20;
  FsyncPolicy fsync = FsyncPolicy::kNever;
  std::chrono::milliseconds fsync_interval{100};
  // Journal retention, whole segments at a time, oldest first; 0 = keep forever. Segments go
  // while they take more than `retain_bytes` (at least two segments), and once their records
  // are older than `retain_age`; never the segment being written, nor one a live subscriber (or
  // a claim, or an unfinished flush) is in. Up to two retired segments are kept as spares for
  // reuse (allocated pages make appending faster). Enforced by the processes that publish.
  uint64_t retain_bytes = 0;
  std::chrono::milliseconds retain_age{0};
};

// A named cursor of a journal topic, as stats report it.
struct CursorStats {
  std::string name;
  uint64_t position = 0;      // everything before it has been committed
  uint64_t lag_bytes = 0;     // tail position - position
  uint64_t lag_records = 0;   // records (seqs) between the cursor and the tail
  int64_t committed_ns = 0;   // CLOCK_REALTIME of the last commit
  bool in_use = false;        // a live subscriber holds it
};

struct TopicStats {
  std::string name;
  TopicKind kind = TopicKind::kMemory;
  TopicConfig config;
  uint64_t tail_position = 0;  // next position to be claimed
  uint64_t tail_seq = 0;       // sequence numbers handed out: records, plus claims that never committed
  uint64_t published = 0;      // records committed, as their publishers counted them: a publisher
                               // killed between a commit and its count leaves that one out
  uint64_t bytes = 0;          // payload bytes committed
  uint64_t lost = 0;           // records that subscribers reported lost (overwrite policy)
  uint64_t unblocked = 0;      // abandoned claims turned into padding
  uint64_t evicted = 0;        // subscribers evicted (dead process or stale heartbeat)
  uint32_t publishers = 0;     // attached publishers
  uint32_t subscribers = 0;    // attached subscribers
  uint64_t flushed_position = 0;  // journal: everything before it is on disk (fsync interval/always)
  uint64_t flushes = 0;           // journal: flushes made (msync of the new records)
  uint64_t flushed_records = 0;   // journal: records those flushes made durable
  uint64_t first_position = 0;    // journal: oldest retained position
  uint64_t segments = 0;          // journal: segment files on disk
  uint64_t disk_bytes = 0;        // journal: their size, spares included
  uint64_t spare_segments = 0;    // journal: retired segments kept for reuse
  uint64_t deleted_segments = 0;  // journal: removed by retention
  uint64_t skipped = 0;           // journal: records readers skipped because retention removed them
  int64_t oldest_ns = 0;          // journal: timestamp of the oldest retained record (0: none)
  int64_t newest_ns = 0;          // journal: timestamp of the newest record (0: none)
  std::vector<CursorStats> cursors;  // journal: named cursors
};

Policy parse_policy(std::string_view text);  // "block" | "fail" | "overwrite"; throws Error
// "never" | "always" | "interval=MS" into config.fsync (and fsync_interval); throws Error.
void parse_fsync(std::string_view text, TopicConfig& config);
std::string to_string(FsyncPolicy policy, std::chrono::milliseconds interval);
const char* to_string(Policy policy) noexcept;
const char* to_string(TopicKind kind) noexcept;

// Throws Error unless `name` is a valid topic name: dot-separated words of [A-Za-z0-9_-],
// no empty word, at most 200 characters in all.
void validate_topic_name(std::string_view name);

}  // namespace shmbus
