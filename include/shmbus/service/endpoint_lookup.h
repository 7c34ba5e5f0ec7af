// Is there an endpoint to send a command to? (The question Client::send asks before sending,
// for senders that do not send at once, e.g. the outbox, which asks when the command is
// written, inside the user's transaction.)
#pragma once

#include <string_view>

#include "shmbus/bus.h"

namespace shmbus::service {

// True if a queue of `bus` is bound to commands.<endpoint> (so a command sent there is read).
// Scans the queues' bindings: a setup-path call; remember a true answer rather than ask again.
bool endpoint_bound(Bus& bus, std::string_view endpoint);

}  // namespace shmbus::service
