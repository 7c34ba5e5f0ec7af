// shmbus.Publisher and shmbus.Claim.
#pragma once

#include <pybind11/pybind11.h>

#include <cstdint>
#include <memory>
#include <mutex>
#include <string>

#include "py_closeable.h"
#include "shmbus/publisher.h"
#include "shmbus/topic.h"

namespace shmbus::python {

class PyClaim;

class PyPublisher : public Closeable, public std::enable_shared_from_this<PyPublisher> {
 public:
  explicit PyPublisher(Publisher publisher);

  // The topic's policy applies: `block` waits for space (without the GIL), `fail` raises
  // WouldBlockError, `overwrite` never waits. Returns the record's position.
  uint64_t publish(py::handle data, py::handle headers);
  // Never waits: the position, or None if a `block` topic is full.
  py::object try_publish(py::handle data, py::handle headers);
  // Publishes each item (bytes-like, or a (payload, headers) pair) in one call; returns the count.
  size_t publish_many(py::iterable items, py::handle headers);
  std::shared_ptr<PyClaim> claim(size_t payload_bytes, py::handle headers);

  size_t max_payload();
  std::string topic();
  bool closed();
  void close() override;

 private:
  friend class PyClaim;
  Result<uint64_t> publish_locked(py::handle data, py::handle headers, bool may_wait);

 public:
  uint64_t publish_pipelined(py::handle data, py::handle headers);
  uint64_t durable_position();
  uint64_t wait_durable(uint64_t position, double timeout);

 private:
  void check_open(const char* what);

  std::mutex mu_;  // one call at a time: the C++ Publisher is used by one thread at a time
  Publisher publisher_;
  Policy policy_;
  std::shared_ptr<const void> mapping_;
  bool claim_open_ = false;  // a publisher has one claim in flight at a time
};

// A zero-copy claim: fill `data`, then commit() (or leave the `with` block); abort() gives it up.
class PyClaim {
 public:
  PyClaim(std::shared_ptr<PyPublisher> publisher, Claim claim);
  py::memoryview data() const { return data_; }
  uint64_t position() const noexcept { return position_; }
  uint64_t commit();
  void abort();
  void exit(py::handle exc_type);  // __exit__: commit, or abort on an exception

 private:
  std::shared_ptr<PyPublisher> publisher_;
  Claim claim_;
  py::memoryview data_;
  uint64_t position_;
  bool done_ = false;
};

void register_publisher(py::module_& m);

}  // namespace shmbus::python
