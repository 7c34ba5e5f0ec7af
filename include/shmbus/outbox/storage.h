// What the outbox and the inbox need from a database, whatever it is (SQLite, PostgreSQL):
// the writing side, a Transaction of the user's that outgoing messages and "processed" marks
// join; the relaying side, a RelayConnection that reads committed messages in order and marks
// them sent. shmbus/outbox/sqlite.h and shmbus/outbox/postgres.h implement both.
//
// The tables (created by the stores when missing; times are Unix milliseconds):
//   shmbus_outbox(seq, message_id, topic, headers, payload, created_at, sent_at)
//     one row per message; seq orders them (never reused: cleanup keeps the newest row; commit
//     order for transactions that do not overlap); sent_at NULL until the relay published it
//     (and marked it)
//   shmbus_inbox(endpoint, message_id, processed_at)   primary key (endpoint, message_id)
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace shmbus::outbox {

namespace detail {
class CommittedSink;
}

// One outgoing message as stored: where it goes and its record, envelope included.
struct OutboxMessage {
  int64_t seq = 0;           // set by the database on insert (0 before)
  std::string message_id;    // the envelope's, fixed when written: a resend is the same message
  std::string topic;         // events.<Name> or commands.<endpoint>
  std::string headers;       // the record's headers block (shmbus/headers.h encoding)
  std::string payload;
};

// The user's database transaction, as the outbox and the inbox see it. Implementations wrap
// the database's own transaction object (the user's statements run on it too).
// Thread-safety: the thread that owns the transaction.
class Transaction {
 public:
  virtual ~Transaction() = default;
  // Inserts `message` into shmbus_outbox in this transaction: it is relayed if and once the
  // transaction commits. Throws the database's exception if the insert fails.
  virtual void append_outbox(const OutboxMessage& message) = 0;
  // The same, taking the message: a store that keeps it for the relay of its process (SQLite)
  // moves it there instead of copying its strings. By default the copying one.
  virtual void append_outbox(OutboxMessage&& message) { append_outbox(static_cast<const OutboxMessage&>(message)); }
  // Inserts (endpoint, message_id) into shmbus_inbox in this transaction. False if it is there
  // already (committed by an earlier delivery): the message was processed; skip it.
  virtual bool mark_processed(std::string_view endpoint, std::string_view message_id) = 0;
};

// The relay's own connection. Thread-safety: one thread (the relay's).
class RelayConnection {
 public:
  virtual ~RelayConnection() = default;
  // At most `max` committed, unsent messages with seq > `after`, lowest seq first.
  virtual std::vector<OutboxMessage> unsent(size_t max, int64_t after) = 0;
  // True if seq order is commit order (SQLite: one writer at a time, seqs never reused): a row
  // committed later always has a higher seq, so a relay may read on from the last seq it
  // published and mark rows sent later, in fewer write transactions. PostgreSQL: false (a
  // sequence number is taken at insert, so a lower one may commit after a higher one).
  virtual bool seq_is_commit_order() const noexcept = 0;
  // Where a relay starting now reads from (seq_is_commit_order() only; else 0): every row at or
  // below this seq is sent.
  virtual int64_t resume_after() = 0;
  // Marks these messages sent (one transaction).
  virtual void mark_sent(std::span<const int64_t> seqs) = 0;
  // Deletes sent messages older than `before` / processed marks older than `before`; how many.
  virtual uint64_t remove_sent(std::chrono::system_clock::time_point before) = 0;
  virtual uint64_t remove_processed(std::chrono::system_clock::time_point before) = 0;
  virtual uint64_t count_unsent() = 0;
  // Waits at most `timeout` for a commit that wrote outbox rows (SQLite: a commit in this
  // process; PostgreSQL: NOTIFY from any); true if one came (or may have).
  virtual bool wait_for_commit(std::chrono::milliseconds timeout) = 0;
  // One relay per database: true while this connection holds the relay lock (taken on the
  // first call that finds it free; held until the connection closes, e.g. its process dies).
  virtual bool lock_relay() = 0;
  // The relay that holds the lock offers this process's commits to publish their rows in the
  // committing thread (`sink`; nullptr withdraws it, waiting for one in progress). SQLite only;
  // elsewhere nothing.
  virtual void attach(detail::CommittedSink* sink) { (void)sink; }
};

// A database the outbox relays from. Thread-safety: any thread.
class Storage {
 public:
  virtual ~Storage() = default;
  virtual std::unique_ptr<RelayConnection> relay_connection() = 0;
  // Wakes this process's relays now (Outbox::stop, flush).
  virtual void wake_relays() = 0;
  // For messages: "sqlite:/path/app.db", "postgresql://host:port/db".
  virtual std::string describe() const = 0;
};

}  // namespace shmbus::outbox
