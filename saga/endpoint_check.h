// Whether a command sent to `endpoint` would be read: a queue is bound to commands.<endpoint>
// (the journal would keep the command, but a queue joins a topic at its tail). Found ones are
// remembered. Thread-safety: any thread.
#pragma once

#include <mutex>
#include <set>
#include <string>
#include <string_view>

#include "shmbus/bus.h"

namespace shmbus::saga::detail {

class EndpointCheck {
 public:
  explicit EndpointCheck(Bus bus) : bus_(std::move(bus)) {}
  // Throws service::RequestError kNoEndpoint if none is bound.
  void require(std::string_view endpoint);

 private:
  Bus bus_;
  std::mutex mu_;  // guards known_
  std::set<std::string, std::less<>> known_;
};

}  // namespace shmbus::saga::detail
