// The one table of TopicStats (and CursorStats) fields: name, unit, which topics it applies to,
// a description, and its value. `shmbus stat` (text and --json), `shmbus cursor ls` and the
// Python TopicStats / CursorStats classes (attributes, asdict(), repr) are all made from it: a
// new field is added here, once, after its member in topic.h.
//
//   for_each_field(stats, [](const StatField& f, const auto& value) {
//     if (applies(f, stats.kind)) std::cout << f.name << ' ' << value << '\n';
//   });
//
// `value` is one of: std::string_view, uint64_t, int64_t, double, bool, and (for `cursors`)
// std::span<const CursorStats>, whose elements go through for_each_field(CursorStats) in turn.
// The string views are valid only during the visitor's call.
#pragma once

#include <cstdint>
#include <span>
#include <string_view>

#include "shmbus/topic.h"

namespace shmbus {

enum class StatUnit : uint8_t {
  kText,       // a word, a name or a path
  kCount,      // records, segments, flushes, processes
  kBytes,
  kPosition,   // a byte offset in the topic's log
  kTimestamp,  // CLOCK_REALTIME nanoseconds; 0: none
  kSeconds,    // a duration (double)
  kFlag,       // bool
  kList,       // a list of CursorStats
  kNames,      // a list of names (std::span<const std::string>: a queue's bindings and topics)
};

// Which topics a field means something for; the others report it as absent (not printed, not
// in JSON, None in Python).
enum class StatScope : uint8_t { kEvery, kJournal };

struct StatField {
  std::string_view name;  // snake_case: the text label, the JSON key and the Python attribute
  StatUnit unit;
  StatScope scope;
  std::string_view description;  // one line, for docstrings and help
};

constexpr bool applies(const StatField& field, TopicKind kind) noexcept {
  return field.scope == StatScope::kEvery || kind == TopicKind::kJournal;
}

// What text output writes after a value of this unit: "s" after a duration, else nothing (the
// names of byte counts say "bytes" already; timestamps are named *_ns).
constexpr std::string_view unit_suffix(StatUnit unit) noexcept { return unit == StatUnit::kSeconds ? "s" : ""; }

// Visits every field of `s`, in the order of the table, whatever the topic's kind: filter with
// applies(field, s.kind). Allocates only for the `fsync` text.
template <class Visitor>
void for_each_field(const TopicStats& s, Visitor&& visit) {
  using enum StatUnit;
  constexpr StatScope every = StatScope::kEvery, journal = StatScope::kJournal;
  const TopicConfig& c = s.config;
  visit(StatField{"name", kText, every, "the topic's name"}, std::string_view(s.name));
  visit(StatField{"kind", kText, every, "memory (a ring in shared memory) or journal (segment files)"},
        std::string_view(to_string(s.kind)));
  visit(StatField{"capacity", kBytes, every, "ring bytes (memory topics)"}, uint64_t{c.capacity});
  visit(StatField{"policy", kText, every, "what a publisher does when the ring is full: block, fail or overwrite"},
        std::string_view(to_string(c.policy)));
  visit(StatField{"single_publisher", kFlag, every, "one publisher at a time, committing by plain stores"},
        bool{c.single_publisher});
  visit(StatField{"tail_position", kPosition, every, "next position to be claimed"}, uint64_t{s.tail_position});
  visit(StatField{"tail_seq", kCount, every, "sequence numbers handed out: records plus claims that never committed"},
        uint64_t{s.tail_seq});
  visit(StatField{"published", kCount, every, "records committed"}, uint64_t{s.published});
  visit(StatField{"bytes", kBytes, every, "payload bytes committed"}, uint64_t{s.bytes});
  visit(StatField{"lost", kCount, every, "records subscribers reported lost (overwrite policy)"}, uint64_t{s.lost});
  visit(StatField{"unblocked", kCount, every, "abandoned claims turned into padding"}, uint64_t{s.unblocked});
  visit(StatField{"evicted", kCount, every, "subscribers evicted (dead process or stale heartbeat)"},
        uint64_t{s.evicted});
  visit(StatField{"publishers", kCount, every, "attached publishers"}, uint64_t{s.publishers});
  visit(StatField{"subscribers", kCount, every, "attached subscribers"}, uint64_t{s.subscribers});
  visit(StatField{"data_dir", kText, journal, "directory of the segment files"}, std::string_view(c.data_dir));
  visit(StatField{"segment_bytes", kBytes, journal, "size of one segment file"}, uint64_t{c.segment_bytes});
  visit(StatField{"fsync", kText, journal, "when records reach the disk: never, always or interval=MS"},
        std::string_view(to_string(c.fsync, c.fsync_interval)));
  visit(StatField{"flushed_position", kPosition, journal, "everything before it is on disk"},
        uint64_t{s.flushed_position});
  visit(StatField{"flushes", kCount, journal, "flushes made (msync of the new records)"}, uint64_t{s.flushes});
  visit(StatField{"flushed_records", kCount, journal, "records those flushes made durable"},
        uint64_t{s.flushed_records});
  visit(StatField{"retain_bytes", kBytes, journal, "retention by size (0: keep everything)"},
        uint64_t{c.retain_bytes});
  visit(StatField{"retain_age", kSeconds, journal, "retention by age (0: keep everything)"},
        static_cast<double>(c.retain_age.count()) / 1000.0);
  visit(StatField{"first_position", kPosition, journal, "oldest retained position"}, uint64_t{s.first_position});
  visit(StatField{"segments", kCount, journal, "segment files on disk"}, uint64_t{s.segments});
  visit(StatField{"spare_segments", kCount, journal, "retired segments kept for reuse"}, uint64_t{s.spare_segments});
  visit(StatField{"disk_bytes", kBytes, journal, "size of the segment files, spares included"},
        uint64_t{s.disk_bytes});
  visit(StatField{"deleted_segments", kCount, journal, "segments removed by retention"}, uint64_t{s.deleted_segments});
  visit(StatField{"skipped", kCount, journal, "records readers skipped because retention removed them"},
        uint64_t{s.skipped});
  visit(StatField{"oldest_ns", kTimestamp, journal, "timestamp of the oldest retained record (0: none)"},
        int64_t{s.oldest_ns});
  visit(StatField{"newest_ns", kTimestamp, journal, "timestamp of the newest record (0: none)"},
        int64_t{s.newest_ns});
  visit(StatField{"cursors", kList, journal, "named cursors"}, std::span<const CursorStats>(s.cursors));
}

// The fields of one named cursor (every one applies).
template <class Visitor>
void for_each_field(const CursorStats& c, Visitor&& visit) {
  using enum StatUnit;
  constexpr StatScope every = StatScope::kEvery;
  visit(StatField{"name", kText, every, "the cursor's name"}, std::string_view(c.name));
  visit(StatField{"position", kPosition, every, "everything before it has been committed"}, uint64_t{c.position});
  visit(StatField{"lag_bytes", kBytes, every, "tail position - position"}, uint64_t{c.lag_bytes});
  visit(StatField{"lag_records", kCount, every, "records between the cursor and the tail"}, uint64_t{c.lag_records});
  visit(StatField{"committed_ns", kTimestamp, every, "when it was last committed"}, int64_t{c.committed_ns});
  visit(StatField{"in_use", kFlag, every, "a live subscriber holds it"}, bool{c.in_use});
}

}  // namespace shmbus
