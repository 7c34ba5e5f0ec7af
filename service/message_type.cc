// Message types: kinds, the "Name@version" type header, what may be registered.
#include "shmbus/service/message_type.h"

#include <charconv>

#include "shmbus/error.h"
#include "shmbus/topic.h"

namespace shmbus::service {

const char* to_string(MessageKind kind) noexcept {
  switch (kind) {
    case MessageKind::kEvent: return "event";
    case MessageKind::kCommand: return "command";
    case MessageKind::kReply: return "reply";
  }
  return "?";
}

std::optional<MessageKind> parse_kind(std::string_view text) noexcept {
  if (text == "event") return MessageKind::kEvent;
  if (text == "command") return MessageKind::kCommand;
  if (text == "reply") return MessageKind::kReply;
  return std::nullopt;
}

std::string MessageType::type_header() const {
  std::string out;
  type_header(out);
  return out;
}

void MessageType::type_header(std::string& into) const {
  char digits[16];
  const auto [end, ec] = std::to_chars(digits, digits + sizeof digits, version);
  into.assign(name);
  into.push_back('@');
  into.append(digits, ec == std::errc() ? end : digits);
}

std::optional<TypeHeader> parse_type_header(std::string_view text) noexcept {
  const size_t at = text.rfind('@');
  if (at == std::string_view::npos || at == 0 || at + 1 == text.size()) return std::nullopt;
  const std::string_view digits = text.substr(at + 1);
  uint32_t version = 0;
  const auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), version);
  if (ec != std::errc() || end != digits.data() + digits.size() || version == 0) return std::nullopt;
  return TypeHeader{text.substr(0, at), version};
}

void validate_message_type(const MessageType& type) {
  std::string_view name = type.name;
  // Fault<Name> is the one name with other characters: its topic is events.Fault.<Name>.
  if (name.starts_with("Fault<") && name.ends_with(">")) name = name.substr(6, name.size() - 7);
  try {
    validate_topic_name(name);
  } catch (const Error& e) {
    throw Error("message type \"" + type.name + "\" cannot be registered: " + e.what() +
                    " (a type name is topic-name words, e.g. \"OrderPlaced\" or \"sales.OrderPlaced\")",
                ErrorKind::kInvalidArgument);
  }
  if (type.version == 0) {
    throw Error("message type \"" + type.name + "\" has version 0: versions start at 1", ErrorKind::kInvalidArgument);
  }
}

}  // namespace shmbus::service
