// parse_in_place: a strict RFC 8259 reader (reader below) driving a SAX handler that writes
// each value over the node the last parse left at the same place. A container keeps only what
// this parse put in it: an object erases the keys it did not see, an array is cut to the
// elements it got, so the result never depends on the last document.
// nlohmann's own lexer reads a character at a time through an input adapter and keeps a copy of
// every token for its error texts: three quarters of a decode once the DOM is reused. The
// reader here refuses whatever it is unsure of (a BOM, deep nesting, a number out of range):
// the caller then parses with nlohmann, so nlohmann decides every refused document and gives
// its own error, and an accepted one must equal json::parse's (json_in_place_test checks).
#include "shmbus/service/json_in_place.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstring>
#include <vector>

namespace shmbus::service::detail {
namespace {

using json = nlohmann::json;

// Objects up to this many keys are reused (telling a seen key from a stale one is a scan of
// the keys seen so far); a bigger one stops the parse, and the caller parses it afresh.
constexpr size_t kMaxReusedKeys = 64;

// One open container of the document being parsed.
struct Level {
  json* node = nullptr;
  size_t used = 0;          // arrays: elements written so far
  std::vector<json*> seen;  // objects: the members written so far
  json::object_t::iterator hint;  // objects: where the next key is looked for first
};

class InPlaceHandler {
 public:
  // `levels`: kept between parses too (their vectors' room), `depth` 0 is the root.
  InPlaceHandler(json& root, std::vector<Level>& levels) : next_(&root), levels_(levels) {}

  bool null() { return put(nullptr); }
  bool boolean(bool v) { return put(v); }
  bool number_integer(json::number_integer_t v) { return put(v); }
  bool number_unsigned(json::number_unsigned_t v) { return put(v); }
  bool number_float(json::number_float_t v, const json::string_t&) { return put(v); }
  bool string(json::string_t& v) {
    json& target = slot();
    if (target.is_string()) {
      target.get_ref<json::string_t&>().assign(v);  // in the string's own buffer
    } else {
      target = v;
    }
    return true;
  }
  bool binary(json::binary_t& v) { return put(std::move(v)); }

  bool start_object(std::size_t) {
    json& target = slot();
    if (!target.is_object()) target = json::object();
    open(target);
    levels_[depth_ - 1].hint = target.get_ref<json::object_t&>().begin();
    return true;
  }
  bool key(json::string_t& k) {
    Level& level = levels_[depth_ - 1];
    json::object_t& object = level.node->get_ref<json::object_t&>();
    // Payloads written by nlohmann list their keys in the map's order: the key after the last
    // one found is the likely next (one comparison instead of a search).
    auto it = level.hint != object.end() && level.hint->first == k ? level.hint : object.find(k);
    if (it == object.end()) {
      it = object.emplace(k, nullptr).first;
    } else {
      // Seen before in this document: the last value wins, so it is written over again.
      const bool again = std::find(level.seen.begin(), level.seen.end(), &it->second) != level.seen.end();
      if (again) {
        next_ = &it->second;
        it->second = nullptr;  // a fresh value, as the DOM parser's operator[] assignment gives
        return true;
      }
    }
    if (level.seen.size() >= kMaxReusedKeys) return false;
    level.seen.push_back(&it->second);
    level.hint = std::next(it);
    next_ = &it->second;
    return true;
  }
  bool end_object() {
    Level& level = levels_[depth_ - 1];
    json::object_t& object = level.node->get_ref<json::object_t&>();
    if (level.seen.size() != object.size()) {
      std::erase_if(object, [&](const auto& kv) {
        return std::find(level.seen.begin(), level.seen.end(), &kv.second) == level.seen.end();
      });
    }
    --depth_;
    return true;
  }

  bool start_array(std::size_t) {
    json& target = slot();
    if (!target.is_array()) target = json::array();
    open(target);
    return true;
  }
  bool end_array() {
    Level& level = levels_[depth_ - 1];
    json::array_t& array = level.node->get_ref<json::array_t&>();
    array.resize(level.used, nullptr);
    --depth_;
    return true;
  }

  bool parse_error(std::size_t, const std::string&, const nlohmann::detail::exception&) { return false; }

 private:
  // The node the next value goes to: the root, the member after key(), or an array's next element.
  json& slot() {
    if (depth_ == 0 || levels_[depth_ - 1].node->is_object()) return *next_;
    Level& level = levels_[depth_ - 1];
    json::array_t& array = level.node->get_ref<json::array_t&>();
    if (level.used == array.size()) array.emplace_back(nullptr);
    return array[level.used++];
  }
  template <class V>
  bool put(V&& v) {
    slot() = std::forward<V>(v);
    return true;
  }
  void open(json& node) {
    if (depth_ == levels_.size()) levels_.emplace_back();
    Level& level = levels_[depth_++];
    level.node = &node;
    level.used = 0;
    level.seen.clear();
  }

