"""The SQLite store: opens the database in WAL mode, creates the outbox and inbox tables (the very
tables of the C++ store, outbox/sqlite_store.cc: a C++ and a Python service may share a database,
and either's relay relays both's rows), hands out connections and transactions, and the relay's
connection (reads unsent rows, marks them, cleans up, the relay lock)."""
import fcntl
import os
import sqlite3
import threading
import time

from .._errors import Error, InvalidArgumentError, StorageError
from . import _signal

# The C++ store's tables (CREATE ... IF NOT EXISTS: whichever opens first makes them); a test
# (test_python_makes_the_very_tables_the_cpp_store_makes) holds the two to one schema.
_SCHEMA = """
CREATE TABLE IF NOT EXISTS shmbus_outbox (
  seq INTEGER PRIMARY KEY,
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
"""

_INSERT_OUTBOX = "INSERT INTO shmbus_outbox(message_id, topic, headers, payload, created_at) VALUES (?, ?, ?, ?, ?)"
_INSERT_INBOX = "INSERT OR IGNORE INTO shmbus_inbox(endpoint, message_id, processed_at) VALUES (?, ?, ?)"


def unix_ms() -> int:
    return time.time_ns() // 1_000_000


class Transaction:
    """One BEGIN IMMEDIATE ... COMMIT on a Connection: `execute` your statements on it, then
    `commit()` (or use it as a context manager: committed at the end of the block, rolled back if
    it raises). A transaction destroyed or closed uncommitted rolls back. One thread."""

    def __init__(self, connection: "Connection"):
        self.connection = connection
        self.sql = connection.sql  # the sqlite3.Connection, for statements of your own
        self.active = True
        self._wrote_outbox = False
        self.sql.execute("BEGIN IMMEDIATE")

    def execute(self, statement, parameters=()):
        self._require_active("execute")
        return self.sql.execute(statement, parameters)

    def executemany(self, statement, rows):
        self._require_active("executemany")
        return self.sql.executemany(statement, rows)

    def commit(self) -> None:
        self._require_active("commit")
        self.active = False
        try:
            self.sql.execute("COMMIT")
        except BaseException:
            # A failed COMMIT (SQLITE_BUSY) may leave the transaction open: end it, so that the
            # connection can begin again; nothing of it was kept.
            if self.sql.in_transaction:
                self.sql.execute("ROLLBACK")
            raise
        if self._wrote_outbox:
            self.connection.store.wake_relays()

    def rollback(self) -> None:
        if not self.active:
            return
        self.active = False
        if self.sql.in_transaction:
            self.sql.execute("ROLLBACK")

    def append_outbox(self, message_id: str, topic: str, headers: bytes, payload: bytes) -> None:
        """Inserts an outbox row: relayed if and once this transaction commits."""
        self._require_active("the outbox", "outbox")
        self.sql.execute(_INSERT_OUTBOX, (message_id, topic, headers, payload, unix_ms()))
        self._wrote_outbox = True

    def mark_processed(self, endpoint: str, message_id: str) -> bool:
        """Inserts (endpoint, message_id) into shmbus_inbox; False if it is there already (an
        earlier delivery committed it: the message was processed)."""
        self._require_active("the inbox", "inbox")
        return self.sql.execute(_INSERT_INBOX, (endpoint, message_id, unix_ms())).rowcount == 1

    def _require_active(self, what, who="sqlite"):
        if not self.active:
            raise Error(f"{who}: {what} on a transaction that is no longer active (committed or rolled back)")

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        if exc_type is None and self.active:
            self.commit()
        else:
            self.rollback()
        return False

    def __del__(self):
        try:
            self.rollback()
        except Exception:  # noqa: BLE001 - the connection may be closed already
            pass


class Connection:
    """A connection of its own to the store's database (one thread at a time)."""

    def __init__(self, store: "SqliteStore"):
        self.store = store
        self.sql = store._open_handle()

    def begin(self) -> Transaction:
        """BEGIN IMMEDIATE: takes the write lock now (waiting up to busy_timeout), so the
        transaction never fails later on a lock."""
        return Transaction(self)

    def close(self) -> None:
        self.sql.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False


