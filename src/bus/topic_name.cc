// Topic names and patterns: dot-separated words of [A-Za-z0-9_-]; patterns add `*` and `#`.
#include <string>

#include "shmbus/error.h"
#include "shmbus/pattern_subscriber.h"
#include "shmbus/topic.h"
#include "topic/topic_meta.h"

namespace shmbus {
namespace {

bool word_char(char c) noexcept {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
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
    if (!wildcard) {
      for (char c : word) {
        if (!word_char(c)) return std::string("has the character '") + c + "'; words use only A-Z a-z 0-9 _ -";
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
    throw Error("invalid topic name \"" + std::string(name.substr(0, 64)) + (name.size() > 64 ? "...\"" : "\"") +
                ": it " + why + " (e.g. orders.eu.created)", ErrorKind::kInvalidName);
  }
}

void validate_pattern(std::string_view pattern) {
  std::string why = check_words(pattern, true);
  if (!why.empty()) {
    throw Error("invalid pattern \"" + std::string(pattern.substr(0, 64)) + "\": it " + why +
                " (e.g. orders.*.created or orders.#)", ErrorKind::kInvalidName);
  }
}

}  // namespace shmbus
