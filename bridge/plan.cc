// bridge: the plan `shmbus bridge --check` prints: what each link will do, defaults spelt out,
// the password masked.
#include <sstream>

#include "bridge/config.h"

namespace shmbus::bridge {
namespace {

std::string queue_arguments(const InboundConfig& in) {
  std::string args = "x-queue-type=" + in.queue_type;
  if (in.dead_letter_exchange) args += ", x-dead-letter-exchange=" + *in.dead_letter_exchange;
  if (in.dead_letter_routing_key) args += ", x-dead-letter-routing-key=" + *in.dead_letter_routing_key;
  if (in.delivery_limit) args += ", x-delivery-limit=" + std::to_string(*in.delivery_limit);
  if (in.message_ttl_ms) args += ", x-message-ttl=" + std::to_string(*in.message_ttl_ms);
  if (in.max_length) args += ", x-max-length=" + std::to_string(*in.max_length);
  return args;
}

}  // namespace

std::string describe_plan(const BridgeConfig& c) {
  std::ostringstream out;
  const BrokerConfig& b = c.broker;
  out << "config " << (c.path.empty() ? "(text)" : c.path) << ": ok\n";
  out << "broker " << b.address.masked() << " (from " << b.url_from << ")" << (b.address.tls ? ", TLS" : "")
      << ", vhost \"" << b.address.vhost << "\"" << (b.address.vhost_defaulted ? " (default: the URL has no vhost path)" : "")
      << ", heartbeat " << b.heartbeat.count() << " s, reconnect " << b.reconnect_initial.count() << " ms .. "
      << b.reconnect_max.count() << " ms with full jitter\n";
  out << "bus " << (c.bus.empty() ? "(from --bus)" : c.bus) << "; lock " << c.lock_path() << "; status "
      << c.status_path() << "\n";
  if (!c.origin.empty()) {
    out << "origin " << (c.origin == "auto" ? std::string("<host name>:<bus>") : c.origin)
        << ": sent as x-shmbus-origin; records that came in through a bridge are not sent out again, our own "
           "messages coming back are skipped\n";
  }
  for (const ExchangeConfig& x : c.exchanges) {
    out << "exchange " << x.name << ": " << x.type << (x.declare ? ", declared if missing" : ", must exist (passive)")
        << "\n";
  }
  for (const OutboundConfig& o : c.outbound) {
    out << "outbound " << o.name << ": bus topics " << o.topics << " -> exchange " << o.exchange.name << " ("
        << o.exchange.type << (o.exchange.declare ? ", declared if missing" : ", must exist") << ")"
        << ", routing key = topic name, persistent, mandatory, confirms (window " << o.window << ")\n"
        << (o.queue.empty()
                ? "  journal topics: cursor " + o.cursor + " moved past confirmed messages only (a new cursor starts at the " +
                      (o.from_earliest ? "oldest record" : "end") + "); memory topics: from the end, at most once\n"
                : "  through bus queue " + o.queue + " (declared here, bound to " + o.topics +
                      "): each delivery acked once confirmed, released if not\n")
        << "  returned (unroutable) messages -> local topic " << o.dead_letter_topic << "\n";
  }
  for (const InboundConfig& in : c.inbound) {
    out << "inbound " << in.name << ": queue " << in.queue << " ("
        << (in.declare ? "declared if missing, " + queue_arguments(in) : std::string("must exist")) << ")";
    for (const BindingConfig& bd : in.bindings) out << ", bound to " << bd.exchange << " key \"" << bd.routing_key << "\"";
    out << " -> bus topic " << (in.topic_from_routing_key ? std::string("named by each routing key") : in.topic) << " ("
        << (in.journal ? "journal, fsync " + in.fsync : std::string("memory"))
        << (in.create_topics ? " if created here" : "; a topic missing here is not created: the message is skipped")
        << "), prefetch " << in.prefetch << ", ack after the local commit\n";
    if (in.reply_topic_capacity != 0) {
      out << "  reply-to topics missing here are made as memory topics of " << in.reply_topic_capacity << " bytes\n";
    }
    out << "  messages the bus cannot hold -> local topic " << in.dead_letter_topic << "\n";
  }
  for (const std::string& w : c.warnings) out << "warning: " << w << "\n";
  return out.str();
}

}  // namespace shmbus::bridge
