"""The Python endpoint's circuit breaker and rate limit on the real bus and clocks (as the C++
tests/service/resilience_test.cc): the breaker pauses the endpoint with the messages left in
the queue and resumes after its cool-down, one trial at a time among several handler threads;
the rate limit spaces deliveries while its threads block, not spin. The same pipeline on the
virtual clock is tests/python/test_service_testbus.py."""
import threading
import time

import pytest

import shmbus
from shmbus import service
from service_messages import JOURNAL, ReserveStock, fast, wait_until


class Transient(Exception):
    pass


@pytest.fixture
def bus(tmp_path):
    with shmbus.Bus(str(tmp_path / "bus")) as b:
        yield b


@pytest.fixture
def client(bus):
    with service.Client(bus, "test", journal=JOURNAL) as c:
        yield c


def test_the_breaker_pauses_the_endpoint_with_the_messages_in_the_queue_and_resumes(bus, client):
    down = threading.Event()
    down.set()
    calls, handled = [], []
    sut = service.Endpoint(bus, "payments", **fast(max_deliveries=20, retry="exponential:min=20ms,max=20ms,factor=1,"
                                                   "jitter=0", breaker=dict(window=4, minimum=4, failure_ratio=0.75,
                                                                            cool_down=2)))

    @sut.handle(ReserveStock)
    def pay(c, ctx):
        calls.append(c.order)
        if down.is_set():
            raise Transient("gateway down")
        handled.append(c.order)

    with sut:
        for i in range(10):
            client.send(ReserveStock(i, 1), "payments")
        wait_until(lambda: sut.stats().breaker == service.BreakerState.OPEN, 20, "the breaker to open")
        opened = time.monotonic()
        calls_when_open = len(calls)
        time.sleep(0.3)

        # Open: no handler ran, and all ten wait in the queue, none dead-lettered.
        assert len(calls) == calls_when_open == 4  # 300 ms of a 2 s cool-down
        s = sut.queue.stats()
        assert s.ready + s.scheduled == 10
        assert s.dead_lettered == 0

        down.clear()
        wait_until(lambda: len(handled) == 10, 30, "all ten handled")
        assert time.monotonic() - opened >= 1.9  # the trial came after the cool-down
        st = sut.stats()
        assert (st.breaker, st.breaker_opened, st.breaker_closed) == (service.BreakerState.CLOSED, 1, 1)
        assert st.handled == 10
        assert sut.queue.stats().dead_lettered == 0


def test_among_four_handler_threads_only_one_takes_the_trial(bus, client):
    down = threading.Event()
    down.set()
    lock = threading.Lock()
    state = dict(in_trial=0, most_in_trial=0, trials=0, handled=0)
    sut = service.Endpoint(bus, "payments", **fast(concurrency=4, max_deliveries=50,
                                                   retry="exponential:min=10ms,max=10ms,factor=1,jitter=0",
                                                   breaker=dict(window=4, minimum=4, failure_ratio=1.0,
                                                                cool_down=0.15)))

    @sut.handle(ReserveStock)
    def pay(c, ctx):
        trial = sut.stats().breaker == service.BreakerState.HALF_OPEN
        if trial:
            with lock:
                state["trials"] += 1
                state["in_trial"] += 1
                state["most_in_trial"] = max(state["most_in_trial"], state["in_trial"])
            time.sleep(0.02)  # long enough for another thread to come in, were it let
            with lock:
                state["in_trial"] -= 1
        if down.is_set():
            raise Transient("gateway down")
        with lock:
            state["handled"] += 1

    with sut:
        for i in range(20):
            client.send(ReserveStock(i, 1), "payments")
        wait_until(lambda: state["trials"] >= 3, 30, "three trials")
        down.clear()
        wait_until(lambda: state["handled"] == 20, 30, "all twenty handled")
        st = sut.stats()
        assert state["most_in_trial"] == 1
        assert st.breaker_opened >= 3  # the first trip and each failed trial
        assert st.breaker_closed == 1
        assert sut.queue.stats().dead_lettered == 0


def test_the_rate_limit_spaces_deliveries_and_its_threads_block(bus, client):
    at = []
    lock = threading.Lock()
    sut = service.Endpoint(bus, "mail", **fast(concurrency=2, rate_limit=dict(per_second=10, burst=2)))

    @sut.handle(ReserveStock)
    def mail(c, ctx):
        with lock:
            at.append(time.monotonic())

    with sut:
        cpu_before, wall_before = time.process_time(), time.monotonic()
        for i in range(12):
            client.send(ReserveStock(i, 1), "mail")
        wait_until(lambda: len(at) == 12, 30, "twelve deliveries")
        wall = time.monotonic() - wall_before
        cpu = time.process_time() - cpu_before
    # Two at once, then one per 100 ms: the i-th (from 0) no sooner than (i - 1) * 100 ms after the
    # sends began, the 12th 1 s after. (A handler runs after its turn, so each of its times is
    # at or after its turn's, and so is the i-th smallest.)
    at.sort()
    for i in range(1, len(at)):
        assert at[i] - wall_before >= (i - 1) * 0.1 - 0.001, (i, [round(t - wall_before, 3) for t in at])
    assert sut.stats().rate_limited >= 1  # they waited for it
    assert sut.stats().handled == 12
    # Blocked, not spinning: the two waiting threads (and the test's wait) used a small part of the time that went by.
    assert cpu < 0.5 * wall, (cpu, wall)


@pytest.mark.parametrize("spec", ["linear:min=1s", "exponential:min=5s,max=1s", "exponential:jitter=2",
                                  "exponential:min=10parsecs", "exponential:factor=0.5", "exponential:min",
                                  "exponential:speed=2", "exponential:factor=2x"])
def test_the_test_bus_refuses_a_retry_policy_with_the_words_of_a_bus_queue(bus, spec):
    # The TestBus reads the policy in Python (service.RetryPolicy): the same refusals as the queue's parser.
    with pytest.raises(shmbus.InvalidArgumentError) as on_bus:
        bus.create_queue("q", bindings=["t"], retry=spec)
    with pytest.raises(shmbus.InvalidArgumentError) as in_python:
        service.RetryPolicy.parse(spec)
    assert str(in_python.value) == str(on_bus.value)
