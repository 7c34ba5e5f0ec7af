// The SQLite store of sagas: an outbox::SqliteStore (shmbus/outbox/sqlite.h: one file in WAL
// mode with shmbus_outbox and shmbus_inbox) plus
//   shmbus_saga(saga, key, state, data, timeouts, finished, version, updated_at)  pk (saga, key)
// Transactions are the outbox store's (BEGIN IMMEDIATE): they take the write lock first, so a
// load and the save after it never interleave with another writer (the version check is the
// second guard). A service that has its own tables and Outbox in that file shares it:
//   auto db = outbox::SqliteStore::open("ordering.db");
//   auto sagas = saga::SqliteStore::open(db);          // the same file, the same transactions
#pragma once

#include <chrono>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "shmbus/outbox/sqlite.h"
#include "shmbus/saga/store.h"

namespace shmbus::saga {

struct SqliteConnection;  // an outbox connection and the saga's prepared statements (sqlite_store.cc)

struct SqliteOptions {
  // PRAGMA synchronous in WAL mode: true FULL (a commit is on disk when commit() returns),
  // false NORMAL (a commit survives a process crash; a power loss may lose the last ones).
  bool full_sync = true;
  std::chrono::milliseconds busy_timeout{10000};  // waiting for another connection's write lock
};

class SqliteStore final : public Store {
 public:
  // Opens (creates) the database and its tables. Throws Error if it cannot.
  static std::shared_ptr<SqliteStore> open(std::string path, SqliteOptions options = {});
  // The saga table in an outbox database the service opened (and may use itself).
  static std::shared_ptr<SqliteStore> open(std::shared_ptr<outbox::SqliteStore> database);
  ~SqliteStore() override;

  std::unique_ptr<Transaction> begin() override;
  std::shared_ptr<outbox::Storage> outbox_storage() override { return db_; }
  std::vector<OutgoingMessage> unsent(size_t max) override;
  uint64_t remove_processed(std::chrono::system_clock::time_point before) override;
  uint64_t remove_finished(std::chrono::system_clock::time_point before) override;
  std::optional<StoredInstance> find(std::string_view saga, std::string_view key) override;
  const std::string& path() const noexcept { return db_->path(); }
  const std::shared_ptr<outbox::SqliteStore>& database() const noexcept { return db_; }

  // A connection back to the pool, the process's write lock (used by the transactions).
  void give_back(std::unique_ptr<SqliteConnection> connection);
  std::mutex& write_mutex() noexcept { return write_mu_; }
  explicit SqliteStore(std::shared_ptr<outbox::SqliteStore> database);  // use open()

 private:
  std::unique_ptr<SqliteConnection> take();

  std::shared_ptr<outbox::SqliteStore> db_;
  // Writers of this process queue here before BEGIN IMMEDIATE: SQLite's busy handler sleeps
  // (up to 100 ms a try) while another connection writes; a mutex hands over at once.
  std::mutex write_mu_;
  std::mutex mu_;  // guards pool_
  std::vector<std::unique_ptr<SqliteConnection>> pool_;
};

}  // namespace shmbus::saga
