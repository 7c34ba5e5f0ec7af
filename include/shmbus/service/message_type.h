// Typed messages: a C++ struct registered once with its type name, version and kind, carried
// as JSON (nlohmann-json). The `type` header is "Name@version" (DESIGN.md section 11).
#pragma once

#include <concepts>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

namespace shmbus::service {

// Event: published, every subscribed endpoint gets it. Command: sent to exactly one endpoint.
// Reply: the answer to a request (a command sent with request()).
enum class MessageKind : uint8_t { kEvent, kCommand, kReply };

const char* to_string(MessageKind kind) noexcept;        // "event", "command", "reply"
std::optional<MessageKind> parse_kind(std::string_view text) noexcept;

// What a registered type is on the wire.
struct MessageType {
  std::string name;      // topic-name words, e.g. "OrderPlaced" or "sales.OrderPlaced"
  uint32_t version = 1;
  MessageKind kind = MessageKind::kEvent;

  // "OrderPlaced@2": the `type` header.
  std::string type_header() const;
  // The same into `into` (its room reused).
  void type_header(std::string& into) const;
};

// "Name@version" split; nullopt if the text is not of that form (version 1..2^32-1, decimal).
struct TypeHeader {
  std::string_view name;
  uint32_t version = 0;
};
std::optional<TypeHeader> parse_type_header(std::string_view text) noexcept;

// Throws Error (kInvalidArgument) unless `type` can be registered: a name of topic-name words
// (so that `events.<name>` is a topic) or Fault<...> of one, a version >= 1.
void validate_message_type(const MessageType& type);

// Specialised once per message type by SHMBUS_MESSAGE (below); unspecialised types are not
// messages, and the templates of this layer refuse them at compile time.
template <class T>
struct MessageTraits;

// A registered message type that nlohmann-json can write and read.
template <class T>
concept ServiceMessage = requires {
  { MessageTraits<T>::type() } -> std::convertible_to<MessageType>;
} && requires(const T& t, const nlohmann::json& j) {
  nlohmann::json(t);
  j.template get<T>();
};

// The spellings SHMBUS_MESSAGE takes for its kind (a typo does not compile).
namespace kinds {
inline constexpr MessageKind event = MessageKind::kEvent;
inline constexpr MessageKind command = MessageKind::kCommand;
inline constexpr MessageKind reply = MessageKind::kReply;
}  // namespace kinds

// Made once per type (a message's way does not build its name again for each one).
template <class T>
const MessageType& message_type_of() {
  static const MessageType type = MessageTraits<T>::type();
  return type;
}

}  // namespace shmbus::service

// Registers `Type` (a struct with to_json/from_json, e.g. NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE)
// as message `name` of `version` and `kind` (event, command or reply). Use it once, at global
// namespace scope, beside the struct, with a semicolon:
//   SHMBUS_MESSAGE(sales::OrderPlaced, "OrderPlaced", 2, event);
#define SHMBUS_MESSAGE(Type, name, version, kind)                                                    \
  template <>                                                                                       \
  struct shmbus::service::MessageTraits<Type> {                                                     \
    static ::shmbus::service::MessageType type() {                                                  \
      return {name, version, ::shmbus::service::kinds::kind};                                       \
    }                                                                                               \
  }
