// The in-process wake-up of a relay: a commit that wrote outbox rows notifies, the relay waits.
// One signal per database (its path), shared by every store and connection of this process
// that opened it, so a commit on any of them wakes the relay of any other.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>

namespace shmbus::outbox::detail {

class CommitSignal {
 public:
  static std::shared_ptr<CommitSignal> for_database(const std::string& key);

  void notify();
  // Waits until a notify() that came after the one `seen` counted, or `timeout`; then `seen`
  // is the count now. True if one came.
  bool wait(uint64_t& seen, std::chrono::milliseconds timeout);
  uint64_t count();

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  uint64_t count_ = 0;  // guarded by mu_
};

}  // namespace shmbus::outbox::detail