  json* next_;
  std::vector<Level>& levels_;
  size_t depth_ = 0;
};

constexpr int kMaxDepth = 256;  // deeper: left to nlohmann (this reader recurses)

// Recursive descent over [p_, end_): each read_* consumes one value and tells the handler.
class Reader {
 public:
  Reader(std::string_view text, InPlaceHandler& h, std::string& buffer)
      : p_(text.data()), end_(text.data() + text.size()), h_(h), buf_(buffer) {}

  bool document() {
    skip_space();
    if (!value(0)) return false;
    skip_space();
    return p_ == end_;
  }

 private:
  void skip_space() noexcept {
    while (p_ != end_ && (*p_ == ' ' || *p_ == '\n' || *p_ == '\r' || *p_ == '\t')) ++p_;
  }
  bool literal(std::string_view word) noexcept {
    if (static_cast<size_t>(end_ - p_) < word.size() || std::memcmp(p_, word.data(), word.size()) != 0) return false;
    p_ += word.size();
    return true;
  }

  bool value(int depth) {
    if (p_ == end_) return false;
    switch (*p_) {
      case '{': return object(depth + 1);
      case '[': return array(depth + 1);
      case '"': return string() && h_.string(buf_);
      case 't': return literal("true") && h_.boolean(true);
      case 'f': return literal("false") && h_.boolean(false);
      case 'n': return literal("null") && h_.null();
      default: return number();
    }
  }

  bool object(int depth) {
    if (depth > kMaxDepth) return false;
    ++p_;  // '{'
    h_.start_object(0);
    skip_space();
    if (p_ != end_ && *p_ == '}') {
      ++p_;
      return h_.end_object();
    }
    for (;;) {
      if (p_ == end_ || *p_ != '"' || !string() || !h_.key(buf_)) return false;
      skip_space();
      if (p_ == end_ || *p_++ != ':') return false;
      skip_space();
      if (!value(depth)) return false;
      skip_space();
      if (p_ == end_) return false;
      const char c = *p_++;
      if (c == '}') return h_.end_object();
      if (c != ',') return false;
      skip_space();
    }
  }

  bool array(int depth) {
    if (depth > kMaxDepth) return false;
    ++p_;  // '['
    h_.start_array(0);
    skip_space();
    if (p_ != end_ && *p_ == ']') {
      ++p_;
      return h_.end_array();
    }
    for (;;) {
      if (!value(depth)) return false;
      skip_space();
      if (p_ == end_) return false;
      const char c = *p_++;
      if (c == ']') return h_.end_array();
      if (c != ',') return false;
      skip_space();
    }
  }

  // The string at p_ (its opening quote) into buf_, unescaped, its UTF-8 checked.
  bool string() {
    ++p_;
    buf_.clear();
    for (;;) {
      const char* run = p_;
      while (p_ != end_ && *p_ != '"' && *p_ != '\\' && static_cast<unsigned char>(*p_) >= 0x20 &&
             static_cast<unsigned char>(*p_) < 0x80) {
        ++p_;
      }
      buf_.append(run, p_);
      if (p_ == end_) return false;
      const auto c = static_cast<unsigned char>(*p_);
      if (c == '"') {
        ++p_;
        return true;
      }
      if (c < 0x20) return false;  // control characters must be escaped
      if (c == '\\') {
        if (!escape()) return false;
      } else if (!utf8_sequence()) {
        return false;
      }
    }
  }

  bool escape() {
    if (++p_ == end_) return false;
    const char c = *p_++;
    switch (c) {
      case '"': buf_.push_back('"'); return true;
      case '\\': buf_.push_back('\\'); return true;
      case '/': buf_.push_back('/'); return true;
      case 'b': buf_.push_back('\b'); return true;
      case 'f': buf_.push_back('\f'); return true;
      case 'n': buf_.push_back('\n'); return true;
      case 'r': buf_.push_back('\r'); return true;
      case 't': buf_.push_back('\t'); return true;
      case 'u': break;
      default: return false;
    }
    uint32_t code = 0;
    if (!hex4(code)) return false;
    if (code >= 0xDC00 && code <= 0xDFFF) return false;  // a low surrogate alone
    if (code >= 0xD800 && code <= 0xDBFF) {               // a high one: its low one must follow
      uint32_t low = 0;
      if (end_ - p_ < 2 || p_[0] != '\\' || p_[1] != 'u') return false;
      p_ += 2;
      if (!hex4(low) || low < 0xDC00 || low > 0xDFFF) return false;
      code = 0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00);
    }
    append_utf8(code);
    return true;
  }

