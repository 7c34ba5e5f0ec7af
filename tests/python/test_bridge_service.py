"""The service API across hosts: two buses (two bus directories: host A and host B), each with
its own `shmbus bridge` process, joined by one RabbitMQ. The same service code as on one bus
(tests/service/two_host_peer.cc): on A a Client publishes OrderPlaced, sends ReserveStock to the
endpoint "inventory" on B and makes requests that B answers; B's handler publishes StockReserved,
handled by endpoint "shipping" on A. Every record is compared between the two buses: payload and
envelope intact; nothing loops back or is delivered twice. Marker `bridge`."""
import json
import os
import pathlib
import queue
import subprocess
import threading
import time

import pytest

import shmbus
from bridge_helpers import (ROOT, Bridge, declare_queue, drain, need_broker, pika, pika_channel, unique, wait_for,
                            write_config)

pytestmark = pytest.mark.bridge

ENVELOPE = ("message-id", "correlation-id", "causation-id", "conversation-id", "type", "kind", "content-type",
            "sent-time", "source", "reply-to", "expires-at", "traceparent", "tracestate")
REQUESTS = 40


@pytest.fixture(scope="module")
def peer():
    path = pathlib.Path(os.environ.get("SHMBUS_TWO_HOST_PEER", ROOT / "build" / "tests" / "two_host_peer"))
    if not path.exists():
        pytest.fail(f"the two-host peer is not built at {path}; run tools/test.sh or set SHMBUS_TWO_HOST_PEER")
    return str(path)


class Peer:
    """A two_host_peer process; its stdout read line by line (JSON) on a thread."""

    def __init__(self, *args):
        self.proc = subprocess.Popen(list(args), stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     text=True)
        self.lines = queue.Queue()
        self.seen = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        for line in self.proc.stdout:
            self.lines.put(json.loads(line))

    def until(self, want, timeout):
        deadline = time.monotonic() + timeout
        while want not in self.seen:
            left = deadline - time.monotonic()
            if left <= 0 or (self.proc.poll() is not None and self.lines.empty()):
                pytest.fail(f"{want!r} not printed within {timeout} s (exit {self.proc.poll()}): "
                            f"{self.seen[-5:]!r} {self.proc.stderr.read() if self.proc.poll() is not None else ''}")
            try:
                self.seen.append(self.lines.get(timeout=min(left, 0.5)))
            except queue.Empty:
                pass
        return self.seen

    def finish(self, timeout=60):
        self.proc.stdin.close()
        rc = self.proc.wait(timeout=timeout)
        while not self.lines.empty():
            self.seen.append(self.lines.get())
        return rc


def host_config(tmp_path, name, origin, exchange, outbound, inbound):
    path = write_config(tmp_path / f"{name}.toml", outbound=outbound, inbound=inbound,
                        exchanges=[{"name": exchange, "type": "topic"}])
    with open(path, "a") as f:
        f.write(f'\n[bridge]\norigin = "{origin}"\n')
    return path


def records(bus, topic):
    """Every record of `topic` on `bus`: (headers, payload)."""
    sub = bus.subscribe(topic, start="earliest")
    try:
        return [(m.headers, bytes(m)) for m in sub.receive_many(10000, timeout=0.5)]
    finally:
        sub.close()


def envelope(headers):
    return {k: headers[k] for k in ENVELOPE if k in headers}


