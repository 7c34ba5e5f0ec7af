// Header filters with RabbitMQ's headers-exchange rules. Each rule names the RabbitMQ behaviour
// it follows; the sources are rabbitmq-server deps/rabbit/src/rabbit_exchange_type_headers.erl
// (route/3, match/2, match_x/2, match_all/3, match_any/3, validate_binding/2; 3.10 added the
// *-with-x modes) and its tests: deps/rabbit/test/exchanges_SUITE.erl (headers_exchange,
// headers_exchange_key_presence_only), dead_lettering_SUITE.erl
// (dead_letter_headers_first_death_route), and rabbitmq-java-client's functional tests
// Routing.java (headersRouting, headersWithXRouting) and HeadersExchangeValidation.java.
// tests/routing/header_filter_test.cc replays those cases.
#include "shmbus/header_filter.h"

#include <algorithm>
#include <cstddef>
#include <limits>
#include <string>
#include <unordered_map>
#include <utility>

#include "shmbus/error.h"

namespace shmbus {
namespace routing {
namespace {

constexpr std::string_view kXMatchKey = "x-match";
constexpr size_t kMaxField = std::numeric_limits<uint16_t>::max();  // headers.h: u16 lengths

[[noreturn]] void fail(std::string_view what, const std::string& problem) {
  throw Error(std::string(what) + ": " + problem, ErrorKind::kInvalidArgument);
}

// `s` in quotes for an error message, cut short if long (a key may be 64 KiB).
std::string quoted(std::string_view s) {
  constexpr size_t kShown = 60;
  return "'" + std::string(s.substr(0, kShown)) + (s.size() > kShown ? "...'" : "'");
}

// Rule 1 (validate_binding/2): exactly these four values. RabbitMQ's route/3 would treat any
// other value as `all` ("legacy; we didn't validate"), but validate_binding/2 refuses it when the
// binding is made ("Invalid x-match field value"), so no binding ever holds one; we refuse it too.
std::optional<XMatch> x_match_of(std::string_view value) noexcept {
  if (value == "all") return XMatch::kAll;
  if (value == "any") return XMatch::kAny;
  if (value == "all-with-x") return XMatch::kAllWithX;
  if (value == "any-with-x") return XMatch::kAnyWithX;
  return std::nullopt;
}

void check_sizes(const BindingArgument& a, size_t number, std::string_view what) {
  const size_t longest = std::max(a.key.size(), a.value ? a.value->size() : 0);
  if (longest > kMaxField) {
    fail(what, "argument " + std::to_string(number) + " (key " + quoted(a.key) + ") has a key or value of " +
                   std::to_string(longest) + " bytes, but a header's key and value have at most 65535: " +
                   "no message could match it; shorten it");
  }
}

// The x-match argument. Rule 1: a bare `x-match` is AMQP's void, which validate_binding/2
// refuses ("Invalid x-match field type ... expected longstr"); so is an unknown value.
XMatch read_x_match(const BindingArgument& a, std::string_view what) {
  if (!a.value) fail(what, "x-match has no value: write x-match=all, any, all-with-x or any-with-x");
  std::optional<XMatch> mode = x_match_of(*a.value);
  if (!mode) {
    fail(what, "unknown x-match value " + quoted(*a.value) +
                   ": use all (the default), any, all-with-x or any-with-x, as RabbitMQ does");
  }
  return *mode;
}

// Rule 2 (match/2 skips `<<"x-", _/binary>>` keys; match_x/2 skips only `x-match`): the prefix
// is compared as bytes, so "X-Tenant" is an ordinary key.
bool is_x_key(std::string_view key) noexcept { return key.starts_with("x-"); }

// Rule 3 (match/2, match_x/2): a void argument asks `maps:is_key`, a valued one asks that the
// header's value be `=:=` the argument's. AMQP compares type and value; our header values are all
// strings, so equality is byte equality (no case folding, no trimming, "1" is not "01").
bool holds(const BindingArgument& a, const HeadersView& headers) noexcept {
  std::optional<std::string_view> found = headers.find(a.key);
  if (!found) return false;
  return !a.value || *found == *a.value;
}

void append_escaped(std::string& out, std::string_view s) {
  for (char c : s) {
    if (c == ',' || c == '=' || c == '\\') out += '\\';
    out += c;
  }
}

// One argument of a spec, from `pos` up to the next bare comma or the end, unescaped. On return
// `pos` is past that comma, and `more` says whether there was one (another argument follows).
BindingArgument read_argument(std::string_view spec, size_t& pos, bool& more, size_t number, std::string_view what) {
  const std::string n = std::to_string(number);
  BindingArgument a;
  std::string* into = &a.key;
  const size_t start = pos;
  more = false;
  for (; pos < spec.size(); ++pos) {
    const char c = spec[pos];
    if (c == ',') {
      more = true;
      break;
    }
    if (c == '=') {
      if (a.value) {
        fail(what, "argument " + n + " has a second '=': write it as \\= if it is part of the value");
      }
      into = &a.value.emplace();
      continue;
    }
    if (c == '\\') {
      if (pos + 1 == spec.size()) fail(what, "the spec ends in a lone backslash: write \\\\ for a backslash");
      const char escaped = spec[++pos];
      if (escaped != ',' && escaped != '=' && escaped != '\\') {
        fail(what, "argument " + n + " has '\\" + std::string(1, escaped) +
                       "', which is no escape: a backslash escapes only ',', '=' and '\\' (write \\\\ for a backslash)");
      }
      *into += escaped;
      continue;
    }
    *into += c;
  }
  if (pos == start) {
    fail(what, "argument " + n + " is empty: remove the extra comma (arguments are key=value or key, comma-separated)");
  }
  if (more) ++pos;
  if (!a.key.empty() && (a.key.front() == ' ' || a.key.back() == ' ')) {
    fail(what, "the key of argument " + n + ", " + quoted(a.key) +
                   ", has a space at one end: write the arguments without spaces around ',' and '='");
  }
  return a;
}

}  // namespace
}  // namespace routing

const char* to_string(XMatch x_match) noexcept {
  switch (x_match) {
    case XMatch::kAll: return "all";
    case XMatch::kAny: return "any";
    case XMatch::kAllWithX: return "all-with-x";
    case XMatch::kAnyWithX: return "any-with-x";
  }
  return "all";
}

HeaderFilter::HeaderFilter(std::vector<BindingArgument> arguments) : HeaderFilter(std::move(arguments), "header filter") {}

HeaderFilter::HeaderFilter(std::vector<BindingArgument> arguments, std::string_view what) {
  std::unordered_map<std::string_view, size_t> numbers;  // key -> 1-based argument number
  for (size_t i = 0; i < arguments.size(); ++i) {
    const BindingArgument& a = arguments[i];
    const size_t number = i + 1;
    if (a.key.empty()) {
      routing::fail(what, "argument " + std::to_string(number) +
                              " has an empty key: write key=value, or a bare key to ask only that the header be present");
    }
    routing::check_sizes(a, number, what);
    auto [it, inserted] = numbers.emplace(a.key, number);
    if (!inserted) {
      routing::fail(what, "key " + routing::quoted(a.key) + " is given twice (arguments " + std::to_string(it->second) +
                              " and " + std::to_string(number) + "): a header has one value, so keep one argument per key");
    }
    if (a.key == routing::kXMatchKey) x_match_ = routing::read_x_match(a, what);
  }
  // Rule 2: `x-match` is never compared (match/2 and match_x/2 both skip it), so it is kept
  // as x_match_ alone.
  arguments_.reserve(arguments.size());
  for (BindingArgument& a : arguments) {
    if (a.key != routing::kXMatchKey) arguments_.push_back(std::move(a));
  }
}

HeaderFilter HeaderFilter::parse(std::string_view spec) {
  const std::string what = "header filter " + routing::quoted(spec);
  std::vector<BindingArgument> arguments;
  bool more = !spec.empty();
  for (size_t pos = 0; more;) {
    arguments.push_back(routing::read_argument(spec, pos, more, arguments.size() + 1, what));
  }
  return HeaderFilter(std::move(arguments), what);
}

bool HeaderFilter::matches(const HeadersView& headers) const noexcept {
  const bool any = x_match_ == XMatch::kAny || x_match_ == XMatch::kAnyWithX;
  const bool with_x = x_match_ == XMatch::kAllWithX || x_match_ == XMatch::kAnyWithX;
  for (const BindingArgument& a : arguments_) {
    if (!with_x && routing::is_x_key(a.key)) continue;  // rule 2
    const bool holds = routing::holds(a, headers);      // rule 3
    if (any && holds) return true;                      // match_any/3: the first true decides
    if (!any && !holds) return false;                   // match_all/3: the first false decides
  }
  // Rule 4: match_all([], ...) is true and match_any([], ...) false, so with nothing compared
  // (no arguments, or only ignored x- ones) all matches every message and any matches none.
  return !any;
}

std::string HeaderFilter::to_string() const {
  std::string out = "x-match=";
  out += shmbus::to_string(x_match_);
  for (const BindingArgument& a : arguments_) {
    out += ',';
    routing::append_escaped(out, a.key);
    if (a.value) {
      out += '=';
      routing::append_escaped(out, *a.value);
    }
  }
  return out;
}

}  // namespace shmbus
