// endpoint_bound: a queue bound to an endpoint's command topic, found by its bindings.
#include "shmbus/service/endpoint_lookup.h"

#include <algorithm>
#include <string>
#include <vector>

#include "shmbus/pattern.h"
#include "shmbus/service/topology.h"

namespace shmbus::service {

bool endpoint_bound(Bus& bus, std::string_view endpoint) {
  const std::string topic = command_topic(endpoint);
  std::vector<std::string> names = bus.queues();
  // The endpoint's own queue first: the usual case costs one look.
  std::stable_partition(names.begin(), names.end(), [&](const std::string& n) { return n == endpoint; });
  for (const std::string& name : names) {
    try {
      for (const std::string& binding : bus.queue(name).stats().config.bindings) {
        if (pattern_matches(binding, topic)) return true;
      }
    } catch (const Error&) {
      // Removed or half-made meanwhile: not a binding.
    }
  }
  return false;
}

}  // namespace shmbus::service
