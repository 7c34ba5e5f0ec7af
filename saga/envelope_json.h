// An envelope as the JSON text the store keeps for an outgoing message (every field, by its
// header name), and back.
#pragma once

#include <string>
#include <string_view>

#include "shmbus/service/envelope.h"

namespace shmbus::saga::detail {

std::string envelope_to_json(const service::Envelope& env);
service::Envelope envelope_from_json(std::string_view text);  // throws nlohmann's exception if damaged

}  // namespace shmbus::saga::detail
