// bridge: the configuration of one bridge process (`shmbus bridge --config bridge.toml`), read
// with toml++ and checked whole before anything connects. docs/bridge.md lists every key.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "bridge/broker_url.h"

namespace shmbus::bridge {

struct TlsConfig {
  std::string ca_cert;  // PEM file of the CA that signed the broker's certificate ("": the system's)
  std::string cert;     // client certificate and key (both or neither)
  std::string key;
  bool verify_peer = true;
  bool verify_hostname = true;
};

struct BrokerConfig {
  BrokerAddress address;
  std::string url_from;  // where the URL came from, for --check: "url" or "url_env SHMBUS_AMQP_URL"
  std::chrono::seconds heartbeat{10};
  std::chrono::seconds connect_timeout{5};
  std::chrono::seconds rpc_timeout{10};  // every synchronous call (login, declare, qos)
  // Reconnect delays: random(0, min(max, initial * 2^attempt)) ("full jitter"); configuration
  // errors (login refused, declaration refused) wait `reconnect_max` each time.
  std::chrono::milliseconds reconnect_initial{100};
  std::chrono::milliseconds reconnect_max{30000};
  TlsConfig tls;
};

struct ExchangeConfig {
  std::string name;
  std::string type = "topic";  // direct | fanout | topic | headers (or a plugin's x-... type)
  bool declare = true;         // false: it must exist (passive declare)
  bool durable = true;
  bool auto_delete = false;
};

struct BindingConfig {
  std::string exchange;
  std::string routing_key;                                    // ignored by fanout and headers
  std::vector<std::pair<std::string, std::string>> arguments;  // headers exchange: x-match, keys
};

// Bus -> RabbitMQ.
struct OutboundConfig {
  std::string name;
  std::string topics;  // a topic name or a pattern of them
  ExchangeConfig exchange;
  std::string cursor;              // named cursor on every journal topic matched: the outbox position
  // Instead of cursors: a bus queue bound to `topics`, declared by the bridge and consumed by the
  // link, each delivery acked once the broker confirmed it. It stands in locally for a remote
  // endpoint (a service's "is a queue bound to commands.<endpoint>" check finds it), and honours
  // expires-at and not-before before anything leaves the host. "" = cursors.
  std::string queue;
  std::string dead_letter_topic;   // returned (unroutable) messages; default "<cursor>.returned"
  uint32_t window = 1024;          // publishes in flight, unconfirmed
  bool from_earliest = true;       // a new cursor starts at the oldest record (the whole outbox)
};

// RabbitMQ -> bus.
struct InboundConfig {
  std::string name;
  std::string queue;
  bool declare = true;           // false: it must exist (passive declare)
  std::string queue_type = "classic";  // classic | quorum
  std::optional<std::string> dead_letter_exchange;
  std::optional<std::string> dead_letter_routing_key;
  std::optional<int64_t> delivery_limit;  // quorum queues
  std::optional<int64_t> message_ttl_ms;
  std::optional<int64_t> max_length;
  std::vector<BindingConfig> bindings;
  std::string topic;                 // local topic the messages land in
  // topic_from = "routing_key": each message lands in the topic its routing key names (the
  // service layer's commands.<endpoint>, events.<Type>, replies.<client>); `topic` is then "".
  bool topic_from_routing_key = false;
  bool create_topics = true;         // a topic missing here is created; false: the message is skipped
  // A message whose reply-to names a topic missing here gets it created as a memory topic of
  // this many bytes first, so that a local responder can answer into it (and an outbound link
  // forwarding replies.# carries the answer back). 0: off.
  uint64_t reply_topic_capacity = 0;
  bool journal = true;               // created as a journal topic if missing (false: memory)
  std::string fsync = "never";       // of a journal topic created here
  uint32_t prefetch = 256;
  std::string dead_letter_topic;     // messages the bus cannot hold; default "<topic>.undecodable"
};

struct BridgeConfig {
  std::string path;       // the file read ("" when parsed from text)
  std::string bus;        // bus name or path ("": the command line's --bus)
  std::string state_dir;  // lock and status files; default: the config's directory
  // Who this bridge is in x-shmbus-origin (loop prevention between buses, docs/bridge.md
  // "Across hosts"); "auto": "<host name>:<bus>". "" (the default): off, every record is sent
  // as it is and every message comes in (a round trip through the broker comes back equal).
  std::string origin;
  BrokerConfig broker;
  std::vector<ExchangeConfig> exchanges;  // [[exchange]]: extra ones, for bindings
  std::vector<OutboundConfig> outbound;
  std::vector<InboundConfig> inbound;
  std::vector<std::string> warnings;  // legal but probably unmeant (a loop back to the broker)

  std::string lock_path() const;    // <state_dir>/<config file name>.lock
  std::string status_path() const;  // <state_dir>/<config file name>.status.json
};

// Reads and checks a config file. Throws Error (kInvalidArgument) naming the file, the line and
// key, and the fix; a missing file is kNotFound. `getenv` reads url_env / password_env.
BridgeConfig load_config(const std::string& path);
BridgeConfig parse_config(std::string_view text, const std::string& path);

// What --check prints: every link, its topology and its defaults, the password masked.
std::string describe_plan(const BridgeConfig& config);

}  // namespace shmbus::bridge
