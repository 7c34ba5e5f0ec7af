// One message through a saga (SagaEndpointImpl::handle), inside one store transaction:
//   1. mark it processed (already there: a duplicate, skipped)
//   2. load its instance by key (none: start one, or the missing policy)
//   3. a timeout no longer pending: stale; find the transition for the instance's state (none,
//      or finished: unexpected)
//   4. apply it; save the instance (version check); append its outgoing messages
//   5. commit; then the relay publishes them
#include "shmbus/saga/saga_endpoint.h"

#include <algorithm>
#include <atomic>

#include "endpoint_check.h"
#include "relay.h"
#include "shmbus/headers.h"
#include "shmbus/saga/errors.h"
#include "shmbus/service/topology.h"

namespace shmbus::saga {
namespace detail {
namespace {

service::EndpointOptions endpoint_options(SagaOptions options) {
  service::EndpointOptions e = options.endpoint;
  if (e.ordering_key.empty()) e.ordering_key = std::string(header_keys::kCorrelationId);
  return e;
}

}  // namespace

class SagaEndpointImpl {
 public:
  SagaEndpointImpl(Bus bus, const Definition& d, std::shared_ptr<Store> s, SagaOptions o)
      : def(d), store(std::move(s)), options(std::move(o)), endpoint(bus, def.name, endpoint_options(options)),
        relay(bus, store, options.endpoint.journal, options.sweep,
              {options.keep_processed, options.keep_finished, options.cleanup_every}),
        check(bus) {
    if (def.routes.empty()) {
      throw Error("saga " + def.name + " has no transitions: declare them on its Machine first",
                  ErrorKind::kInvalidArgument);
    }
    for (const auto& [header, route] : def.routes) {
      const Definition::Route* r = &route;
      endpoint.add_handler(route.type, [this, r](std::string_view payload, service::Context& ctx) { handle(*r, payload, ctx); });
    }
    endpoint.never_retry<SagaNotFound>();
  }

  void handle(const Definition::Route& route, std::string_view payload, service::Context& ctx);

  // relaxed throughout: counters for stats(), read on their own.
  struct Counters {
    std::atomic<uint64_t> started{0}, transitions{0}, finished{0}, duplicates{0}, missing{0}, unexpected{0},
        stale{0}, conflicts{0};
  };
  static void add(std::atomic<uint64_t>& c) noexcept { c.fetch_add(1, std::memory_order_relaxed); }

  const Definition def;
  std::shared_ptr<Store> store;
  const SagaOptions options;
  service::Endpoint endpoint;
  Relay relay;
  EndpointCheck check;
  Counters counters;

