// bridge: what both links do between attempts: say when the next one is, wait for it, and let a
// stop (SIGTERM) end the wait at once.
#pragma once

#include <atomic>
#include <chrono>
#include <string>

#include "bridge/backoff.h"
#include "bridge/link_status.h"
#include "bridge/log.h"

namespace shmbus::bridge {

// Sets the status's retry_at, then sleeps `delay` in steps of at most 50 ms, looking at `stop`.
void wait_before_retry(LinkStatus& status, std::chrono::milliseconds delay, const std::atomic<bool>& stop);

// A connect that failed: counted, reported with its delay (each distinct text logged once), and
// waited out. `longest`: a failure that waiting does not mend soon (configuration, the bus side)
// waits the longest delay; others back off.
void wait_after_failed_connect(LinkStatus& status, Backoff& backoff, const Log& log, bool longest,
                               const std::string& why, const std::atomic<bool>& stop);

}  // namespace shmbus::bridge
