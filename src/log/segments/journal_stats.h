// The journal half of TopicStats: segments and bytes on disk, the oldest and newest record
// times, what retention did, and the named cursors with their lag. Reads headers and the time
// index, never whole segments.
#pragma once

#include "shmbus/topic.h"
#include "topic/topic_meta.h"

namespace shmbus::log::segments {

// Fills the journal fields of `stats` (tail_position and tail_seq already set). Throws Error if
// the journal directory cannot be read.
void fill_journal_stats(const topic::TopicMeta& meta, const std::string& dir, TopicStats& stats);

}  // namespace shmbus::log::segments
