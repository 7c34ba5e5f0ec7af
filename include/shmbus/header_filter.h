// Header filters: RabbitMQ's headers-exchange rules applied to a record's headers.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "shmbus/headers.h"

namespace shmbus {

// How a filter's arguments combine: RabbitMQ's `x-match` binding argument, same four values.
enum class XMatch : uint8_t {
  kAll,       // every compared argument holds (the default, also when `x-match` is not given)
  kAny,       // at least one compared argument holds
  kAllWithX,  // as kAll, and arguments whose key starts with "x-" are compared too
  kAnyWithX,  // as kAny, and arguments whose key starts with "x-" are compared too
};

// "all", "any", "all-with-x", "any-with-x".
const char* to_string(XMatch x_match) noexcept;

// One binding argument. With a value it holds when the message has a header of that key whose
// value is byte-for-byte equal; without one (AMQP's `void`) it holds when the header is present,
// whatever its value. An empty value is a value: `key=` wants the header present and empty.
struct BindingArgument {
  std::string key;
  std::optional<std::string> value;

  bool operator==(const BindingArgument&) const = default;
};

// A binding's header filter (issue "Durable queues": queue bindings), with the rules of
// RabbitMQ's headers exchange:
//   1. `x-match` is all (default), any, all-with-x or any-with-x; any other value is refused.
//   2. Under all/any, arguments whose key starts with "x-" (lower case, as RabbitMQ) are
//      ignored: kept, printed, never compared. So message headers starting with "x-" can only
//      ever matter under *-with-x. `x-match` itself is never compared.
//   3. A compared argument holds as described at BindingArgument; a header present with another
//      value does not hold (under any it simply does not count, under all it fails).
//   4. With nothing to compare, all matches every message and any matches none.
// Message headers are looked up with HeadersView::find (the first of duplicate keys counts); a
// malformed block (!valid()) has no headers. Thread-safety: matches() is const and may be
// called from any number of threads at once.
class HeaderFilter {
 public:
  // x-match=all with nothing to compare: matches every message.
  HeaderFilter() = default;
  // `arguments` as a binding gives them, `x-match` among them (anywhere) or not at all.
  // Throws Error (ErrorKind::kInvalidArgument) on an unknown or missing x-match value, an empty
  // key, a key given twice, or a key or value longer than 65535 bytes (no header can have it).
  explicit HeaderFilter(std::vector<BindingArgument> arguments);
  HeaderFilter(std::initializer_list<BindingArgument> arguments)
      : HeaderFilter(std::vector<BindingArgument>(arguments)) {}

  // The CLI form: arguments separated by commas, each `key=value` or a bare `key` (present),
  // e.g. "x-match=any,type=OrderPlaced@2,region". In keys and values alike, `,` `=` and `\`
  // are written `\,` `\=` `\\` ("note=a\,b" is the value "a,b", "k=x\=y" is "x=y"); a
  // backslash before any other character, and a second bare `=` in one argument, are refused
  // (so a typo is never taken for part of a value). Keys have no space at either end (the usual
  // slip is a space after a comma); values are taken verbatim. "" is the default filter.
  // Throws Error (ErrorKind::kInvalidArgument) saying which argument is wrong and how to fix it.
  static HeaderFilter parse(std::string_view spec);

  // True if `headers` pass the filter. Hot path: no allocation, no throw; O(compared
  // arguments x headers).
  [[nodiscard]] bool matches(const HeadersView& headers) const noexcept;

  XMatch x_match() const noexcept { return x_match_; }
  // The arguments other than `x-match`, in the order given (ignored "x-" ones included).
  const std::vector<BindingArgument>& arguments() const noexcept { return arguments_; }

  // The CLI form, `x-match=` first, then the arguments in order, escaped as parse() reads them:
  // parse(f.to_string()) == f for every filter f.
  std::string to_string() const;

  bool operator==(const HeaderFilter&) const = default;

 private:
  HeaderFilter(std::vector<BindingArgument> arguments, std::string_view what);

  XMatch x_match_ = XMatch::kAll;
  std::vector<BindingArgument> arguments_;
};

}  // namespace shmbus
