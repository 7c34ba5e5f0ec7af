// Topic names and patterns: dot-separated words of [A-Za-z0-9_-]; patterns add `*` and `#`.
// Names come from users (argv, Python str, config files), so the messages that refuse one must
// stay valid UTF-8 whatever the bytes: Python decodes them strictly (a lone byte would turn an
// InvalidNameError into a UnicodeDecodeError), and terminals show them.
#include <cstdio>
#include <string>

#include "shmbus/error.h"
#include "shmbus/pattern.h"
#include "shmbus/topic.h"
#include "topic/topic_meta.h"

namespace shmbus {
namespace {

bool word_char(char c) noexcept {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
}

// The code point of the UTF-8 sequence at text[at], and its length in bytes; 0 bytes if the
// byte there does not start a well-formed sequence (a stray continuation byte, a truncated or
// overlong sequence, a surrogate, or a value past U+10FFFF: RFC 3629).
size_t decode_utf8(std::string_view text, size_t at, char32_t& code_point) noexcept {
  const auto byte = [&](size_t i) { return static_cast<unsigned char>(text[at + i]); };
  const unsigned char lead = byte(0);
  if (lead < 0x80) {
    code_point = lead;
    return 1;
  }
  const size_t len = lead >= 0xC2 && lead <= 0xDF ? 2 : lead >= 0xE0 && lead <= 0xEF ? 3 : lead >= 0xF0 && lead <= 0xF4 ? 4 : 0;
  if (len == 0 || at + len > text.size()) return 0;
  char32_t cp = lead & (len == 2 ? 0x1F : len == 3 ? 0x0F : 0x07);
  for (size_t i = 1; i < len; ++i) {
    if ((byte(i) & 0xC0) != 0x80) return 0;
    cp = (cp << 6) | (byte(i) & 0x3F);
  }
  const char32_t min = len == 2 ? 0x80 : len == 3 ? 0x800 : 0x10000;
  if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return 0;
  code_point = cp;
  return len;
}

bool control(char32_t cp) noexcept { return cp < 0x20 || (cp >= 0x7F && cp <= 0x9F); }

// The character at text[at] for a message, always valid UTF-8 and free of control characters:
// `the character '/'`, `the character 'а' (U+0430)`, `U+0009 (a control character)`, or
// `byte 0xD0 (not UTF-8)`.
std::string describe_char(std::string_view text, size_t at) {
  char32_t cp = 0;
  const size_t length = decode_utf8(text, at, cp);
  char buf[48];
  if (length == 0) {
    std::snprintf(buf, sizeof buf, "byte 0x%02X (not UTF-8)", static_cast<unsigned char>(text[at]));
    return buf;
  }
  if (control(cp)) {
    std::snprintf(buf, sizeof buf, "U+%04X (a control character)", static_cast<unsigned>(cp));
    return buf;
  }
  if (length == 1) return std::string("the character '") + text[at] + "'";
  std::snprintf(buf, sizeof buf, "' (U+%04X)", static_cast<unsigned>(cp));
  return "the character '" + std::string(text.substr(at, length)) + buf;
}

// `text` for a message, cut after about `max_bytes` (at a character boundary, then "..."):
// invalid bytes become \xD0 and control characters \u0009, in ASCII, so the message is valid
// UTF-8 and stays on one line.
std::string printable_name(std::string_view text, size_t max_bytes) {
  std::string out;
  size_t at = 0;
  while (at < text.size() && out.size() < max_bytes) {
    char32_t cp = 0;
    const size_t len = decode_utf8(text, at, cp);
    if (len == 0 || control(cp)) {
      char buf[16];
      if (len == 0) {
        std::snprintf(buf, sizeof buf, "\\x%02X", static_cast<unsigned char>(text[at]));
      } else {
        std::snprintf(buf, sizeof buf, "\\u%04X", static_cast<unsigned>(cp));
      }
      out += buf;
      at += len == 0 ? 1 : len;
    } else {
      out.append(text.substr(at, len));  // whole characters only: never cut one in two
      at += len;
    }
  }
  return at < text.size() ? out + "..." : out;
}

// Returns an empty string if valid, else why not.
std::string check_words(std::string_view text, bool wildcards) {
  if (text.empty()) return "is empty";
  if (text.size() > topic::kMaxNameBytes) {
    return "is " + std::to_string(text.size()) + " characters long; the limit is " +
           std::to_string(topic::kMaxNameBytes);
  }
  size_t start = 0;
  for (;;) {
    size_t end = text.find('.', start);
    std::string_view word = text.substr(start, end == std::string_view::npos ? std::string_view::npos : end - start);
    if (word.empty()) return "has an empty word (leading, trailing or doubled '.')";
    bool wildcard = wildcards && (word == "*" || word == "#");
    for (size_t i = 0; !wildcard && i < word.size(); ++i) {
      if (!word_char(word[i])) {
        return "has " + describe_char(text, start + i) + "; words use only A-Z a-z 0-9 _ -";
      }
    }
    if (end == std::string_view::npos) return {};
    start = end + 1;
  }
}

}  // namespace

void validate_topic_name(std::string_view name) {
  std::string why = check_words(name, false);
  if (!why.empty()) {
    throw Error("invalid topic name \"" + printable_name(name, 64) + "\": it " + why + " (e.g. orders.eu.created)",
                ErrorKind::kInvalidName);
  }
}

void validate_pattern(std::string_view pattern) {
  std::string why = check_words(pattern, true);
  if (!why.empty()) {
    throw Error("invalid pattern \"" + printable_name(pattern, 64) + "\": it " + why +
                " (e.g. orders.*.created or orders.#)", ErrorKind::kInvalidName);
  }
}

}  // namespace shmbus
