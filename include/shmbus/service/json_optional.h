// std::optional<T> as JSON for nlohmann-json before 3.12 (which has its own): nullopt is null,
// a value is the value's JSON; null reads back as nullopt. The same rule as SHMBUS_FIELDS'
// direct codec (json_fields.h) and as Python's None. Define SHMBUS_NO_OPTIONAL_JSON before
// including shmbus headers if your program has its own adl_serializer<std::optional<T>>.
#pragma once

#include <optional>

#include <nlohmann/json.hpp>

#if !defined(SHMBUS_NO_OPTIONAL_JSON) && NLOHMANN_JSON_VERSION_MAJOR == 3 && NLOHMANN_JSON_VERSION_MINOR < 12
namespace nlohmann {

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

}  // namespace nlohmann
#endif
