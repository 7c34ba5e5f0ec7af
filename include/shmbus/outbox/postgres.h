// The PostgreSQL store of the outbox and the inbox (libpqxx, Debian's libpqxx-dev), for
// services that outgrow one SQLite file: the same tables (shmbus/outbox/storage.h) in the
// service's own database, written in the service's own pqxx transactions.
//   auto db = outbox::PostgresStore::open("postgresql://app@127.0.0.1:5432/ordering");
//   pqxx::connection c(db->conninfo());
//   pqxx::work w(c);
//   w.exec0("UPDATE orders SET status = 'placed' WHERE id = 42");
//   outbox::PostgresTransaction tx(w);         // the outbox's view of the same transaction
//   outbox.publish(tx, OrderPlaced{42});
//   w.commit();                                 // NOTIFY, sent at commit, wakes the relay
// Order: rows are relayed by seq, taken from a sequence at insert time. Transactions that do
// not overlap (one committed before the next began, e.g. one writer) are relayed in commit
// order; messages of one transaction in the order written. Two transactions that overlap have
// no order between them (as two publishers on one topic).
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include <pqxx/pqxx>

#include "shmbus/outbox/storage.h"

namespace shmbus::outbox {

namespace detail {
class CommitSignal;
}

// The outbox's and inbox's view of a pqxx transaction: either one of the user's (adapted, it
// stays the user's to commit) or one begun by PostgresConnection::begin() (owned).
class PostgresTransaction final : public Transaction {
 public:
  explicit PostgresTransaction(pqxx::transaction_base& work) noexcept : work_(&work) {}
  PostgresTransaction(PostgresTransaction&&) noexcept = default;
  ~PostgresTransaction() override = default;  // an owned, uncommitted transaction rolls back

  pqxx::transaction_base& work() noexcept { return *work_; }
  void exec(std::string_view sql) { work_->exec0(std::string(sql)); }
  // Owned transactions: commit / roll back (an adapted one is committed by its owner).
  void commit();
  void rollback() noexcept;

  // INSERT into shmbus_outbox and, the first time in this transaction, NOTIFY shmbus_outbox.
  void append_outbox(const OutboxMessage& message) override;
  using Transaction::append_outbox;  // the moving one: copies, as nothing here keeps the row
  // INSERT ... ON CONFLICT DO NOTHING: a concurrent delivery of the same message waits for the
  // first one's transaction, then finds the mark (false) or, if it rolled back, makes it.
  bool mark_processed(std::string_view endpoint, std::string_view message_id) override;

 private:
  friend class PostgresConnection;
  explicit PostgresTransaction(std::unique_ptr<pqxx::work> owned) noexcept
      : owned_(std::move(owned)), work_(owned_.get()) {}

  std::unique_ptr<pqxx::work> owned_;
  pqxx::transaction_base* work_;
  bool notified_ = false;
};

// A connection of the store (for the Inbox's pool, or a service's own use).
class PostgresConnection {
 public:
  explicit PostgresConnection(const std::string& conninfo);
  PostgresTransaction begin();
  pqxx::connection& connection() noexcept { return *conn_; }

 private:
  std::unique_ptr<pqxx::connection> conn_;
};

// A database with the outbox and inbox tables (created if missing). Thread-safety: any thread.
class PostgresStore final : public Storage {
 public:
  // Connects to `conninfo` (a libpq connection string or URL) and creates the tables. Throws
  // Error with the server's reason if it cannot.
  static std::shared_ptr<PostgresStore> open(std::string conninfo);

  PostgresConnection connect() { return PostgresConnection(conninfo_); }
  const std::string& conninfo() const noexcept { return conninfo_; }

  std::unique_ptr<RelayConnection> relay_connection() override;
  void wake_relays() override;
  std::string describe() const override;

  explicit PostgresStore(std::string conninfo);  // use open()

 private:
  std::string conninfo_;
  std::shared_ptr<detail::CommitSignal> wakes_;  // wake_relays(): seen by this process's relays
};

}  // namespace shmbus::outbox
