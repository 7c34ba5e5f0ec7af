// What a handler gets beside its message: the envelope it came with, and the verbs to publish,
// send and reply. Messages sent through a Context inherit the flow without user code:
// correlation-id and conversation-id kept, causation-id = the handled message's id, the trace
// continued (same trace-id, a new span). They are sent when the handler returns (NServiceBus's
// batched dispatch): a handler that throws sends nothing, so a retried attempt does not repeat
// what a failed one sent. Thread-safety: the handler's thread only, during the call.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "shmbus/service/codec.h"
#include "shmbus/service/envelope.h"
#include "shmbus/service/message_type.h"

namespace shmbus::service {

namespace detail {
class Clock;
struct Outgoing;
class OutgoingBatch;
using Routes = std::map<std::string, std::string, std::less<>>;
}  // namespace detail

class Context {
 public:
  // The message being handled: its envelope read in place (valid during the call), and copied
  // out (made at the first call, then kept for the call's rest).
  const EnvelopeView& envelope_view() const noexcept { return handled_; }
  const Envelope& envelope() const;
  // Its queue delivery (1 = first; redeliveries after a nack count on) and, within it, the
  // immediate retry (0 = first try).
  uint32_t attempt() const noexcept { return attempt_; }
  uint32_t immediate_retry() const noexcept { return immediate_retry_; }
  // The endpoint handling it.
  const std::string& endpoint() const noexcept { return endpoint_; }
  // When this attempt times out (EndpointOptions::handler_timeout; time_point::max() if it has
  // none): a long handler checks past_deadline() and gives up, as its attempt fails anyway.
  std::chrono::steady_clock::time_point deadline() const noexcept { return deadline_; }
  // On a TestBus these are the virtual clock's times.
  bool past_deadline() const noexcept;

  // An event, to every endpoint that handles it. Refuses (Error) anything but an event.
  template <ServiceMessage T>
  void publish(const T& event) { publish_json(message_type_of<T>(), encode(event)); }
  // A command, to one endpoint (or to the endpoint routed for its type: Endpoint::route).
  // Refuses (Error) anything but a command.
  template <ServiceMessage T>
  void send(const T& command, std::string_view endpoint) { send_json(message_type_of<T>(), encode(command), endpoint); }
  template <ServiceMessage T>
  void send(const T& command) { send_json(message_type_of<T>(), encode(command), {}); }
  // The answer to the request being handled. Refuses (Error) a type that is not a reply, and
  // a handled message that was not a request (no reply-to). Not sent if the requester's
  // deadline (expires-at) passed meanwhile: nobody waits for it.
  template <ServiceMessage T>
  void reply(const T& answer) { reply_json(message_type_of<T>(), encode(answer)); }

  // The non-template core of the verbs above.
  void publish_json(const MessageType& type, std::string json);
  void send_json(const MessageType& type, std::string json, std::string_view endpoint);
  void reply_json(const MessageType& type, std::string json);

  // `endpoint` and `routes` must outlive the Context.
  Context(const Envelope& handled, const std::string& endpoint, const detail::Routes& routes,
          detail::OutgoingBatch& outgoing, uint32_t attempt, uint32_t immediate_retry,
          std::chrono::steady_clock::time_point deadline = std::chrono::steady_clock::time_point::max(),
          const detail::Clock* clock = nullptr) noexcept  // nullptr: the real clocks
      : Context(EnvelopeView::of(handled), &handled, endpoint, routes, outgoing, attempt, immediate_retry, deadline,
                clock) {}
  Context(const Envelope&, std::string&&, const detail::Routes&, detail::OutgoingBatch&, uint32_t, uint32_t,
          std::chrono::steady_clock::time_point = {}, const detail::Clock* = nullptr) = delete;  // must outlive it
  // A delivery read in place; envelope() copies it into `copy` when first asked.
  Context(const EnvelopeView& handled, Envelope& copy, const std::string& endpoint, const detail::Routes& routes,
          detail::OutgoingBatch& outgoing, uint32_t attempt, uint32_t immediate_retry,
          std::chrono::steady_clock::time_point deadline = std::chrono::steady_clock::time_point::max(),
          const detail::Clock* clock = nullptr) noexcept
      : Context(handled, nullptr, endpoint, routes, outgoing, attempt, immediate_retry, deadline, clock) {
    copy_ = &copy;
  }

 private:
  Context(const EnvelopeView& handled, const Envelope* full, const std::string& endpoint, const detail::Routes& routes,
          detail::OutgoingBatch& outgoing, uint32_t attempt, uint32_t immediate_retry,
          std::chrono::steady_clock::time_point deadline, const detail::Clock* clock) noexcept
      : handled_(handled), full_(full), endpoint_(endpoint), routes_(routes), outgoing_(outgoing), attempt_(attempt),
        immediate_retry_(immediate_retry), deadline_(deadline), clock_(clock) {}

  EnvelopeView handled_;
  mutable const Envelope* full_;  // envelope(): the handled Envelope, or *copy_ once made
  Envelope* copy_ = nullptr;
  const std::string& endpoint_;
  const detail::Routes& routes_;
  detail::OutgoingBatch& outgoing_;
  uint32_t attempt_;
  uint32_t immediate_retry_;
  std::chrono::steady_clock::time_point deadline_;
  const detail::Clock* clock_;
};

}  // namespace shmbus::service
