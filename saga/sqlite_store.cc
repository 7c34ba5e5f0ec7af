// The SQLite saga store: a pool of the outbox store's connections (one per thread at a time),
// its BEGIN IMMEDIATE transactions, and the shmbus_saga table beside the outbox's.
#include "shmbus/saga/sqlite_store.h"

#include <sqlite3.h>

#include <optional>

#include <nlohmann/json.hpp>

#include "shmbus/outbox/outbox.h"
#include "shmbus/error.h"
#include "shmbus/saga/errors.h"

namespace shmbus::saga {
namespace {

constexpr const char* kSchema = R"sql(
CREATE TABLE IF NOT EXISTS shmbus_saga(
  saga TEXT NOT NULL, key TEXT NOT NULL, state TEXT NOT NULL, data TEXT NOT NULL,
  timeouts TEXT NOT NULL, finished INTEGER NOT NULL, version INTEGER NOT NULL, updated_at INTEGER NOT NULL,
  PRIMARY KEY (saga, key)) WITHOUT ROWID;
)sql";

int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

[[noreturn]] void fail(sqlite3* db, const std::string& what) {
  throw Error("saga store: " + what + ": " + sqlite3_errmsg(db), ErrorKind::kIo);
}

}  // namespace

// An outbox connection with the saga's prepared statements (prepared on first use, finalized
// before the connection closes).
struct SqliteConnection {
  explicit SqliteConnection(outbox::SqliteConnection c) : conn(std::move(c)) {}
  ~SqliteConnection() {
    for (auto& [sql, st] : statements) sqlite3_finalize(st);
  }
  outbox::SqliteConnection conn;
  std::map<const char*, sqlite3_stmt*> statements;  // by the SQL constant's address
};

namespace {

// A cached statement in use: reset and its bindings cleared when it goes out of scope.
class Statement {
 public:
  Statement(SqliteConnection& c, const char* sql) : db_(c.conn.handle()) {
    sqlite3_stmt*& cached = c.statements[sql];
    if (!cached && sqlite3_prepare_v3(db_, sql, -1, SQLITE_PREPARE_PERSISTENT, &cached, nullptr) != SQLITE_OK) {
      cached = nullptr;
      fail(db_, std::string("preparing ") + sql);
    }
    st_ = cached;
  }
  ~Statement() {
    sqlite3_reset(st_);
    sqlite3_clear_bindings(st_);
  }
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;

  Statement& bind(int i, std::string_view text) {
    sqlite3_bind_text(st_, i, text.data(), static_cast<int>(text.size()), SQLITE_TRANSIENT);
    return *this;
  }
  Statement& bind(int i, int64_t v) {
    sqlite3_bind_int64(st_, i, v);
    return *this;
  }
  bool step() {  // true: a row
    const int rc = sqlite3_step(st_);
    if (rc == SQLITE_ROW) return true;
    if (rc == SQLITE_DONE) return false;
    fail(db_, "a statement failed");
  }
  std::string text(int col) const {
    const auto* p = reinterpret_cast<const char*>(sqlite3_column_blob(st_, col));
    return p ? std::string(p, static_cast<size_t>(sqlite3_column_bytes(st_, col))) : std::string();
  }
  int64_t integer(int col) const { return sqlite3_column_int64(st_, col); }
  int changes() const { return sqlite3_changes(db_); }

 private:
  sqlite3* db_;
  sqlite3_stmt* st_ = nullptr;
};

constexpr const char* kLoad = "SELECT state, data, timeouts, finished, version FROM shmbus_saga WHERE saga = ?1 AND key = ?2";
constexpr const char* kInsert =
    "INSERT OR IGNORE INTO shmbus_saga(saga, key, state, data, timeouts, finished, version, updated_at) "
    "VALUES (?1, ?2, ?3, ?4, ?5, ?6, 1, ?7)";
constexpr const char* kUpdate =
    "UPDATE shmbus_saga SET state = ?3, data = ?4, timeouts = ?5, finished = ?6, version = ?7 + 1, "
    "updated_at = ?8 WHERE saga = ?1 AND key = ?2 AND version = ?7";
constexpr const char* kRemoveFinished = "DELETE FROM shmbus_saga WHERE finished = 1 AND updated_at < ?1";

std::optional<StoredInstance> load_instance(SqliteConnection& c, std::string_view saga, std::string_view key) {
  Statement st(c, kLoad);
  st.bind(1, saga).bind(2, key);
  if (!st.step()) return std::nullopt;
  StoredInstance out;
  out.state = st.text(0);
  out.data = st.text(1);
  out.timeouts = nlohmann::json::parse(st.text(2)).get<std::map<std::string, std::string>>();
  out.finished = st.integer(3) != 0;
  out.version = st.integer(4);
  return out;
}

class SqliteTransaction final : public Transaction {
 public:
  SqliteTransaction(SqliteStore& store, std::unique_ptr<SqliteConnection> c)
      : store_(store), conn_(std::move(c)), lock_(store.write_mutex()), tx_(conn_->conn.begin()) {}
  ~SqliteTransaction() override {
    tx_.reset();  // rolls back unless committed
    lock_.unlock();
    store_.give_back(std::move(conn_));
  }

