"""Durable queues from Python: Bus.create_queue / queue / queues / remove_queue, Queue.consumer,
Delivery, ack / nack / reject / extend / release, typed QueueStats, asyncio, and competing
consumers in real processes (one of them killed -9)."""
import ast
import asyncio
import os
import pathlib
import signal
import subprocess
import sys
import threading
import time

import pytest

import shmbus

STUBS = pathlib.Path(__file__).resolve().parents[2] / "bindings" / "python" / "shmbus" / "__init__.pyi"
FAST_RETRY = "exponential:min=10ms,max=50ms,factor=2,jitter=0"


@pytest.fixture
def b(bus):
    with shmbus.Bus(bus) as opened:
        yield opened


def make_queue(b, name="workers", topic="jobs", **kwargs):
    """A journal topic and a queue bound to it (records published from now on are the queue's)."""
    b.create_topic(topic, kind="journal", segment_size=1 << 20)
    kwargs.setdefault("retry", FAST_RETRY)
    return b.create_queue(name, bindings=[topic], **kwargs)


def dead_letters(b, queue, count):
    with b.subscribe(queue + ".dlq", start="earliest") as sub:
        out = []
        deadline = time.monotonic() + 10
        while len(out) < count and time.monotonic() < deadline:
            m = sub.receive(timeout=0.5)
            if m is not None:
                out.append((bytes(m.data), dict(m.headers)))
        return out


def test_each_record_is_delivered_once_in_order_with_its_headers_and_acked(b):
    q = make_queue(b)
    pub = b.publisher("jobs")
    for i in range(5):
        pub.publish(f"job {i}".encode(), headers={"type": "Resize@1"})
    with q.consumer() as c:
        got = []
        for _ in range(5):
            d = c.receive(timeout=5)
            assert d is not None
            assert (d.topic, d.attempt, d.headers["type"]) == ("jobs", 1, "Resize@1")
            assert isinstance(d.payload, memoryview) and d.payload.readonly
            got.append(bytes(d))
            c.ack(d)
            assert d.settled
        assert got == [f"job {i}".encode() for i in range(5)]
        assert c.try_receive() is None
    s = q.stats()
    assert isinstance(s, shmbus.QueueStats)
    assert (s.acked, s.ready, s.in_flight, s.topics, s.bindings) == (5, 0, 0, ["jobs"], ["jobs"])


def test_queue_is_found_listed_and_removed_by_name(b):
    make_queue(b, "billing")
    assert b.queues() == ["billing"]
    assert b.queue("billing").name == "billing"
    assert b.remove_queue("billing") is True
    assert b.remove_queue("billing") is False
    with pytest.raises(shmbus.NotFoundError, match="queue create"):
        b.queue("billing")


def test_bad_config_raises_invalid_argument_saying_what_to_fix(b):
    b.create_topic("jobs", kind="journal")
    with pytest.raises(shmbus.InvalidArgumentError, match="bind it"):
        b.create_queue("empty", bindings=[])
    with pytest.raises(shmbus.InvalidArgumentError, match="1 .. 255"):
        b.create_queue("many", bindings=["jobs"], max_deliveries=0)
    with pytest.raises(shmbus.InvalidArgumentError):
        b.create_queue("odd", bindings=["jobs"], retry="linear:min=1s")
    with pytest.raises(shmbus.InvalidNameError):
        b.create_queue("x.dlq", bindings=["jobs"])


def test_nack_redelivers_after_the_delay_with_the_next_attempt(b):
    q = make_queue(b)
    b.publisher("jobs").publish(b"flaky")
    c = q.consumer()
    d = c.receive(timeout=5)
    nacked_at = time.monotonic()
    c.nack(d, delay=0.2)
    again = c.receive(timeout=10)
    assert again is not None and bytes(again) == b"flaky" and again.attempt == 2
    assert time.monotonic() - nacked_at >= 0.19
    c.ack(again)
    assert q.stats().nacked == 1 and q.stats().redelivered == 1


def test_nack_past_max_deliveries_dead_letters_with_the_error_text(b):
    q = make_queue(b, max_deliveries=2)
    b.publisher("jobs").publish(b"poison", headers={"message-id": "m-1"})
    c = q.consumer()
    c.nack(c.receive(timeout=5))
    last = c.receive(timeout=10)
    assert last.attempt == 2
    c.nack(last, error="disk full")
    [(payload, headers)] = dead_letters(b, "workers", 1)
    assert payload == b"poison"
    assert headers["x-death-reason"] == "delivery_limit" and headers["x-death-error"] == "disk full"
    assert headers["message-id"] == "m-1" and headers["x-original-topic"] == "jobs"
    s = q.stats()
    assert (s.dead_lettered, s.dlq_depth) == (1, 1)


def test_reject_dead_letters_at_once(b):
    q = make_queue(b)
    b.publisher("jobs").publish(b"{bad")
    c = q.consumer()
    c.reject(c.receive(timeout=5), "undecodable")
    [(_, headers)] = dead_letters(b, "workers", 1)
    assert (headers["x-death-reason"], headers["x-death-error"]) == ("rejected", "undecodable")
    assert c.receive(timeout=0.2) is None


