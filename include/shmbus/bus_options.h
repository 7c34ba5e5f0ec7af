// How a bus is opened: created if missing, shared with a group, defaults for new topics.
#pragma once

#include <optional>
#include <string>

#include "shmbus/topic.h"

namespace shmbus {

struct BusOptions {
  bool create = true;                 // create the bus if it does not exist
  std::optional<std::string> group;   // share with this Unix group (0770) instead of 0700
  TopicConfig topic_defaults;         // used when a topic is created implicitly
};

}  // namespace shmbus
