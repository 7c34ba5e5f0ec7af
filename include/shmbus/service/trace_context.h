// W3C Trace Context (https://www.w3.org/TR/trace-context/): the `traceparent` header
// "00-<32 hex trace-id>-<16 hex parent-id>-<2 hex flags>". A handler's outgoing messages
// continue the trace of the message it handles: same trace-id, a new span (parent-id).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace shmbus::service {

struct TraceContext {
  std::string trace_id;  // 32 lower-case hex digits, not all zero
  std::string span_id;   // 16 lower-case hex digits, not all zero
  uint8_t flags = 1;     // bit 0: sampled

  // nullopt unless `traceparent` is a valid version-00 header (other versions: their first
  // four fields, as the spec says a reader of 00 does).
  static std::optional<TraceContext> parse(std::string_view traceparent) noexcept;
  // A new trace (random trace-id and span-id, sampled).
  static TraceContext start();
  // The same trace, a new span.
  TraceContext child() const;
  std::string to_string() const;  // the traceparent header

  // The headers alone, without the TraceContext's strings on the way (an envelope's sending
  // path): start().to_string(); and parse(parent)->child().to_string(), "" if parse refuses it.
  static std::string start_header();
  static std::string child_header(std::string_view parent);
  // The same into `into`, its room reused (child_header: false, and `into` cleared, if parse
  // refuses the parent).
  static void start_header(std::string& into);
  static bool child_header(std::string_view parent, std::string& into);
};

}  // namespace shmbus::service
