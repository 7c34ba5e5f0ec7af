// SHMBUS_FIELDS: a message struct's fields named once, giving nlohmann's to_json / from_json
// (what NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE gives) and a direct codec that encode<T> / decode<T>
// (codec.h) use instead: the JSON text written straight from the fields and read straight into
// them, no DOM in between. Its text is byte for byte dump()'s (keys in the std::map order
// nlohmann's objects have, its number and string forms); what it reads is exactly what
// nlohmann's from_json reads, and whatever the direct reader is not sure of (see read_json_value
// below) it leaves to nlohmann's DOM path, which then decides and words the error.
//
//   namespace sales {
//   struct PlaceOrder { int64_t order = 0; std::string sku; std::optional<std::string> note; };
//   SHMBUS_FIELDS(PlaceOrder, order, sku, note)      // instead of NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE
//   }
#pragma once

#include <algorithm>
#include <cmath>
#include <concepts>
#include <cstdint>
#include <cstring>
#include <initializer_list>
#include <limits>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include <nlohmann/json.hpp>

#include "shmbus/service/json_optional.h"
#include "shmbus/service/json_text.h"

namespace shmbus::service::detail {

template <class T>
class JsonFields;

// A struct of SHMBUS_FIELDS (the macro defines shmbus_json_fields beside it, found by ADL).
template <class T>
concept DirectJson = requires(const T* t) {
  { shmbus_json_fields(t) } -> std::same_as<const JsonFields<T>&>;
};

template <class V>
inline constexpr bool kJsonSigned = std::is_same_v<V, signed char> || std::is_same_v<V, short> ||
                                    std::is_same_v<V, int> || std::is_same_v<V, long> || std::is_same_v<V, long long>;
template <class V>
inline constexpr bool kJsonUnsigned = std::is_same_v<V, unsigned char> || std::is_same_v<V, unsigned short> ||
                                      std::is_same_v<V, unsigned> || std::is_same_v<V, unsigned long> ||
                                      std::is_same_v<V, unsigned long long>;
template <class V>
struct IsOptional : std::false_type {};
template <class V>
struct IsOptional<std::optional<V>> : std::true_type {};
template <class V>
struct IsVector : std::false_type {};
template <class V, class A>
struct IsVector<std::vector<V, A>> : std::true_type {};

template <DirectJson T>
bool write_json_object(std::string& out, const T& value);
template <DirectJson T>
bool read_json_object(JsonCursor& c, T& value);

// Appends `v`'s JSON, the text nlohmann::json(v).dump() gives. false: a string in it is not
// UTF-8 (dump() throws for it: the caller lets nlohmann write it, and throw).
template <class V>
bool write_json_value(std::string& out, const V& v) {
  if constexpr (std::is_same_v<V, bool>) {
    out.append(v ? "true" : "false");
  } else if constexpr (kJsonSigned<V>) {
    append_json_integer(out, static_cast<int64_t>(v));
  } else if constexpr (kJsonUnsigned<V>) {
    append_json_integer(out, static_cast<uint64_t>(v));
  } else if constexpr (std::is_same_v<V, double> || std::is_same_v<V, float>) {
    append_json_double(out, static_cast<double>(v));  // a float's JSON is its double's
  } else if constexpr (std::is_same_v<V, std::string>) {
    return append_json_string(out, v);
  } else if constexpr (IsOptional<V>::value) {
    if (!v) {
      out.append("null");
      return true;
    }
    return write_json_value(out, *v);
  } else if constexpr (IsVector<V>::value) {
    out.push_back('[');
    bool first = true;
    for (const auto& e : v) {
      if (!first) out.push_back(',');
      first = false;
      if (!write_json_value(out, static_cast<const typename V::value_type&>(e))) return false;
    }
    out.push_back(']');
  } else if constexpr (DirectJson<V>) {
    return write_json_object(out, v);
  } else {
    out.append(nlohmann::json(v).dump());  // any other type: nlohmann's text for this field
  }
  return true;
}

// Reads the value at c.p into `v` as `json.get_to(v)` would. false (the caller falls back to
// the DOM path) for anything but the plain case: bad text, an integer field given a float
// or a number out of its range, a bool or string field given another type, a duplicate or
// escaped key, a missing key (SHMBUS_FIELDS; SHMBUS_FIELDS_WITH_DEFAULT takes the default
// object's value as nlohmann does), nesting over kMaxJsonDepth.
template <class V>
bool read_json_value(JsonCursor& c, V& v) {
  if (c.p == c.end) return false;
  if constexpr (std::is_same_v<V, bool>) {
    const bool truth = *c.p == 't';
    if (!read_json_literal(c, truth ? "true" : "false")) return false;
    v = truth;
    return true;
  } else if constexpr (kJsonSigned<V> || kJsonUnsigned<V>) {
    JsonNumber n;
    if (!read_json_number(c, n)) return false;
    using L = std::numeric_limits<V>;
    if (n.kind == JsonNumber::kUnsigned && n.u <= static_cast<uint64_t>(L::max())) {
      v = static_cast<V>(n.u);
      return true;
    }
    if (n.kind == JsonNumber::kNegative && L::is_signed && n.i >= static_cast<int64_t>(L::min())) {
      v = static_cast<V>(n.i);
      return true;
    }
    return false;  // a float, or out of range: nlohmann's static_cast decides
  } else if constexpr (std::is_same_v<V, double> || std::is_same_v<V, float>) {
    JsonNumber n;
    if (!read_json_number(c, n)) return false;
    if (n.kind == JsonNumber::kFloat && std::fabs(n.d) > std::numeric_limits<V>::max()) return false;  // a float's overflow
    // As nlohmann converts each of its number types to V (a float straight from the integer).
    v = n.kind == JsonNumber::kUnsigned ? static_cast<V>(n.u)
        : n.kind == JsonNumber::kNegative ? static_cast<V>(n.i)
                                          : static_cast<V>(n.d);
    return true;
  } else if constexpr (std::is_same_v<V, std::string>) {
    return *c.p == '"' && read_json_string(c, v);
  } else if constexpr (IsOptional<V>::value) {
    if (*c.p == 'n') {
      if (!read_json_literal(c, "null")) return false;
      v.reset();
      return true;
    }
    return read_json_value(c, v.emplace());
  } else if constexpr (IsVector<V>::value) {
    if (*c.p != '[' || ++c.depth > kMaxJsonDepth) return false;
    ++c.p;
    v.clear();
    skip_json_space(c);
    if (c.p != c.end && *c.p == ']') {
      ++c.p;
      --c.depth;
      return true;
    }
    for (;;) {
      if constexpr (std::is_same_v<V, std::vector<bool, typename V::allocator_type>>) {
        bool e = false;
        if (!read_json_value(c, e)) return false;
        v.push_back(e);
      } else if (!read_json_value(c, v.emplace_back())) {
        return false;
      }
      skip_json_space(c);
      if (c.p == c.end) return false;
      const char next = *c.p++;
      if (next == ']') {
        --c.depth;
        return true;
      }
      if (next != ',') return false;
      skip_json_space(c);
    }
  } else if constexpr (DirectJson<V>) {
    return read_json_object(c, v);
  } else {
    // Any other type: nlohmann reads this field's text alone (checked first, so that a
    // document it would refuse is never taken); its errors are the DOM path's to word.
    const char* start = c.p;
    if (!skip_json_value(c)) return false;
    try {
      nlohmann::json::parse(start, c.p).get_to(v);
    } catch (const nlohmann::json::exception&) {
      return false;
    }
    return true;
  }
}

// One field of T: its key and how to write, read and default it.
template <class T>
struct JsonField {
  std::string_view name;
  bool (*write)(std::string& out, const T& value);
  bool (*read)(JsonCursor& c, T& value);
  void (*set_default)(T& value, const T& defaults);
};

template <class T, auto Member>
JsonField<T> json_field(std::string_view name) {
  return {name, [](std::string& out, const T& t) { return write_json_value(out, t.*Member); },
          [](JsonCursor& c, T& t) { return read_json_value(c, t.*Member); },
          [](T& t, const T& defaults) { t.*Member = defaults.*Member; }};
}

// The fields of T in the order dump() lists them (nlohmann's object is a std::map: by key).
template <class T>
class JsonFields {
 public:
  // `with_default`: a missing key takes a default-constructed T's value (the _WITH_DEFAULT
  // macros); otherwise a missing key is nlohmann's error.
  JsonFields(std::initializer_list<JsonField<T>> fields, bool with_default) : fields_(fields) {
    std::sort(fields_.begin(), fields_.end(), [](const auto& a, const auto& b) { return a.name < b.name; });
    for (const JsonField<T>& f : fields_) keys_.push_back(",\"" + std::string(f.name) + "\":");
    if (with_default) defaults_.emplace();
  }

