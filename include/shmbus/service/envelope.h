// The envelope: the standard headers every service message carries (DESIGN.md section 11).
// Written by Client and Context when they publish, read back by Endpoint when it dispatches.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "shmbus/headers.h"
#include "shmbus/service/message_type.h"

namespace shmbus::service {

inline constexpr std::string_view kJsonContentType = "application/json";

struct Envelope;

// The same fields as views, read in place: what a handler thread reads of each delivery (no
// copies). Valid while what it views is: a record's headers until its delivery is settled, an
// Envelope until it changes.
struct EnvelopeView {
  std::string_view message_id, correlation_id, causation_id, conversation_id, type, kind, content_type, sent_time,
      source, reply_to, expires_at, not_before, traceparent, tracestate;

  // The envelope's keys in a record's headers (missing ones are ""; the first of a key wins).
  static EnvelopeView read(const HeadersView& headers) noexcept;
  static EnvelopeView of(const Envelope& e) noexcept;
  // Copies the fields into `into`, its strings' room reused.
  void copy_to(Envelope& into) const;
  std::optional<std::chrono::system_clock::time_point> expires() const noexcept;
};

struct Envelope {
  std::string message_id;       // new_message_id(): unique, time-ordered
  std::string correlation_id;   // the flow's id (a request's message-id; else the first message's)
  std::string causation_id;     // the message whose handler sent this one ("" at a flow's start)
  std::string conversation_id;  // kept along the whole flow
  std::string type;             // "OrderPlaced@2"
  std::string kind;             // "event" | "command" | "reply"
  std::string content_type;     // "application/json"
  std::string sent_time;        // envelope::format_time (RFC 3339 UTC, ms)
  std::string source;           // the sending endpoint or client
  std::string reply_to;         // requests: the topic replies go to
  std::string expires_at;       // requests: the caller's deadline (the queue drops or dead-letters past it)
  std::string not_before;       // delayed delivery (schedule())
  std::string traceparent;      // W3C, continued by every handler
  std::string tracestate;

  // Reads the envelope's keys from a record's headers (missing ones are ""); other headers
  // are ignored.
  static Envelope read(const HeadersView& headers);
  // The same into `into`, its strings' room reused (a handler thread reads one per message).
  static void read(const HeadersView& headers, Envelope& into);
  // The non-empty fields as headers; the views point into this Envelope.
  std::vector<Header> headers() const;
  // The same into `out`, without allocating: how many.
  static constexpr size_t kMaxHeaders = 14;
  size_t headers(Header (&out)[kMaxHeaders]) const noexcept;

  // A new message's envelope, the first of its flow (no parent): new ids, a new trace.
  static Envelope start(const MessageType& type, std::string_view source);
  // A message sent while `parent` is handled: correlation and conversation kept, causation =
  // parent's id, the trace continued (same trace-id, new span), tracestate kept.
  static Envelope caused_by(const Envelope& parent, const MessageType& type, std::string_view source);
  // The same, with `now` as the sent-time (a TestBus's virtual clock).
  static Envelope start(const MessageType& type, std::string_view source, std::chrono::system_clock::time_point now);
  static Envelope caused_by(const Envelope& parent, const MessageType& type, std::string_view source,
                            std::chrono::system_clock::time_point now);
  // The same into `into` (every field written), its strings' room reused: a thread that sends
  // one after another allocates nothing for them. `parent` must not be `into`.
  static void start(const MessageType& type, std::string_view source, std::chrono::system_clock::time_point now,
                    Envelope& into);
  static void caused_by(const Envelope& parent, const MessageType& type, std::string_view source,
                        std::chrono::system_clock::time_point now, Envelope& into);
  // The same from a parent read in place (a delivery's EnvelopeView); `parent` must not view `into`.
  static void caused_by(const EnvelopeView& parent, const MessageType& type, std::string_view source,
                        std::chrono::system_clock::time_point now, Envelope& into);

  // expires_at, parsed (nullopt if none or unreadable).
  std::optional<std::chrono::system_clock::time_point> expires() const noexcept;
};

}  // namespace shmbus::service
