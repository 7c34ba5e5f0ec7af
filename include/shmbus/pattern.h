// Topic patterns (AMQP topic-exchange rules): `*` matches one word, `#` zero or more.
#pragma once

#include <string_view>

namespace shmbus {

// True if `topic` matches `pattern` under the rules above; a name without wildcards matches itself.
bool pattern_matches(std::string_view pattern, std::string_view topic) noexcept;
// Throws Error unless `pattern` is a valid pattern (topic-name words, `*` or `#`).
void validate_pattern(std::string_view pattern);
// True if `name` has a `*` or `#` in it: Bus::subscribe() then takes it as a pattern (and
// validate_pattern() refuses a wildcard inside a word, "a.b*").
bool is_pattern(std::string_view name) noexcept;

}  // namespace shmbus
