// Outbox: the writing verbs (kinds checked, envelope made, the row appended to the user's
// transaction) in front of the relay.
#include "shmbus/outbox/outbox.h"

#include <mutex>
#include <set>

#include "relay.h"
#include "shmbus/service/endpoint_lookup.h"
#include "shmbus/service/errors.h"
#include "shmbus/service/topology.h"

namespace shmbus::outbox {
namespace detail {

class OutboxImpl {
 public:
  OutboxImpl(Bus b, std::shared_ptr<Storage> s, OutboxOptions o)
      : bus(std::move(b)), storage(std::move(s)), options(std::move(o)), relay(bus, storage, options) {}

  // Throws RequestError kNoEndpoint unless a queue is bound to commands.<endpoint>; a found one
  // is remembered (as the Client does).
  void require_endpoint(std::string_view endpoint) {
    std::lock_guard<std::mutex> guard(mu);
    if (known_endpoints.contains(endpoint)) return;
    if (!service::endpoint_bound(bus, endpoint)) {
      throw service::RequestError(service::RequestErrc::kNoEndpoint,
                                  "outbox: no endpoint \"" + std::string(endpoint) + "\": no queue is bound to " +
                                      service::command_topic(endpoint) +
                                      ", so nothing would read the command; start the endpoint (Endpoint::start) "
                                      "or fix its name");
    }
    known_endpoints.emplace(endpoint);
  }

  Bus bus;
  std::shared_ptr<Storage> storage;
  OutboxOptions options;
  Relay relay;
  std::mutex mu;  // guards known_endpoints (the verbs may be called from any thread)
  std::set<std::string, std::less<>> known_endpoints;
};

namespace {

void require_kind(const service::MessageType& type, service::MessageKind want, const char* verb) {
  if (type.kind == want) return;
  const std::string t = type.type_header();
  std::string advice;
  switch (type.kind) {
    case service::MessageKind::kEvent:
      advice = "an event goes to every endpoint that handles it: outbox.publish(tx, message) it";
      break;
    case service::MessageKind::kCommand:
      advice = "a command goes to one endpoint: outbox.send(tx, message, endpoint) it";
      break;
    case service::MessageKind::kReply:
      advice = "a reply answers a request that someone waits for now: answer it with Context::reply";
      break;
  }
  throw Error(std::string("outbox.") + verb + " of " + t + ", a " + service::to_string(type.kind) + ": " + advice,
              ErrorKind::kInvalidArgument);
}

// The envelope of the message this thread writes now, in a thread's own Envelope whose strings'
// room is reused: publish and send allocate none of its fields (seven strings) per message.
const service::Envelope& envelope_for(const service::MessageType& type, const service::Context* cause,
                                      const std::string& source) {
  thread_local service::Envelope e;
  const auto now = std::chrono::system_clock::now();
  if (cause) {
    service::Envelope::caused_by(cause->envelope(), type, cause->endpoint(), now, e);  // never `e` itself
  } else {
    service::Envelope::start(type, source, now, e);
  }
  return e;
}

}  // namespace
}  // namespace detail

Outbox::Outbox(Bus bus, std::shared_ptr<Storage> storage, OutboxOptions options) {
  if (!storage) throw Error("outbox: no storage given (SqliteStore::open or PostgresStore::open)", ErrorKind::kInvalidArgument);
  if (options.batch == 0) throw Error("outbox: batch 0 would relay nothing: give it 1 or more", ErrorKind::kInvalidArgument);
  if (options.sweep.count() <= 0) {
    throw Error("outbox: sweep must be positive (it is how late a crash's leftovers go out)", ErrorKind::kInvalidArgument);
  }
  const bool relay = options.relay;
  impl_ = std::make_unique<detail::OutboxImpl>(std::move(bus), std::move(storage), std::move(options));
  if (relay) impl_->relay.start();
}

Outbox::Outbox(Outbox&&) noexcept = default;
Outbox& Outbox::operator=(Outbox&&) noexcept = default;
Outbox::~Outbox() = default;  // the Relay's destructor stops it

std::string Outbox::publish_json(Transaction& tx, const service::MessageType& type, std::string json,
                                 const service::Context* cause) {
  detail::require_kind(type, service::MessageKind::kEvent, "publish");
  const service::Envelope& env = detail::envelope_for(type, cause, impl_->options.source);
  append(tx, service::event_topic(type), env, std::move(json));
  return env.message_id;
}

std::string Outbox::send_json(Transaction& tx, const service::MessageType& type, std::string json,
                              std::string_view endpoint, const service::Context* cause) {
  detail::require_kind(type, service::MessageKind::kCommand, "send");
  validate_queue_name(endpoint);
  impl_->require_endpoint(endpoint);
  const service::Envelope& env = detail::envelope_for(type, cause, impl_->options.source);
  append(tx, service::command_topic(endpoint), env, std::move(json));
  return env.message_id;
}

OutboxMessage encode_message(std::string_view topic, const service::Envelope& envelope, std::string payload) {
  Header array[service::Envelope::kMaxHeaders];
  const std::span<const Header> headers(array, envelope.headers(array));
  const size_t bytes = encoded_headers_size(headers);
  if (bytes == SIZE_MAX) throw Error("outbox: a header of " + envelope.type + " is longer than 65535 bytes", ErrorKind::kInvalidArgument);
  OutboxMessage m;
  m.message_id = envelope.message_id;
  m.topic = std::string(topic);
  m.headers.resize(bytes);
  encode_headers(headers, std::as_writable_bytes(std::span(m.headers.data(), m.headers.size())));
  m.payload = std::move(payload);
  return m;
}

void Outbox::append(Transaction& tx, std::string_view topic, const service::Envelope& envelope, std::string payload) {
  tx.append_outbox(encode_message(topic, envelope, std::move(payload)));
}

void Outbox::start() { impl_->relay.start(); }
void Outbox::stop() { impl_->relay.stop(); }
bool Outbox::flush(std::chrono::milliseconds timeout) { return impl_->relay.flush(timeout); }
OutboxStats Outbox::stats() const noexcept { return impl_->relay.stats(); }
Storage& Outbox::storage() noexcept { return *impl_->storage; }

}  // namespace shmbus::outbox
