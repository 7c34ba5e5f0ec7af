// A background thread that runs a piece of work every interval until it is asked to stop.
#pragma once

#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <stop_token>
#include <thread>

namespace shmbus::base {

// Runs `work` every `interval` until the thread is asked to stop (jthread's destructor), then
// once more, so the last interval's work is not lost.
inline std::jthread periodic_thread(std::chrono::milliseconds interval, std::function<void()> work) {
  return std::jthread([interval, work = std::move(work)](std::stop_token stop) {
    std::mutex mu;
    std::condition_variable_any cv;
    std::unique_lock lock(mu);
    // wait_for returns early only when the owner is going away (stop requested).
    while (!cv.wait_for(lock, stop, interval, [&stop] { return stop.stop_requested(); })) work();
    work();
  });
}

}  // namespace shmbus::base