def test_release_gives_the_delivery_back_uncharged_to_another_consumer(b):
    q = make_queue(b)
    b.publisher("jobs").publish(b"job")
    first, other = q.consumer(), q.consumer()
    d = first.receive(timeout=5)
    first.release(d)
    again = other.receive(timeout=5)
    assert again is not None and again.attempt == 1 and first.held == 0


def test_closing_a_consumer_gives_its_deliveries_back_uncharged(b):
    q = make_queue(b)
    b.publisher("jobs").publish(b"job")
    with q.consumer() as first:
        assert first.receive(timeout=5) is not None
    assert first.closed
    again = q.consumer().receive(timeout=5)
    assert again is not None and again.attempt == 1


def test_a_lost_lease_makes_the_late_ack_raise_stale_lease(b):
    q = make_queue(b, lease=0.2)
    b.publisher("jobs").publish(b"slow")
    stalled, other = q.consumer(), q.consumer()
    first = stalled.receive(timeout=5)
    second = other.receive(timeout=10)  # after the lease ran out
    assert second is not None and second.attempt == 2
    with pytest.raises(shmbus.StaleLeaseError, match="another consumer"):
        stalled.ack(first)
    other.ack(second)
    assert q.stats().acked == 1


def test_extend_keeps_the_lease(b):
    q = make_queue(b, lease=1.0)
    b.publisher("jobs").publish(b"long")
    c, other = q.consumer(), q.consumer()
    d = c.receive(timeout=5)
    held_until = time.monotonic() + 2.5  # well past the lease
    while time.monotonic() < held_until:
        time.sleep(0.1)
        c.extend(d)
        assert other.try_receive() is None  # its sweep would take an expired lease
    c.ack(d)


def test_settling_twice_or_through_another_consumer_is_refused(b):
    q = make_queue(b)
    b.publisher("jobs").publish(b"once")
    c, other = q.consumer(), q.consumer()
    d = c.receive(timeout=5)
    with pytest.raises(shmbus.InvalidArgumentError, match="another consumer"):
        other.ack(d)
    c.ack(d)
    with pytest.raises(shmbus.InvalidArgumentError, match="settled already"):
        c.ack(d)


def test_payload_view_outlives_settlement_and_the_delivery_object(b):
    q = make_queue(b)
    b.publisher("jobs").publish(b"x" * 1000)
    c = q.consumer()
    d = c.receive(timeout=5)
    view = d.payload
    c.ack(d)
    del d
    c.close()
    assert bytes(view) == b"x" * 1000


def test_prefetch_bounds_what_a_consumer_holds(b):
    q = make_queue(b)
    for _ in range(3):
        b.publisher("jobs").publish(b"j")
    c = q.consumer(prefetch=2)
    held = [c.receive(timeout=5), c.receive(timeout=5)]
    with pytest.raises(shmbus.WouldBlockError, match="prefetch=2"):
        c.try_receive()
    c.ack(held[0])
    assert c.try_receive() is not None


def test_receive_waits_without_the_gil_and_times_out_within_its_bound(b):
    q = make_queue(b)
    c = q.consumer()
    started = time.monotonic()
    assert c.receive(timeout=0.3) is None
    assert 0.25 <= time.monotonic() - started < 5
    pub = b.publisher("jobs")
    threading.Timer(0.3, lambda: pub.publish(b"late")).start()  # runs only if receive lets go of the GIL
    d = c.receive(timeout=10)
    assert d is not None and bytes(d) == b"late"


def test_receive_async_waits_for_a_delivery_and_a_cancelled_one_releases_it(b):
    q = make_queue(b)
    c = q.consumer()
    pub = b.publisher("jobs")

    async def main():
        loop = asyncio.get_running_loop()
        loop.call_later(0.2, pub.publish, b"async")
        d = await asyncio.wait_for(c.receive_async(timeout=10), 20)
        assert bytes(d) == b"async" and d.attempt == 1
        c.ack(d)
        assert await c.receive_async(timeout=0.1) is None
        # A wait cancelled while its worker takes a delivery: the delivery goes back uncharged.
        task = asyncio.ensure_future(c.receive_async(timeout=10))
        await asyncio.sleep(0.1)
        task.cancel()
        pub.publish(b"after cancel")
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(main())
    other = q.consumer()
    d = other.receive(timeout=10)
    assert d is not None and bytes(d) == b"after cancel" and d.attempt == 1


def test_stats_fields_are_the_table_and_the_stubs(b):
    q = make_queue(b)
    s = q.stats()
    assert list(s.asdict()) == list(shmbus.QueueStats.fields)
    assert s.lease == 30.0 and s.max_deliveries == 10 and s.retry.startswith("exponential:")
    assert repr(s).startswith("QueueStats(name='workers', bindings=['jobs'], ")
    tree = ast.parse(STUBS.read_text())
    cls = next(n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == "QueueStats")
    stubbed = [f.name for f in cls.body if isinstance(f, ast.FunctionDef) and f.name != "asdict"]
    assert stubbed == list(shmbus.QueueStats.fields)


