// Fault<T>: its JSON fields and its type.
#include "shmbus/service/fault.h"

namespace shmbus::service {

void to_json(nlohmann::json& j, const FaultInfo& f) {
  j = nlohmann::json{{"message-id", f.message_id},
                     {"message-type", f.message_type},
                     {"exception-type", f.exception_type},
                     {"exception-message", f.exception_message},
                     {"endpoint", f.endpoint},
                     {"attempts", f.attempts},
                     {"time", f.time}};
}

void from_json(const nlohmann::json& j, FaultInfo& f) {
  j.at("message-id").get_to(f.message_id);
  j.at("message-type").get_to(f.message_type);
  j.at("exception-type").get_to(f.exception_type);
  j.at("exception-message").get_to(f.exception_message);
  j.at("endpoint").get_to(f.endpoint);
  j.at("attempts").get_to(f.attempts);
  j.at("time").get_to(f.time);
}

MessageType fault_type(const MessageType& of) { return {"Fault<" + of.name + ">", of.version, MessageKind::kEvent}; }

}  // namespace shmbus::service
