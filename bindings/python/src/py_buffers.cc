#include "py_buffers.h"

#include "py_errors.h"

namespace shmbus::python {
namespace {

// The object a memoryview exports from: ring memory plus what keeps it mapped.
struct RingView {
  std::shared_ptr<const void> keepalive;
  std::byte* data = nullptr;
  size_t size = 0;
  bool writable = false;
};

std::string_view utf8_of(py::handle s, const char* what) {
  if (!PyUnicode_Check(s.ptr())) throw py::type_error(std::string("header ") + what + " must be str");
  Py_ssize_t n = 0;
  const char* p = PyUnicode_AsUTF8AndSize(s.ptr(), &n);  // cached in the str object: stays valid
  if (p == nullptr) throw py::error_already_set();
  return {p, static_cast<size_t>(n)};
}

}  // namespace

PayloadArg::PayloadArg(py::handle object) {
  PyObject* o = object.ptr();
  if (PyBytes_Check(o)) {
    bytes_ = {reinterpret_cast<const std::byte*>(PyBytes_AS_STRING(o)), static_cast<size_t>(PyBytes_GET_SIZE(o))};
  } else if (PyUnicode_Check(o)) {
    Py_ssize_t n = 0;
    const char* p = PyUnicode_AsUTF8AndSize(o, &n);
    if (p == nullptr) throw py::error_already_set();
    bytes_ = {reinterpret_cast<const std::byte*>(p), static_cast<size_t>(n)};
  } else if (PyObject_CheckBuffer(o)) {
    if (PyObject_GetBuffer(o, &buffer_, PyBUF_C_CONTIGUOUS) != 0) throw py::error_already_set();
    has_buffer_ = true;
    bytes_ = {static_cast<const std::byte*>(buffer_.buf), static_cast<size_t>(buffer_.len)};
  } else {
    throw py::type_error(std::string("payload must be bytes-like or str, not ") + Py_TYPE(o)->tp_name);
  }
}

PayloadArg::~PayloadArg() {
  if (has_buffer_) PyBuffer_Release(&buffer_);
}

HeadersArg::HeadersArg(py::handle object) {
  if (object.is_none()) return;
  if (!PyDict_Check(object.ptr())) throw py::type_error("headers must be a dict of str to str (or None)");
  keep_ = py::reinterpret_borrow<py::object>(object);
  py::dict d = py::reinterpret_borrow<py::dict>(object);
  headers_.reserve(d.size());
  for (auto [key, value] : d) headers_.push_back({utf8_of(key, "keys"), utf8_of(value, "values")});
}

py::dict headers_to_dict(const HeadersView& headers) {
  py::dict d;
  for (Header h : headers) {
    py::object key = py::reinterpret_steal<py::object>(
        PyUnicode_DecodeUTF8(h.key.data(), static_cast<Py_ssize_t>(h.key.size()), "replace"));
    py::object value = py::reinterpret_steal<py::object>(
        PyUnicode_DecodeUTF8(h.value.data(), static_cast<Py_ssize_t>(h.value.size()), "replace"));
    if (!key || !value) throw py::error_already_set();
    d[key] = value;
  }
  return d;
}

py::memoryview view_of(std::shared_ptr<const void> keepalive, const std::byte* data, size_t size, bool writable) {
  py::object exporter = py::cast(RingView{std::move(keepalive), const_cast<std::byte*>(data), size, writable});
  return py::memoryview(exporter);
}

void register_buffers(py::module_& m) {
  py::class_<RingView>(m, "_RingView", py::buffer_protocol())
      .def_buffer([](RingView& v) {
        return py::buffer_info(v.data, 1, py::format_descriptor<uint8_t>::format(), 1,
                               {static_cast<py::ssize_t>(v.size)}, {1}, /*readonly=*/!v.writable);
      });
}

}  // namespace shmbus::python
