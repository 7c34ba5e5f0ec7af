// The kind rules and their refusals.
#include "kinds.h"

#include "shmbus/error.h"

namespace shmbus::service::detail {
namespace {

[[noreturn]] void refuse(const std::string& what) { throw Error(what, ErrorKind::kInvalidArgument); }

std::string named(const MessageType& type) { return type.type_header() + " (a " + to_string(type.kind) + ")"; }

}  // namespace

void check_publish(const MessageType& type) {
  validate_message_type(type);
  if (type.kind == MessageKind::kCommand) {
    refuse("cannot publish " + named(type) + ": a command goes to one endpoint: send(message, endpoint) it, "
           "or register it as an event if every subscriber should get it");
  }
  if (type.kind == MessageKind::kReply) {
    refuse("cannot publish " + named(type) + ": a reply answers a request: call reply(message) in the "
           "handler of the request");
  }
}

void check_send(const MessageType& type) {
  validate_message_type(type);
  if (type.kind == MessageKind::kEvent) {
    refuse("cannot send " + named(type) + ": an event goes to every endpoint that handles it: publish(message) "
           "it, or register it as a command if exactly one endpoint should get it");
  }
  if (type.kind == MessageKind::kReply) {
    refuse("cannot send " + named(type) + ": a reply answers a request: call reply(message) in the handler of "
           "the request");
  }
}

void check_reply(const MessageType& type, const EnvelopeView& handled) {
  validate_message_type(type);
  if (type.kind != MessageKind::kReply) {
    refuse("cannot reply with " + named(type) + ": register the answer's type with kind reply, or " +
           (type.kind == MessageKind::kEvent ? "publish(message) it" : "send(message, endpoint) it"));
  }
  if (handled.reply_to.empty() || handled.kind != to_string(MessageKind::kCommand)) {
    refuse("cannot reply to " + std::string(handled.type) + " (a " +
           (handled.kind.empty() ? std::string("message") : std::string(handled.kind)) +
           " without reply-to): only a command sent by request() has someone waiting; publish an event or "
           "send a command instead");
  }
}

void check_request(const MessageType& request, const MessageType& reply) {
  check_send(request);
  validate_message_type(reply);
  if (reply.kind != MessageKind::kReply) {
    refuse("cannot request " + request.type_header() + " answered by " + named(reply) +
           ": register the answer's type with kind reply");
  }
}

void check_handle(const MessageType& type) {
  validate_message_type(type);
  if (type.kind == MessageKind::kReply) {
    refuse("an endpoint cannot handle " + named(type) + ": replies go back to the Client that made the "
           "request (its future); handle the request's command instead");
  }
}

}  // namespace shmbus::service::detail
