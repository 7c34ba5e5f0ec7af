// What a Bus closes when it is closed: the publishers and subscriptions it handed out.
#pragma once

#include <memory>
#include <mutex>
#include <vector>

#include <pybind11/pybind11.h>

namespace shmbus::python {

namespace py = pybind11;

class Closeable {
 public:
  virtual ~Closeable() = default;
  virtual void close() = 0;
};

// Locks `mu` for a call into a C++ object that is used by one thread at a time. If another
// Python thread holds it (inside a blocking call, GIL released), waits without the GIL.
inline std::unique_lock<std::mutex> lock_releasing_gil(std::mutex& mu) {
  std::unique_lock<std::mutex> lock(mu, std::try_to_lock);
  if (!lock) {
    py::gil_scoped_release release;
    lock.lock();
  }
  return lock;
}

}  // namespace shmbus::python
