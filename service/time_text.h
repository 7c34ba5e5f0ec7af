// envelope::format_time for the sending path: the same text, the part up to the second kept per
// thread (snprintf was a fifth of a new envelope's time).
#pragma once

#include <chrono>
#include <string>

namespace shmbus::service::detail {

std::string format_time_cached(std::chrono::system_clock::time_point t);
// The same into `into`, its room reused.
void format_time_cached(std::chrono::system_clock::time_point t, std::string& into);

}  // namespace shmbus::service::detail
