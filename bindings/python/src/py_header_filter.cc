// shmbus.HeaderFilter: RabbitMQ's headers-exchange rules (shmbus/header_filter.h) from Python,
// for deciding in a handler what a queue binding would decide.
#include "py_header_filter.h"

#include <pybind11/stl.h>

#include <vector>

#include "py_buffers.h"
#include "shmbus/header_filter.h"

namespace shmbus::python {
namespace {

// A filter from a CLI-form string ("x-match=any,type=OrderPlaced@2,region") or a mapping
// ({"x-match": "any", "type": "OrderPlaced@2", "region": None}: None means "present").
HeaderFilter make_filter(py::handle spec) {
  if (spec.is_none()) return HeaderFilter();
  if (py::isinstance<py::str>(spec)) return HeaderFilter::parse(py::cast<std::string>(spec));
  if (!py::isinstance<py::dict>(spec)) throw py::type_error("HeaderFilter takes a str (\"x-match=any,k=v\") or a dict");
  std::vector<BindingArgument> arguments;
  for (auto [key, value] : py::cast<py::dict>(spec)) {
    BindingArgument a;
    a.key = py::cast<std::string>(key);
    if (!value.is_none()) a.value = py::cast<std::string>(value);
    arguments.push_back(std::move(a));
  }
  return HeaderFilter(std::move(arguments));
}

bool matches(const HeaderFilter& f, py::handle headers) {
  const HeadersArg arg(headers);
  const size_t size = encoded_headers_size(arg.headers());
  if (size == SIZE_MAX) throw py::value_error("a header key or value is longer than 65535 bytes");
  std::vector<std::byte> block(size);
  encode_headers(arg.headers(), block);
  return f.matches(HeadersView(block));
}

}  // namespace

void register_header_filter(py::module_& m) {
  py::class_<HeaderFilter>(m, "HeaderFilter",
                           "RabbitMQ headers-exchange rules: x-match all (default) | any | all-with-x | any-with-x; "
                           "x- arguments ignored unless *-with-x; a key without a value means present.")
      .def(py::init(&make_filter), py::arg("spec") = py::none(),
           "From \"x-match=any,type=OrderPlaced@2,region\" (\\, \\= \\\\ escape) or a dict (None: present).")
      .def("matches", &matches, py::arg("headers"), "True if a message with these headers (a dict) passes.")
      .def_property_readonly("x_match", [](const HeaderFilter& f) { return std::string(to_string(f.x_match())); })
      .def_property_readonly("arguments",
                             [](const HeaderFilter& f) {
                               py::list out;
                               for (const BindingArgument& a : f.arguments()) {
                                 out.append(py::make_tuple(a.key, a.value ? py::object(py::str(*a.value)) : py::none()));
                               }
                               return out;
                             },
                             "(key, value or None) of the arguments other than x-match, in order.")
      .def("__str__", &HeaderFilter::to_string)
      .def("__repr__", [](const HeaderFilter& f) { return "HeaderFilter(" + std::string(py::repr(py::str(f.to_string()))) + ")"; })
      .def("__eq__", [](const HeaderFilter& a, const HeaderFilter& b) { return a == b; });
}

}  // namespace shmbus::python
