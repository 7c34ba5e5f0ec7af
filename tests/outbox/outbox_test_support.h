// Helpers of the outbox and inbox tests: their messages, a database of each test's own (a
// SQLite file, or a database in the PostgreSQL cluster SHMBUS_POSTGRES_URL names), and access to
// it whatever its kind, so that one test body runs against both stores.
#pragma once

#include <sqlite3.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "shmbus/outbox/inbox.h"
#include "shmbus/outbox/outbox.h"
#include "shmbus/outbox/postgres.h"
#include "shmbus/outbox/sqlite.h"
#include "shmbus/service/service.h"
#include "support/test_bus.h"

namespace ledger {

struct Ledgered {  // one of the 3 events a writer's transaction n publishes
  int64_t n = 0;
  int i = 0;
};
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(Ledgered, n, i)

struct Credit {  // credits `amount` to the account; `id` is recorded in `applied`
  int64_t id = 0;
  int64_t amount = 0;
};
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(Credit, id, amount)

}  // namespace ledger

SHMBUS_MESSAGE(ledger::Ledgered, "Ledgered", 1, event);
SHMBUS_MESSAGE(ledger::Credit, "Credit", 1, command);

namespace shmbus::outbox::test {

enum class Backend { kSqlite, kPostgres };

inline const char* name_of(Backend b) { return b == Backend::kSqlite ? "Sqlite" : "Postgres"; }

// The cluster of the PostgreSQL tests (tools/postgres_node.sh, started by tools/test.sh).
inline std::string postgres_url() {
  const char* url = std::getenv("SHMBUS_POSTGRES_URL");
  return url ? url : "";
}

// Small journal segments: tests make many topics in /dev/shm.
inline TopicConfig small_journal() {
  TopicConfig c;
  c.kind = TopicKind::kJournal;
  c.segment_bytes = 4 << 20;
  return c;
}

inline std::string replace_database(const std::string& url, const std::string& db) {
  return url.substr(0, url.rfind('/') + 1) + db;
}

// Access to a database by its test URL ("sqlite:<path>" or a PostgreSQL URL), either kind.
class Db {
 public:
  explicit Db(const std::string& url) {
    if (url.starts_with("sqlite:")) {
      sqlite_ = SqliteStore::open(url.substr(7), {.synchronous = Synchronous::kNormal});
    } else {
      postgres_ = PostgresStore::open(url);
    }
  }
  std::shared_ptr<Storage> storage() const {
    return sqlite_ ? std::shared_ptr<Storage>(sqlite_) : std::shared_ptr<Storage>(postgres_);
  }
  const std::shared_ptr<SqliteStore>& sqlite() const { return sqlite_; }
  const std::shared_ptr<PostgresStore>& postgres() const { return postgres_; }

  // A transaction: exec() for the test's own statements, tx() for the outbox and inbox.
  class Tx {
   public:
    virtual ~Tx() = default;
    virtual void exec(const std::string& sql) = 0;
    virtual Transaction& tx() = 0;
    virtual void commit() = 0;
    virtual void rollback() = 0;
  };
  std::unique_ptr<Tx> begin() {
    if (sqlite_) {
      if (!sqlite_conn_) sqlite_conn_ = std::make_unique<SqliteConnection>(sqlite_->connect());
      return std::make_unique<SqliteTx>(sqlite_conn_->begin());
    }
    if (!pg_conn_) pg_conn_ = std::make_unique<PostgresConnection>(postgres_->connect());
    return std::make_unique<PostgresTx>(pg_conn_->begin());
  }
  void exec(const std::string& sql) {
    auto t = begin();
    t->exec(sql);
    t->commit();
  }
  // The first column of every row, as integers.
  std::vector<int64_t> column(const std::string& sql) {
    std::vector<int64_t> out;
    if (sqlite_) {
      if (!sqlite_conn_) sqlite_conn_ = std::make_unique<SqliteConnection>(sqlite_->connect());
      sqlite3_stmt* s = nullptr;
      if (sqlite3_prepare_v2(sqlite_conn_->handle(), sql.c_str(), -1, &s, nullptr) != SQLITE_OK) {
        throw Error("bad test SQL: " + sql + ": " + sqlite3_errmsg(sqlite_conn_->handle()));
      }
      while (sqlite3_step(s) == SQLITE_ROW) out.push_back(sqlite3_column_int64(s, 0));
      sqlite3_finalize(s);
      return out;
    }
    if (!pg_conn_) pg_conn_ = std::make_unique<PostgresConnection>(postgres_->connect());
    pqxx::nontransaction n(pg_conn_->connection());
    for (const pqxx::row& row : n.exec(sql)) out.push_back(row[0].is_null() ? 0 : row[0].as<int64_t>());
    return out;
  }
  int64_t scalar(const std::string& sql) {
    const std::vector<int64_t> v = column(sql);
    return v.empty() ? 0 : v.front();
  }