  bool write(std::string& out, const T& value) const {
    out.push_back('{');
    for (size_t i = 0; i < fields_.size(); ++i) {
      out.append(keys_[i], i == 0 ? 1 : 0);
      if (!fields_[i].write(out, value)) return false;
    }
    out.push_back('}');
    return true;
  }

  bool read(JsonCursor& c, T& value) const {
    if (c.p == c.end || *c.p != '{' || ++c.depth > kMaxJsonDepth) return false;
    ++c.p;
    skip_json_space(c);
    uint64_t seen = 0;
    size_t next = 0;  // where the key is looked for first: texts of dump() have them in order
    if (c.p != c.end && *c.p == '}') {
      ++c.p;
    } else {
      for (;;) {
        size_t i = fields_.size();
        if (next < fields_.size() && at_key(c, next)) {
          i = next;
        } else {
          std::string_view key;
          if (!read_json_key(c, key)) return false;
          i = find(key);
        }
        if (i == fields_.size()) {
          if (!skip_json_value(c)) return false;  // not a field: checked, then ignored
        } else {
          if (seen & bit(i)) return false;  // a duplicate: the DOM path gives nlohmann's answer
          seen |= bit(i);
          if (!fields_[i].read(c, value)) return false;
          next = i + 1;
        }
        skip_json_space(c);
        if (c.p == c.end) return false;
        const char ch = *c.p++;
        if (ch == '}') break;
        if (ch != ',') return false;
        skip_json_space(c);
      }
    }
    --c.depth;
    if (seen == all()) return true;
    if (!defaults_) return false;  // a missing key: nlohmann's out_of_range error
    for (size_t i = 0; i < fields_.size(); ++i) {
      if (!(seen & bit(i))) fields_[i].set_default(value, *defaults_);
    }
    return true;
  }

