// A handler's verbs: each outgoing message continues the handled one's flow, and waits in the
// batch until the handler returns (pipeline.cc sends it).
#include "shmbus/service/context.h"

#include "clock.h"
#include "kinds.h"
#include "sender.h"
#include "shmbus/service/topology.h"

namespace shmbus::service {
namespace {

const detail::Clock& clock_or_real(const detail::Clock* clock) { return clock ? *clock : detail::real_clock(); }

}  // namespace

const Envelope& Context::envelope() const {
  if (!full_) {
    handled_.copy_to(*copy_);
    full_ = copy_;
  }
  return *full_;
}

bool Context::past_deadline() const noexcept { return clock_or_real(clock_).now() > deadline_; }

// Each into the batch's next element, over what it held last time (its strings' room reused).
void Context::publish_json(const MessageType& type, std::string json) {
  detail::check_publish(type);
  detail::Outgoing& out = outgoing_.add();
  out.topic.assign(event_topic(type));
  Envelope::caused_by(handled_, type, endpoint_, clock_or_real(clock_).wall(), out.envelope);
  out.payload = std::move(json);
  out.reply = false;
  out.endpoint.clear();
}

void Context::send_json(const MessageType& type, std::string json, std::string_view endpoint) {
  detail::check_send(type);
  std::string to = detail::routed_endpoint(type, endpoint, routes_);
  detail::Outgoing& out = outgoing_.add();
  command_topic(to, out.topic);
  Envelope::caused_by(handled_, type, endpoint_, clock_or_real(clock_).wall(), out.envelope);
  out.payload = std::move(json);
  out.reply = false;
  out.endpoint.assign(to);
}

void Context::reply_json(const MessageType& type, std::string json) {
  detail::check_reply(type, handled_);
  detail::Outgoing& out = outgoing_.add();
  out.topic.assign(handled_.reply_to);
  Envelope::caused_by(handled_, type, endpoint_, clock_or_real(clock_).wall(), out.envelope);
  out.payload = std::move(json);
  out.reply = true;
  out.endpoint.clear();
}

}  // namespace shmbus::service