  bool hex4(uint32_t& out) noexcept {
    if (end_ - p_ < 4) return false;
    for (int i = 0; i < 4; ++i) {
      const char c = *p_++;
      uint32_t v = 0;
      if (c >= '0' && c <= '9') v = static_cast<uint32_t>(c - '0');
      else if (c >= 'a' && c <= 'f') v = static_cast<uint32_t>(c - 'a' + 10);
      else if (c >= 'A' && c <= 'F') v = static_cast<uint32_t>(c - 'A' + 10);
      else return false;
      out = out << 4 | v;
    }
    return true;
  }

  void append_utf8(uint32_t code) {
    if (code < 0x80) {
      buf_.push_back(static_cast<char>(code));
    } else if (code < 0x800) {
      buf_.push_back(static_cast<char>(0xC0 | (code >> 6)));
      buf_.push_back(static_cast<char>(0x80 | (code & 0x3F)));
    } else if (code < 0x10000) {
      buf_.push_back(static_cast<char>(0xE0 | (code >> 12)));
      buf_.push_back(static_cast<char>(0x80 | ((code >> 6) & 0x3F)));
      buf_.push_back(static_cast<char>(0x80 | (code & 0x3F)));
    } else {
      buf_.push_back(static_cast<char>(0xF0 | (code >> 18)));
      buf_.push_back(static_cast<char>(0x80 | ((code >> 12) & 0x3F)));
      buf_.push_back(static_cast<char>(0x80 | ((code >> 6) & 0x3F)));
      buf_.push_back(static_cast<char>(0x80 | (code & 0x3F)));
    }
  }

  // One well-formed UTF-8 sequence of 2-4 bytes (RFC 3629: no overlong forms, no surrogates,
  // nothing past U+10FFFF), copied as it is.
  bool utf8_sequence() {
    const auto b = [&](ptrdiff_t i) { return static_cast<unsigned char>(p_[i]); };
    const auto in = [](unsigned char c, unsigned char lo, unsigned char hi) { return c >= lo && c <= hi; };
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
    else return false;
    if (end_ - p_ < n || !in(b(1), lo, hi)) return false;
    for (int i = 2; i < n; ++i) {
      if (!in(b(i), 0x80, 0xBF)) return false;
    }
    buf_.append(p_, static_cast<size_t>(n));
    p_ += n;
    return true;
  }

  // -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)?, typed as nlohmann types it: an integer that
  // fits is unsigned (>= 0) or signed (< 0), anything else a double (one out of range: refused).
  bool number() {
    const char* start = p_;
    const bool negative = p_ != end_ && *p_ == '-';
    if (negative) ++p_;
    const auto digits = [&] {
      const char* from = p_;
      while (p_ != end_ && *p_ >= '0' && *p_ <= '9') ++p_;
      return p_ - from;
    };
    const char* int_start = p_;
    const ptrdiff_t int_digits = digits();
    if (int_digits == 0 || (int_digits > 1 && *int_start == '0')) return false;
    bool integer = true;
    if (p_ != end_ && *p_ == '.') {
      ++p_;
      if (digits() == 0) return false;
      integer = false;
    }
    if (p_ != end_ && (*p_ == 'e' || *p_ == 'E')) {
      ++p_;
      if (p_ != end_ && (*p_ == '+' || *p_ == '-')) ++p_;
      if (digits() == 0) return false;
      integer = false;
    }
    if (integer) {
      uint64_t u = 0;
      const auto r = std::from_chars(int_start, p_, u);
      if (r.ec == std::errc() && r.ptr == p_) {
        if (!negative) return h_.number_unsigned(u);
        if (u <= static_cast<uint64_t>(INT64_MAX) + 1) return h_.number_integer(static_cast<int64_t>(0 - u));
      }
    }
    double d = 0;
    const auto r = std::from_chars(start, p_, d);
    if (r.ec != std::errc() || r.ptr != p_ || !std::isfinite(d)) return false;
    return h_.number_float(d, buf_);
  }

  const char* p_;
  const char* end_;
  InPlaceHandler& h_;
  std::string& buf_;
};

}  // namespace

bool parse_in_place(std::string_view payload, json& doc) {
  thread_local std::vector<Level> levels;
  thread_local std::string buffer;
  InPlaceHandler handler(doc, levels);
  return Reader(payload, handler, buffer).document();
}

}  // namespace shmbus::service::detail
