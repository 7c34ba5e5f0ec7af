// Outgoing messages: where they go and how they are published (a publisher per topic, the
// topics created as journals when new).
#pragma once

#include <set>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "shmbus/bus.h"
#include "shmbus/service/context.h"
#include "shmbus/service/envelope.h"
#include "transport.h"

namespace shmbus::service::detail {

struct Outgoing {
  std::string topic;
  Envelope envelope;
  std::string payload;
  bool reply = false;     // to a Client's reply topic: never created here
  std::string endpoint;   // a command's endpoint: checked to exist before it is sent
};

// The messages a handler sends, kept from one delivery to the next: clear() keeps the elements
// (their strings' room), add() reuses one, so a handler thread's envelopes allocate nothing once
// warm. Thread-safety: its handler thread's only.
class OutgoingBatch {
 public:
  Outgoing& add() {
    if (size_ == items_.size()) items_.emplace_back();
    return items_[size_++];
  }
  void clear() noexcept { size_ = 0; }
  size_t size() const noexcept { return size_; }
  const Outgoing* begin() const noexcept { return items_.data(); }
  const Outgoing* end() const noexcept { return items_.data() + size_; }
  const Outgoing& operator[](size_t i) const noexcept { return items_[i]; }

 private:
  std::vector<Outgoing> items_;
  size_t size_ = 0;
};

// The endpoint a command without one goes to: its route, or Error saying how to give one.
std::string routed_endpoint(const MessageType& type, std::string_view endpoint, const Routes& routes);

// The bus's Outbox. Thread-safety: one thread at a time.
class Sender final : public Outbox {
 public:
  Sender(Bus bus, TopicConfig journal);

  // Publishes `out`. An event or command topic that does not exist is created (a journal). A
  // reply whose topic is gone is dropped: its Client went away. Throws Error (what
  // Publisher::explain says) if the publish fails.
  void publish(const Outgoing& out) override;
  // Throws RequestError kNoEndpoint unless a queue is bound to commands.<endpoint>.
  void require_endpoint(std::string_view endpoint) override;
  Bus& bus() noexcept { return bus_; }

 private:
  Publisher& publisher(const std::string& topic, bool create);

  Bus bus_;
  TopicConfig journal_;
  std::unordered_map<std::string, Publisher> publishers_;
  std::set<std::string, std::less<>> known_endpoints_;  // found bound once: not looked up again
};

// The journal settings topics of this layer are created with (kind forced to journal).
TopicConfig journal_config(TopicConfig config);

}  // namespace shmbus::service::detail
