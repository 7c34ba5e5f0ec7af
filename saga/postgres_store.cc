// The PostgreSQL saga store: a pool of pqxx connections (each with the statements prepared),
// READ COMMITTED transactions that lock the loaded instance's row.
#include "shmbus/saga/postgres_store.h"

#include <pqxx/pqxx>

#include <nlohmann/json.hpp>

#include "envelope_json.h"
#include "shmbus/error.h"
#include "shmbus/saga/errors.h"

namespace shmbus::saga {
namespace {

constexpr const char* kSchema = R"sql(
CREATE TABLE IF NOT EXISTS shmbus_saga(
  saga TEXT NOT NULL, key TEXT NOT NULL, state TEXT NOT NULL, data TEXT NOT NULL,
  timeouts TEXT NOT NULL, finished BOOLEAN NOT NULL, version BIGINT NOT NULL, updated_at BIGINT NOT NULL,
  PRIMARY KEY (saga, key));
CREATE TABLE IF NOT EXISTS shmbus_saga_inbox(
  saga TEXT NOT NULL, message_id TEXT NOT NULL, processed_at BIGINT NOT NULL,
  PRIMARY KEY (saga, message_id));
CREATE TABLE IF NOT EXISTS shmbus_saga_outbox(
  seq BIGSERIAL PRIMARY KEY, action INTEGER NOT NULL, topic TEXT NOT NULL,
  envelope TEXT NOT NULL, payload BYTEA NOT NULL, created_at BIGINT NOT NULL);
)sql";

// Prepared once per connection, by these names.
constexpr std::pair<const char*, const char*> kStatements[] = {
    {"saga_mark", "INSERT INTO shmbus_saga_inbox(saga, message_id, processed_at) VALUES ($1, $2, $3) "
                  "ON CONFLICT DO NOTHING"},
    {"saga_load", "SELECT state, data, timeouts, finished, version FROM shmbus_saga WHERE saga = $1 AND key = $2"},
    {"saga_load_locked",
     "SELECT state, data, timeouts, finished, version FROM shmbus_saga WHERE saga = $1 AND key = $2 FOR UPDATE"},
    {"saga_insert", "INSERT INTO shmbus_saga(saga, key, state, data, timeouts, finished, version, updated_at) "
                    "VALUES ($1, $2, $3, $4, $5, $6, 1, $7) ON CONFLICT DO NOTHING"},
    {"saga_update", "UPDATE shmbus_saga SET state = $3, data = $4, timeouts = $5, finished = $6, version = $7 + 1, "
                    "updated_at = $8 WHERE saga = $1 AND key = $2 AND version = $7"},
    {"saga_append", "INSERT INTO shmbus_saga_outbox(action, topic, envelope, payload, created_at) "
                    "VALUES ($1, $2, $3, $4, $5) RETURNING seq"},
    {"saga_unsent", "SELECT seq, action, topic, envelope, payload FROM shmbus_saga_outbox ORDER BY seq LIMIT $1"},
    {"saga_remove", "DELETE FROM shmbus_saga_outbox WHERE seq = $1"},
    {"saga_remove_processed", "DELETE FROM shmbus_saga_inbox WHERE processed_at < $1"},
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
      : store_(store), conn_(std::move(c)), work_(std::make_unique<pqxx::work>(conn_->c)) {}
  ~PostgresTransaction() override {
    const bool healthy = !active_ || abort();
    work_.reset();
    if (healthy) store_.give_back(std::move(conn_));  // a broken connection is dropped
  }

  bool mark_processed(std::string_view saga, std::string_view message_id) override {
    return work_->exec_prepared("saga_mark", std::string(saga), std::string(message_id), now_ms()).affected_rows() == 1;
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

  int64_t append(const OutgoingMessage& m) override {
    const pqxx::result r =
        work_->exec_prepared("saga_append", static_cast<int>(m.action), m.topic, detail::envelope_to_json(m.envelope),
                             pqxx::binarystring(m.payload.data(), m.payload.size()), now_ms());
    return r[0][0].as<int64_t>();
  }

  void commit() override {
    try {
      work_->commit();
    } catch (const pqxx::failure& e) {
      throw Error(std::string("saga store: commit failed: ") + e.what(), ErrorKind::kIo);
    }
    active_ = false;
  }

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
  auto store = std::make_shared<PostgresStore>(std::move(conninfo));
  try {
    pqxx::connection c(store->conninfo_);
    pqxx::work w(c);
    w.exec(kSchema);
    w.commit();
  } catch (const std::exception& e) {
    throw Error("saga store: cannot open PostgreSQL " + store->conninfo_ + ": " + e.what(), ErrorKind::kIo);
  }
  return store;
}

PostgresStore::PostgresStore(std::string conninfo) : conninfo_(std::move(conninfo)) {}
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
    return std::make_unique<PostgresConnection>(conninfo_);
  } catch (const std::exception& e) {
    throw Error("saga store: cannot connect to " + conninfo_ + ": " + e.what(), ErrorKind::kIo);
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
  return with_work(*this, take(), [&](pqxx::work& w) {
    std::vector<OutgoingMessage> out;
    for (const auto& row : w.exec_prepared("saga_unsent", static_cast<int64_t>(max))) {
      OutgoingMessage m;
      m.seq = row[0].as<int64_t>();
      m.action = static_cast<OutgoingMessage::Action>(row[1].as<int>());
      m.topic = row[2].as<std::string>();
      m.envelope = detail::envelope_from_json(row[3].as<std::string>());
      m.payload = pqxx::binarystring(row[4]).str();
      out.push_back(std::move(m));
    }
    return out;
  });
}

void PostgresStore::remove_sent(const std::vector<int64_t>& seqs) {
  if (seqs.empty()) return;
  with_work(*this, take(), [&](pqxx::work& w) {
    for (int64_t seq : seqs) w.exec_prepared("saga_remove", seq);
    return 0;
  });
}

uint64_t PostgresStore::remove_processed(std::chrono::system_clock::time_point before) {
  return with_work(*this, take(), [&](pqxx::work& w) {
    return static_cast<uint64_t>(w.exec_prepared("saga_remove_processed", ms_of(before)).affected_rows());
  });
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
