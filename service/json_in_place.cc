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
#include <vector>

#include "shmbus/service/json_text.h"

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

// Recursive descent over the text (json_text.h reads its tokens): each read_* consumes one
// value and tells the handler.
class Reader {
 public:
  Reader(std::string_view text, InPlaceHandler& h, std::string& buffer)
      : c_{text.data(), text.data() + text.size()}, h_(h), buf_(buffer) {}

  bool document() {
    skip_json_space(c_);
    if (!value()) return false;
    skip_json_space(c_);
    return c_.p == c_.end;
  }

 private:
  bool value() {
    if (c_.p == c_.end) return false;
    switch (*c_.p) {
      case '{': return object();
      case '[': return array();
      case '"': return read_json_string(c_, buf_) && h_.string(buf_);
      case 't': return read_json_literal(c_, "true") && h_.boolean(true);
      case 'f': return read_json_literal(c_, "false") && h_.boolean(false);
      case 'n': return read_json_literal(c_, "null") && h_.null();
      default: return number();
    }
  }

  // Deeper than kMaxJsonDepth: left to nlohmann (this reader recurses).
  bool object() {
    if (++c_.depth > kMaxJsonDepth) return false;
    ++c_.p;  // '{'
    h_.start_object(0);
    skip_json_space(c_);
    if (c_.p != c_.end && *c_.p == '}') {
      ++c_.p;
      --c_.depth;
      return h_.end_object();
    }
    for (;;) {
      if (c_.p == c_.end || *c_.p != '"' || !read_json_string(c_, buf_) || !h_.key(buf_)) return false;
      skip_json_space(c_);
      if (c_.p == c_.end || *c_.p++ != ':') return false;
      skip_json_space(c_);
      if (!value()) return false;
      skip_json_space(c_);
      if (c_.p == c_.end) return false;
      const char c = *c_.p++;
      if (c == '}') {
        --c_.depth;
        return h_.end_object();
      }
      if (c != ',') return false;
      skip_json_space(c_);
    }
  }

  bool array() {
    if (++c_.depth > kMaxJsonDepth) return false;
    ++c_.p;  // '['
    h_.start_array(0);
    skip_json_space(c_);
    if (c_.p != c_.end && *c_.p == ']') {
      ++c_.p;
      --c_.depth;
      return h_.end_array();
    }
    for (;;) {
      if (!value()) return false;
      skip_json_space(c_);
      if (c_.p == c_.end) return false;
      const char c = *c_.p++;
      if (c == ']') {
        --c_.depth;
        return h_.end_array();
      }
      if (c != ',') return false;
      skip_json_space(c_);
    }
  }

  // Typed as nlohmann types it: an integer that fits is unsigned (>= 0) or signed (< 0),
  // anything else a double (one out of range: refused).
  bool number() {
    JsonNumber n;
    if (!read_json_number(c_, n)) return false;
    switch (n.kind) {
      case JsonNumber::kUnsigned: return h_.number_unsigned(n.u);
      case JsonNumber::kNegative: return h_.number_integer(n.i);
      default: return h_.number_float(n.d, buf_);
    }
  }

  JsonCursor c_;
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
