// The journal half of TopicStats: segments and bytes on disk, the oldest and newest record
// times, what retention did. Reads headers and the time
// index, never whole segments.
#pragma once

#include "shmbus/topic.h"
#include "log/storage_state.h"

namespace shmbus::log::segments {

// Fills the journal fields of `stats` (tail_position and tail_seq already set). Throws Error if
// the journal directory cannot be read.
void fill_journal_stats(const JournalState& state, uint64_t segment_bytes, const std::string& dir, TopicStats& stats);

}  // namespace shmbus::log::segments
