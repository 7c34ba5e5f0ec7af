// W3C traceparent: parse, start, continue.
#include "shmbus/service/trace_context.h"

#include "random_bits.h"

namespace shmbus::service {
namespace {

bool lower_hex(std::string_view s) noexcept {
  for (char c : s) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

bool all_zero(std::string_view s) noexcept { return s.find_first_not_of('0') == std::string_view::npos; }

std::string random_hex(size_t digits) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  while (out.size() < digits) {
    uint64_t r = detail::random_u64();
    for (int i = 0; i < 16 && out.size() < digits; ++i, r >>= 4) out.push_back(kHex[r & 15]);
  }
  if (all_zero(out)) out.back() = '1';  // all-zero ids are invalid
  return out;
}

}  // namespace

std::optional<TraceContext> TraceContext::parse(std::string_view t) noexcept {
  // version "-" trace-id "-" parent-id "-" flags: 2 + 1 + 32 + 1 + 16 + 1 + 2 = 55 characters.
  if (t.size() < 55 || t[2] != '-' || t[35] != '-' || t[52] != '-') return std::nullopt;
  const std::string_view version = t.substr(0, 2), trace = t.substr(3, 32), span = t.substr(36, 16),
                         flags = t.substr(53, 2);
  if (!lower_hex(version) || version == "ff" || !lower_hex(trace) || !lower_hex(span) || !lower_hex(flags)) {
    return std::nullopt;
  }
  if (version == "00" && t.size() != 55) return std::nullopt;
  if (version != "00" && t.size() > 55 && t[55] != '-') return std::nullopt;
  if (all_zero(trace) || all_zero(span)) return std::nullopt;
  const auto nibble = [](char c) { return c <= '9' ? c - '0' : c - 'a' + 10; };
  TraceContext out;
  out.trace_id = std::string(trace);
  out.span_id = std::string(span);
  out.flags = static_cast<uint8_t>(nibble(flags[0]) << 4 | nibble(flags[1]));
  return out;
}

TraceContext TraceContext::start() { return {random_hex(32), random_hex(16), 1}; }

TraceContext TraceContext::child() const { return {trace_id, random_hex(16), flags}; }

std::string TraceContext::to_string() const {
  static constexpr char kHex[] = "0123456789abcdef";
  return "00-" + trace_id + "-" + span_id + "-" + kHex[flags >> 4] + kHex[flags & 15];
}

}  // namespace shmbus::service
