// C++ failures as Python exceptions: shmbus::Error by its kind, data-path Errc by its value.
// The classes themselves are plain Python (shmbus/_errors.py), so they can have two bases.
#pragma once

#include <pybind11/pybind11.h>

#include <string>

#include "shmbus/error.h"

namespace shmbus::python {

namespace py = pybind11;

// Imports shmbus._errors and installs the translator for shmbus::Error.
void register_errors(py::module_& m);

// Sets the Python exception for a data-path outcome and throws error_already_set. The message
// is "context: explanation", the explanation defaulting to to_string(e) (Publisher::explain()
// gives a better one).
[[noreturn]] void raise_errc(Errc e, const std::string& context, const std::string& explanation = {});

// Sets the Python exception for a set-up failure (what the registered translator does).
void set_python_error(const Error& e);

// Raises shmbus.ClosedError for a closed object.
[[noreturn]] void raise_closed(const char* what);

}  // namespace shmbus::python
