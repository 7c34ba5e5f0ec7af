// The direct codec's text primitives. The number text is nlohmann's own (its to_chars, the
// Grisu2 shortest form dump() writes) so a double never reads back differently or prints
// differently from the DOM path; the escapes are the ones dump() writes.
#include "shmbus/service/json_text.h"

#include <array>
#include <charconv>
#include <cmath>
#include <cstring>

#include <nlohmann/json.hpp>

namespace shmbus::service::detail {
namespace {

bool in(unsigned char c, unsigned char lo, unsigned char hi) noexcept { return c >= lo && c <= hi; }

// The length of the well-formed UTF-8 sequence of 2-4 bytes at p (RFC 3629: no overlong
// forms, no surrogates, nothing past U+10FFFF: the sequences nlohmann's decoder accepts), 0 if
// there is none.
int utf8_sequence(const char* p, const char* end) noexcept {
  const auto b = [&](int i) { return static_cast<unsigned char>(p[i]); };
  const unsigned char c = b(0);
  int n = 0;
  unsigned char lo = 0x80, hi = 0xBF;  // the second byte's range
  if (in(c, 0xC2, 0xDF)) n = 2;
  else if (c == 0xE0) n = 3, lo = 0xA0;
  else if (in(c, 0xE1, 0xEC) || in(c, 0xEE, 0xEF)) n = 3;
  else if (c == 0xED) n = 3, hi = 0x9F;
  else if (c == 0xF0) n = 4, lo = 0x90;
  else if (in(c, 0xF1, 0xF3)) n = 4;
  else if (c == 0xF4) n = 4, hi = 0x8F;
  else return 0;
  if (end - p < n || !in(b(1), lo, hi)) return 0;
  for (int i = 2; i < n; ++i) {
    if (!in(b(i), 0x80, 0xBF)) return 0;
  }
  return n;
}

// Printable ASCII that needs no escape, in both directions.
bool plain(unsigned char c) noexcept { return c >= 0x20 && c < 0x80 && c != '"' && c != '\\'; }

bool hex4(JsonCursor& c, uint32_t& out) noexcept {
  if (c.end - c.p < 4) return false;
  for (int i = 0; i < 4; ++i) {
    const char h = *c.p++;
    uint32_t v = 0;
    if (h >= '0' && h <= '9') v = static_cast<uint32_t>(h - '0');
    else if (h >= 'a' && h <= 'f') v = static_cast<uint32_t>(h - 'a' + 10);
    else if (h >= 'A' && h <= 'F') v = static_cast<uint32_t>(h - 'A' + 10);
    else return false;
    out = out << 4 | v;
  }
  return true;
}

void append_utf8(std::string& out, uint32_t code) {
  char b[4];
  size_t n = 0;
  if (code < 0x80) {
    b[n++] = static_cast<char>(code);
  } else if (code < 0x800) {
    b[n++] = static_cast<char>(0xC0 | (code >> 6));
    b[n++] = static_cast<char>(0x80 | (code & 0x3F));
  } else if (code < 0x10000) {
    b[n++] = static_cast<char>(0xE0 | (code >> 12));
    b[n++] = static_cast<char>(0x80 | ((code >> 6) & 0x3F));
    b[n++] = static_cast<char>(0x80 | (code & 0x3F));
  } else {
    b[n++] = static_cast<char>(0xF0 | (code >> 18));
    b[n++] = static_cast<char>(0x80 | ((code >> 12) & 0x3F));
    b[n++] = static_cast<char>(0x80 | ((code >> 6) & 0x3F));
    b[n++] = static_cast<char>(0x80 | (code & 0x3F));
  }
  out.append(b, n);
}

// The escape at c.p (its backslash), unescaped onto `out`.
bool escape(JsonCursor& c, std::string& out) {
  if (++c.p == c.end) return false;
  switch (*c.p++) {
    case '"': out.push_back('"'); return true;
    case '\\': out.push_back('\\'); return true;
    case '/': out.push_back('/'); return true;
    case 'b': out.push_back('\b'); return true;
    case 'f': out.push_back('\f'); return true;
    case 'n': out.push_back('\n'); return true;
    case 'r': out.push_back('\r'); return true;
    case 't': out.push_back('\t'); return true;
    case 'u': break;
    default: return false;
  }
  uint32_t code = 0;
  if (!hex4(c, code)) return false;
  if (code >= 0xDC00 && code <= 0xDFFF) return false;  // a low surrogate alone
  if (code >= 0xD800 && code <= 0xDBFF) {               // a high one: its low one must follow
    uint32_t low = 0;
    if (c.end - c.p < 2 || c.p[0] != '\\' || c.p[1] != 'u') return false;
    c.p += 2;
    if (!hex4(c, low) || low < 0xDC00 || low > 0xDFFF) return false;
    code = 0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00);
  }
  append_utf8(out, code);
  return true;
}

bool skip_container(JsonCursor& c, char close) {
  if (++c.depth > kMaxJsonDepth) return false;
  ++c.p;  // '{' or '['
  skip_json_space(c);
  if (c.p != c.end && *c.p == close) {
    ++c.p;
    --c.depth;
    return true;
  }
  thread_local std::string key;  // an object's keys, read to be checked (its room is kept)
  for (;;) {
    if (close == '}') {
      if (c.p == c.end || *c.p != '"' || !read_json_string(c, key)) return false;
      skip_json_space(c);
      if (c.p == c.end || *c.p++ != ':') return false;
      skip_json_space(c);
    }
    if (!skip_json_value(c)) return false;
    skip_json_space(c);
    if (c.p == c.end) return false;
    const char next = *c.p++;
    if (next == close) {
      --c.depth;
      return true;
    }
    if (next != ',') return false;
    skip_json_space(c);
  }
}

}  // namespace