 private:
  struct SqliteTx final : Tx {
    explicit SqliteTx(SqliteTransaction t) : t(std::move(t)) {}
    void exec(const std::string& sql) override { t.exec(sql); }
    Transaction& tx() override { return t; }
    void commit() override { t.commit(); }
    void rollback() override { t.rollback(); }
    SqliteTransaction t;
  };
  struct PostgresTx final : Tx {
    explicit PostgresTx(PostgresTransaction t) : t(std::move(t)) {}
    void exec(const std::string& sql) override { t.exec(sql); }
    Transaction& tx() override { return t; }
    void commit() override { t.commit(); }
    void rollback() override { t.rollback(); }
    PostgresTransaction t;
  };

  std::shared_ptr<SqliteStore> sqlite_;
  std::shared_ptr<PostgresStore> postgres_;
  std::unique_ptr<SqliteConnection> sqlite_conn_;
  std::unique_ptr<PostgresConnection> pg_conn_;
};

// A database of the test's own, with the test tables; removed at the end.
class TestDatabase {
 public:
  explicit TestDatabase(Backend backend) : backend_(backend) {
    if (backend == Backend::kSqlite) {
      url_ = "sqlite:" + dir_.path() + "/app.db";
    } else {
      static std::atomic<int> counter{0};
      name_ = "shmbus_test_" + std::to_string(::getpid()) + "_" + std::to_string(counter++);
      pqxx::connection admin(postgres_url());
      pqxx::nontransaction n(admin);
      n.exec0("DROP DATABASE IF EXISTS " + name_);
      n.exec0("CREATE DATABASE " + name_);
      url_ = replace_database(postgres_url(), name_);
    }
    Db db(url_);
    db.exec("CREATE TABLE ledger (n BIGINT PRIMARY KEY)");
    db.exec("CREATE TABLE account (id BIGINT PRIMARY KEY, balance BIGINT NOT NULL)");
    db.exec("INSERT INTO account(id, balance) VALUES (1, 0)");
    db.exec("CREATE TABLE applied (id BIGINT NOT NULL)");
  }
  ~TestDatabase() {
    if (backend_ != Backend::kPostgres) return;
    try {
      pqxx::connection admin(postgres_url());
      pqxx::nontransaction n(admin);
      n.exec0("DROP DATABASE IF EXISTS " + name_ + " WITH (FORCE)");
    } catch (const std::exception&) {
      // A database left behind in a throw-away cluster.
    }
  }
  TestDatabase(const TestDatabase&) = delete;
  TestDatabase& operator=(const TestDatabase&) = delete;
  const std::string& url() const { return url_; }

 private:
  Backend backend_;
  shmbus::test::TempDir dir_{"/tmp", "outbox", true};
  std::string name_;
  std::string url_;
};

// The messages of a topic from its start: (payload JSON, headers) of each, once `want` are
// there and then all the topic has committed by then (more than `want` is for the caller to
// see), or the timeout passed.
struct Received {
  nlohmann::json body;
  service::Envelope envelope;
};
inline std::vector<Received> read_topic(Bus& bus, const std::string& topic, size_t want,
                                        std::chrono::milliseconds timeout = std::chrono::seconds(60)) {
  std::vector<Received> out;
  Subscription sub = bus.subscribe(topic, SubscribeOptions(StartAt::earliest()));
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  const auto take = [&](const Message& m) {
    out.push_back({nlohmann::json::parse(m.text()), service::Envelope::read(m.headers)});
  };
  do {
    const Result<size_t> r = sub.receive(take, 1024, std::chrono::milliseconds(20));
    if (!r && r.error() != Errc::kTimeout) std::fprintf(stderr, "read_topic %s: %s\n", topic.c_str(), to_string(r.error()));
  } while (out.size() < want && std::chrono::steady_clock::now() < deadline);
  // The rest of what is committed now: duplicates count towards `want`, and a claim its dead
  // publisher left (a kill -9 mid-publish) holds readers up until it is voided, which can take
  // longer than a short quiet spell.
  const uint64_t published = bus.stats(topic).published;
  while (out.size() < published && std::chrono::steady_clock::now() < deadline) {
    const Result<size_t> more = sub.receive(take, 1024, std::chrono::milliseconds(20));
    if (!more && more.error() != Errc::kTimeout) std::fprintf(stderr, "read_topic %s: %s\n", topic.c_str(), to_string(more.error()));
  }
  return out;
}

inline OutboxOptions test_outbox_options(std::string source = "test") {
  OutboxOptions o;
  o.source = std::move(source);
  o.journal = small_journal();
  o.sweep = std::chrono::milliseconds(200);
  return o;
}

// Skips a PostgreSQL test without a cluster.
#define SKIP_WITHOUT_DATABASE(backend)                                                                  \
  do {                                                                                                  \
    if ((backend) == ::shmbus::outbox::test::Backend::kPostgres && ::shmbus::outbox::test::postgres_url().empty()) \
      GTEST_SKIP() << "no PostgreSQL: set SHMBUS_POSTGRES_URL (tools/postgres_node.sh start DIR; . DIR/env)"; \
  } while (0)

}  // namespace shmbus::outbox::test
