// std::optional<T> as JSON for nlohmann-json 3.11 (3.12 has its own): nullopt is null, a value
// is the value's JSON; null reads back as nullopt. The same rule as SHMBUS_FIELDS' direct codec
// (json_fields.h) and as Python's None. Define SHMBUS_NO_OPTIONAL_JSON before including shmbus
// headers if your program has its own adl_serializer<std::optional<T>>. A specialisation of
// nlohmann's own trait, so it opens nlohmann's namespace, the way nlohmann documents for 3.11
// (NLOHMANN_JSON_NAMESPACE_BEGIN: its versioned inline namespace).
#pragma once

#include <optional>

#include <nlohmann/json.hpp>

#if !defined(SHMBUS_NO_OPTIONAL_JSON) && defined(NLOHMANN_JSON_NAMESPACE_BEGIN) && NLOHMANN_JSON_VERSION_MAJOR == 3 && \
    NLOHMANN_JSON_VERSION_MINOR < 12
NLOHMANN_JSON_NAMESPACE_BEGIN

template <class T>
struct adl_serializer<std::optional<T>> {
  template <class Json>
  static void to_json(Json& j, const std::optional<T>& value) {
    if (value) {
      j = *value;
    } else {
      j = nullptr;
    }
  }
  template <class Json>
  static void from_json(const Json& j, std::optional<T>& value) {
    if (j.is_null()) {
      value.reset();
    } else {
      value = j.template get<T>();
    }
  }
};

NLOHMANN_JSON_NAMESPACE_END
#endif
