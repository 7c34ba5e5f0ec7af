#include "cli_output.h"

#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <ctime>
#include <iostream>

#include "shmbus/error.h"
#include "shmbus/topic_stats_fields.h"

namespace shmbus::cli {

std::string json_escape(std::string_view s) {
  std::string out;
  for (char c : s) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\t': out += "\\t"; break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\u%04x", c);
          out += buf;
        } else {
          out += c;
        }
    }
  }
  return out;
}

JsonObject& JsonObject::add(std::string_view key, std::string_view value) {
  return add_raw(key, "\"" + json_escape(value) + "\"");
}

JsonObject& JsonObject::add(std::string_view key, double value) {
  if (!std::isfinite(value)) return add_raw(key, "null");
  char text[32];
  std::snprintf(text, sizeof text, "%.15g", value);
  return add_raw(key, text);
}

JsonObject& JsonObject::add_raw(std::string_view key, std::string_view json) {
  if (body_.size() > 1) body_ += ',';
  body_ += '"';
  body_ += json_escape(key);
  body_ += "\":";
  body_ += json;
  return *this;
}

std::string json_array(const std::vector<std::string>& items) {
  std::string out = "[";
  for (const std::string& item : items) out += (out.size() > 1 ? ",\"" : "\"") + json_escape(item) + "\"";
  return out + "]";
}

TopicStats journal_stats(Bus& bus, const std::string& topic) {
  TopicStats stats = bus.stats(topic);
  if (stats.kind != TopicKind::kJournal) throw Error("topic " + topic + " is a memory topic, not a journal");
  return stats;
}

std::string cursor_json(const CursorStats& c) {
  JsonObject out;
  for_each_field(c, [&](const StatField& f, const auto& value) { out.add(f.name, value); });
  return out.str();
}

