// W3C traceparent: parse, start, continue.
#include "shmbus/service/trace_context.h"

#include <array>

#include "random_bits.h"

namespace shmbus::service {
namespace {

// Every handler's message continues its trace: these checks run on each, hence a table and no
// branch per character (the checks were most of a continued traceparent's cost).
constexpr std::array<bool, 256> kLowerHex = [] {
  std::array<bool, 256> t{};
  for (int c = '0'; c <= '9'; ++c) t[c] = true;
  for (int c = 'a'; c <= 'f'; ++c) t[c] = true;
  return t;
}();

bool lower_hex(std::string_view s) noexcept {
  bool ok = true;
  for (char c : s) ok &= kLowerHex[static_cast<unsigned char>(c)];
  return ok;
}

bool all_zero(std::string_view s) noexcept {
  unsigned other = 0;
  for (char c : s) other |= static_cast<unsigned char>(c) ^ unsigned{'0'};
  return other == 0;
}

constexpr char kHex[] = "0123456789abcdef";

// `digits` (<= 16) random lower-case hex digits at `out`; false if all were zero.
bool put_random_hex(char* out, size_t digits) noexcept {
  uint64_t r = detail::random_u64();
  bool nonzero = false;
  for (size_t i = 0; i < digits; ++i, r >>= 4) {
    out[i] = kHex[r & 15];
    nonzero |= (r & 15) != 0;
  }
  return nonzero;
}

// "00-" trace "-" <16 random hex> "-" flags, the 55 characters into `out`.
void header_with_new_span(std::string_view trace_id, std::string_view flags, std::string& out) {
  char text[55];
  text[0] = '0';
  text[1] = '0';
  text[2] = text[35] = text[52] = '-';
  trace_id.copy(text + 3, 32);
  if (!put_random_hex(text + 36, 16)) text[51] = '1';  // all-zero ids are invalid
  flags.copy(text + 53, 2);
  out.assign(text, sizeof text);
}

std::string random_hex(size_t digits) {
  std::string out;
  while (out.size() < digits) {
    uint64_t r = detail::random_u64();
    for (int i = 0; i < 16 && out.size() < digits; ++i, r >>= 4) out.push_back(kHex[r & 15]);
  }
  if (all_zero(out)) out.back() = '1';  // all-zero ids are invalid
  return out;
}

// Whether parse() takes `t`.
bool parse_checks(std::string_view t) noexcept {
  // version "-" trace-id "-" parent-id "-" flags: 2 + 1 + 32 + 1 + 16 + 1 + 2 = 55 characters.
  if (t.size() < 55 || t[2] != '-' || t[35] != '-' || t[52] != '-') return false;
  const std::string_view version = t.substr(0, 2), trace = t.substr(3, 32), span = t.substr(36, 16),
                         flags = t.substr(53, 2);
  if (!lower_hex(version) || version == "ff" || !lower_hex(trace) || !lower_hex(span) || !lower_hex(flags)) {
    return false;
  }
  if (version == "00" && t.size() != 55) return false;
  if (version != "00" && t.size() > 55 && t[55] != '-') return false;
  return !all_zero(trace) && !all_zero(span);
}

}  // namespace

std::optional<TraceContext> TraceContext::parse(std::string_view t) noexcept {
  if (!parse_checks(t)) return std::nullopt;
  const std::string_view trace = t.substr(3, 32), span = t.substr(36, 16), flags = t.substr(53, 2);
  const auto nibble = [](char c) { return c <= '9' ? c - '0' : c - 'a' + 10; };
  TraceContext out;
  out.trace_id = std::string(trace);
  out.span_id = std::string(span);
  out.flags = static_cast<uint8_t>(nibble(flags[0]) << 4 | nibble(flags[1]));
  return out;
}

std::string TraceContext::start_header() {
  std::string out;
  start_header(out);
  return out;
}

std::string TraceContext::child_header(std::string_view parent) {
  std::string out;
  child_header(parent, out);
  return out;
}

void TraceContext::start_header(std::string& into) {
  char trace[32];
  const bool high = put_random_hex(trace, 16);
  if (!put_random_hex(trace + 16, 16) && !high) trace[31] = '1';
  header_with_new_span({trace, 32}, "01", into);
}

bool TraceContext::child_header(std::string_view parent, std::string& into) {
  // The checks parse() makes; what it would keep (trace-id, flags) is read in place.
  if (!parse_checks(parent)) {
    into.clear();
    return false;
  }
  header_with_new_span(parent.substr(3, 32), parent.substr(53, 2), into);
  return true;
}

TraceContext TraceContext::start() { return {random_hex(32), random_hex(16), 1}; }

TraceContext TraceContext::child() const { return {trace_id, random_hex(16), flags}; }

std::string TraceContext::to_string() const {
  return "00-" + trace_id + "-" + span_id + "-" + kHex[flags >> 4] + kHex[flags & 15];
}

}  // namespace shmbus::service
