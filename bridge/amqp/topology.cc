// bridge::amqp: exchange, queue and binding declarations.
#include "bridge/amqp/topology.h"

#include <vector>

namespace shmbus::bridge::amqp {
namespace {

amqp_table_entry_t text_entry(const char* key, const std::string& value) {
  amqp_table_entry_t e{};
  e.key = amqp_cstring_bytes(key);
  e.value.kind = AMQP_FIELD_KIND_UTF8;
  e.value.value.bytes = as_bytes(value);
  return e;
}

amqp_table_entry_t long_entry(const char* key, int64_t value) {
  amqp_table_entry_t e{};
  e.key = amqp_cstring_bytes(key);
  e.value.kind = AMQP_FIELD_KIND_I64;
  e.value.value.i64 = value;
  return e;
}

}  // namespace

void declare_exchange(Connection& c, const ExchangeConfig& x) {
  amqp_exchange_declare(c.get(), 1, as_bytes(x.name), as_bytes(x.type), x.declare ? 0 : 1, x.durable ? 1 : 0,
                        x.auto_delete ? 1 : 0, 0, amqp_empty_table);
  c.check(x.declare ? "declare exchange " + x.name + " (" + x.type +
                          "; if it exists with other settings, delete it or match exchange_type/durable)"
                    : "check exchange " + x.name + " (declare = false: it must exist; create it or set declare = true)");
}

void declare_queue(Connection& c, const InboundConfig& in) {
  std::vector<amqp_table_entry_t> args;
  const std::string queue_type = in.queue_type;
  // Classic is the default: no argument, so a queue made by another client without one matches.
  if (queue_type != "classic") args.push_back(text_entry("x-queue-type", queue_type));
  if (in.dead_letter_exchange) args.push_back(text_entry("x-dead-letter-exchange", *in.dead_letter_exchange));
  if (in.dead_letter_routing_key) args.push_back(text_entry("x-dead-letter-routing-key", *in.dead_letter_routing_key));
  if (in.delivery_limit) args.push_back(long_entry("x-delivery-limit", *in.delivery_limit));
  if (in.message_ttl_ms) args.push_back(long_entry("x-message-ttl", *in.message_ttl_ms));
  if (in.max_length) args.push_back(long_entry("x-max-length", *in.max_length));
  const amqp_table_t table{static_cast<int>(args.size()), args.data()};
  amqp_queue_declare(c.get(), 1, as_bytes(in.queue), in.declare ? 0 : 1, 1, 0, 0, in.declare ? table : amqp_empty_table);
  c.check(in.declare ? "declare queue " + in.queue +
                           " (if it exists with other arguments, delete it or make queue_type, dead_letter_exchange, "
                           "delivery_limit, message_ttl_ms and max_length match)"
                     : "check queue " + in.queue + " (declare = false: it must exist; create it or set declare = true)");
}

void bind_queue(Connection& c, const std::string& queue, const BindingConfig& b) {
  std::vector<amqp_table_entry_t> args;
  for (const auto& [k, v] : b.arguments) args.push_back(text_entry(k.c_str(), v));
  const amqp_table_t table{static_cast<int>(args.size()), args.data()};
  amqp_queue_bind(c.get(), 1, as_bytes(queue), as_bytes(b.exchange), as_bytes(b.routing_key), table);
  c.check("bind queue " + queue + " to exchange " + b.exchange + " (does the exchange exist? declare it in [[exchange]])");
}

}  // namespace shmbus::bridge::amqp
