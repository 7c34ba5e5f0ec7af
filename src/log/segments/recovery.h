// Checking a journal directory end to end, and repairing it: what `shmbus journal verify` and
// `shmbus journal recover` do, and what opening a journal topic does after a crash.
// Protocol spec: docs/format.md section 9.4.
#pragma once

#include <string>

#include "shmbus/journal.h"

namespace shmbus::log::segments {

using JournalCheck = JournalReport;

// Reads every segment of `dir` in order, checking headers, continuity (positions and seqs) and
// every record (CRC32C). With `repair`: voids abandoned claims, zeroes everything past the true
// tail (a torn write, or damage: every record before it is kept), restores a truncated segment's
// size, and renames segments that follow damage to *.damaged instead of deleting them. Segments
// of another layout version are reported and left untouched. Throws Error only when `dir`
// cannot be read at all.
JournalCheck check_journal(const std::string& dir, bool repair, const JournalProgress& progress = {});

}  // namespace shmbus::log::segments
