// bridge: default_origin.
#include "bridge/origin.h"

#include <unistd.h>

namespace shmbus::bridge {

std::string default_origin(const std::string& bus) {
  char host[256] = {};
  if (::gethostname(host, sizeof host - 1) != 0) host[0] = '\0';
  return std::string(host[0] != '\0' ? host : "localhost") + ":" + bus;
}

}  // namespace shmbus::bridge