def test_service_across_two_hosts_commands_events_requests_replies_envelope_intact(tmp_path, cli, peer):
    need_broker()
    x = unique("shmbus-")
    a_path, b_path = str(tmp_path / "host-a"), str(tmp_path / "host-b")
    bus_a, bus_b = shmbus.Bus(a_path), shmbus.Bus(b_path)
    events_and_replies = [
        {"name": "events-out", "topics": "events.#", "exchange": x, "cursor": "to-rabbit-events"},
        {"name": "replies-out", "topics": "replies.#", "exchange": x, "cursor": "to-rabbit-replies"},
    ]
    # Host A: commands for the remote endpoint through a bus queue that stands in for it here.
    config_a = host_config(tmp_path, "host-a", "host-a", x, outbound=[
        {"name": "commands-out", "topics": "commands.inventory", "queue": "bridge.inventory", "exchange": x},
        *events_and_replies,
    ], inbound=[
        {"name": "in", "queue": unique("host-a-"), "topic_from": "routing_key",
         "bindings": [{"exchange": x, "routing_key": "events.#"}, {"exchange": x, "routing_key": "commands.shipping"}]},
        {"name": "replies-in", "queue": unique("host-a-replies-"), "topic_from": "routing_key", "create_topics": False,
         "topic_kind": "memory", "bindings": [{"exchange": x, "routing_key": "replies.#"}]},
    ])
    # Host B: the endpoint's commands and the events land in their topics; a request's reply-to
    # topic is made here so that the responder can answer.
    config_b = host_config(tmp_path, "host-b", "host-b", x, outbound=[
        {"name": "commands-out", "topics": "commands.shipping", "queue": "bridge.shipping", "exchange": x},
        *events_and_replies,
    ], inbound=[
        {"name": "in", "queue": unique("host-b-"), "topic_from": "routing_key", "reply_topic_bytes": 1 << 20,
         "bindings": [{"exchange": x, "routing_key": "events.#"}, {"exchange": x, "routing_key": "commands.inventory"}]},
        {"name": "replies-in", "queue": unique("host-b-replies-"), "topic_from": "routing_key", "create_topics": False,
         "topic_kind": "memory", "bindings": [{"exchange": x, "routing_key": "replies.#"}]},
    ])
    bridge_a, bridge_b = Bridge(cli, a_path, config_a), Bridge(cli, b_path, config_b)
    inventory = web = None
    try:
        inventory = Peer(peer, "inventory", b_path)
        inventory.until("ready", 60)
        bridge_a.start().wait_running()
        bridge_b.start().wait_running()
        web = Peer(peer, "web", a_path, str(REQUESTS))
        web.until("done", 120)
        time.sleep(2)  # room for any message that would loop or arrive twice

        a_status, b_status = bridge_a.status(), bridge_b.status()
        assert inventory.finish() == 0
        on_b = inventory.seen
        on_a = web.seen
        reply_topic = next(l["reply-topic"] for l in on_a if isinstance(l, dict) and "reply-topic" in l)

        # Host B handled each message exactly once, and host A its event.
        handled_b = [l for l in on_b if isinstance(l, dict) and "handled" in l]
        assert sorted(l["handled"] for l in handled_b) == sorted(["ReserveStock", "OrderPlaced"] + ["GetOrderStatus"] * REQUESTS)
        assert [l["handled"] for l in on_a if isinstance(l, dict) and "handled" in l] == ["StockReserved"]

        # Every record crossed intact: headers of the envelope and payload equal on both buses,
        # and each topic has its message once on each side (no loop, no echo).
        for topic, count, sender, receiver in (("events.OrderPlaced", 1, bus_a, bus_b),
                                               ("commands.inventory", 1 + REQUESTS, bus_a, bus_b),
                                               ("events.StockReserved", 1, bus_b, bus_a),
                                               (reply_topic, REQUESTS, bus_b, bus_a)):
            sent, got = records(sender, topic), records(receiver, topic)
            assert len(sent) == count and len(got) == count, (topic, len(sent), len(got))
            by_id = {h["message-id"]: (h, p) for h, p in got}
            for h, p in sent:
                other, payload = by_id[h["message-id"]]
                assert envelope(other) == envelope(h) and payload == p, topic
                assert other["x-shmbus-origin"] in ("host-a", "host-b") and "x-shmbus-origin" not in h

        # The flow: B's event was caused by A's command, in the same conversation and trace.
        (cmd, _), = [r for r in records(bus_b, "commands.inventory") if r[0]["type"] == "ReserveStock@1"]
        (event, _), = records(bus_a, "events.StockReserved")
        assert event["causation-id"] == cmd["message-id"]
        assert event["conversation-id"] == cmd["conversation-id"] and event["correlation-id"] == cmd["correlation-id"]
        assert event["traceparent"].split("-")[1] == cmd["traceparent"].split("-")[1]
        assert event["traceparent"] != cmd["traceparent"] and event["source"] == "inventory"
        # Each reply answers its request: correlation-id = the request's message-id.
        requests = {h["message-id"]: h for h, _ in records(bus_b, "commands.inventory") if h["type"] == "GetOrderStatus@1"}
        replies = records(bus_a, reply_topic)
        assert sorted(h["correlation-id"] for h, _ in replies) == sorted(requests)
        assert all(h["reply-to"] == reply_topic and h["expires-at"] for h in requests.values())
        assert all(h["kind"] == "reply" and h["type"] == "OrderStatus@1" for h, _ in replies)

        # Loop prevention did work: each side skipped its own messages coming back and never sent
        # on what it had brought in.
        def link(status, name):
            return next(l for l in status["links"] if l["name"] == name)
        for status in (a_status, b_status):
            assert link(status, "in")["skipped"] >= 1, "its own event came back through the exchange"
            assert link(status, "events-out")["skipped"] >= 1, "the other host's event is not sent on"
        assert link(a_status, "commands-out")["confirmed"] == 1 + REQUESTS
        assert link(b_status, "replies-out")["confirmed"] == REQUESTS
        assert link(a_status, "replies-out")["skipped"] == REQUESTS, "replies brought in are not sent out again"
        assert web.finish() == 0
    finally:
        for p in (web, inventory):
            if p and p.proc.poll() is None:
                p.proc.kill()
                p.proc.wait()
        for b in (bridge_a, bridge_b):
            if b.alive():
                b.stop()
        bus_a.close()
        bus_b.close()