def test_purge_passes_over_what_was_not_delivered(b):
    q = make_queue(b)
    for _ in range(4):
        b.publisher("jobs").publish(b"stale")
    assert q.purge() == 4
    assert q.consumer().receive(timeout=0.2) is None


WORKER = r"""
import os, sys, time
import shmbus
bus, delay = sys.argv[1], float(sys.argv[2])
with shmbus.Bus(bus, create=False) as b:
    c = b.queue("workers").consumer(prefetch=1)
    print("ready", flush=True)
    deadline, idle_since = time.monotonic() + 60, None
    while time.monotonic() < deadline:
        d = c.receive(timeout=0.2)
        if d is None:
            if os.path.exists(sys.argv[3]):
                break  # the parent says every record is published: stop once idle
            continue
        time.sleep(delay)
        c.ack(d)
        print(bytes(d).decode(), flush=True)
"""


def spawn_worker(bus, python_env, delay, stop_file):
    return subprocess.Popen([sys.executable, "-c", WORKER, bus, str(delay), stop_file], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=python_env)


def test_competing_consumer_processes_each_record_acked_exactly_once(b, bus, python_env, tmp_path):
    make_queue(b)
    stop_file = str(tmp_path / "published")
    workers = [spawn_worker(bus, python_env, 0.005, stop_file) for _ in range(3)]
    try:
        for w in workers:
            assert w.stdout.readline().strip() == "ready", w.stderr.read()
        pub = b.publisher("jobs")
        for i in range(300):
            pub.publish(f"m{i}".encode())
        pathlib.Path(stop_file).touch()
        outputs = [w.communicate(timeout=120)[0].split() for w in workers]
    finally:
        for w in workers:
            w.kill()
    every = [m for out in outputs for m in out]
    assert sorted(every) == sorted(f"m{i}" for i in range(300))  # none lost, none twice
    assert sum(1 for out in outputs if out) >= 2, [len(out) for out in outputs]  # they competed
    assert b.queue("workers").stats().acked == 300


HOLDER = r"""
import os, signal, sys
import shmbus
with shmbus.Bus(sys.argv[1], create=False) as b:
    c = b.queue("workers").consumer()
    d = c.receive(timeout=30)
    print(bytes(d).decode(), flush=True)
    os.kill(os.getpid(), signal.SIGKILL)  # dies holding the lease, its handling begun
"""


def test_a_consumer_killed_holding_a_delivery_loses_it_to_another_with_the_next_attempt(b, bus, python_env):
    q = make_queue(b)
    b.publisher("jobs").publish(b"orphan")
    holder = subprocess.run([sys.executable, "-c", HOLDER, bus], capture_output=True, text=True, env=python_env,
                            timeout=60)
    assert holder.returncode == -signal.SIGKILL and holder.stdout.strip() == "orphan", holder.stderr
    d = q.consumer().receive(timeout=10)  # a sweep gives a dead owner's lease back within ~10 ms
    assert d is not None and bytes(d) == b"orphan" and d.attempt == 2


def test_handler_style_settles_as_the_handler_says(b):
    b.create_topic("work", kind="journal", segment_size=1 << 20)
    q = b.create_queue("h", bindings=["work"], max_deliveries=2, retry="exponential:min=10ms,max=20ms,factor=1,jitter=0")
    pub = b.publisher("work")
    for text in (b"ok", b"boom", b"bad", b"none"):
        pub.publish(text)
    seen = []

    def handler(d):
        seen.append((bytes(d.payload), d.attempt))
        if bytes(d.payload) == b"boom":
            raise ValueError("no good")
        if bytes(d.payload) == b"bad":
            return shmbus.Outcome.REJECT
        return None if bytes(d.payload) == b"none" else shmbus.Outcome.ACK

    with q.consumer() as c:
        handled = 0
        deadline = time.monotonic() + 10
        while handled < 5 and time.monotonic() < deadline:
            handled += c.handle(handler, max=16, timeout=0.1)
        with pytest.raises(TypeError, match="shmbus.Outcome"):
            pub.publish(b"odd")
            c.handle(lambda d: 42, timeout=5)
    assert handled == 5
    # The retry of "boom" comes after its backoff, before or after "none": only the set is fixed.
    assert sorted(seen) == sorted([(b"ok", 1), (b"boom", 1), (b"bad", 1), (b"none", 1), (b"boom", 2)])
    assert seen.index((b"boom", 1)) < seen.index((b"boom", 2))
    s = q.stats()
    assert (s.acked, s.dead_lettered) == (2, 2)
    dl = {m.headers["x-death-reason"]: m.headers.get("x-death-error") for m in b.subscribe("h.dlq", start="earliest").receive_many(10, timeout=5)}
    assert dl == {"delivery_limit": "ValueError: no good", "rejected": "rejected by the handler"}
