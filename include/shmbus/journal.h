// Journal topics on disk: checking and repairing their segment directory (what
// `shmbus journal verify` / `recover` do). Creating and using them: TopicConfig::kind.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace shmbus {

struct JournalReport {
  size_t segments = 0;            // segments read (up to the first damage)
  uint64_t records = 0;           // intact committed records
  uint64_t voided = 0;            // aborted or unblocked claims
  uint64_t abandoned = 0;         // claims never committed (a writer died): voided by repair
  uint64_t first_position = 0;    // of the oldest segment
  uint64_t end_position = 0;      // the true tail: just past the last intact frame
  uint64_t next_seq = 0;          // the seq the next record takes
  int64_t first_timestamp_ns = 0;
  int64_t last_timestamp_ns = 0;
  uint64_t cut_bytes = 0;         // bytes past the true tail that repair zeroed (or would)
  std::vector<std::string> problems;     // what is wrong, each with its file and offset
  std::vector<std::string> moved_aside;  // segments after the damage, renamed *.damaged by repair
  // Nothing to repair: every segment intact and continuous, no torn tail, no abandoned claim.
  bool healthy() const { return problems.empty() && abandoned == 0 && cut_bytes == 0; }
};

// Reads every segment of the journal directory `data_dir` (TopicStats::config.data_dir) in
// order, checking headers, continuity of positions and seqs, and every record's CRC32C. With
// `repair`: voids abandoned claims, zeroes everything past the true tail (a torn write, or
// damage: every record before it is kept), restores a truncated segment's size, and renames the
// segments that follow damage to *.damaged instead of deleting them. Repair only while no
// publisher writes to the topic. Throws Error only when the directory cannot be read at all.
// `progress(segments_done, segments)` is called before each segment (for a progress bar).
using JournalProgress = std::function<void(size_t segments_done, size_t segments)>;
JournalReport check_journal(const std::string& data_dir, bool repair, const JournalProgress& progress = {});

}  // namespace shmbus
