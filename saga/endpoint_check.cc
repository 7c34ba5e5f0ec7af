#include "endpoint_check.h"

#include "shmbus/pattern.h"
#include "shmbus/service/errors.h"
#include "shmbus/service/topology.h"

namespace shmbus::saga::detail {

void EndpointCheck::require(std::string_view endpoint) {
  {
    std::lock_guard<std::mutex> guard(mu_);
    if (known_.contains(endpoint)) return;
  }
  const std::string topic = service::command_topic(endpoint);
  for (const std::string& name : bus_.queues()) {
    try {
      for (const std::string& binding : bus_.queue(name).stats().config.bindings) {
        if (!pattern_matches(binding, topic)) continue;
        std::lock_guard<std::mutex> guard(mu_);
        known_.emplace(endpoint);
        return;
      }
    } catch (const Error&) {
      // Removed or half-made meanwhile: not a binding.
    }
  }
  throw service::RequestError(service::RequestErrc::kNoEndpoint,
                              "saga step: no endpoint \"" + std::string(endpoint) + "\": no queue is bound to " + topic +
                                  ", so nothing would read the command; start that endpoint first");
}

}  // namespace shmbus::saga::detail
