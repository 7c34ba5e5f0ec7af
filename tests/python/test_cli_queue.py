"""`shmbus queue`, `consume` and `dlq`, driven as a user would: real processes, real bus files."""
import json
import os
import pathlib
import signal
import subprocess
import time

import pytest

import shmbus

FAST = ["--retry", "exponential:min=10ms,max=50ms,factor=2,jitter=0"]


@pytest.fixture
def queue(run):
    """A journal topic `jobs` and a queue `workers` bound to it; returns a publish helper."""
    assert run("topic", "create", "jobs", "--kind", "journal", "--segment-size", "1048576").returncode == 0

    def make(*extra):
        r = run("queue", "create", "workers", "--bind", "jobs", *FAST, *extra)
        assert r.returncode == 0, r.stderr
        return r

    return make


def pub(run, payload, *headers):
    args = ["pub", "jobs", payload]
    for h in headers:
        args += ["--header", h]
    r = run(*args)
    assert r.returncode == 0, r.stderr


def lines(r):
    return [json.loads(line) for line in r.stdout.splitlines() if line.strip()]


def stat(run, name="workers"):
    r = run("queue", "stat", name, "--json")
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)


def test_create_ls_stat_rm(run, queue):
    r = queue("--max-deliveries", "4", "--lease", "2s")
    assert r.stdout.startswith("created workers")
    again = run("queue", "create", "workers", "--bind", "jobs", *FAST, "--max-deliveries", "4", "--lease", "2s")
    assert again.stdout.startswith("exists workers")
    # Declared again with other settings: refused, as RabbitMQ refuses a queue.declare that differs.
    other = run("queue", "create", "workers", "--bind", "jobs", "--max-deliveries", "4")
    assert other.returncode != 0 and "another configuration" in other.stderr
    ls = run("queue", "ls", "--json")
    assert [q["queue"] for q in lines(ls)] == ["workers"] and lines(ls)[0]["bindings"] == ["jobs"]
    assert "workers" in run("queue", "ls").stdout
    s = stat(run)
    assert (s["max_deliveries"], s["lease"], s["bindings"], s["topics"]) == (4, 2.0, ["jobs"], ["jobs"])
    text = dict(line.split(None, 1) for line in run("queue", "stat", "workers").stdout.splitlines())
    assert list(text) == list(s) and text["lease"].strip() == "2 s"
    rm = run("queue", "rm", "workers", "--json")
    assert json.loads(rm.stdout) == {"queue": "workers", "removed": True}
    gone = run("queue", "rm", "workers")
    assert gone.returncode == 1 and "no queue workers" in gone.stderr


def test_stat_json_has_the_fields_of_python_queue_stats(run, queue):
    queue()
    assert list(stat(run)) == list(shmbus.QueueStats.fields)


@pytest.mark.parametrize("args, message", [
    (("queue", "create", "q", "--bind", "a..b"), "a..b"),
    (("queue", "create", "q", "--bind", "jobs", "--lease", "soon"), "--lease takes a duration"),
    (("queue", "create", "q", "--bind", "jobs", "--retry", "linear:min=1s"), "linear"),
    (("queue", "create", "q", "--bind", "jobs", "--max-deliveries", "0"), "1 .. 255"),
    (("queue", "stat", "nope"), "queue create"),
    (("consume", "nope", "--count", "1"), "queue create"),
    (("dlq", "ls", "nope"), "queue create"),
])
def test_bad_input_is_a_clear_error(run, args, message):
    r = run(*args)
    assert r.returncode != 0 and message in r.stderr, r.stderr


def test_consume_prints_each_delivery_and_acks_it(run, queue):
    queue()
    pub(run, "one", "type=Resize@1")
    pub(run, "two")
    r = run("consume", "workers", "--count", "2", "--timeout", "20s", "--json")
    assert r.returncode == 0, r.stderr
    got = lines(r)
    assert [(d["payload"], d["attempt"], d["queue"], d["outcome"]) for d in got] == [
        ("one", 1, "workers", "ack"), ("two", 1, "workers", "ack")]
    assert got[0]["headers"] == {"type": "Resize@1"} and got[0]["topic"] == "jobs"
    assert stat(run)["acked"] == 2
    text = run("consume", "workers", "--timeout", "200ms")
    assert text.returncode == 0 and text.stdout == ""  # nothing left; --timeout ends it with 0


