// ExpiredAction's names, as queue config files and the CLI write them.
#include <string>

#include "shmbus/error.h"
#include "shmbus/queue.h"

namespace shmbus {

const char* to_string(ExpiredAction action) noexcept {
  return action == ExpiredAction::kDrop ? "drop" : "dead-letter";
}

ExpiredAction parse_expired_action(std::string_view text) {
  if (text == "dead-letter") return ExpiredAction::kDeadLetter;
  if (text == "drop") return ExpiredAction::kDrop;
  throw Error("unknown action for expired records \"" + std::string(text) + "\": use dead-letter or drop",
              ErrorKind::kInvalidArgument);
}

}  // namespace shmbus
