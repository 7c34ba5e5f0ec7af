"""The outbox and the inbox from Python (shmbus.outbox, docs/outbox.md): messages go out once and
only if their transaction commits, in commit order, at least once across kill -9; the inbox applies
a message once however often it comes; and the rows are the C++ outbox's (a C++ writer's rows
relayed by Python, a Python writer's rows relayed by C++)."""
import os
import pathlib
import random
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from dataclasses import dataclass

import pytest

import shmbus
from shmbus import outbox, service

ROOT = pathlib.Path(__file__).resolve().parents[2]


@service.message("Ledgered", version=1, kind="event")
@dataclass
class Ledgered:  # as tests/outbox/outbox_test_support.h: one of the 3 events of transaction n
    n: int
    i: int


@service.message("Credit", version=1, kind="command")
@dataclass
class Credit:
    id: int
    amount: int


JOURNAL = dict(segment_size=4 << 20)


def ledger_tables(path):
    with sqlite3.connect(path) as db:
        db.executescript("CREATE TABLE IF NOT EXISTS ledger (n BIGINT PRIMARY KEY);"
                         "CREATE TABLE IF NOT EXISTS account (id BIGINT PRIMARY KEY, balance BIGINT NOT NULL);"
                         "INSERT OR IGNORE INTO account(id, balance) VALUES (1, 0);"
                         "CREATE TABLE IF NOT EXISTS applied (id BIGINT NOT NULL);")


def scalar(path, sql):
    with sqlite3.connect(path) as db:
        return db.execute(sql).fetchone()[0]


def drain(sub, want, timeout=30.0):
    """Records of `sub` until `want` came (or the timeout: then what came)."""
    got = []
    deadline = time.monotonic() + timeout
    while len(got) < want and time.monotonic() < deadline:
        m = sub.receive(timeout=0.2)
        if m is not None:
            got.append((dict(m.headers), bytes(m)))
    return got


def rest(sub, quiet=2.0):
    """Every record until none comes for `quiet` seconds (a receive that waits also voids the claim
    of a publisher killed mid-publish, which a poll would stop at)."""
    got = []
    while (m := sub.receive(timeout=quiet)) is not None:
        got.append((dict(m.headers), bytes(m)))
    return got


def quiet(sub, seconds=0.5):
    """What else arrives within `seconds` (nothing, when all is well)."""
    return drain(sub, 1, seconds)


@pytest.fixture
def db_path(tmp_path):
    path = str(tmp_path / "app.db")
    store = outbox.SqliteStore(path, synchronous="NORMAL")  # makes the outbox tables
    del store
    ledger_tables(path)
    return path


@pytest.fixture
def bus(tmp_path):
    return shmbus.Bus(str(tmp_path / "bus"), create=True)


def test_committed_messages_go_out_in_order_with_their_envelope_and_rolled_back_ones_never(bus, db_path):
    store = outbox.SqliteStore(db_path, synchronous="NORMAL")
    bus.create_topic("events.Ledgered", kind="journal", **JOURNAL)
    sub = bus.subscribe("events.Ledgered")
    with outbox.Outbox(bus, store, source="py-writer", sweep=600.0) as ob:  # the commit wakes it: no sweep
        ids = []
        for n in range(1, 21):
            try:
                with store.transaction() as tx:
                    tx.execute("INSERT INTO ledger(n) VALUES (?)", (n,))
                    written = [ob.publish(tx, Ledgered(n, i)) for i in range(3)]
                    if n % 4 == 3:
                        raise RuntimeError("roll back")
                ids += written
            except RuntimeError:
                pass
        got = drain(sub, len(ids))
        assert [h["message-id"] for h, _ in got] == ids
        assert quiet(sub) == []
        assert ob.flush(10.0)
        stats = ob.stats()
    committed = [n for n in range(1, 21) if n % 4 != 3]
    assert [(int(p.decode().split('"n":')[1].rstrip("}")), h["type"]) for h, p in got][::3] == \
        [(n, "Ledgered@1") for n in committed]
    headers, payload = got[0]
    assert payload == b'{"i":0,"n":1}'
    assert headers["kind"] == "event" and headers["source"] == "py-writer"
    assert headers["correlation-id"] == headers["message-id"] == headers["conversation-id"]
    assert service.TraceContext.parse(headers["traceparent"]) is not None
    assert stats.relayed == len(ids) and stats.errors == 0 and stats.wakeups >= 1 and stats.relaying
    assert scalar(db_path, "SELECT count(*) FROM shmbus_outbox WHERE sent_at IS NULL") == 0
    assert scalar(db_path, "SELECT count(*) FROM shmbus_outbox") == len(ids)  # rolled back: no row
    assert scalar(db_path, "SELECT count(*) FROM ledger") == len(committed)


