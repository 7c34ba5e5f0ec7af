// The PostgreSQL saga store: a pool of pqxx connections (each with the saga's statements
// prepared), READ COMMITTED transactions that lock the loaded instance's row, and the outbox
// store's view of each (outbox::PostgresTransaction) for its inbox marks and outbox rows.
#include "shmbus/saga/postgres_store.h"

#include <optional>

#include <pqxx/pqxx>

#include <nlohmann/json.hpp>

#include "shmbus/error.h"
#include "shmbus/saga/errors.h"

namespace shmbus::saga {
namespace {

constexpr const char* kSchema = R"sql(
CREATE TABLE IF NOT EXISTS shmbus_saga(
  saga TEXT NOT NULL, key TEXT NOT NULL, state TEXT NOT NULL, data TEXT NOT NULL,
  timeouts TEXT NOT NULL, finished BOOLEAN NOT NULL, version BIGINT NOT NULL, updated_at BIGINT NOT NULL,
  PRIMARY KEY (saga, key));
)sql";

// Prepared once per connection, by these names.
constexpr std::pair<const char*, const char*> kStatements[] = {
    {"saga_load", "SELECT state, data, timeouts, finished, version FROM shmbus_saga WHERE saga = $1 AND key = $2"},
    {"saga_load_locked",
     "SELECT state, data, timeouts, finished, version FROM shmbus_saga WHERE saga = $1 AND key = $2 FOR UPDATE"},
    {"saga_insert", "INSERT INTO shmbus_saga(saga, key, state, data, timeouts, finished, version, updated_at) "
                    "VALUES ($1, $2, $3, $4, $5, $6, 1, $7) ON CONFLICT DO NOTHING"},
    {"saga_update", "UPDATE shmbus_saga SET state = $3, data = $4, timeouts = $5, finished = $6, version = $7 + 1, "
                    "updated_at = $8 WHERE saga = $1 AND key = $2 AND version = $7"},
    {"saga_remove_finished", "DELETE FROM shmbus_saga WHERE finished AND updated_at < $1"},
};

int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

int64_t ms_of(std::chrono::system_clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
}

std::optional<StoredInstance> read_instance(const pqxx::result& r) {
  if (r.empty()) return std::nullopt;
  StoredInstance out;
  out.state = r[0][0].as<std::string>();
  out.data = r[0][1].as<std::string>();
  out.timeouts = nlohmann::json::parse(r[0][2].as<std::string>()).get<std::map<std::string, std::string>>();
  out.finished = r[0][3].as<bool>();
  out.version = r[0][4].as<int64_t>();
  return out;
}

}  // namespace

struct PostgresConnection {
  explicit PostgresConnection(const std::string& conninfo) : c(conninfo) {
    for (const auto& [name, sql] : kStatements) c.prepare(name, sql);
  }
  pqxx::connection c;
};

namespace {

class PostgresTransaction final : public Transaction {
 public:
  PostgresTransaction(PostgresStore& store, std::unique_ptr<PostgresConnection> c)
      : store_(store), conn_(std::move(c)), work_(std::make_unique<pqxx::work>(conn_->c)), outbox_(*work_) {}
  ~PostgresTransaction() override {
    const bool healthy = !active_ || abort();
    work_.reset();
    if (healthy) store_.give_back(std::move(conn_));  // a broken connection is dropped
  }

  bool mark_processed(std::string_view saga, std::string_view message_id) override {
    return outbox_.mark_processed(saga, message_id);
  }

  std::optional<StoredInstance> load(std::string_view saga, std::string_view key) override {
    return read_instance(work_->exec_prepared("saga_load_locked", std::string(saga), std::string(key)));
  }

  void save(std::string_view saga, std::string_view key, const StoredInstance& in, int64_t expected) override {
    const std::string timeouts = nlohmann::json(in.timeouts).dump();
    const pqxx::result r =
        expected == 0 ? work_->exec_prepared("saga_insert", std::string(saga), std::string(key), in.state, in.data,
                                             timeouts, in.finished, now_ms())
                      : work_->exec_prepared("saga_update", std::string(saga), std::string(key), in.state, in.data,
                                             timeouts, in.finished, expected, now_ms());
    if (r.affected_rows() == 1) return;
    throw ConcurrencyConflict("saga " + std::string(saga) + " instance " + std::string(key) +
                              ": saved by another handler since it was loaded (version " + std::to_string(expected) +
                              " expected)");
  }

