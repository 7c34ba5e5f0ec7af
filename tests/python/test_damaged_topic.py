"""A damaged topic on a bus: `shmbus sub PATTERN` reports it once on stderr, serves the healthy
topics and still ends on its --timeout (it used to spin at 100 % CPU for ever)."""
import os
import pathlib
import select
import subprocess
import time

import pytest


def damage_first_page(path):
    with open(path, "r+b") as f:
        f.write(os.urandom(4096))


@pytest.mark.parametrize("damaged_file", ["ring", "meta"])
def test_pattern_sub_skips_a_damaged_topic_and_ends_on_its_timeout(cli, bus, run, damaged_file):
    assert run("topic", "create", "orders.damaged", "--capacity", "65536").returncode == 0
    assert run("pub", "orders.healthy", "hello").returncode == 0
    damage_first_page(pathlib.Path(bus) / "topics" / "orders.damaged" / damaged_file)

    started = time.monotonic()
    try:
        r = subprocess.run([cli, "--bus", bus, "sub", "#", "--from", "earliest", "--timeout", "2"],
                           capture_output=True, text=True, timeout=20, stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        pytest.fail("shmbus sub did not end on its --timeout with a damaged topic on the bus")
    took = time.monotonic() - started

    assert r.returncode == 0, r.stderr
    assert took < 10, f"took {took:.1f} s for --timeout 2"
    assert "| hello" in r.stdout  # the healthy topic is still served
    lines = [line for line in r.stderr.splitlines() if "orders.damaged" in line]
    assert len(lines) == 1, r.stderr  # reported once, however often it is retried
    assert "skipping topic orders.damaged" in lines[0] and "not a shmbus file" in lines[0], lines[0]
    assert str(pathlib.Path(bus) / "topics" / "orders.damaged") in lines[0]


def read_stderr_until(proc, text, deadline):
    """What `proc` wrote to stderr up to the first `text`, or up to `deadline` (monotonic)."""
    err = b""
    fd = proc.stderr.fileno()
    while text.encode() not in err:
        remaining = deadline - time.monotonic()
        if remaining <= 0 or not select.select([fd], [], [], remaining)[0]:
            break
        chunk = os.read(fd, 4096)
        if not chunk:
            break
        err += chunk
    return err.decode(errors="replace")


def test_pattern_sub_with_a_damaged_topic_ends_on_sigterm(cli, bus, run):
    assert run("topic", "create", "orders.damaged", "--capacity", "65536").returncode == 0
    damage_first_page(pathlib.Path(bus) / "topics" / "orders.damaged" / "ring")
    sub = subprocess.Popen([cli, "--bus", bus, "sub", "#"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           stdin=subprocess.DEVNULL)
    try:
        # Subscribed once the skip is reported; then it is asked to stop.
        err = read_stderr_until(sub, "orders.damaged", time.monotonic() + 10)
        assert "orders.damaged" in err, err
        sub.terminate()
        sub.wait(timeout=10)
    finally:
        sub.kill()
        sub.wait(timeout=10)
    assert sub.returncode == 143  # 128 + SIGTERM: the documented exit of a sub stopped by SIGTERM


def test_single_topic_sub_of_a_damaged_topic_fails_with_a_clear_error(run, bus):
    assert run("topic", "create", "orders.damaged", "--capacity", "65536").returncode == 0
    damage_first_page(pathlib.Path(bus) / "topics" / "orders.damaged" / "meta")
    r = run("sub", "orders.damaged", "--timeout", "1", "--cursor", "c", timeout=20)
    assert r.returncode == 1
    assert "topic orders.damaged is damaged" in r.stderr and "not a shmbus file" in r.stderr, r.stderr


def test_python_pattern_subscription_lists_the_damaged_topic_and_serves_the_others(bus):
    import shmbus

    with shmbus.Bus(bus) as b:
        b.create_topic("orders.damaged", capacity=65536)
        b.publisher("orders.healthy").publish(b"hello")
        damage_first_page(pathlib.Path(bus) / "topics" / "orders.damaged" / "ring")
        sub = b.subscribe("orders.#", start="earliest")
        started = time.monotonic()
        got = sub.receive_many(16, timeout=5)
        assert [bytes(m.data) for m in got] == [b"hello"]
        assert sub.receive(timeout=0.2) is None
        assert time.monotonic() - started < 10
        [(topic, error)] = sub.skipped_topics
        assert topic == "orders.damaged" and "not a shmbus file" in error
        sub.close()
