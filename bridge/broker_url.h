// bridge: where the broker is and who we are there, parsed from an amqp:// or amqps:// URL.
// Parsed here rather than by the AMQP client so that the password can be masked in every message
// and the default-vhost rule below holds whatever client sits behind bridge/amqp/.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace shmbus::bridge {

struct BrokerAddress {
  bool tls = false;          // amqps://
  std::string host = "127.0.0.1";
  uint16_t port = 5672;      // 5671 for amqps:// unless given
  std::string user = "guest";
  std::string password = "guest";
  std::string vhost = "/";   // an empty or absent path is the default vhost "/" (as pika reads it)
  bool vhost_defaulted = true;

  // The URL with the password replaced by "****": the only form ever printed or logged.
  std::string masked() const;
};

// amqp[s]://[user[:password]@]host[:port][/vhost], percent-escapes decoded ("%2f" is "/").
// Throws Error (kInvalidArgument) saying what is wrong, never echoing the password.
BrokerAddress parse_broker_url(std::string_view url);

}  // namespace shmbus::bridge
