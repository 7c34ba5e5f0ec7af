// AMQP topic-exchange matching: `*` is exactly one word, `#` zero or more words.
#include <string_view>

#include "shmbus/pattern.h"

namespace shmbus {
namespace {

// Splits off the first word of `s` (up to '.'); `rest` is what follows the dot (or empty).
std::string_view first_word(std::string_view s, std::string_view& rest, bool& more) noexcept {
  size_t dot = s.find('.');
  more = dot != std::string_view::npos;
  rest = more ? s.substr(dot + 1) : std::string_view();
  return more ? s.substr(0, dot) : s;
}

// Matches word lists; `topic_done` means no topic words are left. `#` tries every split, so the
// cost is O(pattern words x topic words) at worst (patterns and names are at most 200 chars).
bool match(std::string_view pattern, std::string_view topic, bool topic_done) noexcept {
  if (pattern.empty()) return topic_done;
  std::string_view pattern_rest;
  bool pattern_more = false;
  std::string_view p = first_word(pattern, pattern_rest, pattern_more);
  if (p == "#") {
    if (match(pattern_rest, topic, topic_done)) return true;  // # as zero words
    if (topic_done) return false;
    std::string_view topic_rest;
    bool topic_more = false;
    first_word(topic, topic_rest, topic_more);
    return match(pattern, topic_rest, !topic_more);  // # swallows one more word
  }
  if (topic_done) return false;
  std::string_view topic_rest;
  bool topic_more = false;
  std::string_view t = first_word(topic, topic_rest, topic_more);
  if (p != "*" && p != t) return false;
  if (!pattern_more) return !topic_more;
  return match(pattern_rest, topic_rest, !topic_more);
}

}  // namespace

bool pattern_matches(std::string_view pattern, std::string_view topic) noexcept {
  return !topic.empty() && match(pattern, topic, false);
}

}  // namespace shmbus

namespace shmbus {

// Any '*' or '#' makes a pattern: validate_pattern() then refuses one inside a word ("a.b*"),
// so a name with a stray wildcard is an error, never a topic.
bool is_pattern(std::string_view name) noexcept { return name.find_first_of("*#") != std::string_view::npos; }

}  // namespace shmbus
