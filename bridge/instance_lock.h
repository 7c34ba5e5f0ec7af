// bridge: one bridge per config. An exclusive flock on <state dir>/<config>.lock, held for the
// process's life; the kernel drops it when the process dies (kill -9 included), so a crashed
// bridge never blocks its successor.
#pragma once

#include <string>

namespace shmbus::bridge {

class InstanceLock {
 public:
  // Throws Error (kInUse) naming the pid of the bridge that holds it.
  explicit InstanceLock(const std::string& path);
  ~InstanceLock();
  InstanceLock(const InstanceLock&) = delete;
  InstanceLock& operator=(const InstanceLock&) = delete;

  // True if a live process holds the lock at `path` (for `bridge status`).
  static bool held(const std::string& path);

 private:
  int fd_ = -1;
};

}  // namespace shmbus::bridge
