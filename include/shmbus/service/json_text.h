// The JSON text primitives of the direct codec (json_direct.h): writing a value's text exactly
// as nlohmann's dump() writes it, and reading strict RFC 8259 text a token at a time. A reader
// returns false on whatever it is not sure of (bad text, a number out of range, nesting over
// kMaxJsonDepth): the caller then leaves the document to nlohmann, which decides and words the
// error. No function here allocates beyond the string it is given.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace shmbus::service::detail {

// ---- writing (appends to `out`) ----

// `s` quoted and escaped as dump() does (ensure_ascii off): \" \\ \b \f \n \r \t, other
// control characters as \u00xx, everything else as it is. false: `s` is not UTF-8 (dump()
// throws type_error 316 for it; `out` then holds part of the string).
bool append_json_string(std::string& out, std::string_view s);
void append_json_integer(std::string& out, int64_t v);
void append_json_integer(std::string& out, uint64_t v);
// nlohmann's own shortest round-trip form ("129.95", "1e+20", "3.0", "-0.0"); NaN and
// infinities as null, as dump() writes them.
void append_json_double(std::string& out, double v);

// ---- reading ----

inline constexpr int kMaxJsonDepth = 256;

// The text being read: [p, end), and how many containers are open around p.
struct JsonCursor {
  const char* p;
  const char* end;
  int depth = 0;
};

inline void skip_json_space(JsonCursor& c) noexcept {
  while (c.p != c.end && (*c.p == ' ' || *c.p == '\n' || *c.p == '\r' || *c.p == '\t')) ++c.p;
}

// A number as nlohmann's parser types it: an integer that fits is unsigned (>= 0) or
// negative (< 0; "-0" is the integer 0), anything else a double (non-finite: refused).
struct JsonNumber {
  enum Kind : uint8_t { kUnsigned, kNegative, kFloat } kind = kUnsigned;
  uint64_t u = 0;
  int64_t i = 0;
  double d = 0;
};
bool read_json_number(JsonCursor& c, JsonNumber& out);

// The string at c.p (its opening quote) into `out`, unescaped, its UTF-8 checked.
bool read_json_string(JsonCursor& c, std::string& out);
// An object's key at c.p and its colon; `key` points into the text. Refuses a key with
// escapes (the caller lets nlohmann read that document).
bool read_json_key(JsonCursor& c, std::string_view& key);
// `word` (true, false, null) at c.p.
bool read_json_literal(JsonCursor& c, std::string_view word) noexcept;
// Any one value at c.p, checked as strictly as the readers above.
bool skip_json_value(JsonCursor& c);

}  // namespace shmbus::service::detail
