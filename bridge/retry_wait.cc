// bridge: wait_before_retry, wait_after_failed_connect (retry_wait.h).
#include "bridge/retry_wait.h"

#include <algorithm>
#include <thread>

namespace shmbus::bridge {

void wait_before_retry(LinkStatus& status, std::chrono::milliseconds delay, const std::atomic<bool>& stop) {
  using Clock = std::chrono::steady_clock;
  status.retry_at_ns.store(realtime_ns() + delay.count() * 1000000, std::memory_order_relaxed);
  const auto until = Clock::now() + delay;
  while (!stop.load(std::memory_order_relaxed) && Clock::now() < until) {
    std::this_thread::sleep_for(std::min<Clock::duration>(std::chrono::milliseconds(50), until - Clock::now()));
  }
}

void wait_after_failed_connect(LinkStatus& status, Backoff& backoff, const Log& log, bool longest,
                               const std::string& why, const std::atomic<bool>& stop) {
  status.failures.fetch_add(1, std::memory_order_relaxed);
  const auto delay = longest ? backoff.longest() : backoff.next();
  const std::string text = why + "; retrying in " + std::to_string(delay.count()) + " ms";
  if (status.set_error(text, realtime_ns())) log.info(text);
  wait_before_retry(status, delay, stop);
}

}  // namespace shmbus::bridge
