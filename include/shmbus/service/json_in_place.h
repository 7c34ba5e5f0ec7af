// Parsing JSON into a document kept from the last parse, reusing its nodes: a message type's
// payloads have the same shape each time, so once warm a parse allocates nothing for the
// document (nlohmann's parse builds a fresh DOM: a std::map node per key, a heap string per
// string, all freed again after from_json: most of a decode's time). The result is the same
// document json::parse gives (same values, same duplicate-key rule: the last wins).
#pragma once

#include <string_view>

#include <nlohmann/json.hpp>

namespace shmbus::service::detail {

// Parses `payload` into `doc`, reusing what `doc` holds. false: not parsed (not JSON, or an
// object over the size this reuses: parse it the usual way, which also gives nlohmann's
// error); `doc` is then unspecified, still a valid json to parse into again.
bool parse_in_place(std::string_view payload, nlohmann::json& doc);

}  // namespace shmbus::service::detail
