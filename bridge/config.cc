// bridge: reading bridge.toml with toml++. Every table is read through a KeyReader that knows
// which keys it took, so an unknown (misspelt) key is an error naming the known ones instead of a
// setting silently ignored.
#include "bridge/config.h"

#include <toml++/toml.h>

#include <cctype>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include "shmbus/error.h"
#include "shmbus/pattern.h"
#include "shmbus/topic.h"

namespace shmbus::bridge {
namespace {

class KeyReader {
 public:
  KeyReader(const toml::table& table, std::string where, const std::string& file)
      : table_(table), where_(std::move(where)), file_(file) {}

  [[noreturn]] void fail(std::string_view key, const std::string& why) const {
    std::string at = file_;
    if (const toml::node* n = table_.get(key)) at += ":" + std::to_string(n->source().begin.line);
    throw Error(at + ": " + where_ + (key.empty() ? "" : " " + std::string(key)) + ": " + why, ErrorKind::kInvalidArgument);
  }
  bool has(std::string_view key) {
    known_.emplace(key);
    return table_.contains(key);
  }
  std::optional<std::string> text(std::string_view key) {
    if (!has(key)) return std::nullopt;
    auto v = table_[key].value<std::string>();
    if (!v || !table_[key].is_string()) fail(key, "must be a string (in quotes)");
    return v;
  }
  std::string text(std::string_view key, std::string fallback) { return text(key).value_or(std::move(fallback)); }
  std::string required(std::string_view key, std::string_view example) {
    std::optional<std::string> v = text(key);
    if (!v || v->empty()) fail("", "needs " + std::string(key) + " = " + std::string(example));
    return *v;
  }
  std::optional<int64_t> integer(std::string_view key, int64_t min, int64_t max) {
    if (!has(key)) return std::nullopt;
    if (!table_[key].is_integer()) fail(key, "must be a whole number");
    const int64_t v = *table_[key].value<int64_t>();
    if (v < min || v > max) fail(key, "must be from " + std::to_string(min) + " to " + std::to_string(max));
    return v;
  }
  bool boolean(std::string_view key, bool fallback) {
    if (!has(key)) return fallback;
    if (!table_[key].is_boolean()) fail(key, "must be true or false");
    return *table_[key].value<bool>();
  }
  const toml::table* table(std::string_view key) {
    if (!has(key)) return nullptr;
    if (!table_[key].is_table()) fail(key, "must be a table ([" + std::string(key) + "])");
    return table_[key].as_table();
  }
  const toml::array* array(std::string_view key) {
    if (!has(key)) return nullptr;
    if (!table_[key].is_array()) fail(key, "must be an array");
    return table_[key].as_array();
  }
  // Every key of the table was one we asked for.
  void finish() const {
    for (auto&& [k, v] : table_) {
      if (known_.count(std::string(k.str())) != 0) continue;
      std::string list;
      for (const std::string& n : known_) list += (list.empty() ? "" : ", ") + n;
      throw Error(file_ + ":" + std::to_string(v.source().begin.line) + ": " + where_ + ": unknown key " +
                      std::string(k.str()) + " (known here: " + list + ")",
                  ErrorKind::kInvalidArgument);
    }
  }
  const std::string& where() const { return where_; }