def test_kinds_are_enforced_and_a_command_needs_a_bound_endpoint(bus, db_path):
    store = outbox.SqliteStore(db_path)
    with outbox.Outbox(bus, store, relay=False) as ob:
        with store.transaction() as tx:
            with pytest.raises(shmbus.InvalidArgumentError, match="a command goes to one endpoint"):
                ob.publish(tx, Credit(1, 1))
            with pytest.raises(shmbus.InvalidArgumentError, match="an event goes to every endpoint"):
                ob.send(tx, Ledgered(1, 0), "ledger")
            with pytest.raises(service.NoEndpoint, match='no endpoint "nobody"'):
                ob.send(tx, Credit(1, 1), "nobody")
    assert scalar(db_path, "SELECT count(*) FROM shmbus_outbox") == 0


def test_a_command_through_the_outbox_reaches_its_endpoint_whose_inbox_applies_it_once(bus, db_path):
    """Credits sent through the outbox, then every record copied 1..5 times onto the endpoint's
    topic (as a redelivery, a replay or a bridge's resend brings them): the state changes once."""
    store = outbox.SqliteStore(db_path, synchronous="NORMAL")
    inbox = outbox.Inbox(store)
    endpoint = service.Endpoint(bus, "ledger", concurrency=2, journal=JOURNAL, idle_wait=0.005)
    follow_ups = []

    def credit(c, ctx, tx):
        tx.execute("UPDATE account SET balance = balance + ? WHERE id = 1", (c.amount,))
        tx.execute("INSERT INTO applied(id) VALUES (?)", (c.id,))
        follow_ups.append(ob.publish(tx, Ledgered(c.id, 0), ctx))  # continues the command's flow

    endpoint.handle(Credit, inbox.handler(credit))
    bus.create_topic("events.Ledgered", kind="journal", **JOURNAL)
    events = bus.subscribe("events.Ledgered")
    with endpoint, outbox.Outbox(bus, store, source="py-ledger", journal=JOURNAL) as ob:
        commands = bus.subscribe("commands.ledger")  # taps the endpoint's topic for the copies
        sent = []
        with store.transaction() as tx:
            for m in range(50):
                sent.append(ob.send(tx, Credit(m, m + 1), "ledger"))
        originals = drain(commands, 50)
        assert [h["message-id"] for h, _ in originals] == sent
        pub = bus.publisher("commands.ledger")
        deliveries = 50
        for copy in range(1, 5):
            for m, (headers, payload) in enumerate(originals):
                if copy <= m % 5:
                    pub.publish(payload, headers)
                    deliveries += 1
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            s = inbox.stats()
            if s.processed + s.skipped == deliveries:
                break
            time.sleep(0.02)
        got = drain(events, 50)
    s = inbox.stats()
    assert (s.processed, s.skipped, s.failed) == (50, deliveries - 50, 0)
    assert scalar(db_path, "SELECT count(*) FROM applied") == 50
    assert scalar(db_path, "SELECT count(DISTINCT id) FROM applied") == 50
    assert scalar(db_path, "SELECT balance FROM account WHERE id = 1") == 50 * 51 // 2
    assert scalar(db_path, "SELECT count(*) FROM shmbus_inbox WHERE endpoint = 'ledger'") == 50
    by_cause = {h["causation-id"]: h for h, _ in got}
    assert sorted(by_cause) == sorted(sent)  # one event per command, caused by it
    first = by_cause[sent[0]]
    assert first["correlation-id"] == originals[0][0]["correlation-id"] and first["source"] == "ledger"


def test_a_failed_attempt_leaves_no_mark_and_its_retry_applies_once(bus, db_path):
    store = outbox.SqliteStore(db_path, synchronous="NORMAL")
    inbox = outbox.Inbox(store)
    endpoint = service.Endpoint(bus, "ledger", journal=JOURNAL, idle_wait=0.005, retry="exponential:min=1ms,max=5ms")
    attempts = []

    def credit(c, ctx, tx):
        tx.execute("UPDATE account SET balance = balance + ? WHERE id = 1", (c.amount,))
        attempts.append(ctx.attempt)
        if ctx.attempt == 1:
            raise RuntimeError("the first attempt fails after its update")

    endpoint.handle(Credit, inbox.handler(credit))
    with endpoint, outbox.Outbox(bus, store, journal=JOURNAL) as ob:
        with store.transaction() as tx:
            ob.send(tx, Credit(7, 5), "ledger")
        deadline = time.monotonic() + 30
        while inbox.stats().processed < 1 and time.monotonic() < deadline:
            time.sleep(0.02)
    assert attempts == [1, 2]
    assert (inbox.stats().processed, inbox.stats().failed) == (1, 1)
    assert scalar(db_path, "SELECT balance FROM account WHERE id = 1") == 5


