// PostgresStore: the tables, the user's side (PostgresTransaction), and the relay's connection
// (LISTEN shmbus_outbox; a session advisory lock so one relay per database relays).
#include "shmbus/outbox/postgres.h"

#include <chrono>

#include "commit_signal.h"
#include "shmbus/error.h"
#include "shmbus/kill_point.h"

namespace shmbus::outbox {
namespace {

constexpr const char* kChannel = "shmbus_outbox";
// Advisory lock keys (any 64-bit numbers the service's own locks do not use): "shmbus" + 1/2.
constexpr int64_t kSchemaLock = 0x73686d62757301;
constexpr int64_t kRelayLock = 0x73686d62757302;

constexpr const char* kSchema = R"sql(
CREATE TABLE IF NOT EXISTS shmbus_outbox (
  seq BIGSERIAL PRIMARY KEY,
  message_id TEXT NOT NULL,
  topic TEXT NOT NULL,
  headers BYTEA NOT NULL,
  payload BYTEA NOT NULL,
  created_at BIGINT NOT NULL,
  sent_at BIGINT
);
CREATE INDEX IF NOT EXISTS shmbus_outbox_unsent ON shmbus_outbox(seq) WHERE sent_at IS NULL;
CREATE INDEX IF NOT EXISTS shmbus_outbox_sent ON shmbus_outbox(sent_at) WHERE sent_at IS NOT NULL;
CREATE TABLE IF NOT EXISTS shmbus_inbox (
  endpoint TEXT NOT NULL,
  message_id TEXT NOT NULL,
  processed_at BIGINT NOT NULL,
  PRIMARY KEY (endpoint, message_id)
);
CREATE INDEX IF NOT EXISTS shmbus_inbox_age ON shmbus_inbox(processed_at);
)sql";

int64_t unix_ms(std::chrono::system_clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
}

// The connection string without its password, for messages.
std::string redacted(const std::string& conninfo) {
  const size_t at = conninfo.find('@');
  const size_t scheme = conninfo.find("://");
  if (at == std::string::npos || scheme == std::string::npos || at < scheme) return conninfo;
  const size_t colon = conninfo.find(':', scheme + 3);
  if (colon == std::string::npos || colon > at) return conninfo;
  return conninfo.substr(0, colon) + ":***" + conninfo.substr(at);
}

std::unique_ptr<pqxx::connection> connect_to(const std::string& conninfo) {
  try {
    return std::make_unique<pqxx::connection>(conninfo);
  } catch (const std::exception& e) {
    throw Error("outbox: cannot connect to PostgreSQL at " + redacted(conninfo) + ": " + e.what() +
                    " (is the server up, and the connection string right?)",
                ErrorKind::kIo);
  }
}

// Counts NOTIFY shmbus_outbox as they arrive (during await_notification / get_notifs).
class Listener final : public pqxx::notification_receiver {
 public:
  explicit Listener(pqxx::connection_base& c) : pqxx::notification_receiver(c, kChannel) {}
  void operator()(const std::string&, int) override { ++count; }
  uint64_t count = 0;
};

class PostgresRelayConnection final : public RelayConnection {
 public:
  PostgresRelayConnection(const std::string& conninfo, std::shared_ptr<detail::CommitSignal> wakes)
      : conn_(connect_to(conninfo)), listener_(*conn_), wakes_(std::move(wakes)), seen_wakes_(wakes_->count()) {}

  std::vector<OutboxMessage> unsent(size_t max, int64_t after) override {
    pqxx::nontransaction n(*conn_);
    const pqxx::result r = n.exec_params(
        "SELECT seq, message_id, topic, headers, payload FROM shmbus_outbox WHERE sent_at IS NULL AND seq > $2 "
        "ORDER BY seq LIMIT $1",
        static_cast<int64_t>(max), after);
    std::vector<OutboxMessage> out;
    out.reserve(r.size());
    for (const pqxx::row& row : r) {
      out.push_back({row[0].as<int64_t>(), row[1].as<std::string>(), row[2].as<std::string>(),
                     pqxx::binarystring(row[3]).str(), pqxx::binarystring(row[4]).str()});
    }
    return out;
  }

  void mark_sent(std::span<const int64_t> seqs) override {
    std::string array = "{";
    for (size_t i = 0; i < seqs.size(); ++i) array += (i ? "," : "") + std::to_string(seqs[i]);
    array += "}";
    pqxx::work w(*conn_);
    w.exec_params0("UPDATE shmbus_outbox SET sent_at = $1 WHERE seq = ANY($2::bigint[])",
                   unix_ms(std::chrono::system_clock::now()), array);
    w.commit();
  }

  uint64_t remove_sent(std::chrono::system_clock::time_point before) override {
    // The newest row stays, as in SQLite (there it keeps seqs from being handed out again).
    return remove("DELETE FROM shmbus_outbox WHERE sent_at IS NOT NULL AND sent_at < $1 AND "
                  "seq < (SELECT max(seq) FROM shmbus_outbox)", before);
  }
  uint64_t remove_processed(std::chrono::system_clock::time_point before) override {
    return remove("DELETE FROM shmbus_inbox WHERE processed_at < $1", before);
  }

