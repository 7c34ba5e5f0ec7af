// Names of the request errors.
#include "shmbus/service/errors.h"

namespace shmbus::service {

const char* to_string(RequestErrc code) noexcept {
  switch (code) {
    case RequestErrc::kTimeout: return "timeout";
    case RequestErrc::kNoEndpoint: return "no-endpoint";
    case RequestErrc::kRemoteFault: return "remote-fault";
    case RequestErrc::kBadReply: return "bad-reply";
    case RequestErrc::kClosed: return "closed";
  }
  return "?";
}

}  // namespace shmbus::service
