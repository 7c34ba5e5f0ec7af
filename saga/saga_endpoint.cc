// One message through a saga (SagaEndpointImpl::handle), inside one store transaction:
//   1. mark it processed (already there: a duplicate, skipped)
//   2. load its instance by key (none: start one, or the missing policy)
//   3. a timeout no longer pending: stale; find the transition for the instance's state (none,
//      or finished: unexpected)
//   4. apply it; save the instance (version check); append its messages to the outbox
//   5. commit (the outbox's relay, woken by it, publishes them); then cancel the timeouts it
//      cancelled (best effort: a missed one comes back no longer pending and is ignored)
#include "shmbus/saga/saga_endpoint.h"

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <map>
#include <mutex>
#include <set>

#include "shmbus/headers.h"
#include "shmbus/outbox/outbox.h"
#include "shmbus/queue.h"
#include "shmbus/saga/errors.h"
#include "shmbus/service/endpoint_lookup.h"
#include "shmbus/service/errors.h"
#include "shmbus/service/topology.h"

namespace shmbus::saga {
namespace detail {
namespace {

service::EndpointOptions endpoint_options(SagaOptions options) {
  service::EndpointOptions e = options.endpoint;
  if (e.ordering_key.empty()) e.ordering_key = std::string(header_keys::kCorrelationId);
  return e;
}

outbox::OutboxOptions outbox_options(const std::string& saga, const SagaOptions& o) {
  outbox::OutboxOptions out;
  out.source = saga;
  out.journal = o.endpoint.journal;
  out.relay = false;  // started by SagaEndpoint::start, if o.relay
  out.sweep = o.sweep;
  out.keep_processed = o.keep_processed;
  out.cleanup_every = o.cleanup_every;
  return out;
}

}  // namespace

class SagaEndpointImpl {
 public:
  SagaEndpointImpl(Bus b, const Definition& d, std::shared_ptr<Store> s, SagaOptions o)
      : def(d), store(std::move(s)), options(std::move(o)), bus(std::move(b)),
        endpoint(bus, def.name, endpoint_options(options)),
        outbox(bus, store ? store->outbox_storage() : nullptr, outbox_options(def.name, options)),
        next_cleanup(std::chrono::steady_clock::now() + options.cleanup_every) {
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
  // Throws RequestError kNoEndpoint unless a queue is bound to commands.<name>; found ones are
  // remembered (as the Client and the Outbox do).
  void require_endpoint(std::string_view name);
  // After the commit: the scheduled messages the step cancelled. Failures are left to the
  // pending-timeout check (a cancelled timeout that still comes is stale).
  void cancel(const std::vector<OutgoingMessage>& messages) noexcept;
  // Retention of finished instances, on a handler thread after a commit (keep_finished > 0).
  void clean_up() noexcept;

  // relaxed throughout: counters for stats(), read on their own.
  struct Counters {
    std::atomic<uint64_t> started{0}, transitions{0}, finished{0}, duplicates{0}, missing{0}, unexpected{0},
        stale{0}, conflicts{0};
  };
  static void add(std::atomic<uint64_t>& c) noexcept { c.fetch_add(1, std::memory_order_relaxed); }

  const Definition def;
  std::shared_ptr<Store> store;
  const SagaOptions options;
  Bus bus;
  service::Endpoint endpoint;
  outbox::Outbox outbox;  // relays the saga's outbox rows (and any other writer's in this database)
  Counters counters;
  std::atomic<uint64_t> removed_finished{0};  // relaxed: a counter for stats()

 private:
  std::mutex mu;  // guards known_endpoints, queues, next_cleanup
  std::set<std::string, std::less<>> known_endpoints;
  std::map<std::string, Queue, std::less<>> queues;
  std::chrono::steady_clock::time_point next_cleanup;

  void missing(const Definition::Route& route, const std::string& key);
  void unexpected(const Definition::Route& route, const std::string& key, const StoredInstance& instance);
};

void SagaEndpointImpl::require_endpoint(std::string_view name) {
  std::lock_guard<std::mutex> guard(mu);
  if (known_endpoints.contains(name)) return;
  if (!service::endpoint_bound(bus, name)) {
    throw service::RequestError(service::RequestErrc::kNoEndpoint,
                                "saga step: no endpoint \"" + std::string(name) + "\": no queue is bound to " +
                                    service::command_topic(name) +
                                    ", so nothing would read the command; start that endpoint first");
  }
  known_endpoints.emplace(name);
}

void SagaEndpointImpl::cancel(const std::vector<OutgoingMessage>& messages) noexcept {
  for (const OutgoingMessage& m : messages) {
    if (m.action != OutgoingMessage::Action::kCancel) continue;
    try {
      std::lock_guard<std::mutex> guard(mu);
      auto it = queues.find(m.topic);
      if (it == queues.end()) it = queues.emplace(m.topic, bus.queue(m.topic)).first;
      (void)it->second.cancel(m.envelope.message_id);  // not there (dispatched, or none): stale later
    } catch (const std::exception& e) {
      std::fprintf(stderr, "shmbus saga %s: cancelling a timeout: %s (it comes back stale and is ignored)\n",
                   def.name.c_str(), e.what());
    }
  }
}

void SagaEndpointImpl::clean_up() noexcept {
  if (options.keep_finished.count() <= 0) return;
  const auto now = std::chrono::steady_clock::now();
  {
    std::lock_guard<std::mutex> guard(mu);
    if (now < next_cleanup) return;
    next_cleanup = now + options.cleanup_every;
  }
  try {
    removed_finished.fetch_add(store->remove_finished(std::chrono::system_clock::now() - options.keep_finished),
                               std::memory_order_relaxed);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "shmbus saga %s: retention: %s (tried again later)\n", def.name.c_str(), e.what());
  }
}

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
  Step step(env, key, instance.state, def.name, instance, effects, &tx->outbox());
  transition->second.apply(instance.data, message.get(), step);
  if (!effects.next_state.empty()) instance.state = effects.next_state;
  instance.finished = effects.finished;
  for (const OutgoingMessage& m : effects.messages) {
    constexpr std::string_view kCommands = "commands.";
    if (m.action == OutgoingMessage::Action::kPublish && m.topic.starts_with(kCommands) &&
        m.topic != service::command_topic(def.name)) {
      require_endpoint(std::string_view(m.topic).substr(kCommands.size()));
    }
  }
  try {
    tx->save(def.name, key, instance, found ? found->version : 0);
  } catch (const ConcurrencyConflict&) {
    add(counters.conflicts);
    throw;
  }
  for (const OutgoingMessage& m : effects.messages) {
    if (m.action == OutgoingMessage::Action::kPublish) tx->append(m);
  }
  tx->commit();  // wakes the outbox's relay
  add(counters.transitions);
  if (!found) add(counters.started);
  if (instance.finished) add(counters.finished);
  cancel(effects.messages);
  clean_up();
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
  // The relay first: what an earlier run committed and did not send goes out first (a relay
  // starts from the oldest unsent row).
  if (impl_->options.relay) impl_->outbox.start();
  try {
    impl_->endpoint.start();
  } catch (...) {
    impl_->outbox.stop();
    throw;
  }
}

void SagaEndpoint::stop() {
  impl_->endpoint.stop();
  // The relay sends what is committed, if it is the database's relay (another process's
  // relay, holding the lock, sends it otherwise), and stops.
  if (impl_->outbox.stats().relaying) (void)impl_->outbox.flush(impl_->options.stop_flush);
  impl_->outbox.stop();
}

const std::string& SagaEndpoint::name() const noexcept { return impl_->def.name; }
service::Endpoint& SagaEndpoint::endpoint() noexcept { return impl_->endpoint; }
outbox::Outbox& SagaEndpoint::outbox() noexcept { return impl_->outbox; }

SagaStats SagaEndpoint::stats() const noexcept {
  const auto& c = impl_->counters;
  const auto get = [](const std::atomic<uint64_t>& v) { return v.load(std::memory_order_relaxed); };
  const outbox::OutboxStats relay = impl_->outbox.stats();
  return {get(c.started),    get(c.transitions), get(c.finished),  get(c.duplicates), get(c.missing),
          get(c.unexpected), get(c.stale),       get(c.conflicts), relay.relayed,
          relay.removed + get(impl_->removed_finished)};
}

}  // namespace shmbus::saga
