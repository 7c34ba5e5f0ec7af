// The SQLite store of the outbox and the inbox (Debian's libsqlite3-dev): one database file in
// WAL mode, shared by the service's own tables and shmbus_outbox / shmbus_inbox.
//   auto db = outbox::SqliteStore::open("/var/lib/ordering/app.db");
//   outbox::SqliteConnection conn = db->connect();        // one per thread
//   outbox::SqliteTransaction tx = conn.begin();          // BEGIN IMMEDIATE
//   tx.exec("UPDATE orders SET status = 'placed' WHERE id = 42");   // or sqlite3_* on tx.handle()
//   outbox.publish(tx, OrderPlaced{42});                 // in the same transaction
//   tx.commit();                                          // both or neither; wakes the relay
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "shmbus/outbox/storage.h"

struct sqlite3;
struct sqlite3_stmt;

namespace shmbus::outbox {

namespace detail {
class CommitSignal;
}

// PRAGMA synchronous in WAL mode. kFull: a commit is on disk when commit() returns (an fsync
// of the WAL per commit). kNormal: a commit survives a process crash at once and a power loss
// from the next checkpoint on (SQLite's WAL default; no fsync per commit).
enum class Synchronous : uint8_t { kFull, kNormal };

struct SqliteOptions {
  Synchronous synchronous = Synchronous::kFull;
  // How long a statement waits for another connection's write lock before SQLITE_BUSY.
  std::chrono::milliseconds busy_timeout{10000};
};

class SqliteTransaction;

// One connection (sqlite3*), with the store's settings. Thread-safety: one thread at a time.
class SqliteConnection {
 public:
  SqliteConnection(SqliteConnection&&) noexcept;
  SqliteConnection& operator=(SqliteConnection&&) noexcept;
  ~SqliteConnection();

  // BEGIN IMMEDIATE: takes the database's write lock now (waiting up to busy_timeout), so the
  // transaction never fails later on a lock, and transactions that write the outbox are
  // serialised: seq order is commit order.
  SqliteTransaction begin();
  // Runs SQL text (one or more statements, no results) on this connection. Throws Error.
  void exec(std::string_view sql);
  // The connection's update hook is the outbox's (it watches the outbox table): do not replace it.
  sqlite3* handle() const noexcept { return db_; }

 private:
  friend class SqliteStore;
  friend class SqliteTransaction;
  // Changes to the outbox table made on this connection since begin() other than our inserts:
  // an UPDATE or DELETE of a row (by hand, in SQL) makes the rows kept in memory stale.
  struct OutboxWatch {
    bool inserting = false;  // our own insert is running
    bool rewritten = false;
  };
  SqliteConnection(sqlite3* db, std::shared_ptr<detail::CommitSignal> signal,
                   std::chrono::milliseconds busy_timeout);
  sqlite3_stmt* statement(int which);

  sqlite3* db_ = nullptr;
  std::shared_ptr<detail::CommitSignal> signal_;
  std::chrono::milliseconds busy_timeout_{0};
  sqlite3_stmt* statements_[3] = {nullptr, nullptr, nullptr};  // prepared once: the outbox and inbox inserts, the last seq
  std::unique_ptr<OutboxWatch> watch_;  // on the heap: the hook keeps its address across moves
};

// A transaction begun by SqliteConnection::begin(). Rolled back by the destructor unless
// committed. Thread-safety: its connection's thread.
class SqliteTransaction final : public Transaction {
 public:
  SqliteTransaction(SqliteTransaction&&) noexcept;
  SqliteTransaction& operator=(SqliteTransaction&&) = delete;
  ~SqliteTransaction() override;

  void exec(std::string_view sql);
  sqlite3* handle() const noexcept { return conn_->db_; }
  // COMMIT; then, if it wrote outbox rows, wakes the relays of this process and hands them the
  // rows (so the relay need not read them back). Throws Error if the commit failed (then
  // nothing of it is in the database).
  void commit();
  void rollback() noexcept;
  bool active() const noexcept { return active_; }

  void append_outbox(const OutboxMessage& message) override;
  void append_outbox(OutboxMessage&& message) override;
  bool mark_processed(std::string_view endpoint, std::string_view message_id) override;

 private:
  friend class SqliteConnection;
  explicit SqliteTransaction(SqliteConnection& conn) noexcept : conn_(&conn) {}
  bool written_intact();
  // Inserts the row; true if it is to be handed over (a relay of this process takes rows).
  bool insert_outbox(const OutboxMessage& message);

  SqliteConnection* conn_;
  bool active_ = true;
  bool wrote_outbox_ = false;
  std::vector<OutboxMessage> written_;  // the outbox rows, for this process's relay (if one relays)
};

// A database file with the outbox and inbox tables (created if missing), in WAL mode.
// Thread-safety: any thread; each thread uses connections of its own.
class SqliteStore final : public Storage, public std::enable_shared_from_this<SqliteStore> {
 public:
  // Opens (creates) the database at `path`. Throws Error if it cannot be opened, is not a
  // database, or cannot be put in WAL mode.
  static std::shared_ptr<SqliteStore> open(std::string path, SqliteOptions options = {});

  SqliteConnection connect();
  const std::string& path() const noexcept { return path_; }
  const SqliteOptions& options() const noexcept { return options_; }

  std::unique_ptr<RelayConnection> relay_connection() override;
  void wake_relays() override;
  std::string describe() const override { return "sqlite:" + path_; }

  SqliteStore(std::string path, SqliteOptions options);  // use open()

 private:
  sqlite3* open_handle() const;

  std::string path_;
  SqliteOptions options_;
  std::shared_ptr<detail::CommitSignal> signal_;
};

}  // namespace shmbus::outbox
