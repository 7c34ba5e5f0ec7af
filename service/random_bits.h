// Random bits for ids (message ids, trace and span ids, reply topics): fast, not for secrets.
#pragma once

#include <cstdint>

namespace shmbus::service::detail {

// A per-thread generator seeded from std::random_device, seeded again in a forked child (a
// child would otherwise repeat its parent's numbers, and their ids would collide).
uint64_t random_u64() noexcept;

}  // namespace shmbus::service::detail
