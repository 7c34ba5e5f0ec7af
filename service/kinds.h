// The kind rules (events are published, commands sent, replies answer requests), each refusal
// saying what to do instead (NServiceBus's rule, enforced).
#pragma once

#include "shmbus/service/envelope.h"
#include "shmbus/service/message_type.h"

namespace shmbus::service::detail {

// Each throws Error (kInvalidArgument) when the rule is broken.
void check_publish(const MessageType& type);
void check_send(const MessageType& type);
void check_reply(const MessageType& type, const EnvelopeView& handled);
void check_request(const MessageType& request, const MessageType& reply);
void check_handle(const MessageType& type);

}  // namespace shmbus::service::detail