def test_a_command_to_a_remote_endpoint_waits_in_the_stand_in_queue_while_the_broker_link_is_down(tmp_path, cli, peer):
    """The stand-in queue on A is the outbox: a command sent while A's bridge is not running is
    kept, then forwarded once it runs (acked only after the broker confirmed)."""
    need_broker()
    x = unique("shmbus-")
    a_path = str(tmp_path / "host-a")
    bus_a = shmbus.Bus(a_path)
    config_a = host_config(tmp_path, "host-a", "host-a", x, outbound=[
        {"name": "commands-out", "topics": "commands.inventory", "queue": "bridge.inventory", "exchange": x}], inbound=[])
    seen = unique("q-")
    declare_queue(seen, x, "topic", "commands.#")
    bridge = Bridge(cli, a_path, config_a)
    bridge.start().wait_running()
    bridge.stop()  # the stand-in queue exists now; the bridge is down
    try:
        web = subprocess.run([cli, "--bus", a_path, "queue", "ls"], capture_output=True, text=True, timeout=30)
        assert "bridge.inventory" in web.stdout
        bus_a.create_topic("commands.inventory", kind="journal")
        pub = bus_a.publisher("commands.inventory")
        pub.publish(b'{"order":1,"quantity":1}', {"message-id": "m-1", "type": "ReserveStock@1", "kind": "command"})
        time.sleep(0.5)
        bridge.start().wait_running()
        bridge.wait_link("commands-out", lambda l: l["confirmed"] == 1, 60, "the command forwarded")
        got = drain(seen, 1, timeout=60, idle=2)
        assert [(k, p.message_id, body) for k, p, body in got] == [("commands.inventory", "m-1", b'{"order":1,"quantity":1}')]
        assert got[0][1].headers["x-shmbus-origin"] == "host-a"
        wait_for(lambda: bridge.link("commands-out")["lag"] == 0, 10, "the queue drained")
    finally:
        if bridge.alive():
            bridge.stop()
        bus_a.close()


@pytest.mark.parametrize("name", ["host-a.toml", "host-b.toml"])
def test_the_documented_two_host_configs_pass_check(tmp_path, cli, name):
    import re
    text = (ROOT / "docs" / "bridge.md").read_text()
    config = re.search(r"```toml\n(# " + re.escape(name) + r".*?)\n```", text, re.S).group(1)
    path = tmp_path / name
    path.write_text(config)
    env = dict(os.environ, SHMBUS_AMQP_URL="amqp://guest:s3cr3t@127.0.0.1:5672/")

    r = subprocess.run([cli, "bridge", "--config", str(path), "--check"], capture_output=True, text=True, timeout=30,
                       env=env)

    assert r.returncode == 0, r.stderr
    assert "through bus queue bridge." in r.stdout and "named by each routing key" in r.stdout
    assert "origin host-" in r.stdout and "s3cr3t" not in r.stdout


