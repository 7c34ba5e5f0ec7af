// CommitSignal: a counter under a mutex and a condition variable, one per database path.
#include "commit_signal.h"

#include <map>

namespace shmbus::outbox::detail {

std::shared_ptr<CommitSignal> CommitSignal::for_database(const std::string& key) {
  static std::mutex mu;
  static std::map<std::string, std::weak_ptr<CommitSignal>> signals;
  std::lock_guard<std::mutex> guard(mu);
  std::weak_ptr<CommitSignal>& slot = signals[key];
  std::shared_ptr<CommitSignal> signal = slot.lock();
  if (!signal) {
    signal = std::make_shared<CommitSignal>();
    slot = signal;
  }
  return signal;
}

void CommitSignal::notify() {
  {
    std::lock_guard<std::mutex> guard(mu_);
    ++count_;
  }
  cv_.notify_all();
}

bool CommitSignal::wait(uint64_t& seen, std::chrono::milliseconds timeout) {
  std::unique_lock<std::mutex> lock(mu_);
  const bool came = cv_.wait_for(lock, timeout, [&] { return count_ != seen; });
  seen = count_;
  return came;
}

uint64_t CommitSignal::count() {
  std::lock_guard<std::mutex> guard(mu_);
  return count_;
}

}  // namespace shmbus::outbox::detail