bool append_json_string(std::string& out, std::string_view s) {
  out.push_back('"');
  const char* p = s.data();
  const char* const end = p + s.size();
  while (p != end) {
    const char* run = p;
    while (p != end && plain(static_cast<unsigned char>(*p))) ++p;
    out.append(run, p);
    if (p == end) break;
    const auto c = static_cast<unsigned char>(*p);
    if (c >= 0x80) {
      const int n = utf8_sequence(p, end);
      if (n == 0) return false;
      out.append(p, static_cast<size_t>(n));
      p += n;
      continue;
    }
    ++p;
    switch (c) {
      case '"': out.append("\\\"", 2); break;
      case '\\': out.append("\\\\", 2); break;
      case '\b': out.append("\\b", 2); break;
      case '\f': out.append("\\f", 2); break;
      case '\n': out.append("\\n", 2); break;
      case '\r': out.append("\\r", 2); break;
      case '\t': out.append("\\t", 2); break;
      default: {
        static constexpr char kHex[] = "0123456789abcdef";  // dump() writes lower case
        const char u[6] = {'\\', 'u', '0', '0', kHex[c >> 4], kHex[c & 0xF]};
        out.append(u, 6);
      }
    }
  }
  out.push_back('"');
  return true;
}

void append_json_integer(std::string& out, int64_t v) {
  char b[24];
  const auto r = std::to_chars(b, b + sizeof b, v);
  out.append(b, r.ptr);
}

void append_json_integer(std::string& out, uint64_t v) {
  char b[24];
  const auto r = std::to_chars(b, b + sizeof b, v);
  out.append(b, r.ptr);
}

void append_json_double(std::string& out, double v) {
  if (!std::isfinite(v)) {
    out.append("null", 4);
    return;
  }
  std::array<char, 64> b;  // dump()'s own number buffer size
  char* end = nlohmann::detail::to_chars(b.data(), b.data() + b.size(), v);
  out.append(b.data(), static_cast<size_t>(end - b.data()));
}