 private:
  // Whether the text at c.p is `"name":` of field i, as dump() writes it; if so, past it. A
  // field's name is an identifier: matching it and the closing quote is matching the key.
  bool at_key(JsonCursor& c, size_t i) const noexcept {
    const std::string_view quoted = std::string_view(keys_[i]).substr(1);  // "name":
    if (static_cast<size_t>(c.end - c.p) < quoted.size() || std::memcmp(c.p, quoted.data(), quoted.size()) != 0) return false;
    c.p += quoted.size();
    skip_json_space(c);
    return true;
  }
  static uint64_t bit(size_t i) { return uint64_t{1} << i; }
  uint64_t all() const { return fields_.size() == 64 ? ~uint64_t{0} : bit(fields_.size()) - 1; }
  size_t find(std::string_view key) const {
    for (size_t i = 0; i < fields_.size(); ++i) {
      if (fields_[i].name == key) return i;
    }
    return fields_.size();
  }

  std::vector<JsonField<T>> fields_;
  std::vector<std::string> keys_;  // `,"name":` each
  std::optional<T> defaults_;
};

template <DirectJson T>
bool write_json_object(std::string& out, const T& value) {
  return shmbus_json_fields(&value).write(out, value);
}

template <DirectJson T>
bool read_json_object(JsonCursor& c, T& value) {
  return shmbus_json_fields(static_cast<const T*>(&value)).read(c, value);
}

// The whole of `text` read into `value` (a value-initialised T, as nlohmann's get<T>() starts
// from). false: leave it to the DOM path; `value` is then partly written.
template <DirectJson T>
bool read_json_direct(std::string_view text, T& value) {
  JsonCursor c{text.data(), text.data() + text.size()};
  skip_json_space(c);
  if (!read_json_object(c, value)) return false;
  skip_json_space(c);
  return c.p == c.end;
}

// `value`'s JSON appended to `out`. false: not written (a string that is not UTF-8).
template <DirectJson T>
bool write_json_direct(std::string& out, const T& value) {
  return write_json_object(out, value);
}

}  // namespace shmbus::service::detail

// Put in the struct's namespace, like NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE (which this defines
// too), with its public fields: at most 63, as nlohmann's macros take (JsonFields' mask of the
// keys seen has 64 bits).
#define SHMBUS_FIELDS(Type, ...)                                       \
  NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(Type, __VA_ARGS__)                \
  SHMBUS_DETAIL_JSON_FIELDS(Type, false, __VA_ARGS__)

// As NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT: a missing key takes a default-constructed
// Type's value.
#define SHMBUS_FIELDS_WITH_DEFAULT(Type, ...)                          \
  NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(Type, __VA_ARGS__)   \
  SHMBUS_DETAIL_JSON_FIELDS(Type, true, __VA_ARGS__)

// Only the direct codec, for a type that keeps its NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE (or
// _WITH_DEFAULT) line: write it beside that line with the same fields, since encode / decode
// then no longer call that to_json / from_json.
#define SHMBUS_DIRECT_FIELDS(Type, ...) SHMBUS_DETAIL_JSON_FIELDS(Type, false, __VA_ARGS__)
#define SHMBUS_DIRECT_FIELDS_WITH_DEFAULT(Type, ...) SHMBUS_DETAIL_JSON_FIELDS(Type, true, __VA_ARGS__)

#define SHMBUS_DETAIL_JSON_FIELD(field) ::shmbus::service::detail::json_field<ShmbusFieldsOf, &ShmbusFieldsOf::field>(#field),
#define SHMBUS_DETAIL_JSON_FIELDS(Type, with_default, ...)                                                       \
  inline const ::shmbus::service::detail::JsonFields<Type>& shmbus_json_fields(const Type*) {                    \
    using ShmbusFieldsOf = Type;                                                                                  \
    static const ::shmbus::service::detail::JsonFields<Type> fields(                                             \
        {NLOHMANN_JSON_EXPAND(NLOHMANN_JSON_PASTE(SHMBUS_DETAIL_JSON_FIELD, __VA_ARGS__))}, with_default);        \
    return fields;                                                                                                \
  }
