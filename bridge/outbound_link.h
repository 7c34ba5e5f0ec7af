// bridge: bus -> broker. One thread, one Sink connection. Reads every topic matching the link's
// pattern (a journal topic through the link's named cursor, a memory topic from its end),
// publishes with a window of unconfirmed messages, and moves each topic's cursor only past
// messages the broker confirmed: the journal is the outbox (docs/bridge.md section 3).
//
//   read + publish (seq n) -> in flight {n, topic, position, message-id} -> ack(n [, multiple])
//     -> the confirmed prefix of the window pops -> per topic, cursor := the position of its
//        oldest record still in flight, or position() if none is.
// A return (unroutable) arrives before its ack: the message goes to the dead-letter topic
// first. A nack, a lost connection or a crash: every subscription is reopened at its cursor and
// what was in flight is sent again (duplicates carry the earlier copy's message-id).
//
// With `queue` set the link reads a bus queue instead (bound to the pattern, declared here):
// each delivery is acked once its publish is confirmed; on a nack, a lost connection or a stop
// the unconfirmed ones are released (uncharged) and come again. A record carrying
// x-shmbus-origin came in through a bridge and is not sent out again (bridge/origin.h).
#pragma once

#include <atomic>
#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "bridge/backoff.h"
#include "bridge/config.h"
#include "bridge/in_flight.h"
#include "bridge/link_status.h"
#include "bridge/log.h"
#include "bridge/transport.h"
#include "shmbus/bus.h"
#include "shmbus/queue.h"

namespace shmbus::bridge {

class OutboundLink final : private SinkEvents {
 public:
  // `excluded`: topics never forwarded although they match (the dead-letter topics).
  OutboundLink(Bus& bus, const BridgeConfig& config, const OutboundConfig& link, std::unique_ptr<Sink> sink,
               LinkStatus& status, std::vector<std::string> excluded);
  ~OutboundLink();
  // Until `stop`; then waits (bounded) for the confirms of what is in flight and returns.
  void run(const std::atomic<bool>& stop);

 private:
  struct Reader;
  struct Entry {
    Reader* reader = nullptr;
    uint64_t position = 0;
    std::string message_id;  // its capacity is kept across uses of the slot
    shmbus::Delivery delivery;  // queue links: settled once confirmed (or released)
    bool confirmed = false;
    bool returned = false;
  };

  bool connect(const std::atomic<bool>& stop);
  void session(const std::atomic<bool>& stop);
  void drain(std::chrono::milliseconds limit);
  void teardown();
  void refresh_topics();
  void open_reader(Reader& r, bool appeared);
  void open_queue();
  size_t publish_round();
  size_t publish_queue_round();
  void settle(Entry& e, bool confirmed) noexcept;
  PollAction send(Reader& r, const Message& m) noexcept;
  void pop_confirmed() noexcept;
  void update_lag();
  void dead_letter(const ReturnedMessage& message, const Entry* entry);
  void fail(const std::string& why);
  void confirmed(uint64_t seq, bool multiple) noexcept override;
  void rejected(uint64_t seq, bool multiple) noexcept override;
  void returned(const ReturnedMessage& message) noexcept override;

  Bus& bus_;
  const BridgeConfig& config_;
  const OutboundConfig& link_;
  std::unique_ptr<Sink> sink_;
  LinkStatus& status_;
  std::vector<std::string> excluded_;
  Backoff backoff_;
  Log log_;
  std::vector<std::unique_ptr<Reader>> readers_;
  std::vector<Reader*> touched_;
  Fifo<Entry> window_;
  uint64_t first_seq_ = 1;  // the seq of window_[0]
  size_t round_robin_ = 0;
  bool failed_ = false;
  bool listed_ = false;      // the topics were listed once: a memory topic found later is new
  Queue queue_;              // queue links
  Consumer consumer_;
  std::string queue_id_buffer_;
  std::string dead_letter_buffer_;
  Publisher dead_letters_;
};

}  // namespace shmbus::bridge
