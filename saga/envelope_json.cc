#include "envelope_json.h"

#include <nlohmann/json.hpp>

#include "shmbus/headers.h"

namespace shmbus::saga::detail {
namespace {

// One table for both directions, so a field cannot be written and not read.
template <class Env, class F>
void each_field(Env& env, F f) {
  namespace k = header_keys;
  f(k::kMessageId, env.message_id);
  f(k::kCorrelationId, env.correlation_id);
  f(k::kCausationId, env.causation_id);
  f(k::kConversationId, env.conversation_id);
  f(k::kType, env.type);
  f(k::kKind, env.kind);
  f(k::kContentType, env.content_type);
  f(k::kSentTime, env.sent_time);
  f(k::kSource, env.source);
  f(k::kReplyTo, env.reply_to);
  f(k::kExpiresAt, env.expires_at);
  f(k::kNotBefore, env.not_before);
  f(k::kTraceparent, env.traceparent);
  f(k::kTracestate, env.tracestate);
}

}  // namespace

std::string envelope_to_json(const service::Envelope& env) {
  nlohmann::json j = nlohmann::json::object();
  each_field(env, [&](std::string_view key, const std::string& value) {
    if (!value.empty()) j[std::string(key)] = value;
  });
  return j.dump();
}

service::Envelope envelope_from_json(std::string_view text) {
  const nlohmann::json j = nlohmann::json::parse(text);
  service::Envelope env;
  each_field(env, [&](std::string_view key, std::string& value) {
    auto it = j.find(std::string(key));
    if (it != j.end()) value = it->get<std::string>();
  });
  return env;
}

}  // namespace shmbus::saga::detail
