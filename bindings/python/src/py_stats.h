// shmbus.TopicStats, shmbus.CursorStats and shmbus.QueueStats: typed views of the C++ structs,
// whose attributes, asdict() and repr all come from the field tables
// (shmbus/topic_stats_fields.h, shmbus/queue_stats_fields.h).
#pragma once

#include <pybind11/pybind11.h>

namespace shmbus::python {

namespace py = pybind11;

void register_stats(py::module_& m);

}  // namespace shmbus::python