  uint64_t count_unsent() override {
    pqxx::nontransaction n(*conn_);
    return n.exec1("SELECT count(*) FROM shmbus_outbox WHERE sent_at IS NULL")[0].as<uint64_t>();
  }

  // A BIGSERIAL value is taken at insert: transaction A may take 10, B 11, and B commit first.
  bool seq_is_commit_order() const noexcept override { return false; }
  int64_t resume_after() override { return 0; }

  bool wait_for_commit(std::chrono::milliseconds timeout) override {
    const uint64_t before = listener_.count;
    if (woken()) return true;
    conn_->get_notifs();
    if (listener_.count == before) {
      const auto us = std::chrono::duration_cast<std::chrono::microseconds>(timeout).count();
      conn_->await_notification(static_cast<long>(us / 1000000), static_cast<long>(us % 1000000));
    }
    return listener_.count != before || woken();
  }

  bool lock_relay() override {
    if (locked_) return true;
    pqxx::nontransaction n(*conn_);
    locked_ = n.exec_params1("SELECT pg_try_advisory_lock($1)", kRelayLock)[0].as<bool>();
    return locked_;
  }

 private:
  bool woken() {
    const uint64_t now = wakes_->count();
    const bool woke = now != seen_wakes_;
    seen_wakes_ = now;
    return woke;
  }
  uint64_t remove(const char* sql, std::chrono::system_clock::time_point before) {
    pqxx::work w(*conn_);
    const pqxx::result r = w.exec_params(sql, unix_ms(before));
    w.commit();
    return static_cast<uint64_t>(r.affected_rows());
  }

  std::unique_ptr<pqxx::connection> conn_;
  Listener listener_;
  std::shared_ptr<detail::CommitSignal> wakes_;
  uint64_t seen_wakes_;
  bool locked_ = false;  // a session lock: released when this connection closes
};

}  // namespace

void PostgresTransaction::commit() {
  if (!owned_) throw Error("outbox: this PostgresTransaction adapts a transaction of yours: commit that one");
  owned_->commit();
  // The crash window "committed, the relay not told": NOTIFY went with the commit, but a
  // relay of this process dies here too; the next relay's first read finds the rows.
  kill_point("outbox.after_commit");
}

void PostgresTransaction::rollback() noexcept {
  if (!owned_) return;
  try {
    owned_->abort();
  } catch (const std::exception&) {
    // The connection broke: the server rolled it back already.
  }
}

void PostgresTransaction::append_outbox(const OutboxMessage& m) {
  work_->exec_params0(
      "INSERT INTO shmbus_outbox(message_id, topic, headers, payload, created_at) VALUES ($1, $2, $3, $4, $5)",
      m.message_id, m.topic, pqxx::binarystring(m.headers), pqxx::binarystring(m.payload),
      unix_ms(std::chrono::system_clock::now()));
  if (!notified_) {
    // Delivered to the relays' LISTEN when (and only if) this transaction commits.
    work_->exec0(std::string("NOTIFY ") + kChannel);
    notified_ = true;
  }
}

bool PostgresTransaction::mark_processed(std::string_view endpoint, std::string_view message_id) {
  const pqxx::result r = work_->exec_params(
      "INSERT INTO shmbus_inbox(endpoint, message_id, processed_at) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
      std::string(endpoint), std::string(message_id), unix_ms(std::chrono::system_clock::now()));
  return r.affected_rows() == 1;
}

PostgresConnection::PostgresConnection(const std::string& conninfo) : conn_(connect_to(conninfo)) {}

PostgresTransaction PostgresConnection::begin() { return PostgresTransaction(std::make_unique<pqxx::work>(*conn_)); }

PostgresStore::PostgresStore(std::string conninfo)
    : conninfo_(std::move(conninfo)), wakes_(detail::CommitSignal::for_database("postgresql:" + conninfo_)) {}

std::shared_ptr<PostgresStore> PostgresStore::open(std::string conninfo) {
  auto store = std::make_shared<PostgresStore>(std::move(conninfo));
  std::unique_ptr<pqxx::connection> c = connect_to(store->conninfo_);
  try {
    pqxx::work w(*c);
    // Two services creating the tables at once would collide on the catalog: one at a time.
    w.exec_params("SELECT pg_advisory_xact_lock($1)", kSchemaLock);
    w.exec0(kSchema);
    w.commit();
  } catch (const std::exception& e) {
    throw Error("outbox: cannot create its tables in " + store->describe() + ": " + e.what() +
                " (may this user create tables there?)");
  }
  return store;
}

std::unique_ptr<RelayConnection> PostgresStore::relay_connection() {
  return std::make_unique<PostgresRelayConnection>(conninfo_, wakes_);
}

void PostgresStore::wake_relays() { wakes_->notify(); }

std::string PostgresStore::describe() const { return redacted(conninfo_); }

}  // namespace shmbus::outbox
