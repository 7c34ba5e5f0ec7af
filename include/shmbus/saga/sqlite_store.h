// The SQLite store of sagas (Debian's libsqlite3-dev): one database file in WAL mode with
//   shmbus_saga(saga, key, state, data, timeouts, finished, version, updated_at)  pk (saga, key)
//   shmbus_saga_inbox(saga, message_id, processed_at)                             pk (saga, message_id)
//   shmbus_saga_outbox(seq, action, topic, envelope, payload, created_at)          seq autoincrement
// Transactions are BEGIN IMMEDIATE: they take the write lock first, so a load and the save
// after it never interleave with another writer (the version check is the second guard).
#pragma once

#include <chrono>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "shmbus/saga/store.h"

namespace shmbus::saga {

struct SqliteConnection;  // one sqlite3 connection and its prepared statements (sqlite_store.cc)

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
  ~SqliteStore() override;

  std::unique_ptr<Transaction> begin() override;
  std::vector<OutgoingMessage> unsent(size_t max) override;
  void remove_sent(const std::vector<int64_t>& seqs) override;
  uint64_t remove_processed(std::chrono::system_clock::time_point before) override;
  uint64_t remove_finished(std::chrono::system_clock::time_point before) override;
  std::optional<StoredInstance> find(std::string_view saga, std::string_view key) override;
  const std::string& path() const noexcept { return path_; }

  // A connection back to the pool, the process's write lock (used by the transactions).
  void give_back(std::unique_ptr<SqliteConnection> connection);
  std::mutex& write_mutex() noexcept { return write_mu_; }
  SqliteStore(std::string path, SqliteOptions options);  // use open()

 private:
  std::unique_ptr<SqliteConnection> take();
  uint64_t remove_older(const char* sql, std::chrono::system_clock::time_point before);

  std::string path_;
  SqliteOptions options_;
  // Writers of this process queue here before BEGIN IMMEDIATE: SQLite's busy handler sleeps
  // (up to 100 ms a try) while another connection writes; a mutex hands over at once.
  std::mutex write_mu_;
  std::mutex mu_;  // guards pool_
  std::vector<std::unique_ptr<SqliteConnection>> pool_;
};

}  // namespace shmbus::saga
