// The service envelope: reading it from headers, writing it, starting and continuing a flow.
#include "shmbus/service/envelope.h"

#include <array>
#include <charconv>

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

// A new message's own fields into `e` (the others cleared): new id, type, kind, sent-time.
void fresh(const MessageType& type, std::string_view source, std::chrono::system_clock::time_point now, Envelope& e) {
  for_each_field(e, [](std::string_view, std::string& value) { value.clear(); });
  new_message_id(e.message_id);
  char version[16];
  const auto [end, ec] = std::to_chars(version, version + sizeof version, type.version);
  e.type.assign(type.name);
  e.type.push_back('@');
  e.type.append(version, ec == std::errc() ? end : version);
  e.kind.assign(to_string(type.kind));
  e.content_type.assign(kJsonContentType);
  detail::format_time_cached(now, e.sent_time);
  e.source.assign(source);
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
  struct Field {
    std::string_view key;
    std::string* value;
  };
  std::array<Field, kMaxHeaders> fields;
  size_t n = 0;
  for_each_field(e, [&](std::string_view key, std::string& value) {
    value.clear();
    fields[n++] = {key, &value};
  });
  uint32_t seen = 0;
  size_t next = 0;  // our writers put the fields in this order: the one after the last found is tried first
  for (const Header h : headers) {
    size_t i = next;
    if (i == n || fields[i].key != h.key) {
      for (i = 0; i < n && fields[i].key != h.key;) ++i;
      if (i == n) continue;  // not an envelope key
    }
    next = i + 1;
    if ((seen & (1u << i)) != 0) continue;
    fields[i].value->assign(h.value);
    seen |= 1u << i;
  }
}

size_t Envelope::headers(Header (&out)[kMaxHeaders]) const noexcept {
  size_t n = 0;
  for_each_field(*this, [&](std::string_view key, const std::string& value) {
    if (!value.empty()) out[n++] = {key, value};
  });
  return n;
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
  Envelope e;
  start(type, source, now, e);
  return e;
}

Envelope Envelope::caused_by(const Envelope& parent, const MessageType& type, std::string_view source,
                             std::chrono::system_clock::time_point now) {
  Envelope e;
  caused_by(parent, type, source, now, e);
  return e;
}

void Envelope::start(const MessageType& type, std::string_view source, std::chrono::system_clock::time_point now,
                     Envelope& e) {
  fresh(type, source, now, e);
  e.correlation_id.assign(e.message_id);
  e.conversation_id.assign(e.message_id);
  TraceContext::start_header(e.traceparent);
}

void Envelope::caused_by(const Envelope& parent, const MessageType& type, std::string_view source,
                         std::chrono::system_clock::time_point now, Envelope& e) {
  fresh(type, source, now, e);
  // A parent from outside this layer may lack ids: the flow then starts at the parent.
  e.correlation_id.assign(!parent.correlation_id.empty() ? parent.correlation_id : parent.message_id);
  e.conversation_id.assign(!parent.conversation_id.empty() ? parent.conversation_id : e.correlation_id);
  if (e.correlation_id.empty()) e.correlation_id.assign(e.message_id);
  if (e.conversation_id.empty()) e.conversation_id.assign(e.correlation_id);
  e.causation_id.assign(parent.message_id);
  // tracestate belongs to the trace: kept only when the trace is continued (W3C section 3.3).
  if (TraceContext::child_header(parent.traceparent, e.traceparent)) {
    e.tracestate.assign(parent.tracestate);
  } else {
    TraceContext::start_header(e.traceparent);
  }
}

std::optional<std::chrono::system_clock::time_point> Envelope::expires() const noexcept {
  if (expires_at.empty()) return std::nullopt;
  const std::optional<int64_t> ns = envelope::parse_time_ns(expires_at);
  if (!ns) return std::nullopt;
  return std::chrono::system_clock::time_point(
      std::chrono::duration_cast<std::chrono::system_clock::duration>(std::chrono::nanoseconds(*ns)));
}

}  // namespace shmbus::service
