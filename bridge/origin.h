// bridge: loop prevention across buses, on when [bridge] origin is set (each host's bridge its
// own id). Every message an outbound link sends then carries
// x-shmbus-origin = the bridge's origin id; an inbound link writes it into the local record.
//   outbound: a record that carries x-shmbus-origin came in through a bridge: not sent out again
//             (a bus never relays another bus's messages; each host's bridge sends its own);
//   inbound:  a message whose x-shmbus-origin is our own id is our own, come back through the
//             exchange (an events.# queue sees our events too): acked and skipped.
// So A -> RabbitMQ -> B never comes back to A, nor goes on from B, whatever the bindings.
#pragma once

#include <string>
#include <string_view>

namespace shmbus::bridge {

inline constexpr std::string_view kOriginHeader = "x-shmbus-origin";

// origin = "auto": "<host name>:<bus>", unique per bus across hosts unless two hosts share a name.
std::string default_origin(const std::string& bus);

}  // namespace shmbus::bridge
