// SqliteStore: opens the database in WAL mode, creates the outbox and inbox tables, hands out
// connections; and the relay's connection (reads unsent rows, marks them, cleans up, waits).
#include <fcntl.h>
#include <sqlite3.h>
#include <sys/file.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>

#include "commit_signal.h"
#include "shmbus/outbox/sqlite.h"
#include "sqlite_util.h"

namespace shmbus::outbox {
namespace {

// No index on unsent rows: the relay reads on by rowid from the last row it published (seq is
// commit order here), so an insert writes the table's page alone, and the service's transaction
// one page more than without the outbox. The index on sent_at (rows enter it when marked, off
// the service's transactions) serves cleanup and the relay's starting point.
constexpr std::string_view kSchema = R"sql(
CREATE TABLE IF NOT EXISTS shmbus_outbox (
  seq INTEGER PRIMARY KEY,  -- the rowid: max + 1, never reused while cleanup keeps the newest row
  message_id TEXT NOT NULL,
  topic TEXT NOT NULL,
  headers BLOB NOT NULL,
  payload BLOB NOT NULL,
  created_at INTEGER NOT NULL,
  sent_at INTEGER
);
CREATE INDEX IF NOT EXISTS shmbus_outbox_sent ON shmbus_outbox(sent_at) WHERE sent_at IS NOT NULL;
CREATE TABLE IF NOT EXISTS shmbus_inbox (
  endpoint TEXT NOT NULL,
  message_id TEXT NOT NULL,
  processed_at INTEGER NOT NULL,
  PRIMARY KEY (endpoint, message_id)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS shmbus_inbox_age ON shmbus_inbox(processed_at);
)sql";

// The relay's connection: its own sqlite3*, and the relay lock, a flock on <db>-relay.lock (the
// kernel drops it when the process dies, so a standby relay takes over).
class SqliteRelayConnection final : public RelayConnection {
 public:
  SqliteRelayConnection(sqlite3* db, std::shared_ptr<detail::CommitSignal> signal, std::string lock_path,
                        std::chrono::milliseconds busy_timeout)
      : db_(db),
        signal_(std::move(signal)),
        seen_(signal_->count()),
        lock_path_(std::move(lock_path)),
        busy_timeout_(busy_timeout),
        unsent_(db_, "SELECT seq, message_id, topic, headers, payload FROM shmbus_outbox "
                     "WHERE seq > ?2 AND sent_at IS NULL ORDER BY seq LIMIT ?1"),
        mark_(db_, "UPDATE shmbus_outbox SET sent_at = ?1 WHERE seq BETWEEN ?2 AND ?3") {
    // While the relay writes, this process's writers hold back (CommitSignal::await_turn): the
    // one inside its transaction ends in microseconds, so wait in short steps, not SQLite's
    // default 1, 2, 5 ms ones.
    sqlite3_busy_handler(db_, &SqliteRelayConnection::on_busy, this);
    // Checkpoints of the relay's commits run after its turn is given back (write_turn), not in
    // its COMMIT while this process's writers wait for it; same threshold as SQLite's default.
    sqlite3_wal_hook(db_, &SqliteRelayConnection::on_wal_commit, this);
  }
  ~SqliteRelayConnection() override {
    if (attached_) signal_->attach(nullptr);
    if (lock_fd_ >= 0) {
      signal_->relay_locked(false);
      ::close(lock_fd_);  // releases the relay lock
    }
    sqlite3_close_v2(db_);  // _v2: closes once the statements below are finalised
  }

  std::vector<OutboxMessage> unsent(size_t max, int64_t after) override {
    // This process's commits handed their rows over: those that follow `after` without a gap
    // are committed and next in seq order, the database's answer without a read transaction.
    std::vector<OutboxMessage> out = signal_->take(after, max);
    if (!out.empty()) return out;
    detail::Statement& s = unsent_;
    sqlite3_reset(s.get());
    sqlite3_bind_int64(s.get(), 1, static_cast<int64_t>(max));
    sqlite3_bind_int64(s.get(), 2, after);
    while (s.step("outbox relay: reading unsent messages")) {
      out.push_back({sqlite3_column_int64(s.get(), 0), detail::column_string(s.get(), 1),
                     detail::column_string(s.get(), 2), detail::column_string(s.get(), 3),
                     detail::column_string(s.get(), 4)});
    }
    sqlite3_reset(s.get());  // ends the read transaction: the WAL can be checkpointed past it
    return out;
  }

