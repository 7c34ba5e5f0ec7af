// Publishing outgoing messages, and the "is anybody there" check before a command is sent.
#include "sender.h"


#include "shmbus/service/endpoint_lookup.h"
#include "shmbus/service/errors.h"
#include "shmbus/service/topology.h"

namespace shmbus::service::detail {
namespace {

// Reply topics of clients come and go: past this many publishers the cache starts afresh,
// rather than keep the mappings of every client that ever asked.
constexpr size_t kMaxCachedPublishers = 256;

}  // namespace

std::string routed_endpoint(const MessageType& type, std::string_view endpoint, const Routes& routes) {
  if (!endpoint.empty()) return std::string(endpoint);
  auto it = routes.find(type.name);
  if (it != routes.end()) return it->second;
  throw Error("no endpoint for command " + type.type_header() + ": pass one (send(message, \"endpoint\")) or route "
              "the type once (route<" + type.name + ">(\"endpoint\"))", ErrorKind::kInvalidArgument);
}

TopicConfig journal_config(TopicConfig config) {
  config.kind = TopicKind::kJournal;
  return config;
}

Sender::Sender(Bus bus, TopicConfig journal) : bus_(std::move(bus)), journal_(journal_config(std::move(journal))) {}

Publisher& Sender::publisher(const std::string& topic, bool create) {
  auto it = publishers_.find(topic);
  if (it != publishers_.end()) return it->second;
  if (publishers_.size() >= kMaxCachedPublishers) publishers_.clear();
  if (create) bus_.create_topic(topic, journal_);  // false: it exists, fine
  return publishers_.emplace(topic, bus_.publisher(topic)).first->second;
}

void Sender::publish(const Outgoing& out) {
  // A reply topic is the Client's: if it is gone, so is the client, and creating it again would
  // leave a topic nobody reads. (Between this check and the publish it can still go: then the
  // publisher writes into a removed topic, which harms nobody.)
  auto known = publishers_.find(out.topic);  // one lookup of the topic's name on the way of every message
  if (known == publishers_.end() && out.reply && !bus_.topic_exists(out.topic)) return;
  Publisher& pub = known != publishers_.end() ? known->second : publisher(out.topic, !out.reply);
  Header headers[Envelope::kMaxHeaders];
  const size_t n = out.envelope.headers(headers);
  const Result<uint64_t> r = pub.publish(out.payload, std::span<const Header>(headers, n));
  if (!r && r.error() != Errc::kNotDurable) {  // kNotDurable: published, not yet on disk
    throw Error("publishing " + out.envelope.type + " to " + out.topic + " failed: " + pub.explain(r.error()));
  }
}

void Sender::require_endpoint(std::string_view endpoint) {
  if (known_endpoints_.contains(endpoint)) return;
  if (endpoint_bound(bus_, endpoint)) {
    known_endpoints_.emplace(endpoint);
    return;
  }
  const std::string topic = command_topic(endpoint);
  throw RequestError(RequestErrc::kNoEndpoint,
                     "no endpoint \"" + std::string(endpoint) + "\": no queue is bound to " + topic +
                         ", so nothing would read the command; start the endpoint (Endpoint::start) or fix the "
                         "endpoint's name or route");
}

}  // namespace shmbus::service::detail