WRITER = textwrap.dedent("""
    import sys, time
    sys.path[:0] = [sys.argv[3]]
    import shmbus
    from shmbus import outbox
    from test_outbox import Ledgered, JOURNAL
    store = outbox.SqliteStore(sys.argv[1], synchronous="NORMAL")
    bus = shmbus.Bus(sys.argv[2])
    ob = outbox.Outbox(bus, store, source="py-writer", journal=JOURNAL, sweep=0.2, mark_every=0.005)
    n = store.connect().sql.execute("SELECT COALESCE(MAX(n), 0) FROM ledger").fetchone()[0] + 1
    print("ready", flush=True)
    for _ in range(int(sys.argv[4])):
        tx = store.transaction()
        tx.execute("INSERT INTO ledger(n) VALUES (?)", (n,))
        for i in range(3):
            ob.publish(tx, Ledgered(n, i))
        if n % 4 == 3:
            tx.rollback()
        else:
            tx.commit()
        n += 1
    sys.exit(0 if ob.flush(60) else 3)
""")


def test_a_writer_killed_9_at_random_loses_nothing_committed_and_publishes_nothing_else(bus, db_path, tmp_path,
                                                                                      python_env):
    bus_path = str(tmp_path / "bus")
    bus.create_topic("events.Ledgered", kind="journal", **JOURNAL)
    sub = bus.subscribe("events.Ledgered")
    script = tmp_path / "writer.py"
    script.write_text(WRITER)
    here = str(pathlib.Path(__file__).parent)
    rng = random.Random(1601)
    kills = 0
    for _ in range(25):
        p = subprocess.Popen([sys.executable, str(script), db_path, bus_path, here, "100000"], env=python_env,
                             stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL)
        assert p.stdout.readline() == b"ready\n"
        time.sleep(rng.uniform(0.0, 0.3))
        p.send_signal(signal.SIGKILL)
        p.wait(timeout=30)
        kills += p.returncode == -signal.SIGKILL
    last = subprocess.run([sys.executable, str(script), db_path, bus_path, here, "10"], env=python_env,
                          stdin=subprocess.DEVNULL, capture_output=True, timeout=120)
    assert last.returncode == 0, last.stderr.decode()
    assert kills == 25

    committed = [r[0] for r in sqlite3.connect(db_path).execute("SELECT n FROM ledger ORDER BY n")]
    assert committed and all(n % 4 != 3 for n in committed)
    rows = scalar(db_path, "SELECT count(*) FROM shmbus_outbox")
    assert rows == 3 * len(committed)
    assert scalar(db_path, "SELECT count(*) FROM shmbus_outbox WHERE sent_at IS NULL") == 0
    got = [(h["message-id"], p) for h, p in rest(sub)]
    first_seen = {}
    for mid, payload in got:
        assert first_seen.setdefault(mid, payload) == payload  # a resend is the same message
    order = [payload for payload in first_seen.values()]
    want = [f'{{"i":{i},"n":{n}}}'.encode() for n in committed for i in range(3)]
    assert order == want  # every committed message, first occurrences in commit order, nothing else
    assert len(got) >= len(want)


@pytest.fixture(scope="module")
def outbox_peer():
    path = pathlib.Path(os.environ.get("SHMBUS_OUTBOX_PEER", ROOT / "build" / "tests" / "outbox_peer"))
    if not path.exists():
        pytest.fail(f"the outbox peer is not built at {path}; run tools/test.sh or set SHMBUS_OUTBOX_PEER")
    return str(path)


def test_rows_a_cpp_writer_committed_are_relayed_by_python(bus, db_path, tmp_path, outbox_peer):
    bus.create_topic("events.Ledgered", kind="journal", **JOURNAL)
    sub = bus.subscribe("events.Ledgered")
    r = subprocess.run([outbox_peer, "write-only", "sqlite:" + db_path, str(tmp_path / "bus"), "5"],
                       capture_output=True, timeout=60, stdin=subprocess.DEVNULL)
    assert r.returncode == 0, r.stderr.decode()
    rows = sqlite3.connect(db_path).execute("SELECT message_id, payload FROM shmbus_outbox ORDER BY seq").fetchall()
    store = outbox.SqliteStore(db_path)
    with outbox.Outbox(bus, store) as ob:
        got = drain(sub, 5)
        assert ob.flush(10.0)
    assert [(h["message-id"], p) for h, p in got] == [(mid, bytes(p)) for mid, p in rows]
    assert [p for _, p in got] == [f'{{"i":{i},"n":1}}'.encode() for i in range(5)]
    assert all(h["source"] == "write-only" and h["type"] == "Ledgered@1" for h, _ in got)