def test_stand_in_queue_loses_nothing_when_the_bridge_is_killed(tmp_path, cli):
    """kill -9 of the bridge with deliveries leased and publishes unconfirmed: the dead consumer's
    leases go back to the queue, the restarted bridge sends them; every command reaches the
    broker at least once, a duplicate with the message-id of its first copy."""
    need_broker()
    x, seen = unique("shmbus-"), unique("q-")
    a_path = str(tmp_path / "host-a")
    bus_a = shmbus.Bus(a_path)
    config = host_config(tmp_path, "host-a", "host-a", x, outbound=[
        {"name": "commands-out", "topics": "commands.inventory", "queue": "bridge.inventory", "exchange": x,
         "window": 16}], inbound=[])
    declare_queue(seen, x, "topic", "commands.#")
    bridge = Bridge(cli, a_path, config)
    try:
        bridge.start().wait_running()
        bus_a.create_topic("commands.inventory", kind="journal")
        pub = bus_a.publisher("commands.inventory")
        n = 2000
        for i in range(n):
            pub.publish(b"%d" % i, {"message-id": f"cmd-{i}", "type": "ReserveStock@1", "kind": "command"})
        bridge.wait_link("commands-out", lambda l: l["confirmed"] >= 100, 60, "some confirmed")
        bridge.kill9()
        bridge.start().wait_running()
        bridge.wait_link("commands-out", lambda l: l["lag"] == 0 and l["in_flight"] == 0, 120, "the queue drained")
        got = drain(seen, n, timeout=120, idle=3)
        ids = [p.message_id for _, p, _ in got]
        assert set(ids) == {f"cmd-{i}" for i in range(n)}, "lost = none, unexpected = none"
        assert all(body == b"%d" % int(p.message_id[4:]) for _, p, body in got)
    finally:
        if bridge.alive():
            bridge.stop()
        bus_a.close()


def test_topics_from_routing_keys_are_created_skipped_or_dead_lettered(tmp_path, cli):
    need_broker()
    x = unique("x-")
    bus_path = str(tmp_path / "bus")
    bus = shmbus.Bus(bus_path)
    q_create, q_keep = unique("q-"), unique("q-")
    config = write_config(tmp_path / "b.toml", exchanges=[{"name": x, "type": "topic"}], inbound=[
        {"name": "create", "queue": q_create, "topic_from": "routing_key",
         "bindings": [{"exchange": x, "routing_key": "made.#"}]},
        {"name": "keep", "queue": q_keep, "topic_from": "routing_key", "create_topics": False, "topic_kind": "memory",
         "bindings": [{"exchange": x, "routing_key": "only.#"}]}])
    bus.create_topic("only.here", kind="journal")
    bridge = Bridge(cli, bus_path, config)
    try:
        bridge.start().wait_running()
        conn, ch = pika_channel()
        for key, body in (("made.eu.created", b"1"), ("made..bad", b"2"), ("only.here", b"3"), ("only.elsewhere", b"4")):
            ch.basic_publish(x, key, body, pika.BasicProperties(message_id=key))
        conn.close()

        bridge.wait_link("create", lambda l: l["confirmed"] == 2, 60, "both acked")
        bridge.wait_link("keep", lambda l: l["confirmed"] == 2, 60, "both acked")
        made = records(bus, "made.eu.created")
        dead = records(bus, q_create + ".undecodable")
        here = records(bus, "only.here")

        assert [p for _, p in made] == [b"1"] and bus.stats("made.eu.created").kind == "journal"
        assert [p for _, p in dead] == [b"2"] and "names no bus topic" in dead[0][0]["x-death-error"]
        assert [p for _, p in here] == [b"3"]
        assert "only.elsewhere" not in bus.topics()
        assert bridge.link("keep")["skipped"] == 1 and bridge.link("create")["dead_lettered"] == 1
    finally:
        if bridge.alive():
            bridge.stop()
        bus.close()
