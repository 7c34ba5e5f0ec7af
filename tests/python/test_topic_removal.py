"""Removing topics from Python: tombstones, refusal while in use, force, re-creation under a
pattern subscription."""
import os

import pytest

import shmbus


@pytest.fixture
def b(bus):
    with shmbus.Bus(bus) as opened:
        yield opened


def texts(messages):
    return [bytes(m.data).decode() for m in messages]


def test_remove_topic_then_create_it_again_fresh(b):
    pub = b.publisher("reply.1")
    pub.publish(b"old")
    pub.close()
    assert b.remove_topic("reply.1") is True
    assert not b.topic_exists("reply.1")
    assert "reply.1" not in b.topics()
    assert b.create_topic("reply.1")
    assert b.stats("reply.1").published == 0


def test_remove_missing_topic_returns_false(b):
    assert b.remove_topic("no.such.topic") is False
    with pytest.raises(shmbus.InvalidNameError):
        b.remove_topic("../x")


def test_remove_topic_in_use_raises_in_use_error_naming_our_pid(b):
    pub = b.publisher("held")
    with pytest.raises(shmbus.InUseError) as e:
        b.remove_topic("held")
    assert f"pid {os.getpid()}" in str(e.value)
    assert isinstance(e.value, shmbus.Error)
    assert b.topic_exists("held")
    assert b.remove_topic("held", force=True) is True
    pub.publish(b"into the removed topic")  # our mapping still works
    assert not b.topic_exists("held")


def test_pattern_subscription_follows_removal_and_recreation(b):
    sub = b.subscribe("job.*", start="earliest")
    pub = b.publisher("job.x")
    pub.publish(b"first")
    assert texts(sub.receive_many(10, timeout=5)) == ["first"]
    pub.close()
    assert b.remove_topic("job.x") is True  # the pattern subscription does not hold it
    b.publisher("job.x").publish(b"second")
    assert texts(sub.receive_many(10, timeout=5)) == ["second"]
