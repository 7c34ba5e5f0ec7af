// Where saga instances live: a store whose one transaction holds the instance's row, the
// "message processed" mark of the message that moved it, and the messages that move sends.
// All three commit together or not at all: a crash before the commit leaves nothing (the
// message is redelivered and handled afresh), a crash after it leaves the mark (the redelivery
// is skipped) and the outgoing rows (relayed after the restart, with the same message-ids).
// SqliteStore (shmbus/saga/sqlite_store.h) implements it; the interface mirrors the outbox's
// Transaction (append, mark processed) so that one database transaction can serve both.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

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

// A message to send once the transaction commits, or a scheduled message to cancel.
struct OutgoingMessage {
  enum class Action : uint8_t { kPublish = 0, kCancel = 1 };
  Action action = Action::kPublish;
  std::string topic;            // kPublish: the topic; kCancel: the queue holding the scheduled message
  service::Envelope envelope;   // kPublish: its envelope (message-id fixed now); kCancel: message_id to cancel
  std::string payload;
  int64_t seq = 0;              // set by the store (relay order)
};

// One transaction. Rolled back when destroyed uncommitted. Thread-safety: one thread.
class Transaction {
 public:
  virtual ~Transaction() = default;
  // Marks (saga, message_id) processed; false if an earlier delivery committed it already.
  virtual bool mark_processed(std::string_view saga, std::string_view message_id) = 0;
  virtual std::optional<StoredInstance> load(std::string_view saga, std::string_view key) = 0;
  // Writes `instance` with version expected + 1, if the stored version is still `expected`
  // (0: not stored yet). Throws ConcurrencyConflict if it is not.
  virtual void save(std::string_view saga, std::string_view key, const StoredInstance& instance, int64_t expected) = 0;
  // Adds an outgoing message; returns its seq.
  virtual int64_t append(const OutgoingMessage& message) = 0;
  // Throws (the database's reason) if the commit failed: then nothing of it happened.
  virtual void commit() = 0;
};

// Thread-safety: any thread; each transaction is its thread's.
class Store {
 public:
  virtual ~Store() = default;
  // Begins a write transaction (it holds the database's write lock until it ends).
  virtual std::unique_ptr<Transaction> begin() = 0;
  // Committed outgoing messages not yet removed, lowest seq first, at most `max`.
  virtual std::vector<OutgoingMessage> unsent(size_t max) = 0;
  // Removes relayed messages.
  virtual void remove_sent(const std::vector<int64_t>& seqs) = 0;
  // Deletes processed marks older than `before`; how many.
  virtual uint64_t remove_processed(std::chrono::system_clock::time_point before) = 0;
  // Deletes finished instances last saved before `before`; how many.
  virtual uint64_t remove_finished(std::chrono::system_clock::time_point before) = 0;
  // An instance as committed (for tools and tests), or nullopt.
  virtual std::optional<StoredInstance> find(std::string_view saga, std::string_view key) = 0;
};

}  // namespace shmbus::saga
