// The PostgreSQL store of sagas (libpqxx, Debian's libpqxx-dev), for services that outgrow one
// SQLite file: the same three tables as SqliteStore (shmbus/saga/sqlite_store.h), in the
// service's own database. A transaction locks the instance it loads (SELECT ... FOR UPDATE),
// not the whole database: instances are handled in parallel, one instance by one transaction
// at a time; two that start the same instance at once collide on its key (the second gets
// ConcurrencyConflict and is retried, finding the first's instance).
//   auto store = saga::PostgresStore::open("postgresql://app@127.0.0.1:5432/ordering");
#pragma once

#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "shmbus/saga/store.h"

namespace shmbus::saga {

struct PostgresConnection;  // one pqxx connection with its prepared statements (postgres_store.cc)

class PostgresStore final : public Store {
 public:
  // Connects to `conninfo` (a libpq connection string or URL) and creates the tables. Throws
  // Error with the server's reason if it cannot.
  static std::shared_ptr<PostgresStore> open(std::string conninfo);
  ~PostgresStore() override;

  std::unique_ptr<Transaction> begin() override;
  std::vector<OutgoingMessage> unsent(size_t max) override;
  void remove_sent(const std::vector<int64_t>& seqs) override;
  uint64_t remove_processed(std::chrono::system_clock::time_point before) override;
  uint64_t remove_finished(std::chrono::system_clock::time_point before) override;
  std::optional<StoredInstance> find(std::string_view saga, std::string_view key) override;

  void give_back(std::unique_ptr<PostgresConnection> connection);
  explicit PostgresStore(std::string conninfo);  // use open()

 private:
  std::unique_ptr<PostgresConnection> take();

  std::string conninfo_;
  std::mutex mu_;  // guards pool_
  std::vector<std::unique_ptr<PostgresConnection>> pool_;
};

}  // namespace shmbus::saga
