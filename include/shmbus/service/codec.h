// JSON encoding of registered messages (nlohmann-json: to_json / from_json found by ADL, e.g.
// NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE).
#pragma once

#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "shmbus/service/errors.h"
#include "shmbus/service/message_type.h"

namespace shmbus::service {

template <ServiceMessage T>
std::string encode(const T& message) {
  return nlohmann::json(message).dump();
}

// Throws DecodeError (with nlohmann's reason) if `payload` is not JSON or not a T.
template <ServiceMessage T>
T decode(std::string_view payload) {
  try {
    return nlohmann::json::parse(payload).get<T>();
  } catch (const nlohmann::json::exception& e) {
    throw DecodeError(message_type_of<T>().type_header() + ": " + e.what());
  }
}

}  // namespace shmbus::service
