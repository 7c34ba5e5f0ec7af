"""Journal topics end to end: named cursors, replay by time, retention and stats from Python, and
the journal and cursor commands of the CLI (dump, cursor ls/set/reset, sub --cursor, the
progress bar on a terminal)."""
import datetime
import json
import os
import pty
import subprocess
import sys
import textwrap
import time

import pytest

import shmbus

SEGMENT = 64 * 1024


@pytest.fixture
def b(bus):
    with shmbus.Bus(bus) as opened:
        yield opened


def publish(b, topic, count, size=40):
    pub = b.publisher(topic)
    for i in range(count):
        pub.publish(f"{i}:".encode() + b"x" * size)
    pub.close()


def number(msg):
    return int(bytes(msg.data).split(b":")[0])


def test_cursor_resumes_after_the_messages_the_program_had(b, python_env):
    b.create_topic("orders", kind="journal", segment_size=SEGMENT)
    publish(b, "orders", 100)
    sub = b.subscribe("orders", start="earliest", cursor="billing")
    assert [number(m) for m in sub.receive_many(30, timeout=5)] == list(range(30))
    sub.close()  # "auto": the cursor moves past what was taken
    # A consumer killed (-9) after taking ten more and before taking again: those ten were not
    # committed, so they come again (at least once).
    child = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(f"""
            import os, signal, shmbus
            sub = shmbus.Bus({b.path!r}).subscribe("orders", cursor="billing")
            got = sub.receive_many(10, timeout=5)
            print(bytes(got[0].data).split(b":")[0].decode(), len(got), flush=True)
            os.kill(os.getpid(), signal.SIGKILL)
        """)], env=python_env, capture_output=True, text=True, timeout=60)
    assert child.returncode == -9, child.stderr
    assert child.stdout.split() == ["30", "10"]
    sub = b.subscribe("orders", cursor="billing")
    assert [number(m) for m in sub.receive_many(100, timeout=5)] == list(range(30, 100))


def test_manual_commit_and_message_id(b):
    b.create_topic("orders", kind="journal", segment_size=SEGMENT)
    pub = b.publisher("orders")
    pos = pub.publish(b"a")
    pub.publish(b"b", headers={"message-id": "order-1"})
    sub = b.subscribe("orders", start="earliest", cursor="audit", commit="manual")
    got = sub.receive_many(2, timeout=5)
    assert [m.message_id for m in got] == [f"orders@{pos}", "order-1"]
    sub.close()  # never committed
    sub = b.subscribe("orders", cursor="audit", commit="manual")
    assert bytes(sub.receive(timeout=5).data) == b"a"
    sub.commit()
    sub.close()
    sub = b.subscribe("orders", cursor="audit", commit="manual")
    assert bytes(sub.receive(timeout=5).data) == b"b"
    with pytest.raises(shmbus.InvalidArgumentError, match="in use"):
        b.subscribe("orders", cursor="audit")
    with pytest.raises(shmbus.InvalidNameError):
        b.subscribe("orders", cursor="no/slash")
    with pytest.raises(shmbus.InvalidArgumentError, match="commit"):
        b.subscribe("orders", cursor="x", commit="sometimes")
    with pytest.raises(shmbus.InvalidArgumentError, match="named cursor"):
        b.subscribe("orders").commit()
    with pytest.raises(shmbus.InvalidArgumentError, match="named cursor"):
        b.subscribe("orders.#").commit()


def test_set_and_remove_cursor_and_stats(b):
    b.create_topic("orders", kind="journal", segment_size=SEGMENT)
    publish(b, "orders", 50)
    b.set_cursor("orders", "replay", "earliest")
    b.set_cursor("orders", "tail", "latest")
    cursors = {c.name: c for c in b.stats("orders").cursors}
    assert cursors["replay"].lag_records == 50 and cursors["replay"].position == 0
    assert cursors["tail"].lag_records == 0 and not cursors["tail"].in_use
    assert b.remove_cursor("orders", "tail") is True
    assert b.remove_cursor("orders", "tail") is False
    assert [c.name for c in b.stats("orders").cursors] == ["replay"]


def test_replay_from_a_datetime(b):
    b.create_topic("ticks", kind="journal", segment_size=SEGMENT)
    publish(b, "ticks", 200)
    time.sleep(0.05)
    middle = datetime.datetime.now(datetime.timezone.utc)
    time.sleep(0.05)
    pub = b.publisher("ticks")
    pub.publish(b"after")
    got = b.subscribe("ticks", start=middle).receive_many(10, timeout=5)
    assert [bytes(m.data) for m in got] == [b"after"]
    assert got[0].timestamp >= middle.timestamp()


def test_retention_from_python(b):
    b.create_topic("metrics", kind="journal", segment_size=SEGMENT, retain_bytes=3 * (SEGMENT + 4096))
    pub = b.publisher("metrics")
    for i in range(5000):
        pub.publish(b"m" * 100)
    deadline = time.time() + 30
    while time.time() < deadline and b.stats("metrics").segments > 3:
        time.sleep(0.05)
    s = b.stats("metrics")
    assert s.segments <= 3 and s.spare_segments <= 2
    assert s.disk_bytes == (s.segments + s.spare_segments) * (SEGMENT + 4096)
    assert s.deleted_segments > 0 and s.first_position > 0
    assert s.retain_bytes == 3 * (SEGMENT + 4096)
    assert s.oldest_ns <= s.newest_ns
    with pytest.raises(shmbus.InvalidArgumentError, match="retention"):
        b.create_topic("ring", retain_bytes=1 << 20)


