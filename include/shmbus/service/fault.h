// Fault<T>: the event an endpoint publishes when a T failed its last attempt (MassTransit's
// Fault<T>): the original message and the error. Type "Fault<Name>@<T's version>", topic
// events.Fault.<Name>; handle it like any event: endpoint.handle<Fault<OrderPlaced>>(...).
// A request that faults also sends it back to the requester (RequestErrc::kRemoteFault).
#pragma once

#include <cstdint>
#include <string>

#include <nlohmann/json.hpp>

#include "shmbus/service/message_type.h"

namespace shmbus::service {

// The fields of a fault without its message (the part that does not depend on T).
struct FaultInfo {
  std::string message_id;         // of the failed message
  std::string message_type;       // "OrderPlaced@2"
  std::string exception_type;     // demangled, e.g. "std::runtime_error"
  std::string exception_message;  // what()
  std::string endpoint;           // where it failed
  uint32_t attempts = 0;          // deliveries made (each with its immediate retries)
  std::string time;               // envelope::format_time
};
void to_json(nlohmann::json& j, const FaultInfo& f);
void from_json(const nlohmann::json& j, FaultInfo& f);

template <class T>
struct Fault {
  T message;
  FaultInfo fault;
};

template <class T>
void to_json(nlohmann::json& j, const Fault<T>& f) {
  to_json(j, f.fault);
  j["message"] = f.message;
}
template <class T>
void from_json(const nlohmann::json& j, Fault<T>& f) {
  from_json(j, f.fault);
  f.message = j.at("message").get<T>();
}

// The type of Fault<T> given T's.
MessageType fault_type(const MessageType& of);

template <ServiceMessage T>
struct MessageTraits<Fault<T>> {
  static MessageType type() { return fault_type(MessageTraits<T>::type()); }
};

}  // namespace shmbus::service
