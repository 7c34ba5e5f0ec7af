// Moving bytes between Python and the log: arguments in (bytes-like, str, headers dict) without
// copies, and views out (memoryviews over ring memory that keep its mapping alive).
#pragma once

#include <pybind11/pybind11.h>

#include <cstddef>
#include <memory>
#include <span>
#include <vector>

#include "shmbus/headers.h"

namespace shmbus::python {

namespace py = pybind11;

// The bytes of a payload argument: bytes, bytearray, memoryview (any C-contiguous buffer), or
// str (sent as UTF-8). Borrowed: valid while the argument object lives and is not resized.
class PayloadArg {
 public:
  explicit PayloadArg(py::handle object);
  ~PayloadArg();
  PayloadArg(const PayloadArg&) = delete;
  PayloadArg& operator=(const PayloadArg&) = delete;
  std::span<const std::byte> bytes() const noexcept { return bytes_; }

 private:
  std::span<const std::byte> bytes_;
  Py_buffer buffer_{};
  bool has_buffer_ = false;
};

// A headers argument: None or a mapping of str to str. Views into the strings' UTF-8.
class HeadersArg {
 public:
  explicit HeadersArg(py::handle object);
  std::span<const Header> headers() const noexcept { return headers_; }

 private:
  py::object keep_;  // the mapping's items, so the strings outlive the views
  std::vector<Header> headers_;
};

// Decodes a record's headers into a new dict (invalid UTF-8 is replaced, never raised).
py::dict headers_to_dict(const HeadersView& headers);

// A memoryview over `size` bytes at `data` that holds `keepalive` (the mapping) for its lifetime.
py::memoryview view_of(std::shared_ptr<const void> keepalive, const std::byte* data, size_t size, bool writable);

// Registers the exporter type behind view_of().
void register_buffers(py::module_& m);

}  // namespace shmbus::python
