// The verbs of a Client on a TestBus (the TestBus's own, and a Client(TestBus&)'s): the same
// kind checks, routes and envelope as Client on the bus, with the virtual clock's times.
#include <algorithm>

#include "kinds.h"
#include "shmbus/envelope.h"
#include "shmbus/service/topology.h"
#include "test_bus_state.h"

namespace shmbus::service::detail {

std::string MemoryBus::publish_from(const ClientSide& side, const MessageType& type, std::string json) {
  check_publish(type);
  const Envelope env = Envelope::start(type, side.source, clock.wall());
  publish({event_topic(type), env, std::move(json), false, {}});
  run_due();
  return env.message_id;
}

std::string MemoryBus::send_from(const ClientSide& side, const MessageType& type, std::string json,
                                 std::string_view endpoint, std::optional<std::chrono::system_clock::time_point> not_before) {
  check_send(type);
  const std::string to = routed_endpoint(type, endpoint, side.routes);
  Envelope env = Envelope::start(type, side.source, clock.wall());
  if (not_before) env.not_before = envelope::format_time(*not_before);
  require_endpoint(to);
  publish({command_topic(to), env, std::move(json), false, to});
  run_due();
  return env.message_id;
}

std::string MemoryBus::request_from(ClientSide& side, const MessageType& type, std::string json,
                                    std::string_view endpoint, std::chrono::nanoseconds timeout,
                                    const MessageType& reply_type, Client::ReplyCallback done) {
  check_request(type, reply_type);
  const std::string to = routed_endpoint(type, endpoint, side.routes);
  Envelope env = Envelope::start(type, side.source, clock.wall());
  env.reply_to = side.reply_topic;
  env.expires_at =
      envelope::format_time(clock.wall() + std::chrono::duration_cast<std::chrono::system_clock::duration>(timeout));
  const std::string id = env.message_id;  // the request's correlation-id too (Envelope::start)
  side.pending.add(id, {clock.now() + timeout, env.type, reply_type.type_header(), to, timeout, std::move(done)});
  try {
    require_endpoint(to);
    publish({command_topic(to), std::move(env), std::move(json), false, to});
  } catch (...) {
    if (std::optional<PendingRequest> r = side.pending.take(id)) r->done({}, std::current_exception());
    return id;
  }
  run_due();
  return id;
}

uint64_t MemoryBus::cancel_scheduled(std::string_view endpoint, std::string_view message_id) {
  auto it = queues.find(endpoint);
  if (it == queues.end()) {
    throw Error("no queue \"" + std::string(endpoint) + "\" on the TestBus: start its Endpoint first",
                ErrorKind::kNotFound);
  }
  std::vector<QueueEntry>& entries = it->second.entries;
  const TimePoint now = clock.now();
  const auto cancelled = [&](const QueueEntry& e) {
    return e.delayed && e.due > now && e.record->envelope.message_id == message_id;
  };
  const auto n = std::count_if(entries.begin(), entries.end(), cancelled);
  entries.erase(std::remove_if(entries.begin(), entries.end(), cancelled), entries.end());
  return static_cast<uint64_t>(n);
}

}  // namespace shmbus::service::detail
