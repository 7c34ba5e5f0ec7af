// RetryPolicy: parsing "exponential:min=100ms,max=30s,factor=2,jitter=0.2" and the delay math.
#include <charconv>
#include <cmath>
#include <string>

#include "shmbus/error.h"
#include "shmbus/queue.h"

namespace shmbus {
namespace {

Error bad_retry(std::string_view spec, const std::string& why) {
  return Error("retry policy \"" + std::string(spec) + "\": " + why +
                   " (e.g. exponential:min=100ms,max=30s,factor=2,jitter=0.2)",
               ErrorKind::kInvalidArgument);
}

std::chrono::milliseconds parse_duration(std::string_view spec, std::string_view text) {
  double value = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || value < 0) throw bad_retry(spec, "\"" + std::string(text) + "\" is not a duration");
  const std::string_view unit(end, static_cast<size_t>(text.data() + text.size() - end));
  double ms = 0;
  if (unit == "ms") {
    ms = value;
  } else if (unit == "s" || unit.empty()) {
    ms = value * 1000;
  } else if (unit == "m") {
    ms = value * 60'000;
  } else {
    throw bad_retry(spec, "unknown unit \"" + std::string(unit) + "\": use ms, s or m");
  }
  return std::chrono::milliseconds(static_cast<int64_t>(ms));
}

double parse_number(std::string_view spec, std::string_view text) {
  double value = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size()) {
    throw bad_retry(spec, "\"" + std::string(text) + "\" is not a number");
  }
  return value;
}

}  // namespace

RetryPolicy RetryPolicy::parse(std::string_view spec) {
  RetryPolicy p;
  std::string_view rest = spec;
  if (rest.starts_with("exponential:")) {
    rest.remove_prefix(12);
  } else if (rest == "exponential") {
    return p;
  } else {
    throw bad_retry(spec, "only exponential backoff is known");
  }
  while (!rest.empty()) {
    const size_t comma = rest.find(',');
    const std::string_view item = rest.substr(0, comma);
    rest = comma == std::string_view::npos ? std::string_view() : rest.substr(comma + 1);
    const size_t eq = item.find('=');
    if (eq == std::string_view::npos) throw bad_retry(spec, "\"" + std::string(item) + "\" is not key=value");
    const std::string_view key = item.substr(0, eq), value = item.substr(eq + 1);
    if (key == "min") {
      p.min = parse_duration(spec, value);
    } else if (key == "max") {
      p.max = parse_duration(spec, value);
    } else if (key == "factor") {
      p.factor = parse_number(spec, value);
    } else if (key == "jitter") {
      p.jitter = parse_number(spec, value);
    } else {
      throw bad_retry(spec, "unknown key \"" + std::string(key) + "\": use min, max, factor, jitter");
    }
  }
  if (p.max < p.min) throw bad_retry(spec, "max is below min");
  if (!(p.factor >= 1.0 && p.factor <= 100.0)) throw bad_retry(spec, "factor must be 1 .. 100");
  if (!(p.jitter >= 0.0 && p.jitter <= 1.0)) throw bad_retry(spec, "jitter must be 0 .. 1");
  return p;
}

std::string RetryPolicy::to_string() const {
  return "exponential:min=" + std::to_string(min.count()) + "ms,max=" + std::to_string(max.count()) +
         "ms,factor=" + std::to_string(factor) + ",jitter=" + std::to_string(jitter);
}

std::chrono::nanoseconds RetryPolicy::delay(uint32_t n, double u) const noexcept {
  const double base_ns = static_cast<double>(std::chrono::nanoseconds(min).count()) *
                         std::pow(factor, static_cast<double>(n == 0 ? 0 : n - 1));
  const double capped = std::min(base_ns, static_cast<double>(std::chrono::nanoseconds(max).count()));
  const double scaled = capped * (1.0 - jitter + 2.0 * jitter * u);
  return std::chrono::nanoseconds(static_cast<int64_t>(scaled));
}

}  // namespace shmbus
