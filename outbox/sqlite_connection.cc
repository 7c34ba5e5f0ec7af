// SqliteConnection and SqliteTransaction: the user's side of the SQLite store.
#include <sqlite3.h>

#include <cstring>
#include <utility>

#include "commit_signal.h"
#include "shmbus/kill_point.h"
#include "shmbus/outbox/sqlite.h"
#include "sqlite_util.h"

namespace shmbus::outbox {
namespace {

enum StatementId { kInsertOutbox = 0, kInsertInbox = 1, kLastSeq = 2 };

constexpr std::string_view kStatementSql[] = {
    "INSERT INTO shmbus_outbox(message_id, topic, headers, payload, created_at) VALUES (?1, ?2, ?3, ?4, ?5)",
    "INSERT OR IGNORE INTO shmbus_inbox(endpoint, message_id, processed_at) VALUES (?1, ?2, ?3)",
    "SELECT max(seq) FROM shmbus_outbox",  // the rightmost row: one descent of cached pages
};

constexpr const char* kOutboxTable = "shmbus_outbox";

}  // namespace

SqliteConnection::SqliteConnection(sqlite3* db, std::shared_ptr<detail::CommitSignal> signal,
                                   std::chrono::milliseconds busy_timeout)
    : db_(db), signal_(std::move(signal)), busy_timeout_(busy_timeout), watch_(std::make_unique<OutboxWatch>()) {
  // Called for every row this connection inserts, updates or deletes (not for a DELETE without
  // WHERE, which SQLite truncates: written_intact() sees that one, the table's last seq gone).
  sqlite3_update_hook(
      db_,
      [](void* watch, int op, const char*, const char* table, sqlite3_int64) {
        auto* w = static_cast<OutboxWatch*>(watch);
        if (!(op == SQLITE_INSERT && w->inserting) && std::strcmp(table, kOutboxTable) == 0) w->rewritten = true;
      },
      watch_.get());
}

SqliteConnection::SqliteConnection(SqliteConnection&& other) noexcept
    : db_(std::exchange(other.db_, nullptr)),
      signal_(std::move(other.signal_)),
      busy_timeout_(other.busy_timeout_),
      watch_(std::move(other.watch_)) {
  for (size_t i = 0; i < std::size(statements_); ++i) statements_[i] = std::exchange(other.statements_[i], nullptr);
}

SqliteConnection& SqliteConnection::operator=(SqliteConnection&& other) noexcept {
  // What this held closes with `other` (swapped into it).
  std::swap(db_, other.db_);
  std::swap(signal_, other.signal_);
  std::swap(busy_timeout_, other.busy_timeout_);
  std::swap(statements_, other.statements_);
  std::swap(watch_, other.watch_);
  return *this;
}

SqliteConnection::~SqliteConnection() {
  for (sqlite3_stmt*& s : statements_) sqlite3_finalize(std::exchange(s, nullptr));
  if (db_) sqlite3_close_v2(std::exchange(db_, nullptr));
}

sqlite3_stmt* SqliteConnection::statement(int which) {
  sqlite3_stmt*& s = statements_[which];
  if (s == nullptr) {
    const std::string_view sql = kStatementSql[which];
    detail::check_sqlite(sqlite3_prepare_v3(db_, sql.data(), static_cast<int>(sql.size()), SQLITE_PREPARE_PERSISTENT,
                                            &s, nullptr),
                         db_, "preparing the outbox statements");
  }
  sqlite3_reset(s);
  sqlite3_clear_bindings(s);
  return s;
}

void SqliteConnection::exec(std::string_view sql) {
  char* error = nullptr;
  const std::string text(sql);
  const int rc = sqlite3_exec(db_, text.c_str(), nullptr, nullptr, &error);
  if (rc != SQLITE_OK) {
    std::string what = "SQL failed: " + std::string(error ? error : sqlite3_errstr(rc)) + " (in: " + text.substr(0, 80) + ")";
    sqlite3_free(error);
    throw Error(what);
  }
}

SqliteTransaction SqliteConnection::begin() {
  // While this process's relay marks rows sent, wait for its turn to end here (woken at once)
  // instead of in SQLite's busy handler (sleeps of 1, 2, 5 ms ...); past busy_timeout, BEGIN
  // IMMEDIATE waits as it would.
  (void)signal_->await_turn(busy_timeout_);
  exec("BEGIN IMMEDIATE");
  watch_->rewritten = false;
  return SqliteTransaction(*this);
}

SqliteTransaction::SqliteTransaction(SqliteTransaction&& other) noexcept
    : conn_(other.conn_),
      active_(std::exchange(other.active_, false)),
      wrote_outbox_(other.wrote_outbox_),
      written_(std::move(other.written_)) {}

SqliteTransaction::~SqliteTransaction() { rollback(); }

void SqliteTransaction::exec(std::string_view sql) { conn_->exec(sql); }

void SqliteTransaction::commit() {
  if (!active_) throw Error("commit of a transaction that is no longer active (committed or rolled back)");
  active_ = false;
  try {
    // The relay reads them from the table instead.
    if (!written_.empty() && (conn_->watch_->rewritten || !written_intact())) written_.clear();
    conn_->exec("COMMIT");
  } catch (...) {
    // A failed COMMIT may leave the transaction open (SQLITE_BUSY): end it, so the connection
    // can begin again, and say that nothing of it was kept.
    if (!sqlite3_get_autocommit(conn_->db_)) sqlite3_exec(conn_->db_, "ROLLBACK", nullptr, nullptr, nullptr);
    throw;
  }
  // The crash window "committed, the relay not told": the sweep of the next relay finds them.
  kill_point("outbox.after_commit");
  if (!wrote_outbox_) return;
  if (written_.empty()) {
    conn_->signal_->notify();
  } else {
    conn_->signal_->committed(written_);
    written_.clear();
  }
}

// The rows to hand over are the ones this transaction keeps: a ROLLBACK TO a savepoint may
// have undone some of them (and a later insert taken a seq again). Each insert took max + 1
// under the write lock, so they are kept iff their seqs run on by one and the last is the
// table's last.
bool SqliteTransaction::written_intact() {
  for (size_t i = 1; i < written_.size(); ++i) {
    if (written_[i].seq != written_[i - 1].seq + 1) return false;
  }
  sqlite3_stmt* s = conn_->statement(kLastSeq);
  const bool intact = sqlite3_step(s) == SQLITE_ROW && sqlite3_column_int64(s, 0) == written_.back().seq;
  sqlite3_reset(s);
  return intact;
}

void SqliteTransaction::rollback() noexcept {
  if (!active_) return;
  active_ = false;
  if (!sqlite3_get_autocommit(conn_->db_)) sqlite3_exec(conn_->db_, "ROLLBACK", nullptr, nullptr, nullptr);
  written_.clear();  // nothing of it is published
}

void SqliteTransaction::append_outbox(const OutboxMessage& m) {
  if (insert_outbox(m)) {
    written_.push_back(m);
    written_.back().seq = sqlite3_last_insert_rowid(conn_->db_);
  }
}

void SqliteTransaction::append_outbox(OutboxMessage&& m) {
  if (insert_outbox(m)) {
    written_.push_back(std::move(m));
    written_.back().seq = sqlite3_last_insert_rowid(conn_->db_);
  }
}

bool SqliteTransaction::insert_outbox(const OutboxMessage& m) {
  if (!active_) throw Error("outbox: the transaction is no longer active (committed or rolled back)");
  sqlite3_stmt* s = conn_->statement(kInsertOutbox);
  detail::bind_text(s, 1, m.message_id);
  detail::bind_text(s, 2, m.topic);
  detail::bind_blob(s, 3, m.headers);
  detail::bind_blob(s, 4, m.payload);
  sqlite3_bind_int64(s, 5, detail::unix_ms(std::chrono::system_clock::now()));
  conn_->watch_->inserting = true;
  const int rc = sqlite3_step(s);
  conn_->watch_->inserting = false;
  detail::check_sqlite(rc, conn_->db_, "outbox: inserting " + m.message_id);
  sqlite3_reset(s);
  wrote_outbox_ = true;
  return conn_->signal_->wants_rows();  // a relay of this process publishes it from memory
}

bool SqliteTransaction::mark_processed(std::string_view endpoint, std::string_view message_id) {
  if (!active_) throw Error("inbox: the transaction is no longer active (committed or rolled back)");
  sqlite3_stmt* s = conn_->statement(kInsertInbox);
  detail::bind_text(s, 1, endpoint);
  detail::bind_text(s, 2, message_id);
  sqlite3_bind_int64(s, 3, detail::unix_ms(std::chrono::system_clock::now()));
  detail::check_sqlite(sqlite3_step(s), conn_->db_, "inbox: marking " + std::string(message_id));
  sqlite3_reset(s);
  return sqlite3_changes(conn_->db_) == 1;
}

}  // namespace shmbus::outbox