  void mark_sent(std::span<const int64_t> seqs) override {
    WriteTurn turn(*this);
    exec("BEGIN IMMEDIATE");
    try {
      detail::Statement& s = mark_;
      const int64_t now = detail::unix_ms(std::chrono::system_clock::now());
      // One statement per run of consecutive seqs (the relay publishes in seq order, so a
      // mark is one run or few): a statement per row cost the relay's write turn, which this
      // process's writers wait out, a VDBE program start for each of thousands of rows.
      for (size_t i = 0; i < seqs.size();) {
        size_t j = i + 1;
        while (j < seqs.size() && seqs[j] == seqs[j - 1] + 1) ++j;
        sqlite3_reset(s.get());
        sqlite3_bind_int64(s.get(), 1, now);
        sqlite3_bind_int64(s.get(), 2, seqs[i]);
        sqlite3_bind_int64(s.get(), 3, seqs[j - 1]);
        s.step("outbox relay: marking sent");
        i = j;
      }
      sqlite3_reset(s.get());
      exec("COMMIT");
    } catch (...) {
      sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
      throw;
    }
  }

  uint64_t remove_sent(std::chrono::system_clock::time_point before) override {
    // The newest row stays, sent or not: the next rowid is max + 1, so a seq is never handed out
    // twice and the relay's "read on after the last seq" finds every new row.
    return remove("DELETE FROM shmbus_outbox WHERE sent_at IS NOT NULL AND sent_at < ?1 AND "
                  "seq < (SELECT max(seq) FROM shmbus_outbox)", before);
  }
  uint64_t remove_processed(std::chrono::system_clock::time_point before) override {
    return remove("DELETE FROM shmbus_inbox WHERE processed_at < ?1", before);
  }

  uint64_t count_unsent() override {
    detail::Statement s(db_, "SELECT count(*) FROM shmbus_outbox WHERE sent_at IS NULL");
    s.step("outbox: counting unsent messages");
    return static_cast<uint64_t>(sqlite3_column_int64(s.get(), 0));
  }

  // Writers of one SQLite database take turns (the write lock from the first write to the
  // commit) and AUTOINCREMENT never hands out a seq twice: seq order is commit order.
  bool seq_is_commit_order() const noexcept override { return true; }

  // The last row marked sent (the newest sent_at, found by its index): rows are marked in seq
  // order, so every row up to it is sent. None marked (or cleaned up): 0, read from the start,
  // where only unsent rows are left below the first sent one.
  int64_t resume_after() override {
    detail::Statement s(db_, "SELECT max(seq) FROM shmbus_outbox WHERE sent_at = "
                             "(SELECT max(sent_at) FROM shmbus_outbox WHERE sent_at IS NOT NULL)");
    s.step("outbox relay: finding where to resume");
    return sqlite3_column_int64(s.get(), 0);
  }

  bool wait_for_commit(std::chrono::milliseconds timeout) override { return signal_->wait(seen_, timeout); }

  void attach(detail::CommittedSink* sink) override {
    if (!sink && !attached_) return;
    signal_->attach(sink);
    attached_ = sink != nullptr;
  }

  bool lock_relay() override {
    if (lock_fd_ >= 0) return true;
    const int fd = ::open(lock_path_.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0) {
      throw Error("outbox relay: cannot open its lock file " + lock_path_ + ": " + std::strerror(errno) +
                      " (the relay needs write access beside the database)",
                  ErrorKind::kIo);
    }
    if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
      ::close(fd);
      return false;  // another relay (this process or another) has it
    }
    lock_fd_ = fd;
    signal_->relay_locked(true);  // commits hand their rows over from now on
    return true;
  }

 private:
  void exec(const char* sql) { detail::check_sqlite(sqlite3_exec(db_, sql, nullptr, nullptr, nullptr), db_, sql); }
  uint64_t remove(std::string_view sql, std::chrono::system_clock::time_point before) {
    WriteTurn turn(*this);
    detail::Statement s(db_, sql);
    sqlite3_bind_int64(s.get(), 1, detail::unix_ms(before));
    s.step("outbox: cleaning up");
    return static_cast<uint64_t>(sqlite3_changes(db_));
  }

  // The relay's turn to write: this process's writers wait from the constructor to the
  // destructor, which then runs a checkpoint if the relay's commit made the WAL long enough.
  class WriteTurn {
   public:
    explicit WriteTurn(SqliteRelayConnection& c) : c_(c) { c_.signal_->relay_write_begin(); }
    ~WriteTurn() {
      c_.signal_->relay_write_end();
      if (c_.wal_frames_ >= kCheckpointFrames) {
        c_.wal_frames_ = 0;
        sqlite3_wal_checkpoint_v2(c_.db_, nullptr, SQLITE_CHECKPOINT_PASSIVE, nullptr, nullptr);  // as SQLite's own
      }
    }
    WriteTurn(const WriteTurn&) = delete;
    WriteTurn& operator=(const WriteTurn&) = delete;

