// The _shmbus extension module; the package shmbus (shmbus/__init__.py) re-exports it.
#include <pybind11/pybind11.h>

#include "py_buffers.h"
#include "py_bus.h"
#include "py_errors.h"
#include "py_header_filter.h"
#include "py_publisher.h"
#include "py_queue.h"
#include "py_stats.h"
#include "py_subscription.h"
#include <pybind11/stl.h>

#include "shmbus/journal.h"
#include "shmbus/pattern.h"
#include "shmbus/topic.h"

#ifndef SHMBUS_VERSION
#define SHMBUS_VERSION "0.0.0"
#endif

PYBIND11_MODULE(_shmbus, m) {
  namespace py = pybind11;
  m.doc() = "shmbus: a lock-free shared-memory message bus (C++ core)";
  m.attr("__version__") = SHMBUS_VERSION;
  shmbus::python::register_errors(m);
  shmbus::python::register_buffers(m);
  shmbus::python::register_publisher(m);
  shmbus::python::register_subscription(m);
  shmbus::python::register_stats(m);
  shmbus::python::register_queue(m);
  shmbus::python::register_header_filter(m);
  shmbus::python::register_bus(m);
  m.def("pattern_matches", &shmbus::pattern_matches, py::arg("pattern"), py::arg("topic"),
        "True if `topic` matches `pattern` (AMQP topic rules: * one word, # zero or more).");
  m.def("check_journal", [](const std::string& dir, bool repair) {
        shmbus::JournalReport r;
        {
          py::gil_scoped_release release;
          r = shmbus::check_journal(dir, repair);
        }
        py::dict d;
        d["healthy"] = r.healthy();
        d["segments"] = r.segments;
        d["records"] = r.records;
        d["voided"] = r.voided;
        d["abandoned"] = r.abandoned;
        d["first_position"] = r.first_position;
        d["end_position"] = r.end_position;
        d["next_seq"] = r.next_seq;
        d["cut_bytes"] = r.cut_bytes;
        d["problems"] = r.problems;
        d["moved_aside"] = r.moved_aside;
        return d;
      }, py::arg("dir"), py::arg("repair") = false,
        "Checks (or repairs) a journal's segment directory; a dict with 'healthy', 'records', 'problems', ...");
  m.def("validate_topic_name", &shmbus::validate_topic_name, py::arg("name"),
        "Raises InvalidNameError unless `name` is a valid topic name (words of [A-Za-z0-9_-] joined by '.').");
  m.def("validate_pattern", &shmbus::validate_pattern, py::arg("pattern"),
        "Raises InvalidNameError unless `pattern` is a valid pattern (topic words, '*' or '#').");
}
