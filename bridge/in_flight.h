// bridge: fixed-capacity FIFOs for the outbound window, sized once (the link's window), so the
// publish path never allocates: the window of unconfirmed publishes, and per topic the
// positions of its records in that window (its front is where the topic's cursor may move).
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace shmbus::bridge {

template <class T>
class Fifo {
 public:
  explicit Fifo(size_t capacity = 0) : slots_(capacity) {}
  size_t size() const noexcept { return size_; }
  bool empty() const noexcept { return size_ == 0; }
  bool full() const noexcept { return size_ == slots_.size(); }
  size_t capacity() const noexcept { return slots_.size(); }
  // REQUIRES: !full(). Returns the slot, whose old contents (and their capacity) are kept.
  T& push() noexcept {
    T& slot = slots_[(head_ + size_) % slots_.size()];
    ++size_;
    return slot;
  }
  T& front() noexcept { return slots_[head_]; }
  T& operator[](size_t i) noexcept { return slots_[(head_ + i) % slots_.size()]; }  // 0: the oldest
  void pop() noexcept {  // REQUIRES: !empty()
    head_ = (head_ + 1) % slots_.size();
    --size_;
  }
  void clear() noexcept { head_ = size_ = 0; }

 private:
  std::vector<T> slots_;
  size_t head_ = 0;
  size_t size_ = 0;
};

}  // namespace shmbus::bridge