   private:
    SqliteRelayConnection& c_;
  };

  static constexpr int kCheckpointFrames = 1000;  // SQLite's wal_autocheckpoint default

  static int on_busy(void* self, int attempt) {
    auto& c = *static_cast<SqliteRelayConnection*>(self);
    const auto now = std::chrono::steady_clock::now();
    if (attempt == 0) c.busy_since_ = now;
    if (now - c.busy_since_ >= c.busy_timeout_) return 0;  // SQLITE_BUSY, as busy_timeout would
    ::usleep(static_cast<useconds_t>(std::min(20 << std::min(attempt, 6), 1000)));  // 20 us .. 1 ms
    return 1;
  }
  static int on_wal_commit(void* self, sqlite3*, const char*, int frames) {
    static_cast<SqliteRelayConnection*>(self)->wal_frames_ = frames;
    return SQLITE_OK;
  }

  sqlite3* db_;
  std::shared_ptr<detail::CommitSignal> signal_;
  uint64_t seen_;
  std::string lock_path_;
  std::chrono::milliseconds busy_timeout_;
  std::chrono::steady_clock::time_point busy_since_;
  int wal_frames_ = 0;
  int lock_fd_ = -1;
  bool attached_ = false;  // this connection's relay is the signal's sink
  detail::Statement unsent_;  // prepared once: the relay runs them after every commit
  detail::Statement mark_;
};

std::string canonical(const std::string& path) {
  std::error_code ec;
  std::filesystem::path p = std::filesystem::weakly_canonical(path, ec);
  return ec ? path : p.string();
}

}  // namespace

SqliteStore::SqliteStore(std::string path, SqliteOptions options)
    : path_(canonical(path)), options_(options), signal_(detail::CommitSignal::for_database(path_)) {}

std::shared_ptr<SqliteStore> SqliteStore::open(std::string path, SqliteOptions options) {
  auto store = std::make_shared<SqliteStore>(std::move(path), options);
  sqlite3* db = store->open_handle();
  char* error = nullptr;
  const int rc = sqlite3_exec(db, std::string(kSchema).c_str(), nullptr, nullptr, &error);
  if (rc != SQLITE_OK) {
    const std::string what = "outbox: cannot create its tables in " + store->path_ + ": " + (error ? error : "?");
    sqlite3_free(error);
    sqlite3_close_v2(db);
    throw Error(what);
  }
  sqlite3_close_v2(db);
  return store;
}

sqlite3* SqliteStore::open_handle() const {
  sqlite3* db = nullptr;
  const int rc = sqlite3_open_v2(path_.c_str(), &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                                 nullptr);
  if (rc != SQLITE_OK) {
    const std::string what = "outbox: cannot open the SQLite database " + path_ + ": " +
                             (db ? sqlite3_errmsg(db) : sqlite3_errstr(rc)) +
                             " (does its directory exist, and may this user write there?)";
    sqlite3_close_v2(db);
    throw Error(what, ErrorKind::kIo);
  }
  try {
    detail::check_sqlite(sqlite3_busy_timeout(db, static_cast<int>(options_.busy_timeout.count())), db, "busy_timeout");
    // WAL: readers (the relay) never block the writer, and a commit is one append to the WAL.
    detail::Statement wal(db, "PRAGMA journal_mode=WAL");
    wal.step("outbox: setting WAL mode on " + path_);
    const std::string mode = detail::column_string(wal.get(), 0);
    if (mode != "wal") {
      throw Error("outbox: " + path_ + " cannot be put in WAL mode (it stays in " + mode +
                  "): is it on a file system without shared memory, e.g. a network one?");
    }
    const char* sync = options_.synchronous == Synchronous::kFull ? "PRAGMA synchronous=FULL" : "PRAGMA synchronous=NORMAL";
    detail::check_sqlite(sqlite3_exec(db, sync, nullptr, nullptr, nullptr), db, sync);
  } catch (...) {
    sqlite3_close_v2(db);
    throw;
  }
  return db;
}

SqliteConnection SqliteStore::connect() { return SqliteConnection(open_handle(), signal_, options_.busy_timeout); }

std::unique_ptr<RelayConnection> SqliteStore::relay_connection() {
  return std::make_unique<SqliteRelayConnection>(open_handle(), signal_, path_ + "-relay.lock", options_.busy_timeout);
}

void SqliteStore::wake_relays() { signal_->notify_read_database(); }

}  // namespace shmbus::outbox
