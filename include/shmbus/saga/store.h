// Where saga instances live: a database of the outbox layer (shmbus/outbox/storage.h) with one
// more table, shmbus_saga, for the instances. One transaction of the outbox's store holds the
// instance's row, the "message processed" mark of the message that moved it (the inbox's
// shmbus_inbox, endpoint = the saga's name) and the messages the move sends (shmbus_outbox):
// all commit together or not at all, and the outbox's relay delivers them. A crash before the
// commit leaves nothing (the message is redelivered and handled afresh); a crash after it
// leaves the mark (the redelivery is skipped) and the outbox rows (relayed after the restart,
// with the same message-ids). The service's own tables may join that transaction
// (Step::transaction()). SqliteStore and PostgresStore implement it.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "shmbus/outbox/storage.h"
#include "shmbus/service/envelope.h"

namespace shmbus::saga {

// One instance as stored (the `data` is the user's state struct as JSON).
struct StoredInstance {
  std::string state;                              // the machine's state name
  std::string data;                               // JSON of the user's struct
  std::map<std::string, std::string> timeouts;    // pending timeouts: name -> scheduled message-id
  bool finished = false;                          // completed or compensated: no more transitions
  int64_t version = 0;                            // 0: not stored yet; +1 per save
};

// A message a step sends once its transaction commits, or a scheduled message to cancel.
struct OutgoingMessage {
  enum class Action : uint8_t { kPublish = 0, kCancel = 1 };
  Action action = Action::kPublish;
  std::string topic;            // kPublish: the topic; kCancel: the queue holding the scheduled message
  service::Envelope envelope;   // kPublish: its envelope (message-id fixed now); kCancel: message_id to cancel
  std::string payload;
  int64_t seq = 0;              // the outbox row's seq, in what Store::unsent returns (0 before)
};

// One transaction. Rolled back when destroyed uncommitted. Thread-safety: one thread.
class Transaction {
 public:
  virtual ~Transaction() = default;
  // Marks (saga, message_id) processed (shmbus_inbox); false if an earlier delivery committed it.
  virtual bool mark_processed(std::string_view saga, std::string_view message_id) = 0;
  virtual std::optional<StoredInstance> load(std::string_view saga, std::string_view key) = 0;
  // Writes `instance` with version expected + 1, if the stored version is still `expected`
  // (0: not stored yet). Throws ConcurrencyConflict if it is not.
  virtual void save(std::string_view saga, std::string_view key, const StoredInstance& instance, int64_t expected) = 0;
  // Adds a kPublish message to the outbox (shmbus_outbox), relayed once this commits. A kCancel
  // is not stored (the saga endpoint cancels after the commit): Error kInvalidArgument.
  virtual void append(const OutgoingMessage& message) = 0;
  // Throws (the database's reason) if the commit failed: then nothing of it happened.
  virtual void commit() = 0;
  // The same transaction as the outbox layer sees it: Outbox::publish/send, and the service's
  // own statements (outbox::SqliteTransaction::exec, outbox::PostgresTransaction::work()).
  virtual outbox::Transaction& outbox() noexcept = 0;
};

// Thread-safety: any thread; each transaction is its thread's.
class Store {
 public:
  virtual ~Store() = default;
  // Begins a write transaction (SQLite: it holds the database's write lock until it ends).
  virtual std::unique_ptr<Transaction> begin() = 0;
  // The outbox database the saga's messages are relayed from (an outbox::Outbox on it relays).
  virtual std::shared_ptr<outbox::Storage> outbox_storage() = 0;
  // Committed outbox rows of this database not yet relayed (any writer's), lowest seq first.
  virtual std::vector<OutgoingMessage> unsent(size_t max) = 0;
  // Deletes processed marks (of every endpoint of this database's inbox) older than `before`.
  virtual uint64_t remove_processed(std::chrono::system_clock::time_point before) = 0;
  // Deletes finished instances last saved before `before`; how many.
  virtual uint64_t remove_finished(std::chrono::system_clock::time_point before) = 0;
  // An instance as committed (for tools and tests), or nullopt.
  virtual std::optional<StoredInstance> find(std::string_view saga, std::string_view key) = 0;
};

namespace detail {
// What Store::unsent returns for an outbox row.
OutgoingMessage outgoing_of(const outbox::OutboxMessage& row);
// Transaction::append of the stores: a kPublish message's outbox row, appended to `tx`.
void append_to_outbox(outbox::Transaction& tx, const OutgoingMessage& message);
}  // namespace detail

}  // namespace shmbus::saga
