// Parsing and naming the values of TopicConfig.
#include <string>

#include "shmbus/error.h"
#include "shmbus/topic.h"

namespace shmbus {

Policy parse_policy(std::string_view text) {
  if (text == "block") return Policy::kBlock;
  if (text == "fail") return Policy::kFail;
  if (text == "overwrite") return Policy::kOverwrite;
  throw Error("unknown policy \"" + std::string(text) + "\": use block, fail or overwrite", ErrorKind::kInvalidArgument);
}

const char* to_string(Policy policy) noexcept {
  switch (policy) {
    case Policy::kBlock: return "block";
    case Policy::kFail: return "fail";
    case Policy::kOverwrite: return "overwrite";
  }
  return "unknown";
}

void parse_fsync(std::string_view text, TopicConfig& config) {
  if (text == "never") {
    config.fsync = FsyncPolicy::kNever;
  } else if (text == "always") {
    config.fsync = FsyncPolicy::kAlways;
  } else if (text.starts_with("interval=") && text.size() > 9 &&
             text.substr(9).find_first_not_of("0123456789") == std::string_view::npos && text.size() < 19) {
    config.fsync = FsyncPolicy::kInterval;
    config.fsync_interval = std::chrono::milliseconds(std::stoll(std::string(text.substr(9))));
  } else {
    throw Error("unknown fsync policy \"" + std::string(text) + "\": use never, interval=MS or always",
                ErrorKind::kInvalidArgument);
  }
}

std::string to_string(FsyncPolicy policy, std::chrono::milliseconds interval) {
  switch (policy) {
    case FsyncPolicy::kNever: return "never";
    case FsyncPolicy::kAlways: return "always";
    case FsyncPolicy::kInterval: return "interval=" + std::to_string(interval.count());
  }
  return "unknown";
}

const char* to_string(TopicKind kind) noexcept {
  switch (kind) {
    case TopicKind::kMemory: return "memory";
    case TopicKind::kJournal: return "journal";
  }
  return "unknown";
}

}  // namespace shmbus
