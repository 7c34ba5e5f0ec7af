"""One subscribe verb for a topic and a pattern, and the reading verbs C++ has: poll() never
waits, try_receive() takes one if one is ready, receive() waits."""
import threading
import time

import pytest

import shmbus


@pytest.fixture
def b(bus):
    with shmbus.Bus(bus) as opened:
        yield opened


def test_subscribe_to_a_name_reads_one_topic_with_a_position(b):
    sub = b.subscribe("orders.eu", start="earliest")
    b.publisher("orders.eu").publish(b"a")
    assert b.topic_exists("orders.eu")  # created by subscribing
    assert [bytes(m.data) for m in sub.receive_many(10, timeout=5)] == [b"a"]
    assert (sub.name, sub.is_pattern, sub.topic_count) == ("orders.eu", False, 1)
    assert sub.position == b.stats("orders.eu").tail_position


def test_subscribe_to_a_pattern_reads_every_matching_topic_with_the_same_verbs(b):
    b.publisher("orders.eu").publish(b"eu")
    b.publisher("orders.us").publish(b"us")
    sub = b.subscribe("orders.*", start="earliest")
    got = []
    deadline = time.monotonic() + 10
    while len(got) < 2 and time.monotonic() < deadline:
        got += sub.receive_many(10, timeout=1)
    assert sorted(m.topic for m in got) == ["orders.eu", "orders.us"]
    assert (sub.name, sub.is_pattern, sub.topic_count, sub.position) == ("orders.*", True, 2, None)
    assert sub.try_receive() is None and sub.poll() == []


def test_a_cursor_with_a_pattern_is_refused_saying_why(b):
    with pytest.raises(shmbus.InvalidArgumentError, match="a named cursor follows one topic"):
        b.subscribe("orders.#", cursor="billing")


def test_poll_never_waits_and_returns_what_is_ready_as_a_list(b):
    sub = b.subscribe("ticks", wait="block")
    start = time.monotonic()
    assert sub.poll() == []
    assert time.monotonic() - start < 1
    pub = b.publisher("ticks")
    for i in range(5):
        pub.publish(f"t{i}".encode())
    assert [bytes(m.data) for m in sub.poll(3)] == [b"t0", b"t1", b"t2"]
    assert [bytes(m.data) for m in sub.poll()] == [b"t3", b"t4"]
    assert sub.poll() == []


def test_try_receive_returns_one_message_or_none_without_waiting(b):
    sub = b.subscribe("one")
    start = time.monotonic()
    assert sub.try_receive() is None
    assert time.monotonic() - start < 1
    b.publisher("one").publish(b"x")
    msg = sub.try_receive()
    assert msg is not None and bytes(msg.data) == b"x"
    assert sub.try_receive() is None


def test_receive_waits_for_the_next_message_and_none_means_for_ever(b):
    sub = b.subscribe("later")
    pub = b.publisher("later")
    timer = threading.Timer(0.2, lambda: pub.publish(b"late"))
    timer.start()
    try:
        msg = sub.receive()  # timeout=None: waits for ever
    finally:
        timer.join()
    assert bytes(msg.data) == b"late"
    assert sub.receive(timeout=0.05) is None


def test_there_is_no_second_subscribe_verb(b):
    assert not hasattr(b, "subscriber")
    assert not hasattr(shmbus.Subscription, "poll_many") and not hasattr(shmbus.Subscription, "poll_async")
