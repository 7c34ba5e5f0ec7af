// The SQLite saga store: a pool of connections (one per thread at a time), BEGIN IMMEDIATE
// transactions, and the three tables of shmbus/saga/sqlite_store.h.
#include "shmbus/saga/sqlite_store.h"

#include <sqlite3.h>

#include <nlohmann/json.hpp>

#include "envelope_json.h"
#include "shmbus/error.h"
#include "shmbus/saga/errors.h"

namespace shmbus::saga {
namespace {

constexpr const char* kSchema = R"sql(
CREATE TABLE IF NOT EXISTS shmbus_saga(
  saga TEXT NOT NULL, key TEXT NOT NULL, state TEXT NOT NULL, data TEXT NOT NULL,
  timeouts TEXT NOT NULL, finished INTEGER NOT NULL, version INTEGER NOT NULL, updated_at INTEGER NOT NULL,
  PRIMARY KEY (saga, key)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS shmbus_saga_inbox(
  saga TEXT NOT NULL, message_id TEXT NOT NULL, processed_at INTEGER NOT NULL,
  PRIMARY KEY (saga, message_id)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS shmbus_saga_outbox(
  seq INTEGER PRIMARY KEY AUTOINCREMENT, action INTEGER NOT NULL, topic TEXT NOT NULL,
  envelope TEXT NOT NULL, payload BLOB NOT NULL, created_at INTEGER NOT NULL);
)sql";

int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

[[noreturn]] void fail(sqlite3* db, const std::string& what) {
  throw Error("saga store: " + what + ": " + sqlite3_errmsg(db), ErrorKind::kIo);
}

void exec(sqlite3* db, const char* sql) {
  char* message = nullptr;
  if (sqlite3_exec(db, sql, nullptr, nullptr, &message) != SQLITE_OK) {
    const std::string text = message ? message : "unknown error";
    sqlite3_free(message);
    throw Error(std::string("saga store: ") + text + " (in: " + std::string(sql).substr(0, 60) + ")", ErrorKind::kIo);
  }
}

}  // namespace

// One connection with its prepared statements (prepared on first use, kept while it lives).
struct SqliteConnection {
  sqlite3* db = nullptr;
  std::map<const char*, sqlite3_stmt*> statements;  // by the SQL constant's address
  ~SqliteConnection() {
    for (auto& [sql, st] : statements) sqlite3_finalize(st);
    sqlite3_close(db);
  }
};

namespace {

// A cached statement in use: reset and its bindings cleared when it goes out of scope.
class Statement {
 public:
  Statement(SqliteConnection& c, const char* sql) : db_(c.db) {
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
  Statement& blob(int i, std::string_view bytes) {
    sqlite3_bind_blob(st_, i, bytes.data(), static_cast<int>(bytes.size()), SQLITE_TRANSIENT);
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
  Statement& reset() {
    sqlite3_reset(st_);
    return *this;
  }

 private:
  sqlite3* db_;
  sqlite3_stmt* st_ = nullptr;
};

constexpr const char* kLoad = "SELECT state, data, timeouts, finished, version FROM shmbus_saga WHERE saga = ?1 AND key = ?2";
constexpr const char* kMark = "INSERT OR IGNORE INTO shmbus_saga_inbox(saga, message_id, processed_at) VALUES (?1, ?2, ?3)";
constexpr const char* kInsert =
    "INSERT OR IGNORE INTO shmbus_saga(saga, key, state, data, timeouts, finished, version, updated_at) "
    "VALUES (?1, ?2, ?3, ?4, ?5, ?6, 1, ?7)";
constexpr const char* kUpdate =
    "UPDATE shmbus_saga SET state = ?3, data = ?4, timeouts = ?5, finished = ?6, version = ?7 + 1, "
    "updated_at = ?8 WHERE saga = ?1 AND key = ?2 AND version = ?7";
constexpr const char* kAppend =
    "INSERT INTO shmbus_saga_outbox(action, topic, envelope, payload, created_at) VALUES (?1, ?2, ?3, ?4, ?5)";
constexpr const char* kUnsent = "SELECT seq, action, topic, envelope, payload FROM shmbus_saga_outbox ORDER BY seq LIMIT ?1";
constexpr const char* kRemove = "DELETE FROM shmbus_saga_outbox WHERE seq = ?1";
constexpr const char* kRemoveProcessed = "DELETE FROM shmbus_saga_inbox WHERE processed_at < ?1";
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
      : store_(store), conn_(std::move(c)), db_(conn_->db), lock_(store.write_mutex()) {
    exec(db_, "BEGIN IMMEDIATE");
  }
  ~SqliteTransaction() override {
    if (active_) sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
    store_.give_back(std::move(conn_));
  }

  bool mark_processed(std::string_view saga, std::string_view message_id) override {
    Statement st(*conn_, kMark);
    st.bind(1, saga).bind(2, message_id).bind(3, now_ms()).step();
    return st.changes() == 1;
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

  int64_t append(const OutgoingMessage& m) override {
    Statement st(*conn_, kAppend);
    st.bind(1, static_cast<int64_t>(m.action)).bind(2, m.topic).bind(3, detail::envelope_to_json(m.envelope));
    st.blob(4, m.payload).bind(5, now_ms()).step();
    return sqlite3_last_insert_rowid(db_);
  }

  void commit() override {
    exec(db_, "COMMIT");
    active_ = false;
  }

 private:
  SqliteStore& store_;
  std::unique_ptr<SqliteConnection> conn_;
  sqlite3* db_;
  std::unique_lock<std::mutex> lock_;  // this process's writers, one at a time
  bool active_ = true;
};

}  // namespace

std::shared_ptr<SqliteStore> SqliteStore::open(std::string path, SqliteOptions options) {
  auto store = std::make_shared<SqliteStore>(std::move(path), options);
  std::unique_ptr<SqliteConnection> c = store->take();
  exec(c->db, kSchema);
  store->give_back(std::move(c));
  return store;
}

SqliteStore::SqliteStore(std::string path, SqliteOptions options) : path_(std::move(path)), options_(options) {}

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
  auto c = std::make_unique<SqliteConnection>();
  if (sqlite3_open_v2(path_.c_str(), &c->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                      nullptr) != SQLITE_OK) {
    const std::string why = c->db ? sqlite3_errmsg(c->db) : "out of memory";
    throw Error("saga store: cannot open " + path_ + ": " + why + " (is the directory there and writable?)",
                ErrorKind::kIo);
  }
  sqlite3_busy_timeout(c->db, static_cast<int>(options_.busy_timeout.count()));
  exec(c->db, "PRAGMA journal_mode=WAL");
  exec(c->db, options_.full_sync ? "PRAGMA synchronous=FULL" : "PRAGMA synchronous=NORMAL");
  return c;
}

void SqliteStore::give_back(std::unique_ptr<SqliteConnection> c) {
  std::lock_guard<std::mutex> guard(mu_);
  pool_.push_back(std::move(c));
}

std::unique_ptr<Transaction> SqliteStore::begin() {
  return std::make_unique<SqliteTransaction>(*this, take());  // a throw closes the connection
}

std::vector<OutgoingMessage> SqliteStore::unsent(size_t max) {
  std::unique_ptr<SqliteConnection> c = take();
  std::vector<OutgoingMessage> out;
  {
    Statement st(*c, kUnsent);
    st.bind(1, static_cast<int64_t>(max));
    while (st.step()) {
      OutgoingMessage m;
      m.seq = st.integer(0);
      m.action = static_cast<OutgoingMessage::Action>(st.integer(1));
      m.topic = st.text(2);
      m.envelope = detail::envelope_from_json(st.text(3));
      m.payload = st.text(4);
      out.push_back(std::move(m));
    }
  }
  give_back(std::move(c));
  return out;
}

void SqliteStore::remove_sent(const std::vector<int64_t>& seqs) {
  if (seqs.empty()) return;
  std::unique_ptr<SqliteConnection> c = take();
  std::lock_guard<std::mutex> writer(write_mu_);
  try {
    exec(c->db, "BEGIN IMMEDIATE");
    {
      Statement st(*c, kRemove);
      for (int64_t seq : seqs) st.reset().bind(1, seq).step();
    }
    exec(c->db, "COMMIT");
  } catch (...) {
    sqlite3_exec(c->db, "ROLLBACK", nullptr, nullptr, nullptr);
    give_back(std::move(c));
    throw;
  }
  give_back(std::move(c));
}

uint64_t SqliteStore::remove_older(const char* sql, std::chrono::system_clock::time_point before) {
  const int64_t ms = std::chrono::duration_cast<std::chrono::milliseconds>(before.time_since_epoch()).count();
  std::unique_ptr<SqliteConnection> c = take();
  uint64_t removed = 0;
  {
    std::lock_guard<std::mutex> writer(write_mu_);
    Statement st(*c, sql);
    st.bind(1, ms).step();  // one statement: its own transaction
    removed = static_cast<uint64_t>(st.changes());
  }
  give_back(std::move(c));
  return removed;
}

uint64_t SqliteStore::remove_processed(std::chrono::system_clock::time_point before) {
  return remove_older(kRemoveProcessed, before);
}

uint64_t SqliteStore::remove_finished(std::chrono::system_clock::time_point before) {
  return remove_older(kRemoveFinished, before);
}

std::optional<StoredInstance> SqliteStore::find(std::string_view saga, std::string_view key) {
  std::unique_ptr<SqliteConnection> c = take();
  auto out = load_instance(*c, saga, key);
  give_back(std::move(c));
  return out;
}

}  // namespace shmbus::saga
