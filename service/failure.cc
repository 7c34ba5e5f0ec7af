// Describing a handler's exception, and the Fault<T> built from it without knowing T.
#include "failure.h"

#include <cxxabi.h>

#include <cstdlib>
#include <memory>
#include <typeinfo>

namespace shmbus::service::detail {
namespace {

std::string demangle(const char* name) {
  int status = 0;
  std::unique_ptr<char, void (*)(void*)> out(abi::__cxa_demangle(name, nullptr, nullptr, &status), std::free);
  return status == 0 && out ? std::string(out.get()) : std::string(name);
}

}  // namespace

ErrorText describe(const std::exception_ptr& error) {
  try {
    std::rethrow_exception(error);
  } catch (const std::exception& e) {
    return {demangle(typeid(e).name()), e.what()};
  } catch (...) {
    return {"unknown exception", "a handler threw something that is not a std::exception"};
  }
}

std::string fault_payload(std::string_view payload, const FaultInfo& info) {
  nlohmann::json j = info;
  // It decoded before its handler ran, so it parses; keep the text if it somehow does not.
  nlohmann::json message = nlohmann::json::parse(payload, nullptr, /*allow_exceptions=*/false);
  j["message"] = message.is_discarded() ? nlohmann::json(std::string(payload)) : std::move(message);
  return j.dump();
}

}  // namespace shmbus::service::detail