  void append(const OutgoingMessage& m) override { detail::append_to_outbox(outbox_, m); }

  void commit() override {
    try {
      work_->commit();
    } catch (const pqxx::failure& e) {
      throw Error(std::string("saga store: commit failed: ") + e.what(), ErrorKind::kIo);
    }
    active_ = false;
  }
  outbox::Transaction& outbox() noexcept override { return outbox_; }

 private:
  bool abort() noexcept {
    try {
      work_->abort();
      return true;
    } catch (...) {
      return false;
    }
  }

  PostgresStore& store_;
  std::unique_ptr<PostgresConnection> conn_;
  std::unique_ptr<pqxx::work> work_;
  outbox::PostgresTransaction outbox_;  // adapts work_: its NOTIFY goes out with our commit
  bool active_ = true;
};

// Runs `f(work)` in a transaction of its own on a pooled connection, and commits.
template <class F>
auto with_work(PostgresStore& store, std::unique_ptr<PostgresConnection> c, F f) {
  pqxx::work w(c->c);
  auto out = f(w);
  w.commit();
  store.give_back(std::move(c));
  return out;
}

}  // namespace

std::shared_ptr<PostgresStore> PostgresStore::open(std::string conninfo) {
  return open(outbox::PostgresStore::open(std::move(conninfo)));
}

std::shared_ptr<PostgresStore> PostgresStore::open(std::shared_ptr<outbox::PostgresStore> database) {
  if (!database) throw Error("saga store: no database given (outbox::PostgresStore::open)", ErrorKind::kInvalidArgument);
  auto store = std::make_shared<PostgresStore>(std::move(database));
  try {
    pqxx::connection c(store->db_->conninfo());
    pqxx::work w(c);
    w.exec(kSchema);
    w.commit();
  } catch (const std::exception& e) {
    throw Error("saga store: cannot create the saga table in " + store->db_->describe() + ": " + e.what(),
                ErrorKind::kIo);
  }
  return store;
}

PostgresStore::PostgresStore(std::shared_ptr<outbox::PostgresStore> database) : db_(std::move(database)) {}
PostgresStore::~PostgresStore() = default;

std::unique_ptr<PostgresConnection> PostgresStore::take() {
  {
    std::lock_guard<std::mutex> guard(mu_);
    if (!pool_.empty()) {
      std::unique_ptr<PostgresConnection> c = std::move(pool_.back());
      pool_.pop_back();
      return c;
    }
  }
  try {
    return std::make_unique<PostgresConnection>(db_->conninfo());
  } catch (const std::exception& e) {
    throw Error("saga store: cannot connect to " + db_->describe() + ": " + e.what(), ErrorKind::kIo);
  }
}

void PostgresStore::give_back(std::unique_ptr<PostgresConnection> c) {
  std::lock_guard<std::mutex> guard(mu_);
  pool_.push_back(std::move(c));
}

std::unique_ptr<Transaction> PostgresStore::begin() {
  return std::make_unique<PostgresTransaction>(*this, take());
}

std::vector<OutgoingMessage> PostgresStore::unsent(size_t max) {
  std::vector<OutgoingMessage> out;
  for (const outbox::OutboxMessage& row : db_->relay_connection()->unsent(max, 0)) out.push_back(detail::outgoing_of(row));
  return out;
}

uint64_t PostgresStore::remove_processed(std::chrono::system_clock::time_point before) {
  return db_->relay_connection()->remove_processed(before);
}

uint64_t PostgresStore::remove_finished(std::chrono::system_clock::time_point before) {
  return with_work(*this, take(), [&](pqxx::work& w) {
    return static_cast<uint64_t>(w.exec_prepared("saga_remove_finished", ms_of(before)).affected_rows());
  });
}

std::optional<StoredInstance> PostgresStore::find(std::string_view saga, std::string_view key) {
  return with_work(*this, take(), [&](pqxx::work& w) {
    return read_instance(w.exec_prepared("saga_load", std::string(saga), std::string(key)));
  });
}

}  // namespace shmbus::saga
