#include "py_errors.h"

namespace shmbus::python {
namespace {

// Borrowed for the life of the interpreter: the module keeps the classes alive.
struct ErrorClasses {
  py::handle base, invalid_name, invalid_argument, not_found, not_shmbus, version, corrupt, storage, full,
      in_use, closed, timeout, would_block, too_large, abandoned, stale_lease;
};
ErrorClasses g_classes;

py::handle class_for(ErrorKind kind) {
  switch (kind) {
    case ErrorKind::kInvalidName: return g_classes.invalid_name;
    case ErrorKind::kInvalidArgument: return g_classes.invalid_argument;
    case ErrorKind::kNotFound: return g_classes.not_found;
    case ErrorKind::kNotShmbus: return g_classes.not_shmbus;
    case ErrorKind::kVersion: return g_classes.version;
    case ErrorKind::kCorrupt: return g_classes.corrupt;
    case ErrorKind::kIo: return g_classes.storage;
    case ErrorKind::kFull: return g_classes.full;
    case ErrorKind::kInUse: return g_classes.in_use;
    case ErrorKind::kGeneral: break;
  }
  return g_classes.base;
}

py::handle class_for(Errc e) {
  switch (e) {
    case Errc::kWouldBlock: return g_classes.would_block;
    case Errc::kTooLarge: return g_classes.too_large;
    case Errc::kCorrupt: return g_classes.corrupt;
    case Errc::kTimeout: return g_classes.timeout;
    case Errc::kClosed: return g_classes.closed;
    case Errc::kInvalidArgument: return g_classes.invalid_argument;
    case Errc::kAbandoned: return g_classes.abandoned;
    case Errc::kStorage: return g_classes.storage;
    case Errc::kNotDurable: return g_classes.storage;  // published: the message says so
    case Errc::kHeldLimit: return g_classes.would_block;
    case Errc::kStaleLease: return g_classes.stale_lease;
    case Errc::kLapped: break;
  }
  return g_classes.base;
}

}  // namespace

void register_errors(py::module_& m) {
  py::module_ errors = py::module_::import("shmbus._errors");
  auto get = [&](const char* name) {
    py::object cls = errors.attr(name);
    m.attr(name) = cls;  // the module holds a reference for as long as it lives
    return cls.ptr();
  };
  g_classes = {get("Error"), get("InvalidNameError"), get("InvalidArgumentError"), get("NotFoundError"),
               get("NotShmbusError"), get("VersionError"), get("CorruptError"), get("StorageError"),
               get("FullError"), get("InUseError"), get("ClosedError"), get("TimeoutError"), get("WouldBlockError"),
               get("TooLargeError"), get("AbandonedError"), get("StaleLeaseError")};
  py::register_exception_translator([](std::exception_ptr p) {
    try {
      if (p) std::rethrow_exception(p);
    } catch (const Error& e) {
      set_python_error(e);
    }
  });
}

void set_python_error(const Error& e) { PyErr_SetString(class_for(e.kind()).ptr(), e.what()); }

void raise_errc(Errc e, const std::string& context, const std::string& explanation) {
  PyErr_SetString(class_for(e).ptr(), (context + ": " + (explanation.empty() ? to_string(e) : explanation)).c_str());
  throw py::error_already_set();
}

void raise_closed(const char* what) {
  PyErr_SetString(g_classes.closed.ptr(), (std::string(what) + " is closed").c_str());
  throw py::error_already_set();
}

}  // namespace shmbus::python
