// A transition's actions, collected in Effects until the saga endpoint commits them.
#include "shmbus/saga/step.h"

#include "shmbus/envelope.h"
#include "shmbus/error.h"
#include "shmbus/service/topology.h"

namespace shmbus::saga {
namespace {

void require_kind(const service::MessageType& type, service::MessageKind kind, const char* what) {
  if (type.kind == kind) return;
  throw Error(std::string("a saga step ") + what + " " + to_string(kind) + "s; " + type.type_header() + " is " +
                  (type.kind == service::MessageKind::kEvent ? "an event: publish it" : "a command: send it"),
              ErrorKind::kInvalidArgument);
}

}  // namespace

service::Envelope Step::caused(const service::MessageType& type) const {
  return service::Envelope::caused_by(handled_, type, saga_);
}

void Step::send_json(const service::MessageType& type, std::string json, std::string_view endpoint) {
  require_kind(type, service::MessageKind::kCommand, "sends");
  effects_.messages.push_back({OutgoingMessage::Action::kPublish, service::command_topic(endpoint), caused(type),
                               std::move(json), 0});
}

void Step::publish_json(const service::MessageType& type, std::string json) {
  require_kind(type, service::MessageKind::kEvent, "publishes");
  effects_.messages.push_back({OutgoingMessage::Action::kPublish, service::event_topic(type), caused(type),
                               std::move(json), 0});
}

void Step::schedule_json(std::string name, const service::MessageType& type, std::string json,
                         std::chrono::milliseconds delay) {
  require_kind(type, service::MessageKind::kCommand, "schedules");
  cancel(name);
  service::Envelope env = caused(type);
  env.not_before = envelope::format_time(std::chrono::system_clock::now() + delay);
  instance_.timeouts[std::move(name)] = env.message_id;
  effects_.messages.push_back({OutgoingMessage::Action::kPublish, service::command_topic(saga_), std::move(env),
                               std::move(json), 0});
}

void Step::cancel(std::string_view name) {
  auto it = instance_.timeouts.find(std::string(name));
  if (it == instance_.timeouts.end()) return;
  // The queue's cancel settles the delayed record; should it be missed (not yet dispatched,
  // or a crash before it), the timeout comes back no longer pending and is ignored.
  service::Envelope target;
  target.message_id = it->second;
  effects_.messages.push_back({OutgoingMessage::Action::kCancel, saga_, std::move(target), {}, 0});
  instance_.timeouts.erase(it);
}

void Step::go(std::string state) { effects_.next_state = std::move(state); }

void Step::complete(std::string state) {
  while (!instance_.timeouts.empty()) cancel(std::string(instance_.timeouts.begin()->first));
  effects_.next_state = std::move(state);
  effects_.finished = true;
}

}  // namespace shmbus::saga