def test_rows_python_committed_are_relayed_by_the_cpp_relay_and_the_lock_is_shared(bus, db_path, tmp_path,
                                                                                  outbox_peer):
    bus.create_topic("events.Ledgered", kind="journal", **JOURNAL)
    sub = bus.subscribe("events.Ledgered")
    store = outbox.SqliteStore(db_path)
    with outbox.Outbox(bus, store, source="py", relay=False) as ob:
        with store.transaction() as tx:
            ids = [ob.publish(tx, Ledgered(9, i)) for i in range(4)]
    # The C++ writer with no transactions to make: its relay relays what is unsent, and flushes.
    r = subprocess.run([outbox_peer, "writer", "sqlite:" + db_path, str(tmp_path / "bus"), "0"], capture_output=True,
                       timeout=60, stdin=subprocess.DEVNULL)
    assert r.returncode == 0, r.stderr.decode()
    got = drain(sub, 4)
    assert [h["message-id"] for h, _ in got] == ids
    assert [p for _, p in got] == [f'{{"i":{i},"n":9}}'.encode() for i in range(4)]
    assert got[0][0]["source"] == "py"

    # One relay per database, whichever language: while a C++ writer's relay holds the lock, a
    # Python relay stands by; once the C++ process is killed -9, the Python one takes over and
    # relays what the dead one left, so every committed message reaches the bus.
    writer = subprocess.Popen([outbox_peer, "writer", "sqlite:" + db_path, str(tmp_path / "bus"), "1000000"],
                              stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        got += drain(sub, 30)
        assert len(got) == 4 + 30  # the C++ relay is relaying
        with outbox.Outbox(bus, store, sweep=0.2) as ob:
            time.sleep(1.0)
            assert not ob.stats().relaying
            writer.send_signal(signal.SIGKILL)
            writer.wait(timeout=30)
            assert ob.flush(30.0)
            assert ob.stats().relaying
    finally:
        writer.kill()
        writer.wait(timeout=30)
    committed = [r[0] for r in sqlite3.connect(db_path).execute("SELECT n FROM ledger ORDER BY n")]
    assert len(committed) >= 10
    assert scalar(db_path, "SELECT count(*) FROM shmbus_outbox WHERE sent_at IS NULL") == 0
    first = {}
    for h, p in got + rest(sub):
        first.setdefault(h["message-id"], p)
    assert list(first.values()) == [f'{{"i":{i},"n":9}}'.encode() for i in range(4)] + \
        [f'{{"i":{i},"n":{n}}}'.encode() for n in committed for i in range(3)]


def schema(path):
    """Tables' columns and indexes as SQLite reports them (not the CREATE texts, which keep comments)."""
    db = sqlite3.connect(path)
    out = {}
    for (name,) in db.execute("SELECT name FROM sqlite_master WHERE type = 'table' AND name LIKE 'shmbus_%'"):
        out[name] = (db.execute(f"PRAGMA table_xinfo({name})").fetchall(),
                     db.execute("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = ?",
                                (name,)).fetchone()[0].rstrip().endswith("WITHOUT ROWID"))
    for name, sql in db.execute("SELECT name, sql FROM sqlite_master WHERE type = 'index' AND name LIKE 'shmbus_%'"):
        out[name] = (sql, db.execute(f"PRAGMA index_xinfo({name})").fetchall())
    db.close()
    return out


def test_python_makes_the_very_tables_the_cpp_store_makes(tmp_path, outbox_peer, bus):
    """The two stores create their tables independently (whichever opens a database first): they
    must agree column by column and index by index, or rows would not travel between them."""
    cpp, py = str(tmp_path / "cpp.db"), str(tmp_path / "py.db")
    r = subprocess.run([outbox_peer, "write-only", "sqlite:" + cpp, str(tmp_path / "bus"), "0"], capture_output=True,
                       timeout=60, stdin=subprocess.DEVNULL)
    assert r.returncode == 0, r.stderr.decode()
    outbox.SqliteStore(py)
    made = schema(py)
    assert {"shmbus_outbox", "shmbus_inbox"} <= set(made)
    assert made == schema(cpp)