def test_cli_journal_dump_cursor_and_sub_with_cursor(run, tmp_path):
    data = str(tmp_path / "data")
    assert run("topic", "create", "j", "--kind", "journal", "--dir", data, "--segment-size", "65536",
               "--retain-bytes", "1048576", "--retain-age", "3600").returncode == 0
    assert run("pub", "j", input="".join(f"line {i}\n" for i in range(10))).returncode == 0
    r = run("journal", "dump", "j", "--json")
    assert r.returncode == 0, r.stderr
    lines = [json.loads(line) for line in r.stdout.splitlines()]
    assert [m["payload"] for m in lines] == [f"line {i}" for i in range(10)]
    assert lines[3]["message_id"] == f"j@{lines[3]['position']}"
    r = run("journal", "dump", "j", "--from", str(lines[7]["position"]), "--count", "2")
    assert [line.split(" | ")[1] for line in r.stdout.splitlines()] == ["line 7", "line 8"]
    r = run("journal", "dump", "j", "--from", "@%d" % (lines[5]["timestamp_ns"] // 1000 + 1) + "e-6")
    assert r.returncode != 0 and "--from takes" in r.stderr  # not a time this accepts
    stamp = lines[5]["timestamp_ns"]
    r = run("journal", "dump", "j", "--from", "@%d.%09d" % (stamp // 10**9, stamp % 10**9), "--json")
    assert json.loads(r.stdout.splitlines()[0])["payload"] == "line 5"

    r = run("sub", "j", "--cursor", "billing", "--from", "earliest", "--count", "4")
    assert r.returncode == 0, r.stderr
    r = run("sub", "j", "--cursor", "billing", "--count", "2")
    assert [line.split(" | ")[1] for line in r.stdout.splitlines()] == ["line 4", "line 5"]
    ls = run("cursor", "ls", "j")
    row = next(line.split() for line in ls.stdout.splitlines() if line.startswith("billing"))
    assert row[1] == str(lines[6]["position"]) and row[3] == "4"  # position, lag records
    assert run("cursor", "set", "j", "billing", "earliest").returncode == 0
    r = run("sub", "j", "--cursor", "billing", "--count", "1")
    assert r.stdout.split(" | ")[1].strip() == "line 0"
    assert run("cursor", "reset", "j", "billing").returncode == 0
    gone = run("cursor", "reset", "j", "billing")
    assert gone.returncode == 1 and "no cursor" in gone.stderr
    pattern = run("sub", "j.*", "--cursor", "billing")
    assert pattern.returncode == 1 and "not a pattern" in pattern.stderr
    stat = dict(line.split(None, 1) for line in run("stat", "j").stdout.splitlines())
    assert stat["retain_bytes"].strip() == "1048576" and stat["retain_age"].strip() == "3600 s"
    assert "segments" in stat


def test_cli_progress_bar_only_on_a_terminal(cli, bus, run, tmp_path):
    data = str(tmp_path / "data")
    run("topic", "create", "j", "--kind", "journal", "--dir", data, "--segment-size", "65536")
    run("pub", "j", input="".join(f"{i}\n" for i in range(20000)))
    plain = run("journal", "verify", "j")
    assert plain.returncode == 0 and "healthy" in plain.stdout
    assert "%" not in plain.stderr and "\r" not in plain.stdout
    # stderr on a terminal: the bar is drawn there (and erased), the report stays plain.
    leader, follower = pty.openpty()
    try:
        proc = subprocess.run([cli, "--bus", bus, "journal", "verify", "j"], stdout=subprocess.PIPE,
                              stderr=follower, stdin=subprocess.DEVNULL, timeout=60)
        os.close(follower)
        follower = -1
        drawn = b""
        while True:
            try:
                chunk = os.read(leader, 65536)
            except OSError:
                break
            if not chunk:
                break
            drawn += chunk
    finally:
        if follower != -1:
            os.close(follower)
        os.close(leader)
    assert proc.returncode == 0
    assert b"segments" in drawn and b"%" in drawn and b"[" in drawn
    assert b"healthy" in proc.stdout and b"%" not in proc.stdout


def test_pipelined_publish_then_one_wait_makes_them_durable(bus):
    with shmbus.Bus(bus) as b:
        b.create_topic("audit", kind="journal", fsync="always", segment_size=1 << 20)
        pub = b.publisher("audit")
        positions = [pub.publish_pipelined(b"entry %d" % i) for i in range(200)]
        assert pub.durable_position <= positions[-1]
        durable = pub.wait_durable(positions[-1], timeout=10)
        assert durable > positions[-1] and pub.durable_position == durable
        assert b.stats("audit").flushes <= 3
        ring = b.publisher("memory")
        with pytest.raises(shmbus.InvalidArgumentError):
            ring.wait_durable(ring.publish_pipelined(b"x"))