std::string utc(int64_t ns) {
  if (ns == 0) return "-";
  const std::time_t seconds = static_cast<std::time_t>(ns / 1'000'000'000);
  std::tm tm{};
  ::gmtime_r(&seconds, &tm);
  char text[48];
  std::snprintf(text, sizeof text, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
                tm.tm_hour, tm.tm_min, tm.tm_sec, static_cast<int>(ns / 1'000'000 % 1000));
  return text;
}

std::string headers_json(const HeadersView& headers) {
  std::string out = "{";
  for (Header h : headers) out += (out.size() > 1 ? ",\"" : "\"") + json_escape(h.key) + "\":\"" + json_escape(h.value) + "\"";
  return out + "}";
}

JsonObject message_json(const Message& m) {
  JsonObject out;
  out.add("topic", m.topic).add("position", m.position).add("seq", m.seq).add("timestamp_ns", m.timestamp_ns);
  out.add("message_id", m.message_id()).add_raw("headers", headers_json(m.headers)).add("payload", m.text());
  return out;
}

void print_message(const Message& m, bool json) {
  if (json) {
    std::cout << message_json(m).str() << '\n';
    return;
  }
  std::cout << m.topic << " @" << m.position << " t=" << m.timestamp_ns;
  for (Header h : m.headers) std::cout << ' ' << h.key << '=' << h.value;
  std::cout << " | " << m.text() << '\n';
}

std::chrono::nanoseconds parse_duration(const std::string& text, const std::string& option) {
  size_t end = 0;
  double n = -1;
  try {
    n = std::stod(text, &end);
  } catch (const std::exception&) {
    end = 0;
  }
  const std::string unit = text.substr(end);
  const double scale = unit.empty() || unit == "s" ? 1e9 : unit == "ms" ? 1e6 : unit == "m" ? 60e9 : unit == "h" ? 3600e9 : -1;
  if (end == 0 || scale < 0 || !(n >= 0) || n * scale > 9e18) {
    throw Error(option + " takes a duration such as 250ms, 30s, 2m, 1h (or seconds: 1.5), got \"" + text + "\"",
                ErrorKind::kInvalidArgument);
  }
  return std::chrono::nanoseconds(static_cast<int64_t>(n * scale));
}

std::string duration_text(std::chrono::nanoseconds d) {
  const int64_t ms = std::chrono::duration_cast<std::chrono::milliseconds>(d).count();
  return ms % 1000 == 0 ? std::to_string(ms / 1000) + "s" : std::to_string(ms) + "ms";
}

namespace {
int64_t now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

// A run of decimal digits at `at`, as a number; advances `at` past them.
int64_t digits(const std::string& text, size_t& at) {
  int64_t n = 0;
  for (; at < text.size() && text[at] >= '0' && text[at] <= '9'; ++at) n = n * 10 + (text[at] - '0');
  return n;
}

// Fraction digits after a '.', as nanoseconds; advances `at` past them.
int64_t fraction_ns(const std::string& text, size_t& at) {
  if (at >= text.size() || text[at] != '.') return 0;
  int64_t ns = 0, scale = 100'000'000;
  for (++at; at < text.size() && text[at] >= '0' && text[at] <= '9'; ++at, scale /= 10) ns += (text[at] - '0') * scale;
  return ns;
}

bool parse_time(const std::string& text, int64_t& out) {
  if (text.size() > 1 && text[0] == '@') {  // @UNIX_SECONDS[.frac]
    size_t at = 1;
    const int64_t seconds = digits(text, at);
    const int64_t ns = fraction_ns(text, at);
    if (at != text.size() || at == 1) return false;
    out = seconds * 1'000'000'000 + ns;
    return true;
  }
  if (text.size() > 2 && text[0] == '-') {  // -N[s|m|h|d]
    size_t at = 1;
    const int64_t n = digits(text, at);
    if (at + 1 != text.size()) return false;
    const int64_t unit = text[at] == 's' ? 1 : text[at] == 'm' ? 60 : text[at] == 'h' ? 3600 : text[at] == 'd' ? 86400 : 0;
    if (unit == 0) return false;
    out = now_ns() - n * unit * 1'000'000'000;
    return true;
  }
  std::tm tm{};
  const char* rest = ::strptime(text.c_str(), "%Y-%m-%dT%H:%M:%S", &tm);
  if (rest == nullptr) return false;
  size_t at = static_cast<size_t>(rest - text.c_str());
  const int64_t ns = fraction_ns(text, at);
  if (at < text.size() && text[at] == 'Z') ++at;
  if (at != text.size()) return false;
  out = static_cast<int64_t>(::timegm(&tm)) * 1'000'000'000 + ns;
  return true;
}
}  // namespace

StartAt parse_start(const std::string& text, const std::string& option) {
  if (text == "earliest") return StartAt::earliest();
  if (text == "latest") return StartAt::latest();
  if (!text.empty() && text.find_first_not_of("0123456789") == std::string::npos) {
    try {
      return StartAt::at(std::stoull(text));
    } catch (const std::exception&) {
    }
  }
  int64_t t = 0;
  if (parse_time(text, t)) return StartAt::time(t);
  throw Error(option + " takes earliest, latest, a position, or a time (2026-11-25T17:00:00Z, @1764090000, -10m), got \"" +
                  text + "\"",
              ErrorKind::kInvalidArgument);
}

ProgressBar::ProgressBar(std::string what, bool beside_stdout)
    : what_(std::move(what)), enabled_(::isatty(STDERR_FILENO) == 1 && !(beside_stdout && ::isatty(STDOUT_FILENO) == 1)) {}

ProgressBar::~ProgressBar() {
  if (drawn_) std::fprintf(stderr, "\r\033[K");  // leave the terminal clean for the report
}

void ProgressBar::update(uint64_t done, uint64_t total) {
  if (!enabled_ || total == 0) return;
  const int64_t now = now_ns();
  if (done < total && now - last_draw_ns_ < 100'000'000) return;  // 10 redraws a second at most
  last_draw_ns_ = now;
  constexpr int kWidth = 30;
  const int filled = static_cast<int>(kWidth * done / total);
  std::string bar(static_cast<size_t>(filled), '#');
  bar.append(static_cast<size_t>(kWidth - filled), '.');
  std::fprintf(stderr, "\r[%s] %3d%%  %llu/%llu %s", bar.c_str(), static_cast<int>(100 * done / total),
               static_cast<unsigned long long>(done), static_cast<unsigned long long>(total), what_.c_str());
  std::fflush(stderr);
  drawn_ = true;
}

}  // namespace shmbus::cli