HANDLER = r"""
payload=$(cat)
echo "$SHMBUS_TOPIC $SHMBUS_SEQ $SHMBUS_ATTEMPT $SHMBUS_HEADER_TYPE $payload" >> "$LOG"
case "$payload" in
  ok) exit 0 ;;
  retry) [ "$SHMBUS_ATTEMPT" -ge 2 ] && exit 0; exit 75 ;;
  bad) echo "cannot parse $payload" >&2; exit 65 ;;
  crash) echo "segfault-ish" >&2; exit 3 ;;
esac
"""


def test_consume_exec_settles_by_exit_status(run, queue, tmp_path, monkeypatch):
    queue("--max-deliveries", "2")
    script = tmp_path / "handler.sh"
    script.write_text(HANDLER)
    log = tmp_path / "log"
    monkeypatch.setenv("LOG", str(log))
    for payload in ("ok", "retry", "bad", "crash"):
        pub(run, payload, "type=Job@1")
    # ok: ack; retry: nack then ack; bad: reject; crash: 2 failed attempts, then delivery_limit.
    r = run("consume", "workers", "--count", "6", "--timeout", "20s", "--json", "--exec", f"sh {script}", timeout=60)
    assert r.returncode == 0, r.stderr
    outcomes = sorted((d["seq"], d["attempt"], d["outcome"], d.get("exit_code")) for d in lines(r))
    assert outcomes == [(0, 1, "ack", 0), (1, 1, "nack", 75), (1, 2, "ack", 0), (2, 1, "reject", 65),
                        (3, 1, "nack", 3), (3, 2, "nack", 3)]
    assert "cannot parse bad" in r.stderr  # CMD's stderr passes through
    assert "jobs 0 1 Job@1 ok" in log.read_text().splitlines()
    s = stat(run)
    assert (s["acked"], s["dead_lettered"], s["dlq_depth"], s["ready"], s["in_flight"]) == (2, 2, 2, 0, 0)
    dead = {d["payload"]: d["headers"] for d in lines(run("dlq", "show", "workers", "--json"))}
    assert dead["bad"]["x-death-reason"] == "rejected"
    assert dead["bad"]["x-death-error"] == "exit status 65: cannot parse bad"
    assert dead["crash"]["x-death-reason"] == "delivery_limit"
    assert dead["crash"]["x-death-error"] == "exit status 3: segfault-ish"
    assert dead["crash"]["x-original-topic"] == "jobs" and dead["crash"]["x-death-queue"] == "workers"
    groups = {(g["reason"], g["count"]) for g in lines(run("dlq", "ls", "workers", "--json"))}
    assert groups == {("rejected", 1), ("delivery_limit", 1)}


def test_dlq_replay_republishes_to_the_original_topic_with_the_same_message_id(run, queue, tmp_path):
    queue()
    pub(run, "fixable", "message-id=m-42", "type=Job@1")
    r = run("consume", "workers", "--count", "1", "--timeout", "20s", "--exec", "exit 65")
    assert r.returncode == 0, r.stderr
    assert stat(run)["dlq_depth"] == 1
    replay = run("dlq", "replay", "workers", "--json")
    assert replay.returncode == 0, replay.stderr
    assert json.loads(replay.stdout) == {"queue": "workers", "replayed": 1, "left": 0}
    assert stat(run)["dlq_depth"] == 0
    assert run("dlq", "show", "workers").stdout == ""  # handled: no longer listed
    again = lines(run("consume", "workers", "--count", "1", "--timeout", "20s", "--json"))
    assert len(again) == 1
    d = again[0]
    assert (d["payload"], d["attempt"], d["message_id"]) == ("fixable", 1, "m-42")
    assert d["headers"]["type"] == "Job@1" and d["headers"]["x-death-count"] == "1"
    assert not {"x-death-reason", "x-death-error", "x-original-topic", "x-delivery-count"} & set(d["headers"])
    assert json.loads(run("dlq", "replay", "workers", "--json").stdout)["replayed"] == 0  # nothing twice


