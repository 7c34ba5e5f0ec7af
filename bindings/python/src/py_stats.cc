#include "py_stats.h"

#include <cstddef>
#include <span>
#include <string>
#include <type_traits>
#include <vector>

#include "shmbus/queue_stats_fields.h"
#include "shmbus/topic_stats_fields.h"

namespace shmbus::python {
namespace {

bool applies_to(const StatField& f, const TopicStats& s) { return applies(f, s.kind); }
bool applies_to(const StatField&, const CursorStats&) { return true; }
bool applies_to(const StatField&, const QueueStats&) { return true; }

// A field's value as Python sees it: str, int, float, bool, a list of CursorStats or of str.
template <class V>
py::object to_python(const V& value) {
  if constexpr (std::is_same_v<V, std::span<const std::string>>) {
    py::list out;
    for (const std::string& s : value) out.append(py::str(s));
    return out;
  } else if constexpr (std::is_same_v<V, std::span<const CursorStats>>) {
    py::list out;
    for (const CursorStats& c : value) out.append(py::cast(c));
    return out;
  } else if constexpr (std::is_same_v<V, std::string_view>) {
    return py::str(value.data(), value.size());
  } else {
    return py::cast(value);
  }
}

// Field `index` of `s` (the table's order), or None where it does not apply (a journal's field of
// a memory topic).
template <class Stats>
py::object field_value(const Stats& s, size_t index) {
  py::object out = py::none();
  size_t i = 0;
  for_each_field(s, [&](const StatField& f, const auto& value) {
    if (i++ == index && applies_to(f, s)) out = to_python(value);
  });
  return out;
}

// {name: value} of the fields that apply; cursors as dicts, like dataclasses.asdict().
template <class Stats>
py::dict as_dict(const Stats& s) {
  py::dict out;
  for_each_field(s, [&](const StatField& f, const auto& value) {
    if (!applies_to(f, s)) return;
    const py::str key(f.name.data(), f.name.size());
    if constexpr (std::is_same_v<std::decay_t<decltype(value)>, std::span<const CursorStats>>) {
      py::list cursors;
      for (const CursorStats& c : value) cursors.append(as_dict(c));
      out[key] = cursors;
    } else {
      out[key] = to_python(value);
    }
  });
  return out;
}

// TopicStats(name='orders', kind='journal', ...): the fields that apply, as asdict() has them.
template <class Stats>
std::string repr(const char* type, const Stats& s) {
  std::string out = std::string(type) + "(";
  bool first = true;
  for_each_field(s, [&](const StatField& f, const auto& value) {
    if (!applies_to(f, s)) return;
    out += (first ? "" : ", ") + std::string(f.name) + "=" + std::string(py::repr(to_python(value)));
    first = false;
  });
  return out + ")";
}

// One read-only attribute per field of the table, documented with its description and unit.
template <class Stats>
void add_fields(py::class_<Stats>& cls, const Stats& sample) {
  size_t index = 0;
  for_each_field(sample, [&](const StatField& f, const auto&) {
    std::string doc(f.description);
    if (f.unit == StatUnit::kBytes) doc += " (bytes)";
    if (f.unit == StatUnit::kSeconds) doc += " (seconds)";
    if (f.unit == StatUnit::kTimestamp) doc += " (CLOCK_REALTIME ns)";
    if (f.scope == StatScope::kJournal) doc += "; journal topics only, else None";
    cls.def_property_readonly(std::string(f.name).c_str(),
                              [index](const Stats& s) { return field_value(s, index); }, doc.c_str());
    ++index;
  });
  cls.def("asdict", [](const Stats& s) { return as_dict(s); },
          "The fields that apply, as a dict (the keys of `shmbus stat --json` / `shmbus queue stat --json`).");
}

}  // namespace

void register_stats(py::module_& m) {
  py::class_<CursorStats> cursor(m, "CursorStats", "A named cursor of a journal topic (TopicStats.cursors).");
  add_fields(cursor, CursorStats{});
  cursor.def("__repr__", [](const CursorStats& c) { return repr("CursorStats", c); });

  py::class_<TopicStats> topic(m, "TopicStats",
                               "A topic's counters (Bus.stats()); journal fields are None for memory topics.");
  add_fields(topic, TopicStats{});
  topic.def("__repr__", [](const TopicStats& s) { return repr("TopicStats", s); });
  // The field names, in the table's order (the same for every topic; asdict() has those that apply).
  py::list names;
  for_each_field(TopicStats{}, [&](const StatField& f, const auto&) { names.append(py::str(f.name.data(), f.name.size())); });
  topic.attr("fields") = py::tuple(names);

  py::class_<QueueStats> queue(m, "QueueStats", "A queue's counts and settings (Queue.stats()).");
  add_fields(queue, QueueStats{});
  queue.def("__repr__", [](const QueueStats& s) { return repr("QueueStats", s); });
  py::list queue_names;
  for_each_field(QueueStats{}, [&](const StatField& f, const auto&) { queue_names.append(py::str(f.name.data(), f.name.size())); });
  queue.attr("fields") = py::tuple(queue_names);
}

}  // namespace shmbus::python
