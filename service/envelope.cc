// The service envelope: reading it from headers, writing it, starting and continuing a flow.
#include "shmbus/service/envelope.h"

#include "shmbus/envelope.h"
#include "shmbus/service/message_id.h"
#include "shmbus/service/trace_context.h"
#include "time_text.h"

namespace shmbus::service {
namespace {

namespace hk = header_keys;

// The envelope's fields and their header keys, in the order they are written.
template <class E, class F>
void for_each_field(E& e, F&& f) {
  f(hk::kMessageId, e.message_id);
  f(hk::kCorrelationId, e.correlation_id);
  f(hk::kCausationId, e.causation_id);
  f(hk::kConversationId, e.conversation_id);
  f(hk::kType, e.type);
  f(hk::kKind, e.kind);
  f(hk::kContentType, e.content_type);
  f(hk::kSentTime, e.sent_time);
  f(hk::kSource, e.source);
  f(hk::kReplyTo, e.reply_to);
  f(hk::kExpiresAt, e.expires_at);
  f(hk::kNotBefore, e.not_before);
  f(hk::kTraceparent, e.traceparent);
  f(hk::kTracestate, e.tracestate);
}

Envelope fresh(const MessageType& type, std::string_view source, std::chrono::system_clock::time_point now) {
  Envelope e;
  e.message_id = new_message_id();
  e.type = type.type_header();
  e.kind = to_string(type.kind);
  e.content_type = std::string(kJsonContentType);
  e.sent_time = detail::format_time_cached(now);
  e.source = std::string(source);
  return e;
}

}  // namespace

// One pass over the headers (a find() per field scanned them 14 times: a fifth of an endpoint's
// time per message). The first header of a key wins, as with find().
Envelope Envelope::read(const HeadersView& headers) {
  Envelope e;
  read(headers, e);
  return e;
}

void Envelope::read(const HeadersView& headers, Envelope& e) {
  for_each_field(e, [](std::string_view, std::string& value) { value.clear(); });
  uint32_t seen = 0;
  for (const Header h : headers) {
    uint32_t bit = 1;
    for_each_field(e, [&](std::string_view key, std::string& value) {
      if ((seen & bit) == 0 && key == h.key) {
        value.assign(h.value);
        seen |= bit;
      }
      bit <<= 1;
    });
  }
}

std::vector<Header> Envelope::headers() const {
  std::vector<Header> out;
  out.reserve(14);
  for_each_field(*this, [&](std::string_view key, const std::string& value) {
    if (!value.empty()) out.push_back({key, value});
  });
  return out;
}

Envelope Envelope::start(const MessageType& type, std::string_view source) {
  return start(type, source, std::chrono::system_clock::now());
}

Envelope Envelope::caused_by(const Envelope& parent, const MessageType& type, std::string_view source) {
  return caused_by(parent, type, source, std::chrono::system_clock::now());
}

Envelope Envelope::start(const MessageType& type, std::string_view source, std::chrono::system_clock::time_point now) {
  Envelope e = fresh(type, source, now);
  e.correlation_id = e.message_id;
  e.conversation_id = e.message_id;
  e.traceparent = TraceContext::start_header();
  return e;
}

Envelope Envelope::caused_by(const Envelope& parent, const MessageType& type, std::string_view source,
                             std::chrono::system_clock::time_point now) {
  Envelope e = fresh(type, source, now);
  // A parent from outside this layer may lack ids: the flow then starts at the parent.
  e.correlation_id = !parent.correlation_id.empty() ? parent.correlation_id : parent.message_id;
  e.conversation_id = !parent.conversation_id.empty() ? parent.conversation_id : e.correlation_id;
  if (e.correlation_id.empty()) e.correlation_id = e.message_id;
  if (e.conversation_id.empty()) e.conversation_id = e.correlation_id;
  e.causation_id = parent.message_id;
  e.traceparent = TraceContext::child_header(parent.traceparent);
  // tracestate belongs to the trace: kept only when the trace is continued (W3C section 3.3).
  if (!e.traceparent.empty()) {
    e.tracestate = parent.tracestate;
  } else {
    e.traceparent = TraceContext::start_header();
  }
  return e;
}

std::optional<std::chrono::system_clock::time_point> Envelope::expires() const noexcept {
  if (expires_at.empty()) return std::nullopt;
  const std::optional<int64_t> ns = envelope::parse_time_ns(expires_at);
  if (!ns) return std::nullopt;
  return std::chrono::system_clock::time_point(
      std::chrono::duration_cast<std::chrono::system_clock::duration>(std::chrono::nanoseconds(*ns)));
}

}  // namespace shmbus::service
