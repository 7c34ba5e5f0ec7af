// Memory shared with forked children (anonymous MAP_SHARED): survives their kill -9, so a test
// reads what a killed child wrote last.
#pragma once

#include <sys/mman.h>

#include <cstddef>
#include <new>
#include <stdexcept>

namespace shmbus::test {

template <class T>
class SharedMemory {
 public:
  explicit SharedMemory(size_t count = 1) : bytes_(sizeof(T) * count) {
    void* p = ::mmap(nullptr, bytes_, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) throw std::runtime_error("mmap failed");
    data_ = new (p) T[count]();
  }
  ~SharedMemory() { ::munmap(data_, bytes_); }
  SharedMemory(const SharedMemory&) = delete;
  SharedMemory& operator=(const SharedMemory&) = delete;
  T* get() const { return data_; }
  T* operator->() const { return data_; }

 private:
  size_t bytes_;
  T* data_;
};

}  // namespace shmbus::test