// -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)?
bool read_json_number(JsonCursor& c, JsonNumber& out) {
  const char* start = c.p;
  const bool negative = c.p != c.end && *c.p == '-';
  if (negative) ++c.p;
  const auto digits = [&] {
    const char* from = c.p;
    while (c.p != c.end && *c.p >= '0' && *c.p <= '9') ++c.p;
    return c.p - from;
  };
  const char* int_start = c.p;
  const ptrdiff_t int_digits = digits();
  if (int_digits == 0 || (int_digits > 1 && *int_start == '0')) return false;
  bool integer = true;
  if (c.p != c.end && *c.p == '.') {
    ++c.p;
    if (digits() == 0) return false;
    integer = false;
  }
  if (c.p != c.end && (*c.p == 'e' || *c.p == 'E')) {
    ++c.p;
    if (c.p != c.end && (*c.p == '+' || *c.p == '-')) ++c.p;
    if (digits() == 0) return false;
    integer = false;
  }
  if (integer) {
    uint64_t u = 0;
    const auto r = std::from_chars(int_start, c.p, u);
    if (r.ec == std::errc() && r.ptr == c.p) {
      if (!negative) {
        out.kind = JsonNumber::kUnsigned;
        out.u = u;
        return true;
      }
      if (u <= static_cast<uint64_t>(INT64_MAX) + 1) {
        out.kind = JsonNumber::kNegative;
        out.i = static_cast<int64_t>(0 - u);
        return true;
      }
    }
  }
  const auto r = std::from_chars(start, c.p, out.d);
  out.kind = JsonNumber::kFloat;
  return r.ec == std::errc() && r.ptr == c.p && std::isfinite(out.d);
}

bool read_json_string(JsonCursor& c, std::string& out) {
  ++c.p;  // '"'
  out.clear();
  for (;;) {
    const char* run = c.p;
    while (c.p != c.end && plain(static_cast<unsigned char>(*c.p))) ++c.p;
    out.append(run, c.p);
    if (c.p == c.end) return false;
    const auto ch = static_cast<unsigned char>(*c.p);
    if (ch == '"') {
      ++c.p;
      return true;
    }
    if (ch < 0x20) return false;  // control characters must be escaped
    if (ch == '\\') {
      if (!escape(c, out)) return false;
      continue;
    }
    const int n = utf8_sequence(c.p, c.end);
    if (n == 0) return false;
    out.append(c.p, static_cast<size_t>(n));
    c.p += n;
  }
}

bool read_json_key(JsonCursor& c, std::string_view& key) {
  if (c.p == c.end || *c.p != '"') return false;
  const char* start = ++c.p;
  for (;;) {
    while (c.p != c.end && plain(static_cast<unsigned char>(*c.p))) ++c.p;
    if (c.p == c.end) return false;
    const auto ch = static_cast<unsigned char>(*c.p);
    if (ch == '"') break;
    if (ch < 0x80) return false;  // an escape or a control character
    const int n = utf8_sequence(c.p, c.end);
    if (n == 0) return false;
    c.p += n;
  }
  key = std::string_view(start, static_cast<size_t>(c.p - start));
  ++c.p;
  skip_json_space(c);
  if (c.p == c.end || *c.p != ':') return false;
  ++c.p;
  skip_json_space(c);
  return true;
}

bool read_json_literal(JsonCursor& c, std::string_view word) noexcept {
  if (static_cast<size_t>(c.end - c.p) < word.size() || std::memcmp(c.p, word.data(), word.size()) != 0) return false;
  c.p += word.size();
  return true;
}

bool skip_json_value(JsonCursor& c) {
  if (c.p == c.end) return false;
  switch (*c.p) {
    case '{': return skip_container(c, '}');
    case '[': return skip_container(c, ']');
    case '"': {
      thread_local std::string text;  // checked, then dropped (its room is kept)
      return read_json_string(c, text);
    }
    case 't': return read_json_literal(c, "true");
    case 'f': return read_json_literal(c, "false");
    case 'n': return read_json_literal(c, "null");
    default: {
      JsonNumber n;
      return read_json_number(c, n);
    }
  }
}

}  // namespace shmbus::service::detail
