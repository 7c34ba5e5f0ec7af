"""The relay thread (as C++'s outbox/relay.cc, step by step):
  1. read up to `batch` unsent rows, lowest seq first (only committed rows are visible);
  2. publish them one by one, in that order; a failure stops the batch there;
  3. mark the published ones sent, in one transaction, at most every `mark_every`.
A crash after 2 and before 3 leaves rows published but unmarked: the next relay publishes them
again, the same records with the same message-ids, before anything newer (duplicates, never gaps
or reordering). Rows of a transaction that rolled back were never visible to step 1."""
import dataclasses
import sys
import threading
import time

from .._errors import Error
from ..service._sender import journal_options
from ._headers import decode_headers

_STOP_SLICE = 0.1
_FIRST_PAUSE = 0.05
_LONGEST_PAUSE = 2.0


@dataclasses.dataclass
class OutboxStats:
    relayed: int = 0      # messages published (resends after a crash count again)
    wakeups: int = 0      # waits ended by a commit's notification
    sweeps: int = 0       # waits ended by the sweep interval
    errors: int = 0       # database or publish failures (retried after a pause)
    removed: int = 0      # sent rows (and inbox marks) deleted by cleanup
    relaying: bool = False  # this relay holds the database's relay lock


class Relay:
    def __init__(self, bus, store, options):
        self.bus = bus
        self.store = store
        self.o = options
        self._journal = journal_options(options["journal"])
        self._publishers = {}
        self._stopping = threading.Event()
        self._thread = None
        self._stats = OutboxStats()
        self._drained = 0
        self._drained_cond = threading.Condition()
        self._flushing = 0
        self._unmarked = []
        self._unmarked_since = 0.0
        self._published_upto = 0

    # --- life ----------------------------------------------------------------------------------------

    def start(self):
        if self._thread is not None:
            return
        self._stopping.clear()
        self._thread = threading.Thread(target=self._run, name="shmbus-outbox-relay", daemon=True)
        self._thread.start()

    def stop(self):
        if self._thread is None:
            return
        self._stopping.set()
        self.store.wake_relays()
        self._thread.join()
        self._thread = None
        self._stats.relaying = False
        for p in self._publishers.values():
            p.close()
        self._publishers.clear()

    def stats(self) -> OutboxStats:
        return dataclasses.replace(self._stats)

    def flush(self, timeout: float) -> bool:
        """True once every message committed before the call is published and marked sent."""
        with self._drained_cond:
            self._flushing += 1
            # The read that ends drained + 1 may have begun before this call; drained + 2 after it.
            want = self._drained + 2
        try:
            self.store.wake_relays()
            deadline = time.monotonic() + timeout
            with self._drained_cond:
                while self._drained < want:
                    left = deadline - time.monotonic()
                    if left <= 0:
                        return False
                    self._drained_cond.wait(min(left, _STOP_SLICE))
                    if self._drained + 1 == want:
                        self.store.wake_relays()  # the second read need not wait a sweep
                return True
        finally:
            with self._drained_cond:
                self._flushing -= 1

    # --- the loop -----------------------------------------------------------------------------------

    def _run(self):
        conn = None
        next_cleanup = time.monotonic()
        pause_for = _FIRST_PAUSE
        reported = 0
        while not self._stopping.is_set():
            try:
                if conn is None:
                    conn = self.store.relay_connection()
                    self._unmarked.clear()  # what the last connection published unmarked goes out again
                    self._published_upto = conn.resume_after()
                if not conn.lock_relay():  # another relay has this database: stand by
                    self._stats.relaying = False
                    self._wait(conn, self.o["sweep"], True)
                    continue
                self._stats.relaying = True
                read = self._relay_batch(conn)
                self._mark(conn, False)
                if time.monotonic() >= next_cleanup:
                    self._mark(conn, True)  # cleanup goes by sent_at
                    self._cleanup(conn)
                    next_cleanup = time.monotonic() + self.o["cleanup_every"]
                pause_for = _FIRST_PAUSE
                if read == self.o["batch"]:
                    continue  # there may be more
                with self._drained_cond:
                    flushing = self._flushing > 0
                if flushing:
                    self._mark(conn, True)  # flush(): sent means marked
                with self._drained_cond:
                    self._drained += 1
                    self._drained_cond.notify_all()
                if not self._unmarked:
                    self._wait(conn, self.o["sweep"], True)
                else:
                    due = self._unmarked_since + self.o["mark_every"] - time.monotonic()
                    self._wait(conn, min(max(due, 0.0), self.o["sweep"]), False)
            except Exception as e:  # noqa: BLE001 - the database went away or a publish failed: retry
                self._stats.errors += 1
                n = self._stats.errors
                if n == 1 or n >= reported * 2:  # 1st, 2nd, 4th, ...: visible, not a flood
                    print(f"shmbus outbox relay ({self.store.describe()}): {e}; retrying (error {n})", file=sys.stderr)
                    reported = n
                if conn is not None:
                    try:
                        conn.close()
                    except Exception:  # noqa: BLE001
                        pass
                conn = None
                self._stats.relaying = False
                self._pause(pause_for)
                pause_for = min(pause_for * 2, _LONGEST_PAUSE)
        if conn is not None:
            try:
                self._mark(conn, True)  # stop(): what was published is marked before the lock goes
            except Exception as e:  # noqa: BLE001
                print(f"shmbus outbox relay ({self.store.describe()}): marking sent at stop: {e} (those are sent "
                      "again)", file=sys.stderr)
            conn.close()

    def _relay_batch(self, conn) -> int:
        batch = conn.unsent(self.o["batch"], self._published_upto)
        for seq, message_id, topic, headers, payload in batch:
            try:
                self._publish(seq, message_id, topic, headers, payload)
            except Exception:
                self._mark(conn, True)
                raise  # order: nothing after a message that did not go out
            if not self._unmarked:
                self._unmarked_since = time.monotonic()
            self._unmarked.append(seq)
            self._published_upto = seq
            self._stats.relayed += 1
        return len(batch)

    def _mark(self, conn, now: bool):
        if not self._unmarked:
            return
        due = len(self._unmarked) >= self.o["batch"] * 4 or time.monotonic() >= self._unmarked_since + self.o["mark_every"]
        if not now and not due:
            return
        conn.mark_sent(self._unmarked)
        self._unmarked.clear()

    def _publish(self, seq, message_id, topic, headers, payload):
        pairs = decode_headers(headers)
        try:
            headers = {k.decode(): v.decode() for k, v in pairs} if pairs is not None else None
        except UnicodeDecodeError:
            headers = None  # Python publishes str headers; envelopes are UTF-8
        if headers is None:
            raise Error(f"outbox row {seq} (message {message_id}) has a malformed headers block (or one that is not "
                        "UTF-8): the relay stops at it, as skipping it would break the order; repair or delete that row")
        pub = self._publishers.get(topic)
        if pub is None:
            self.bus.create_topic(topic, **self._journal)  # False: it exists already, fine
            pub = self._publishers[topic] = self.bus.publisher(topic)
        try:
            # Pipelined: on an fsync=always journal the record is published when this returns and
            # durable soon after, as the C++ relay takes "published, not yet durable".
            pub.publish_pipelined(payload, headers)
        except Error as e:
            raise type(e)(f"publishing {message_id} to {topic} failed: {e}") from None

    def _cleanup(self, conn):
        now = time.time_ns() // 1_000_000
        removed = conn.remove_sent(now - int(self.o["keep_sent"] * 1000))
        if self.o["keep_processed"] > 0:
            removed += conn.remove_processed(now - int(self.o["keep_processed"] * 1000))
        self._stats.removed += removed

    def _wait(self, conn, timeout: float, sweep: bool):
        until = time.monotonic() + timeout
        while not self._stopping.is_set():
            left = until - time.monotonic()
            if left <= 0:
                if sweep:
                    self._stats.sweeps += 1
                return
            if conn.wait_for_commit(min(left, _STOP_SLICE)):
                self._stats.wakeups += 1
                if self.o["linger"] > 0:
                    self._pause(self.o["linger"])  # let more commits come first
                return

    def _pause(self, seconds: float):
        self._stopping.wait(seconds)
