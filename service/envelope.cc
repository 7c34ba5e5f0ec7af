// The service envelope: reading it from headers, writing it, starting and continuing a flow.
#include "shmbus/service/envelope.h"

#include <array>
#include <charconv>
#include <type_traits>

#include "shmbus/envelope.h"
#include "shmbus/service/message_id.h"
#include "shmbus/service/trace_context.h"
#include "time_text.h"

namespace shmbus::service {
namespace {

namespace hk = header_keys;

// The envelope's fields and their header keys, in the order they are written: f(key, the
// Envelope's member, the EnvelopeView's).
template <class F>
void for_each_member(F&& f) {
  f(hk::kMessageId, &Envelope::message_id, &EnvelopeView::message_id);
  f(hk::kCorrelationId, &Envelope::correlation_id, &EnvelopeView::correlation_id);
  f(hk::kCausationId, &Envelope::causation_id, &EnvelopeView::causation_id);
  f(hk::kConversationId, &Envelope::conversation_id, &EnvelopeView::conversation_id);
  f(hk::kType, &Envelope::type, &EnvelopeView::type);
  f(hk::kKind, &Envelope::kind, &EnvelopeView::kind);
  f(hk::kContentType, &Envelope::content_type, &EnvelopeView::content_type);
  f(hk::kSentTime, &Envelope::sent_time, &EnvelopeView::sent_time);
  f(hk::kSource, &Envelope::source, &EnvelopeView::source);
  f(hk::kReplyTo, &Envelope::reply_to, &EnvelopeView::reply_to);
  f(hk::kExpiresAt, &Envelope::expires_at, &EnvelopeView::expires_at);
  f(hk::kNotBefore, &Envelope::not_before, &EnvelopeView::not_before);
  f(hk::kTraceparent, &Envelope::traceparent, &EnvelopeView::traceparent);
  f(hk::kTracestate, &Envelope::tracestate, &EnvelopeView::tracestate);
}

// f(key, field) over an Envelope's or an EnvelopeView's fields.
template <class E, class F>
void for_each_field(E& e, F&& f) {
  for_each_member([&](std::string_view key, auto full, auto view) {
    if constexpr (std::is_same_v<std::remove_const_t<E>, Envelope>) {
      f(key, e.*full);
    } else {
      f(key, e.*view);
    }
  });
}

// A new message's own fields into `e` (the others cleared): new id, type, kind, sent-time.
void fresh(const MessageType& type, std::string_view source, std::chrono::system_clock::time_point now, Envelope& e) {
  for_each_field(e, [](std::string_view, std::string& value) { value.clear(); });
  new_message_id(e.message_id);
  type.type_header(e.type);
  e.kind.assign(to_string(type.kind));
  e.content_type.assign(kJsonContentType);
  detail::format_time_cached(now, e.sent_time);
  e.source.assign(source);
}

}  // namespace

// One pass over the headers (a find() per field scanned them 14 times: a fifth of an endpoint's
// time per message). The first header of a key wins, as with find().
EnvelopeView EnvelopeView::read(const HeadersView& headers) noexcept {
  EnvelopeView e;
  struct Field {
    std::string_view key;
    std::string_view* value;
  };
  std::array<Field, Envelope::kMaxHeaders> fields;
  size_t n = 0;
  for_each_field(e, [&](std::string_view key, std::string_view& value) { fields[n++] = {key, &value}; });
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
    *fields[i].value = h.value;
    seen |= 1u << i;
  }
  return e;
}

EnvelopeView EnvelopeView::of(const Envelope& e) noexcept {
  EnvelopeView v;
  for_each_member([&](std::string_view, auto full, auto view) { v.*view = e.*full; });
  return v;
}

void EnvelopeView::copy_to(Envelope& into) const {
  for_each_member([&](std::string_view, auto full, auto view) { (into.*full).assign(this->*view); });
}

std::optional<std::chrono::system_clock::time_point> EnvelopeView::expires() const noexcept {
  if (expires_at.empty()) return std::nullopt;
  const std::optional<int64_t> ns = envelope::parse_time_ns(expires_at);
  if (!ns) return std::nullopt;
  return std::chrono::system_clock::time_point(
      std::chrono::duration_cast<std::chrono::system_clock::duration>(std::chrono::nanoseconds(*ns)));
}

Envelope Envelope::read(const HeadersView& headers) {
  Envelope e;
  read(headers, e);
  return e;
}

void Envelope::read(const HeadersView& headers, Envelope& e) { EnvelopeView::read(headers).copy_to(e); }

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
  caused_by(EnvelopeView::of(parent), type, source, now, e);
}

void Envelope::caused_by(const EnvelopeView& parent, const MessageType& type, std::string_view source,
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
  return EnvelopeView::of(*this).expires();
}

}  // namespace shmbus::service