def test_dlq_purge_marks_every_dead_letter_handled(run, queue):
    queue()
    for i in range(3):
        pub(run, f"bad {i}")
    assert run("consume", "workers", "--count", "3", "--timeout", "20s", "--exec", "exit 65").returncode == 0
    assert stat(run)["dlq_depth"] == 3
    r = run("dlq", "purge", "workers", "--json")
    assert json.loads(r.stdout) == {"queue": "workers", "purged": 3}
    assert stat(run)["dlq_depth"] == 0 and stat(run)["dead_lettered"] == 3
    assert run("dlq", "ls", "workers", "--json").stdout == ""
    # The records stay in the topic until its retention removes them.
    assert len(run("sub", "workers.dlq", "--from", "earliest", "--count", "3", "--json").stdout.splitlines()) == 3


def test_exec_timeout_kills_the_command_as_a_failed_attempt(run, queue):
    queue("--max-deliveries", "1")
    pub(run, "hang")
    started = time.monotonic()
    r = run("consume", "workers", "--count", "1", "--timeout", "20s", "--json", "--exec", "sleep 30",
            "--exec-timeout", "300ms", timeout=60)
    assert r.returncode == 0, r.stderr
    assert time.monotonic() - started < 20
    [d] = lines(r)
    assert d["outcome"] == "nack" and d["timed_out"] is True
    [dead] = lines(run("dlq", "show", "workers", "--json"))
    assert dead["headers"]["x-death-reason"] == "delivery_limit" and "timed out" in dead["headers"]["x-death-error"]


def wait_for(path, timeout=20):
    deadline = time.monotonic() + timeout
    while not path.exists():
        assert time.monotonic() < deadline, f"{path} never appeared"
        time.sleep(0.02)