  bool mark_processed(std::string_view saga, std::string_view message_id) override {
    return tx_->mark_processed(saga, message_id);
  }

  std::optional<StoredInstance> load(std::string_view saga, std::string_view key) override {
    return load_instance(*conn_, saga, key);
  }

  void save(std::string_view saga, std::string_view key, const StoredInstance& in, int64_t expected) override {
    const std::string timeouts = nlohmann::json(in.timeouts).dump();
    if (expected == 0) {
      Statement st(*conn_, kInsert);
      st.bind(1, saga).bind(2, key).bind(3, in.state).bind(4, in.data).bind(5, timeouts);
      st.bind(6, int64_t{in.finished}).bind(7, now_ms()).step();
      if (st.changes() == 1) return;
    } else {
      Statement st(*conn_, kUpdate);
      st.bind(1, saga).bind(2, key).bind(3, in.state).bind(4, in.data).bind(5, timeouts);
      st.bind(6, int64_t{in.finished}).bind(7, expected).bind(8, now_ms()).step();
      if (st.changes() == 1) return;
    }
    throw ConcurrencyConflict("saga " + std::string(saga) + " instance " + std::string(key) +
                              ": saved by another handler since it was loaded (version " + std::to_string(expected) +
                              " expected)");
  }

  void append(const OutgoingMessage& m) override { detail::append_to_outbox(*tx_, m); }

  void commit() override { tx_->commit(); }
  outbox::Transaction& outbox() noexcept override { return *tx_; }

 private:
  SqliteStore& store_;
  std::unique_ptr<SqliteConnection> conn_;
  std::unique_lock<std::mutex> lock_;  // this process's writers, one at a time
  std::optional<outbox::SqliteTransaction> tx_;
};

}  // namespace

std::shared_ptr<SqliteStore> SqliteStore::open(std::string path, SqliteOptions options) {
  return open(outbox::SqliteStore::open(
      std::move(path), {options.full_sync ? outbox::Synchronous::kFull : outbox::Synchronous::kNormal,
                        options.busy_timeout}));
}

std::shared_ptr<SqliteStore> SqliteStore::open(std::shared_ptr<outbox::SqliteStore> database) {
  if (!database) throw Error("saga store: no database given (outbox::SqliteStore::open)", ErrorKind::kInvalidArgument);
  auto store = std::make_shared<SqliteStore>(std::move(database));
  std::unique_ptr<SqliteConnection> c = store->take();
  c->conn.exec(kSchema);
  store->give_back(std::move(c));
  return store;
}

SqliteStore::SqliteStore(std::shared_ptr<outbox::SqliteStore> database) : db_(std::move(database)) {}

SqliteStore::~SqliteStore() = default;

std::unique_ptr<SqliteConnection> SqliteStore::take() {
  {
    std::lock_guard<std::mutex> guard(mu_);
    if (!pool_.empty()) {
      std::unique_ptr<SqliteConnection> c = std::move(pool_.back());
      pool_.pop_back();
      return c;
    }
  }
  return std::make_unique<SqliteConnection>(db_->connect());
}

void SqliteStore::give_back(std::unique_ptr<SqliteConnection> c) {
  std::lock_guard<std::mutex> guard(mu_);
  pool_.push_back(std::move(c));
}

std::unique_ptr<Transaction> SqliteStore::begin() {
  return std::make_unique<SqliteTransaction>(*this, take());  // a throw closes the connection
}

std::vector<OutgoingMessage> SqliteStore::unsent(size_t max) {
  std::vector<OutgoingMessage> out;
  for (const outbox::OutboxMessage& row : db_->relay_connection()->unsent(max, 0)) out.push_back(detail::outgoing_of(row));
  return out;
}

uint64_t SqliteStore::remove_processed(std::chrono::system_clock::time_point before) {
  return db_->relay_connection()->remove_processed(before);
}

uint64_t SqliteStore::remove_finished(std::chrono::system_clock::time_point before) {
  const int64_t ms = std::chrono::duration_cast<std::chrono::milliseconds>(before.time_since_epoch()).count();
  std::unique_ptr<SqliteConnection> c = take();
  uint64_t removed = 0;
  {
    std::lock_guard<std::mutex> writer(write_mu_);
    Statement st(*c, kRemoveFinished);
    st.bind(1, ms).step();  // one statement: its own transaction
    removed = static_cast<uint64_t>(st.changes());
  }
  give_back(std::move(c));
  return removed;
}

std::optional<StoredInstance> SqliteStore::find(std::string_view saga, std::string_view key) {
  std::unique_ptr<SqliteConnection> c = take();
  auto out = load_instance(*c, saga, key);
  give_back(std::move(c));
  return out;
}

}  // namespace shmbus::saga