class SqliteStore:
    """``SqliteStore(path, synchronous="FULL")``: the database file (created if missing), in WAL mode,
    with the outbox and inbox tables. `synchronous`: "FULL" (a commit survives a power loss) or
    "NORMAL" (it survives a crash of the process). `busy_timeout`: seconds a statement waits for
    another connection's write lock. Any thread; connections are per thread."""

    def __init__(self, path: str, *, synchronous: str = "FULL", busy_timeout: float = 10.0):
        if synchronous not in ("FULL", "NORMAL"):
            raise InvalidArgumentError(f'synchronous "{synchronous}": give "FULL" or "NORMAL"')
        self.path = os.path.realpath(path)
        self.synchronous = synchronous
        self.busy_timeout = busy_timeout
        self._signal = _signal.for_database(self.path)
        self._local = threading.local()
        db = self._open_handle()
        try:
            db.executescript(_SCHEMA)
        except sqlite3.Error as e:
            raise Error(f"outbox: cannot create its tables in {self.path}: {e}") from None
        finally:
            db.close()

    def describe(self) -> str:
        return f"sqlite:{self.path}"

    def _open_handle(self) -> sqlite3.Connection:
        try:
            # isolation_level=None: no implicit transactions; Transaction says BEGIN and COMMIT.
            db = sqlite3.connect(self.path, timeout=self.busy_timeout, isolation_level=None,
                                 check_same_thread=False)
        except sqlite3.Error as e:
            raise StorageError(f"outbox: cannot open the SQLite database {self.path}: {e} (does its directory exist, "
                               "and may this user write there?)") from None
        try:
            mode = db.execute("PRAGMA journal_mode=WAL").fetchone()[0]
            if mode != "wal":
                raise Error(f"outbox: {self.path} cannot be put in WAL mode (it stays in {mode}): is it on a file "
                            "system without shared memory, e.g. a network one?")
            db.execute(f"PRAGMA synchronous={self.synchronous}")
        except BaseException:
            db.close()
            raise
        return db

    def connect(self) -> Connection:
        return Connection(self)

    def transaction(self) -> Transaction:
        """A transaction on this thread's own connection (made on first use): ``with
        store.transaction() as tx: ...``."""
        conn = getattr(self._local, "connection", None)
        if conn is None:
            conn = self._local.connection = self.connect()
        return conn.begin()

    def wake_relays(self) -> None:
        """Wakes this process's relays of this database now."""
        self._signal.notify()

    def relay_connection(self) -> "RelayConnection":
        return RelayConnection(self)


class RelayConnection:
    """The relay's own connection (one thread): unsent rows in seq order, marks, cleanup, waiting
    for a commit, and the relay lock: a flock on <db>-relay.lock, the lock the C++ relay takes, so
    one relay relays a database whatever language it is written in; the kernel drops it when its
    process dies and a standby takes over."""

    def __init__(self, store: SqliteStore):
        self.store = store
        self.sql = store._open_handle()
        self._seen = store._signal.count()
        self._lock_fd = -1

    def close(self) -> None:
        if self._lock_fd >= 0:
            os.close(self._lock_fd)  # releases the relay lock
            self._lock_fd = -1
        self.sql.close()

    # SQLite has one writer at a time and seq is the rowid, never handed out twice (cleanup keeps
    # the newest row): seq order is commit order, so the relay may read on after the last seq it
    # published and mark rows sent later, in fewer write transactions.
    seq_is_commit_order = True

    def unsent(self, limit: int, after: int):
        return self.sql.execute("SELECT seq, message_id, topic, headers, payload FROM shmbus_outbox "
                                "WHERE seq > ? AND sent_at IS NULL ORDER BY seq LIMIT ?", (after, limit)).fetchall()

    def resume_after(self) -> int:
        """The last row marked sent (rows are marked in seq order): every row up to it is sent."""
        row = self.sql.execute("SELECT max(seq) FROM shmbus_outbox WHERE sent_at = "
                               "(SELECT max(sent_at) FROM shmbus_outbox WHERE sent_at IS NOT NULL)").fetchone()
        return row[0] or 0

    def mark_sent(self, seqs) -> None:
        now = unix_ms()
        self.sql.execute("BEGIN IMMEDIATE")
        try:
            self.sql.executemany("UPDATE shmbus_outbox SET sent_at = ? WHERE seq = ?", ((now, s) for s in seqs))
            self.sql.execute("COMMIT")
        except BaseException:
            if self.sql.in_transaction:
                self.sql.execute("ROLLBACK")
            raise

    def remove_sent(self, before_ms: int) -> int:
        # The newest row stays, sent or not: the next rowid is max + 1, never a seq handed out before.
        return self.sql.execute("DELETE FROM shmbus_outbox WHERE sent_at IS NOT NULL AND sent_at < ? AND "
                                "seq < (SELECT max(seq) FROM shmbus_outbox)", (before_ms,)).rowcount

    def remove_processed(self, before_ms: int) -> int:
        return self.sql.execute("DELETE FROM shmbus_inbox WHERE processed_at < ?", (before_ms,)).rowcount

    def count_unsent(self) -> int:
        return self.sql.execute("SELECT count(*) FROM shmbus_outbox WHERE sent_at IS NULL").fetchone()[0]

    def wait_for_commit(self, timeout: float) -> bool:
        came, self._seen = self.store._signal.wait(self._seen, timeout)
        return came

    def lock_relay(self) -> bool:
        if self._lock_fd >= 0:
            return True
        path = self.store.path + "-relay.lock"
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        except OSError as e:
            raise StorageError(f"outbox relay: cannot open its lock file {path}: {e.strerror} (the relay needs write "
                               "access beside the database)") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return False  # another relay (this process or another, C++ or Python) has it
        self._lock_fd = fd
        return True