def test_a_slow_command_keeps_its_delivery_past_the_lease(cli, bus, run, queue, tmp_path):
    queue("--lease", "1s")
    pub(run, "slow")
    marker = tmp_path / "started"
    slow = subprocess.Popen([cli, "--bus", bus, "consume", "workers", "--count", "1", "--json", "--exec",
                             f"touch {marker}; sleep 2.5"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        wait_for(marker)
        # A second consumer sweeps all along: it would take the delivery if the lease lapsed.
        other = run("consume", "workers", "--timeout", "3s", "--json", timeout=60)
        out, err = slow.communicate(timeout=60)
    finally:
        slow.kill()
    assert other.returncode == 0 and other.stdout == "", other.stdout
    assert slow.returncode == 0, err
    assert [d["outcome"] for d in lines(subprocess.CompletedProcess([], 0, out))] == ["ack"]
    assert stat(run)["redelivered"] == 0


@pytest.mark.parametrize("sig, code", [(signal.SIGTERM, 143), (signal.SIGINT, 130)])
def test_a_stop_signal_during_exec_ends_with_its_code_and_releases_the_delivery(cli, bus, run, queue, tmp_path,
                                                                                sig, code):
    queue()
    pub(run, "interrupted")
    marker = tmp_path / "started"
    # The command ignores nothing: the signal passed on ends its sleep, so it exits non-zero.
    consumer = subprocess.Popen([cli, "--bus", bus, "consume", "workers", "--json", "--exec",
                                 f"touch {marker}; sleep 30"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                text=True)
    try:
        wait_for(marker)
        consumer.send_signal(sig)
        out, err = consumer.communicate(timeout=30)
    finally:
        consumer.kill()
    assert consumer.returncode == code, err
    assert [d["outcome"] for d in lines(subprocess.CompletedProcess([], 0, out))] == ["release"]
    again = lines(run("consume", "workers", "--count", "1", "--timeout", "20s", "--json"))
    assert [(d["payload"], d["attempt"]) for d in again] == [("interrupted", 1)]  # uncharged


def test_the_command_starts_with_default_signal_handling(run, queue, tmp_path):
    queue()
    pub(run, "x")
    out = tmp_path / "sig"
    # SigBlk and SigIgn of the child: nothing blocked, nothing ignored, whatever the consumer does.
    r = run("consume", "workers", "--count", "1", "--timeout", "20s", "--exec",
            f"grep -E '^Sig(Blk|Ign)' /proc/self/status > {out}")
    assert r.returncode == 0, r.stderr
    status = dict(line.split(":") for line in out.read_text().splitlines())
    assert int(status["SigBlk"], 16) & (1 << (signal.SIGTERM - 1)) == 0
    assert int(status["SigIgn"], 16) & (1 << (signal.SIGTERM - 1)) == 0


def test_idle_consume_ends_on_sigterm_with_143(cli, bus, queue):
    queue()
    consumer = subprocess.Popen([cli, "--bus", bus, "consume", "workers"], stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True)
    try:
        time.sleep(0.3)
        consumer.send_signal(signal.SIGTERM)
        _, err = consumer.communicate(timeout=30)
    finally:
        consumer.kill()
    assert consumer.returncode == 143, err


def test_options_filter_ordering_dedup_delay_ttl_and_cancel(run):
    assert run("topic", "create", "orders", "--kind", "journal", "--segment-size", "1048576").returncode == 0
    r = run("queue", "create", "placed", "--bind", "orders", "--match", "x-match=any,type=OrderPlaced",
            "--ordering", "key", "--dedup-window", "10m", "--expired", "drop", "--single-active", *FAST)
    assert r.returncode == 0, r.stderr
    s = stat(run, "placed")
    assert (s["filter"], s["ordering_key"], s["dedup_window"], s["expired_action"], s["single_active"]) == (
        "x-match=any,type=OrderPlaced", "key", 600.0, "drop", True)
    t = ["--header", "type=OrderPlaced"]
    for args in (["a", "--message-id", "m1", "--key", "k1", *t], ["a again", "--message-id", "m1", "--key", "k1", *t],
                 ["other type", "--header", "type=OrderCancelled"],
                 ["stale", "--header", "expires-at=2020-01-01T00:00:00Z", *t],
                 ["later", "--delay", "30s", "--message-id", "m2", *t], ["b", "--key", "k2", "--ttl", "1h", *t]):
        r = run("pub", "orders", *args)
        assert r.returncode == 0, r.stderr
    got = run("consume", "placed", "--count", "2", "--timeout", "5s", "--json")
    assert got.returncode == 0, got.stderr
    assert [m["payload"] for m in lines(got)] == ["a", "b"]
    s = stat(run, "placed")
    assert (s["deduplicated"], s["expired"], s["delayed"], s["acked"]) == (1, 1, 1, 2)
    assert s["skipped"] == 1  # the other type (the dropped expired record counts as expired)
    c = run("queue", "cancel", "placed", "m2", "--json")
    assert json.loads(c.stdout)["cancelled"] == 1
    assert run("queue", "cancel", "placed", "m2").returncode == 1
    assert stat(run, "placed")["delayed"] == 0
    bad = run("queue", "create", "x", "--bind", "orders", "--ordering", "sideways")
    assert bad.returncode != 0 and "--ordering takes key" in bad.stderr
    bad = run("pub", "orders", "x", "--at", "next tuesday")
    assert bad.returncode != 0 and "--at takes" in bad.stderr


def test_dlq_show_and_replay_select_by_id_and_reason(run, queue):
    queue("--max-deliveries", "1")
    for i in (1, 2, 3):
        pub(run, f"job {i}", f"message-id=m-{i}")
    script = 'if [ "$SHMBUS_MESSAGE_ID" = m-2 ]; then exit 1; else exit 65; fi'
    assert run("consume", "workers", "--count", "3", "--timeout", "20s", "--exec", script).returncode == 0
    [two] = lines(run("dlq", "show", "workers", "m-2", "--json"))
    assert (two["message_id"], two["headers"]["x-death-reason"]) == ("m-2", "delivery_limit")
    rejected = lines(run("dlq", "show", "workers", "--reason", "rejected", "--json"))
    assert [d["message_id"] for d in rejected] == ["m-1", "m-3"]
    # A selective replay republishes what it selects; the cursor stays before what it passed over.
    r = json.loads(run("dlq", "replay", "workers", "--id", "m-3", "--json").stdout)
    assert (r["replayed"], r["left"]) == (1, 3)
    [again] = lines(run("consume", "workers", "--count", "1", "--timeout", "20s", "--json"))
    assert (again["message_id"], again["attempt"]) == ("m-3", 1)
    # m-1 first: replayed and handled; m-2 passed over, so m-3 (replayed again) stays listed.
    r = json.loads(run("dlq", "replay", "workers", "--reason", "rejected", "--json").stdout)
    assert (r["replayed"], r["left"]) == (2, 2)
