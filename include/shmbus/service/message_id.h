// Message ids: unique and time-ordered (DESIGN.md section 11), in the form of a UUIDv7
// (RFC 9562): 48 bits of Unix milliseconds, then a 12-bit counter (method 1 of section 6.2,
// so ids made in one process sort in the order they were made), then 62 random bits.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

namespace shmbus::service {

// "01890a5d-ac96-774b-bcce-b302099a8057". Thread-safe.
std::string new_message_id();
// The same into `into`, its room reused.
void new_message_id(std::string& into);

// The time a new_message_id() was made at (its millisecond); nullopt if `id` is not a UUIDv7.
std::optional<std::chrono::system_clock::time_point> message_id_time(std::string_view id) noexcept;

}  // namespace shmbus::service
