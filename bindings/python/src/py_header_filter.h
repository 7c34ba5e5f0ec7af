// shmbus.HeaderFilter (shmbus/header_filter.h).
#pragma once

#include <pybind11/pybind11.h>

namespace shmbus::python {

namespace py = pybind11;

void register_header_filter(py::module_& m);

}  // namespace shmbus::python
