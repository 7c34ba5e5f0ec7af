// The envelope's times (`not-before`, `expires-at`, `sent-time`: the names are in
// shmbus/headers.h, header_keys): one text form, so that C++, Python, the CLI and the bridge
// write and read them alike.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "shmbus/headers.h"

namespace shmbus::envelope {

// Times in headers: RFC 3339 in UTC with milliseconds, "2026-12-01T12:00:00.000Z".
std::string format_time(std::chrono::system_clock::time_point t);
// Reads that form (fraction of any length or none, "Z" or "+00:00"), or plain digits as Unix
// milliseconds. Nanoseconds since the epoch; nullopt if the text is neither. Allocates nothing.
std::optional<int64_t> parse_time_ns(std::string_view text) noexcept;

}  // namespace shmbus::envelope
