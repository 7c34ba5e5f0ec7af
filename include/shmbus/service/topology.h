// Where service messages go: the topic names every endpoint and client agree on.
//   events.<Name>              an event type's topic (all versions); endpoints that handle it
//                              bind their queue to it. Fault<Name> goes to events.Fault.<Name>.
//   commands.<endpoint>        an endpoint's command topic, bound to its queue (one reader).
//   replies.<client-id>        a Client's reply topic (a memory topic, removed with the Client).
// The endpoint's queue is named after the endpoint; its dead letters are in <endpoint>.dlq.
#pragma once

#include <string>
#include <string_view>

#include "shmbus/service/message_type.h"

namespace shmbus::service {

std::string event_topic(const MessageType& type);
std::string command_topic(std::string_view endpoint);
void command_topic(std::string_view endpoint, std::string& into);  // the same into `into`, its room reused
inline constexpr std::string_view kReplyTopicPrefix = "replies.";

}  // namespace shmbus::service
