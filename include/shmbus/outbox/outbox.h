// The transactional outbox: the messages a service decides to send are written into its own
// database transaction, beside its state change, and a relay thread delivers them to the bus
// once (and only if) that transaction committed.
//   outbox::Outbox outbox(bus, db, {.source = "ordering"});   // starts the relay
//   auto tx = conn.begin();
//   tx.exec("INSERT INTO orders ...");
//   outbox.publish(tx, OrderPlaced{42});        // an event, or send(tx, command, "endpoint")
//   tx.commit();                                // state and messages commit together
// Each message gets its envelope now (message-id fixed at write time: a resend after a crash is
// the same message, which the receiver's inbox recognises). The relay publishes committed rows
// in seq order, at least once, then marks them sent: woken by the commit (SQLite: in this
// process, where a commit whose rows are next publishes them itself while the relay thread is
// idle; PostgreSQL: LISTEN/NOTIFY), and every `sweep` in any case, for what a crash or
// another process left. Sent rows are deleted after `keep_sent`.
// One relay per database relays (a lock: SQLite a flock beside the file, PostgreSQL an advisory
// lock); the relays of other processes on the same database stand by and take over when it dies.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "shmbus/bus.h"
#include "shmbus/outbox/storage.h"
#include "shmbus/service/codec.h"
#include "shmbus/service/context.h"
#include "shmbus/service/envelope.h"
#include "shmbus/service/message_type.h"

namespace shmbus::outbox {

namespace detail {
class OutboxImpl;
}

struct OutboxOptions {
  std::string source = "outbox";     // the `source` header of messages that start a flow
  TopicConfig journal{};              // topics the relay creates (events, commands): journals
  bool relay = true;                  // run a relay thread (false: write only; another relays)
  std::chrono::milliseconds sweep{1000};  // the relay looks at least this often
  size_t batch = 256;                 // rows published per read
  // SQLite: published rows are marked sent in one write transaction at most this often (the
  // relay reads on from the last row it published meanwhile), so the relay's writes do not
  // take turns with the service's own for the database's one write lock after every commit.
  // A crash resends what was published since the last mark. PostgreSQL marks every batch.
  std::chrono::milliseconds mark_every{100};
  // After a commit's wake-up, the relay waits this long before it reads, so that under a high
  // commit rate one read takes the rows of many commits (each read costs the database a read
  // transaction). 0: read at once, the lowest latency. bench/RESULTS.md has both.
  std::chrono::microseconds linger{0};
  std::chrono::milliseconds keep_sent{std::chrono::hours(24)};  // sent rows deleted after this
  // Inbox marks (shmbus_inbox) of every endpoint in this database deleted after this; 0: the
  // relay leaves them (an Inbox cleans up its own). See docs/outbox.md on retention.
  std::chrono::milliseconds keep_processed{0};
  std::chrono::milliseconds cleanup_every{std::chrono::minutes(1)};
};

// What the relay did since start() (this process only).
struct OutboxStats {
  uint64_t relayed = 0;        // messages published (resends after a crash count again)
  uint64_t wakeups = 0;        // waits ended by a commit's notification
  uint64_t sweeps = 0;         // waits ended by the sweep interval
  uint64_t errors = 0;         // database or publish failures (retried after a pause)
  uint64_t removed = 0;        // sent rows (and inbox marks) deleted by cleanup
  bool relaying = false;       // this relay holds the database's relay lock
};

// The row Outbox::append writes for `envelope` and `payload` to `topic` (headers encoded, the
// message-id the envelope's): for layers that write outbox rows on their own transactions (the
// saga stores). Throws Error (kInvalidArgument) for a header longer than 65535 bytes.
OutboxMessage encode_message(std::string_view topic, const service::Envelope& envelope, std::string payload);

class Outbox {
 public:
  // Starts the relay (unless options.relay is false). Throws Error for bad options.
  Outbox(Bus bus, std::shared_ptr<Storage> storage, OutboxOptions options = {});
  Outbox(Outbox&&) noexcept;
  Outbox& operator=(Outbox&&) noexcept;
  ~Outbox();  // stop()

  // An event, in `tx`: to events.<Name> once tx commits. Returns its message-id. Refuses
  // (Error, kInvalidArgument) a T that is not an event. `cause`: the Context of the handler
  // this is sent from (correlation, conversation and trace continued, as Context::publish).
  template <service::ServiceMessage T>
  std::string publish(Transaction& tx, const T& event) {
    return publish_json(tx, service::message_type_of<T>(), service::encode(event), nullptr);
  }
  template <service::ServiceMessage T>
  std::string publish(Transaction& tx, const T& event, const service::Context& cause) {
    return publish_json(tx, service::message_type_of<T>(), service::encode(event), &cause);
  }
  // A command, in `tx`: to commands.<endpoint> once tx commits. Refuses (Error) a T that is
  // not a command, and (service::RequestError kNoEndpoint) an endpoint no queue is bound to.
  template <service::ServiceMessage T>
  std::string send(Transaction& tx, const T& command, std::string_view endpoint) {
    return send_json(tx, service::message_type_of<T>(), service::encode(command), endpoint, nullptr);
  }
  template <service::ServiceMessage T>
  std::string send(Transaction& tx, const T& command, std::string_view endpoint, const service::Context& cause) {
    return send_json(tx, service::message_type_of<T>(), service::encode(command), endpoint, &cause);
  }

  // The non-template core of the verbs above.
  std::string publish_json(Transaction& tx, const service::MessageType& type, std::string json,
                           const service::Context* cause);
  std::string send_json(Transaction& tx, const service::MessageType& type, std::string json,
                        std::string_view endpoint, const service::Context* cause);
  // Any envelope, to any topic (the verbs above end here): for senders that build their own.
  void append(Transaction& tx, std::string_view topic, const service::Envelope& envelope, std::string payload);

  // The relay: start (if not started by the constructor) and stop (finishes the batch it
  // publishes, marks it sent, and ends; idempotent).
  void start();
  void stop();
  // Waits until the relay has published and marked sent every message committed before this
  // call (true), or `timeout` passed (false, e.g. another process holds the relay lock).
  bool flush(std::chrono::milliseconds timeout);
  OutboxStats stats() const noexcept;
  Storage& storage() noexcept;

 private:
  std::unique_ptr<detail::OutboxImpl> impl_;
};

}  // namespace shmbus::outbox
