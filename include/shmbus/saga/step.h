// What a transition does beside changing the instance's data: its actions. Nothing leaves
// until the transition's transaction commits; then the messages go out in the order given.
//   step.send(ReserveStock{...}, "inventory");      // a command
//   step.publish(OrderCompleted{...});              // an event
//   step.schedule("payment", PaymentTimeout{...}, 30s);   // a timeout: a command to this saga
//   step.cancel("payment");                         // no longer needed
//   step.go("paying");  /  step.complete("cancelled");
// Every message continues the flow of the message being handled (correlation, conversation,
// causation, trace), as Context's verbs do.
#pragma once

#include <chrono>
#include <string>
#include <string_view>
#include <vector>

#include "shmbus/saga/store.h"
#include "shmbus/service/codec.h"
#include "shmbus/service/envelope.h"
#include "shmbus/service/message_type.h"

namespace shmbus::saga {

class Step {
 public:
  // The message moving the instance, its key and the instance's state before this step.
  const service::Envelope& envelope() const noexcept { return handled_; }
  const std::string& key() const noexcept { return key_; }
  const std::string& state() const noexcept { return state_; }

  template <service::ServiceMessage T>
  void send(const T& command, std::string_view endpoint) {
    send_json(service::message_type_of<T>(), service::encode(command), endpoint);
  }
  template <service::ServiceMessage T>
  void publish(const T& event) {
    publish_json(service::message_type_of<T>(), service::encode(event));
  }
  // Sends `command` (a command this saga handles) to this saga's own endpoint, delivered not
  // before now + delay (the queue's durable not-before: it fires after restarts). One pending
  // timeout per name: scheduling a name again replaces (cancels) the earlier one. When it comes
  // back it is handled only while still pending: a cancelled or replaced one is ignored.
  template <service::ServiceMessage T>
  void schedule(std::string name, const T& command, std::chrono::milliseconds delay) {
    schedule_json(std::move(name), service::message_type_of<T>(), service::encode(command), delay);
  }
  void cancel(std::string_view name);
  // The next state (the instance's state after this step).
  void go(std::string state);
  // Finishes the instance in `state` (completed, or compensated); pending timeouts are
  // cancelled, later messages for it are ignored.
  void complete(std::string state);

  void send_json(const service::MessageType& type, std::string json, std::string_view endpoint);
  void publish_json(const service::MessageType& type, std::string json);
  void schedule_json(std::string name, const service::MessageType& type, std::string json,
                     std::chrono::milliseconds delay);

  // The saga endpoint's side.
  struct Effects {
    std::vector<OutgoingMessage> messages;
    std::string next_state;  // "" = unchanged
    bool finished = false;
  };
  Step(const service::Envelope& handled, std::string key, std::string state, std::string saga,
       StoredInstance& instance, Effects& effects) noexcept
      : handled_(handled), key_(std::move(key)), state_(std::move(state)), saga_(std::move(saga)),
        instance_(instance), effects_(effects) {}

 private:
  service::Envelope caused(const service::MessageType& type) const;

  const service::Envelope& handled_;
  std::string key_;
  std::string state_;
  std::string saga_;
  StoredInstance& instance_;
  Effects& effects_;
};

}  // namespace shmbus::saga
