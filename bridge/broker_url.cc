// bridge: amqp:// URL parsing (RabbitMQ's URI spec, rabbitmq.com/uri-spec.html), password masked.
#include "bridge/broker_url.h"

#include <charconv>

#include "shmbus/error.h"

namespace shmbus::bridge {
namespace {

[[noreturn]] void bad(const std::string& why) {
  throw Error("broker url: " + why + " (expected amqp://user:password@host:port/vhost, or amqps://...)",
              ErrorKind::kInvalidArgument);
}

int hex(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::string decode(std::string_view s, const char* what) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '%') {
      out += s[i];
      continue;
    }
    if (i + 2 >= s.size()) bad(std::string("a % escape is cut short in the ") + what);
    const int hi = hex(s[i + 1]), lo = hex(s[i + 2]);
    if (hi < 0 || lo < 0) bad(std::string("a % escape is not two hex digits in the ") + what);
    out += static_cast<char>(hi * 16 + lo);
    i += 2;
  }
  return out;
}

}  // namespace

BrokerAddress parse_broker_url(std::string_view url) {
  BrokerAddress a;
  std::string_view rest;
  if (url.starts_with("amqp://")) {
    rest = url.substr(7);
  } else if (url.starts_with("amqps://")) {
    rest = url.substr(8);
    a.tls = true;
    a.port = 5671;
  } else {
    bad("it must start with amqp:// or amqps://");
  }
  const size_t slash = rest.find('/');
  std::string_view authority = rest.substr(0, slash);
  if (slash != std::string_view::npos) {
    std::string_view path = rest.substr(slash + 1);
    if (path.find('/') != std::string_view::npos) bad("the vhost has a '/' in it: write it as %2f");
    if (!path.empty()) {
      a.vhost = decode(path, "vhost");
      a.vhost_defaulted = false;
    }
  }
  const size_t at = authority.rfind('@');
  if (at != std::string_view::npos) {
    std::string_view userinfo = authority.substr(0, at);
    authority = authority.substr(at + 1);
    const size_t colon = userinfo.find(':');
    a.user = decode(userinfo.substr(0, colon), "user");
    a.password = colon == std::string_view::npos ? "" : decode(userinfo.substr(colon + 1), "password");
  }
  std::string_view host = authority;
  if (host.starts_with('[')) {  // [::1]:5672
    const size_t close = host.find(']');
    if (close == std::string_view::npos) bad("an IPv6 host misses its ']'");
    a.host = std::string(host.substr(1, close - 1));
    host = host.substr(close + 1);
    if (!host.empty() && host.front() != ':') bad("after ']' only :port may follow");
    if (!host.empty()) host = host.substr(1);
  } else {
    const size_t colon = host.rfind(':');
    a.host = decode(host.substr(0, colon), "host");
    host = colon == std::string_view::npos ? std::string_view() : host.substr(colon + 1);
  }
  if (a.host.empty()) bad("no host");
  if (!host.empty()) {
    unsigned port = 0;
    auto [end, ec] = std::from_chars(host.data(), host.data() + host.size(), port);
    if (ec != std::errc() || end != host.data() + host.size() || port == 0 || port > 65535) {
      bad("the port \"" + std::string(host) + "\" is not a number from 1 to 65535");
    }
    a.port = static_cast<uint16_t>(port);
  }
  return a;
}

std::string BrokerAddress::masked() const {
  std::string vh;
  for (char c : vhost) {
    if (c == '/' || c == '%' || c == '@') {
      static constexpr char kHex[] = "0123456789abcdef";
      vh += '%';
      vh += kHex[static_cast<unsigned char>(c) >> 4];
      vh += kHex[c & 15];
    } else {
      vh += c;
    }
  }
  return std::string(tls ? "amqps://" : "amqp://") + user + (password.empty() ? "" : ":****") + "@" + host + ":" +
         std::to_string(port) + "/" + (vhost == "/" ? "" : vh);
}

}  // namespace shmbus::bridge
