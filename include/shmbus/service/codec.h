// JSON encoding of registered messages (nlohmann-json: to_json / from_json found by ADL, e.g.
// NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE). A type of SHMBUS_FIELDS (json_fields.h) is written and
// read directly, without nlohmann's DOM, to the same bytes and the same values.
#pragma once

#include <algorithm>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "shmbus/service/errors.h"
#include "shmbus/service/json_fields.h"
#include "shmbus/service/json_in_place.h"
#include "shmbus/service/message_type.h"

namespace shmbus::service {

namespace detail {

// Payloads bigger than this are not kept parsed after their decode (a thread's documents stay small).
inline constexpr size_t kMaxKeptPayload = 64 * 1024;

}  // namespace detail

// The text nlohmann::json(message).dump() gives (and its type_error for a string that is not UTF-8).
template <ServiceMessage T>
std::string encode(const T& message) {
  if constexpr (detail::DirectJson<T>) {
    // Room for the longest T this thread wrote (up to 4 KiB; past it the string grows as it
    // goes): the result's own allocation, once.
    thread_local size_t room = 64;
    std::string out;
    out.reserve(room);
    if (detail::write_json_direct(out, message)) {
      room = std::clamp(out.size(), room, size_t{4096});
      return out;
    }
  }
  return nlohmann::json(message).dump();
}

namespace detail {

// The document json::parse(payload) gives, parsed over the one this thread parsed the last T
// into (json_in_place.h). Not reentrant per T: a from_json that decodes a T again parses afresh.
template <ServiceMessage T>
T decode_reusing(std::string_view payload) {
  thread_local nlohmann::json doc;
  thread_local bool busy = false;
  if (busy) return nlohmann::json::parse(payload).get<T>();
  struct Busy {
    bool& b;
    std::string_view payload;
    ~Busy() {
      b = false;
      if (payload.size() > kMaxKeptPayload) doc = nullptr;
    }
  } guard{busy = true, payload};
  if (!parse_in_place(payload, doc)) return nlohmann::json::parse(payload).get<T>();  // nlohmann's error, or a big object
  return doc.get<T>();
}

}  // namespace detail

// Throws DecodeError (with nlohmann's reason) if `payload` is not JSON or not a T.
template <ServiceMessage T>
T decode(std::string_view payload) {
  if constexpr (detail::DirectJson<T>) {
    T message{};
    if (detail::read_json_direct(payload, message)) return message;
  }
  try {
    return detail::decode_reusing<T>(payload);
  } catch (const nlohmann::json::exception& e) {
    throw DecodeError(message_type_of<T>().type_header() + ": " + e.what());
  }
}

}  // namespace shmbus::service