 private:
  const toml::table& table_;
  std::string where_;
  const std::string& file_;
  std::set<std::string, std::less<>> known_;
};

const char* env_or_null(const std::string& name) {
  const char* v = std::getenv(name.c_str());
  return v != nullptr && *v != '\0' ? v : nullptr;
}

void read_broker(KeyReader& r, BrokerConfig& b) {
  std::optional<std::string> url = r.text("url");
  std::optional<std::string> url_env = r.text("url_env");
  if (url && url_env) r.fail("url_env", "give url or url_env, not both");
  if (url_env) {
    const char* v = env_or_null(*url_env);
    if (v == nullptr) r.fail("url_env", "the environment variable " + *url_env + " is not set (export it, or give url)");
    url = v;
    b.url_from = "url_env " + *url_env;
  } else if (url) {
    b.url_from = "url";
  } else {
    url = "amqp://guest:guest@127.0.0.1:5672/";
    b.url_from = "default";
  }
  try {
    b.address = parse_broker_url(*url);
  } catch (const Error& e) {
    r.fail(url_env ? "url_env" : "url", e.what());
  }
  if (auto user = r.text("user")) b.address.user = *user;
  if (auto password = r.text("password")) b.address.password = *password;
  if (auto password_env = r.text("password_env")) {
    const char* v = env_or_null(*password_env);
    if (v == nullptr) r.fail("password_env", "the environment variable " + *password_env + " is not set");
    b.address.password = v;
  }
  if (auto vhost = r.text("vhost")) {
    b.address.vhost = vhost->empty() ? "/" : *vhost;
    b.address.vhost_defaulted = vhost->empty();
  }
  b.heartbeat = std::chrono::seconds(r.integer("heartbeat", 0, 3600).value_or(10));
  b.connect_timeout = std::chrono::seconds(r.integer("connect_timeout", 1, 600).value_or(5));
  b.rpc_timeout = std::chrono::seconds(r.integer("rpc_timeout", 1, 600).value_or(10));
  b.reconnect_initial = std::chrono::milliseconds(r.integer("reconnect_initial_ms", 1, 3600000).value_or(100));
  b.reconnect_max = std::chrono::milliseconds(r.integer("reconnect_max_ms", 1, 3600000).value_or(30000));
  if (b.reconnect_max < b.reconnect_initial) r.fail("reconnect_max_ms", "must be at least reconnect_initial_ms");
  static_cast<void>(r.table("tls"));  // read by read_tls(), which knows the file name
}

void read_tls(const toml::table& t, const std::string& file, TlsConfig& tls) {
  KeyReader r(t, "[broker.tls]", file);
  tls.ca_cert = r.text("ca_cert", "");
  tls.cert = r.text("cert", "");
  tls.key = r.text("key", "");
  tls.verify_peer = r.boolean("verify_peer", true);
  tls.verify_hostname = r.boolean("verify_hostname", true);
  if (tls.cert.empty() != tls.key.empty()) r.fail("", "give cert and key together (a client certificate and its key)");
  r.finish();
}

void check_exchange_type(KeyReader& r, const std::string& type) {
  static const std::set<std::string> kTypes{"direct", "fanout", "topic", "headers"};
  if (kTypes.count(type) == 0 && !type.starts_with("x-")) {
    r.fail("exchange_type", "\"" + type + "\" is no exchange type: direct, fanout, topic or headers (or a plugin's x-...)");
  }
}

void check_cursor_name(KeyReader& r, const std::string& name) {
  bool ok = !name.empty() && name.size() <= 64;
  for (char c : name) ok = ok && (std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-');
  if (!ok) r.fail("cursor", "\"" + name + "\" is no cursor name: 1 to 64 of A-Z a-z 0-9 _ -");
}

template <class F>
void as_bus_name(KeyReader& r, std::string_view key, F&& validate) {
  try {
    validate();
  } catch (const Error& e) {
    r.fail(key, e.what());
  }
}

OutboundConfig read_outbound(KeyReader& r, size_t index) {
  OutboundConfig o;
  o.name = r.text("name", "outbound-" + std::to_string(index));
  o.topics = r.required("topics", "\"orders.#\"");
  as_bus_name(r, "topics", [&] { validate_pattern(o.topics); });
  o.exchange.name = r.required("exchange", "\"orders\"");
  o.exchange.type = r.text("exchange_type", "topic");
  check_exchange_type(r, o.exchange.type);
  o.exchange.declare = r.boolean("declare", true);
  o.exchange.durable = r.boolean("durable", true);
  o.queue = r.text("queue", "");
  if (o.queue.empty()) {
    o.cursor = r.required("cursor", "\"to-rabbit\" (or queue = \"...\")");
    check_cursor_name(r, o.cursor);
  } else {
    if (r.has("cursor")) r.fail("cursor", "give cursor or queue, not both: a queue link keeps no cursor");
    as_bus_name(r, "queue", [&] { validate_topic_name(o.queue); });
  }
  o.dead_letter_topic = r.text("dead_letter_topic", (o.queue.empty() ? o.cursor : o.queue) + ".returned");
  as_bus_name(r, "dead_letter_topic", [&] { validate_topic_name(o.dead_letter_topic); });
  o.window = static_cast<uint32_t>(r.integer("window", 1, 65535).value_or(1024));
  const std::string start = r.text("start", "earliest");
  if (start != "earliest" && start != "latest") r.fail("start", "must be \"earliest\" or \"latest\"");
  o.from_earliest = start == "earliest";
  r.finish();
  return o;
}

BindingConfig read_binding(const toml::table& t, const std::string& file, const std::string& where) {
  KeyReader r(t, where, file);
  BindingConfig b;
  b.exchange = r.required("exchange", "\"orders\"");
  b.routing_key = r.text("routing_key", "");
  if (const toml::table* args = r.table("arguments")) {
    for (auto&& [k, v] : *args) {
      if (!v.is_string()) r.fail("arguments", "values must be strings");
      b.arguments.emplace_back(std::string(k.str()), *v.value<std::string>());
    }
  }
  r.finish();
  return b;
}

InboundConfig read_inbound(KeyReader& r, size_t index, const std::string& file) {
  InboundConfig in;
  in.name = r.text("name", "inbound-" + std::to_string(index));
  in.queue = r.required("queue", "\"payments-in\"");
  in.declare = r.boolean("declare", true);
  in.queue_type = r.text("queue_type", "classic");
  if (in.queue_type != "classic" && in.queue_type != "quorum") r.fail("queue_type", "must be \"classic\" or \"quorum\"");
  in.dead_letter_exchange = r.text("dead_letter_exchange");
  in.dead_letter_routing_key = r.text("dead_letter_routing_key");
  in.delivery_limit = r.integer("delivery_limit", 1, INT32_MAX);
  if (in.delivery_limit && in.queue_type != "quorum") r.fail("delivery_limit", "needs queue_type = \"quorum\"");
  in.message_ttl_ms = r.integer("message_ttl_ms", 0, INT32_MAX);
  in.max_length = r.integer("max_length", 0, INT64_MAX);
  if (const toml::array* bindings = r.array("bindings")) {
    size_t i = 0;
    for (const toml::node& n : *bindings) {
      ++i;
      if (!n.is_table()) r.fail("bindings", "must be tables: bindings = [{ exchange = \"orders\", routing_key = \"#\" }]");
      in.bindings.push_back(read_binding(*n.as_table(), file, r.where() + " bindings #" + std::to_string(i)));
    }
  }
  const std::string from = r.text("topic_from", "");
  if (!from.empty() && from != "routing_key") r.fail("topic_from", "must be \"routing_key\" (or give topic instead)");
  in.topic_from_routing_key = !from.empty();
  if (in.topic_from_routing_key) {
    if (r.has("topic")) r.fail("topic", "give topic or topic_from, not both");
  } else {
    in.topic = r.required("topic", "\"payments.received\" (or topic_from = \"routing_key\")");
    as_bus_name(r, "topic", [&] { validate_topic_name(in.topic); });
  }
  in.create_topics = r.boolean("create_topics", true);
  in.reply_topic_capacity = static_cast<uint64_t>(r.integer("reply_topic_bytes", 0, int64_t{1} << 40).value_or(0));
  if (in.reply_topic_capacity != 0 && (in.reply_topic_capacity < 4096 || (in.reply_topic_capacity & (in.reply_topic_capacity - 1)) != 0)) {
    r.fail("reply_topic_bytes", "must be a power of two from 4096 (a memory topic's ring), or 0 for none");
  }
  const std::string kind = r.text("topic_kind", "journal");
  if (kind != "journal" && kind != "memory") r.fail("topic_kind", "must be \"journal\" or \"memory\"");
  in.journal = kind == "journal";
  in.fsync = r.text("fsync", "never");
  as_bus_name(r, "fsync", [&] {
    TopicConfig c;
    parse_fsync(in.fsync, c);
  });
  in.prefetch = static_cast<uint32_t>(r.integer("prefetch", 1, 65535).value_or(256));
  in.dead_letter_topic = r.text("dead_letter_topic", (in.topic_from_routing_key ? in.queue : in.topic) + ".undecodable");
  as_bus_name(r, "dead_letter_topic", [&] { validate_topic_name(in.dead_letter_topic); });
  r.finish();
  return in;
}

template <class F>
void for_each_table(KeyReader& top, std::string_view key, const std::string& file, F&& read) {
  const toml::array* list = top.array(key);
  if (list == nullptr) {
    if (top.has(key)) top.fail(key, "must be written [[" + std::string(key) + "]]");
    return;
  }
  size_t i = 0;
  for (const toml::node& n : *list) {
    ++i;
    if (!n.is_table()) top.fail(key, "must be written [[" + std::string(key) + "]]");
    KeyReader r(*n.as_table(), "[[" + std::string(key) + "]] #" + std::to_string(i), file);
    read(r, i);
  }
}

void check_links(BridgeConfig& c, const std::string& file) {
  if (c.outbound.empty() && c.inbound.empty()) {
    throw Error(file + ": no link: add an [[outbound]] (bus -> RabbitMQ) or an [[inbound]] (RabbitMQ -> bus) table",
                ErrorKind::kInvalidArgument);
  }
  std::set<std::string> names, cursors;
  auto unique_name = [&](const std::string& name) {
    if (!names.insert(name).second) {
      throw Error(file + ": two links are named " + name + ": give each a name of its own", ErrorKind::kInvalidArgument);
    }
  };
  for (const OutboundConfig& o : c.outbound) {
    unique_name(o.name);
    if (!o.cursor.empty() && !cursors.insert(o.cursor).second) {
      throw Error(file + ": two outbound links use the cursor " + o.cursor +
                      ": one cursor is one outbox position, give each link its own",
                  ErrorKind::kInvalidArgument);
    }
    for (const InboundConfig& in : c.inbound) {
      // (Topics from routing keys: x-shmbus-origin keeps what comes in from going out again.)
      if (!in.topic_from_routing_key && pattern_matches(o.topics, in.topic)) {
        c.warnings.push_back("inbound " + in.name + " writes " + in.topic + ", which outbound " + o.name +
                             " forwards to exchange " + o.exchange.name + ": a loop if that routes back to " + in.queue);
      }
    }
  }
  for (const InboundConfig& in : c.inbound) unique_name(in.name);
}

}  // namespace

BridgeConfig parse_config(std::string_view text, const std::string& path) {
  const std::string file = path.empty() ? std::string("bridge config") : path;
  toml::table root;
  try {
    root = toml::parse(text, path);
  } catch (const toml::parse_error& e) {
    throw Error(file + ":" + std::to_string(e.source().begin.line) + ":" + std::to_string(e.source().begin.column) +
                    ": not valid TOML: " + std::string(e.description()),
                ErrorKind::kInvalidArgument);
  }
  BridgeConfig c;
  c.path = path;
  KeyReader top(root, "top level", file);
  if (const toml::table* bus = top.table("bus")) {
    KeyReader r(*bus, "[bus]", file);
    c.bus = r.text("name", "");
    r.finish();
  }
  if (const toml::table* bridge = top.table("bridge")) {
    KeyReader r(*bridge, "[bridge]", file);
    c.state_dir = r.text("state_dir", "");
    c.origin = r.text("origin", "");
    if (c.origin.size() > 255) r.fail("origin", "must be at most 255 bytes");
    r.finish();
  }
  if (const toml::table* broker = top.table("broker")) {
    KeyReader r(*broker, "[broker]", file);
    read_broker(r, c.broker);
    if (const toml::table* tls = (*broker)["tls"].as_table()) read_tls(*tls, file, c.broker.tls);
    r.finish();
  } else {
    top.fail("", "needs a [broker] table with url = \"amqp://user:password@host:5672/\" (or url_env)");
  }
  for_each_table(top, "exchange", file, [&](KeyReader& r, size_t) {
    ExchangeConfig x;
    x.name = r.required("name", "\"orders\"");
    x.type = r.text("type", "topic");
    x.declare = r.boolean("declare", true);
    x.durable = r.boolean("durable", true);
    x.auto_delete = r.boolean("auto_delete", false);
    r.finish();
    c.exchanges.push_back(x);
  });
  for_each_table(top, "outbound", file, [&](KeyReader& r, size_t i) { c.outbound.push_back(read_outbound(r, i)); });
  for_each_table(top, "inbound", file, [&](KeyReader& r, size_t i) { c.inbound.push_back(read_inbound(r, i, file)); });
  top.finish();
  check_links(c, file);
  if (c.state_dir.empty()) {
    const std::filesystem::path p = path.empty() ? std::filesystem::path(".") : std::filesystem::path(path).parent_path();
    c.state_dir = p.empty() ? "." : p.string();
  }
  return c;
}

BridgeConfig load_config(const std::string& path) {
  std::ifstream in(path);
  if (!in) {
    throw Error("bridge config " + path + " cannot be read: " + std::strerror(errno) +
                    " (give the path of a bridge.toml; the README has a full example)",
                errno == ENOENT ? ErrorKind::kNotFound : ErrorKind::kIo);
  }
  std::stringstream text;
  text << in.rdbuf();
  return parse_config(text.str(), path);
}

std::string BridgeConfig::lock_path() const {
  return state_dir + "/" + std::filesystem::path(path.empty() ? "bridge" : path).filename().string() + ".lock";
}

std::string BridgeConfig::status_path() const {
  return state_dir + "/" + std::filesystem::path(path.empty() ? "bridge" : path).filename().string() + ".status.json";
}

}  // namespace shmbus::bridge
