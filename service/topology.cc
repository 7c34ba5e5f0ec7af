// Topic names of the service layer (shmbus/service/topology.h).
#include "shmbus/service/topology.h"

namespace shmbus::service {

std::string event_topic(const MessageType& type) {
  std::string_view name = type.name;
  if (name.starts_with("Fault<") && name.ends_with(">")) {
    return "events.Fault." + std::string(name.substr(6, name.size() - 7));
  }
  return "events." + type.name;
}

std::string command_topic(std::string_view endpoint) {
  std::string out;
  command_topic(endpoint, out);
  return out;
}

void command_topic(std::string_view endpoint, std::string& into) {
  into.assign("commands.");
  into.append(endpoint);
}

}  // namespace shmbus::service