 private:
  void missing(const Definition::Route& route, const std::string& key);
  void unexpected(const Definition::Route& route, const std::string& key, const StoredInstance& instance);
};

void SagaEndpointImpl::missing(const Definition::Route& route, const std::string& key) {
  add(counters.missing);
  const std::string what = "no " + def.name + " saga for key \"" + key + "\": " + route.type.type_header() +
                           " does not start one";
  switch (options.missing) {
    case MissingPolicy::kIgnore: return;
    case MissingPolicy::kDeadLetter: throw SagaNotFound(what + " (policy: dead-letter)");
    case MissingPolicy::kRetry: throw SagaNotYetStarted(what + " yet (policy: retry)");
  }
}

void SagaEndpointImpl::unexpected(const Definition::Route& route, const std::string& key, const StoredInstance& in) {
  add(counters.unexpected);
  if (options.ignore_unexpected) return;
  throw SagaNotFound(def.name + " saga \"" + key + "\" " + (in.finished ? "finished" : "is") + " in state " + in.state +
                     ": no transition for " + route.type.type_header() + " (policy: dead-letter unexpected)");
}

void SagaEndpointImpl::handle(const Definition::Route& route, std::string_view payload, service::Context& ctx) {
  const service::Envelope& env = ctx.envelope();
  const std::shared_ptr<const void> message = route.decode(payload);  // DecodeError: rejected
  const std::string key = route.key(message.get(), env);
  if (key.empty()) throw SagaNotFound(route.type.type_header() + " maps to an empty " + def.name + " saga key");
  if (env.message_id.empty()) {
    throw SagaNotFound(route.type.type_header() + " has no message-id: a duplicate of it could not be told apart");
  }

  std::unique_ptr<Transaction> tx = store->begin();
  if (!tx->mark_processed(def.name, env.message_id)) return add(counters.duplicates);  // rolled back
  const std::optional<StoredInstance> found = tx->load(def.name, key);
  StoredInstance instance;
  if (found) {
    instance = *found;
  } else if (route.by_state.contains(kInitial)) {
    instance.state = std::string(kInitial);
  } else {
    return missing(route, key);
  }
  if (route.timeout) {
    auto pending = std::find_if(instance.timeouts.begin(), instance.timeouts.end(),
                                [&](const auto& t) { return t.second == env.message_id; });
    if (pending == instance.timeouts.end()) return add(counters.stale);  // cancelled, replaced, or finished
    instance.timeouts.erase(pending);
  }
  const auto transition = route.by_state.find(instance.state);
  if (instance.finished || transition == route.by_state.end()) return unexpected(route, key, instance);

  Step::Effects effects;
  Step step(env, key, instance.state, def.name, instance, effects);
  transition->second.apply(instance.data, message.get(), step);
  if (!effects.next_state.empty()) instance.state = effects.next_state;
  instance.finished = effects.finished;
  for (const OutgoingMessage& m : effects.messages) {
    constexpr std::string_view kCommands = "commands.";
    if (m.action == OutgoingMessage::Action::kPublish && m.topic.starts_with(kCommands) &&
        m.topic != service::command_topic(def.name)) {
      check.require(std::string_view(m.topic).substr(kCommands.size()));
    }
  }
  try {
    tx->save(def.name, key, instance, found ? found->version : 0);
  } catch (const ConcurrencyConflict&) {
    add(counters.conflicts);
    throw;
  }
  for (OutgoingMessage& m : effects.messages) m.seq = tx->append(m);
  relay.claim(effects.messages);
  try {
    tx->commit();
  } catch (...) {
    relay.abandon(effects.messages);
    throw;
  }
  add(counters.transitions);
  if (!found) add(counters.started);
  if (instance.finished) add(counters.finished);
  relay.publish_now(effects.messages);
}

}  // namespace detail

SagaEndpoint::SagaEndpoint(Bus bus, const Definition& definition, std::shared_ptr<Store> store, SagaOptions options)
    : impl_(std::make_unique<detail::SagaEndpointImpl>(std::move(bus), definition, std::move(store), std::move(options))) {}
SagaEndpoint::SagaEndpoint(SagaEndpoint&&) noexcept = default;
SagaEndpoint& SagaEndpoint::operator=(SagaEndpoint&& other) noexcept {
  if (this != &other) {
    if (impl_) stop();
    impl_ = std::move(other.impl_);
  }
  return *this;
}
SagaEndpoint::~SagaEndpoint() {
  if (impl_) stop();
}

void SagaEndpoint::start() {
  impl_->relay.sweep();  // what an earlier run committed and did not send goes first
  impl_->relay.start();
  try {
    impl_->endpoint.start();
  } catch (...) {
    impl_->relay.stop();
    throw;
  }
}

void SagaEndpoint::stop() {
  impl_->endpoint.stop();
  impl_->relay.stop();
}

const std::string& SagaEndpoint::name() const noexcept { return impl_->def.name; }
service::Endpoint& SagaEndpoint::endpoint() noexcept { return impl_->endpoint; }

SagaStats SagaEndpoint::stats() const noexcept {
  const auto& c = impl_->counters;
  const auto get = [](const std::atomic<uint64_t>& v) { return v.load(std::memory_order_relaxed); };
  return {get(c.started),    get(c.transitions), get(c.finished),  get(c.duplicates), get(c.missing),
          get(c.unexpected), get(c.stale),       get(c.conflicts), impl_->relay.relayed(),
          impl_->relay.removed()};
}

}  // namespace shmbus::saga
