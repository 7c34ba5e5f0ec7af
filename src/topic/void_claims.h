// Voiding a dead claim of a topic's log from a reader's side (a subscriber's unblocker, a queue's
// dispatcher): readers map the log read-only, so the void goes through bytes mapped read-write for
// it, one range per lap the span touches (log/abandoned_claim.h does the void itself).
#pragma once

#include <optional>

#include "log/abandoned_claim.h"
#include "log/log_storage.h"
#include "topic/topic_handle.h"

namespace shmbus::topic {

// Voids `span` (kind kFound) of `topic`'s log, read through `log`, and counts its claims in the
// topic's `unblocked` when our CAS made the void. nullopt if the bytes cannot be mapped now (a
// later look tries again). Slow path: maps and unmaps; never throws.
std::optional<log::VoidResult> void_abandoned(TopicHandle& topic, const log::LogStorage& log,
                                              const log::AbandonedSpan& span) noexcept;

}  // namespace shmbus::topic
