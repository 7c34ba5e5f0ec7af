// What a failed handler leaves behind: the error's text, and the Fault<T> it publishes.
#pragma once

#include <exception>
#include <string>

#include "shmbus/message.h"
#include "shmbus/service/envelope.h"
#include "shmbus/service/fault.h"

namespace shmbus::service::detail {

// The exception's dynamic type, demangled ("std::runtime_error"; "unknown exception" for a
// throw of something that is not a std::exception) and its what().
struct ErrorText {
  std::string type;
  std::string message;
  std::string line() const { return type + ": " + message; }  // x-death-error
};
ErrorText describe(const std::exception_ptr& error);

// The JSON of Fault<T> for `payload` (the failed message's JSON, which decoded before its
// handler ran) and `info`.
std::string fault_payload(std::string_view payload, const FaultInfo& info);

}  // namespace shmbus::service::detail
