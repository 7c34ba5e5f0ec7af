"""`shmbus bridge` against a real RabbitMQ node, with pika as the independent client: the
envelope both ways (properties, headers, payload compared exactly), round trips, dead letters,
and the errors a user makes (wrong password, no broker, bad config, refused declaration, a
second instance). Marker `bridge`; skipped without SHMBUS_AMQP_URL."""
import os
import subprocess
import time

import pytest

import shmbus
from bridge_helpers import (Bridge, declare_queue, drain, free_port, need_broker, pika, pika_channel, unique,
                            wait_for, write_config)

pytestmark = pytest.mark.bridge

ALL_PROPERTIES = {
    "message-id": "m-1", "correlation-id": "c-1", "reply-to": "replies.here", "type": "OrderPlaced@2",
    "content-type": "application/octet-stream", "content-encoding": "identity", "timestamp": "1700000000",
    "expiration": "60000", "priority": "7", "app-id": "billing", "user-id": "guest",
}
OTHER_HEADERS = {
    "traceparent": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01", "tracestate": "congo=t61rcWkgMzE",
    "causation-id": "c-0", "kind": "event", "x-custom": "a=b,c", "empty": "",
}
PAYLOAD = bytes(range(256)) * 4


@pytest.fixture
def env(tmp_path, cli):
    need_broker()
    bus_path = str(tmp_path / "bus")
    bus = shmbus.Bus(bus_path)
    bridges = []

    def make(**config):
        b = Bridge(cli, bus_path, write_config(tmp_path / f"bridge{len(bridges)}.toml", **config))
        bridges.append(b)
        return b

    yield bus, make, tmp_path
    for b in bridges:
        if b.alive():
            b.stop()
    bus.close()


def props_as_headers(p):
    """A pika message's properties in bus header names (what the bridge should map them to)."""
    names = {"message_id": "message-id", "correlation_id": "correlation-id", "reply_to": "reply-to", "type": "type",
             "content_type": "content-type", "content_encoding": "content-encoding", "expiration": "expiration",
             "app_id": "app-id", "user_id": "user-id"}
    out = {bus: getattr(p, attr) for attr, bus in names.items() if getattr(p, attr) is not None}
    if p.timestamp is not None:
        out["timestamp"] = str(p.timestamp)
    if p.priority is not None:
        out["priority"] = str(p.priority)
    return out


def test_outbound_properties_headers_and_payload_reach_pika_exactly(env):
    bus, make, _ = env
    topic, exchange, queue = unique("t") + ".orders.eu", unique("x-"), unique("q-")
    bus.create_topic(topic, kind="journal")
    declare_queue(queue, exchange, "topic", "#")
    pub = bus.publisher(topic)
    pub.publish(PAYLOAD, {**ALL_PROPERTIES, **OTHER_HEADERS})
    bare = pub.publish(b"no headers at all")
    pub.publish(b"someone else", {"user-id": "someone-else", "priority": "high", "expiration": "soon"})
    b = make(outbound=[{"name": "out", "topics": topic, "exchange": exchange, "cursor": "c"}]).start()

    b.wait_link("out", lambda l: l["confirmed"] == 3, 60, "3 confirmed")
    got = drain(queue, 3, timeout=60)

    assert len(got) == 3
    (key, p, body), (_, p2, body2), (_, p3, _) = got
    assert key == topic and body == PAYLOAD and body2 == b"no headers at all"
    assert props_as_headers(p) == ALL_PROPERTIES
    assert p.delivery_mode == 2
    assert p.headers == OTHER_HEADERS
    assert p2.message_id == f"{topic}@{bare}" and p2.delivery_mode == 2 and not p2.headers
    # RabbitMQ refuses a user_id that is not the login (406): it travels as a header instead,
    # and so do values the property cannot hold.
    assert p3.user_id is None and p3.priority is None and p3.expiration is None
    assert p3.headers == {"user-id": "someone-else", "priority": "high", "expiration": "soon"}
    assert b.link("out")["returned"] == 0


def test_inbound_pika_message_lands_with_every_property_and_typed_header(env):
    bus, make, _ = env
    queue, topic = unique("q-"), unique("t") + ".payments"
    b = make(inbound=[{"name": "in", "queue": queue, "topic": topic, "prefetch": 16}]).start()
    b.wait_link("in", lambda l: l["connected"], 60, "connected")
    conn, ch = pika_channel()
    props = pika.BasicProperties(
        message_id="p-1", correlation_id="c-1", reply_to="r", type="PaymentReceived@1", content_type="text/plain",
        content_encoding="utf-8", timestamp=1700000001, expiration="600000", priority=4, app_id="payments",
        user_id="guest", delivery_mode=2,
        headers={"traceparent": "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", "tracestate": "x=1",
                 "count": 5, "flag": True, "nested": {"k": "v"}, "list": [1, "two"]})
    ch.basic_publish("", queue, PAYLOAD, props)
    ch.basic_publish("", queue, b"anonymous")  # no message-id: one is derived
    # Derived from the content alone (what a redelivery keeps): the same for an identical
    # message, different for a body one byte apart, also deep inside a longer one.
    long_body = bytes(range(256)) * 4
    changed = long_body[:500] + b"\xff" + long_body[501:]
    for body in (b"anonymous", long_body, long_body, changed):
        ch.basic_publish("", queue, body)
    conn.close()

    b.wait_link("in", lambda l: l["confirmed"] == 6, 60, "6 acked")
    sub = bus.subscribe(topic, start="earliest")
    msgs = sub.receive_many(10, timeout=5)

    assert len(msgs) == 6
    m, anon, anon_again, long1, long2, long_changed = msgs
    ids = [x.headers["message-id"] for x in (anon, anon_again, long1, long2, long_changed)]
    assert ids[0] == ids[1] and ids[2] == ids[3]
    assert len({ids[0], ids[2], ids[4]}) == 3
    assert bytes(long_changed) == changed
    assert bytes(m) == PAYLOAD
    assert m.headers == {
        "message-id": "p-1", "correlation-id": "c-1", "reply-to": "r", "type": "PaymentReceived@1",
        "content-type": "text/plain", "content-encoding": "utf-8", "expiration": "600000", "app-id": "payments",
        "user-id": "guest", "timestamp": "1700000001", "priority": "4",
        "traceparent": "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", "tracestate": "x=1",
        "count": "5", "flag": "true", "nested": '{"k":"v"}', "list": '[1,"two"]',
        "x-amqp-kinds": "count=I,flag=t,nested=F,list=A"}
    assert anon.headers["message-id"].startswith("amqp-") and len(anon.headers["message-id"]) == 21
    assert bytes(anon) == b"anonymous"
    assert wait_for(lambda: b.link("in")["in_flight"] == 0, 10, "nothing unacked")


def test_round_trips_both_ways_are_equal_in_headers_and_payload(env):
    bus, make, _ = env
    p = unique("t")
    out_topic, back_topic = f"{p}.out.created", f"{p}.back"
    in_topic, exchange, exchange2 = f"{p}.in", unique("x-"), unique("x-")
    loop_queue, in_queue, final_queue = unique("q-"), unique("q-"), unique("q-")
    bus.create_topic(out_topic, kind="journal")
    declare_queue(final_queue, exchange2, "topic", "#")
    b = make(
        exchanges=[{"name": exchange, "type": "topic"}],
        outbound=[{"name": "out", "topics": f"{p}.out.#", "exchange": exchange, "cursor": "c1"},
                  {"name": "out2", "topics": in_topic, "exchange": exchange2, "cursor": "c2"}],
        inbound=[{"name": "back", "queue": loop_queue, "topic": back_topic,
                  "bindings": [{"exchange": exchange, "routing_key": "#"}]},
                 {"name": "in", "queue": in_queue, "topic": in_topic}]).start()
    b.wait_link("back", lambda l: l["connected"], 60, "connected")
    b.wait_link("in", lambda l: l["connected"], 60, "connected")
    # bus -> AMQP -> bus
    sent_headers = {**ALL_PROPERTIES, **OTHER_HEADERS}
    bus.publisher(out_topic).publish(PAYLOAD, sent_headers)
    # AMQP -> bus -> AMQP
    conn, ch = pika_channel()
    amqp_headers = {"traceparent": "00-1-2-01", "n": 42, "big": 2 ** 40, "ok": False, "t": {"a": [1, 2]}}
    ch.basic_publish("", in_queue, b"\x00\xffbytes", pika.BasicProperties(
        message_id="a-1", correlation_id="c", type="T@1", timestamp=1700000002, priority=1, headers=amqp_headers,
        delivery_mode=2))
    conn.close()

    came_back = bus.subscribe(back_topic, start="earliest").receive(timeout=60)
    out_again = drain(final_queue, 1, timeout=60)

    assert came_back is not None and bytes(came_back) == PAYLOAD
    assert came_back.headers == sent_headers
    assert len(out_again) == 1
    _, p2, body2 = out_again[0]
    assert body2 == b"\x00\xffbytes"
    assert (p2.message_id, p2.correlation_id, p2.type, p2.timestamp, p2.priority) == ("a-1", "c", "T@1", 1700000002, 1)
    assert p2.headers == amqp_headers


def test_unroutable_messages_are_dead_lettered_and_counted_and_the_cursor_moves(env):
    bus, make, _ = env
    topic, exchange = unique("t") + ".nowhere", unique("x-")
    bus.create_topic(topic, kind="journal")
    pub = bus.publisher(topic)
    positions = [pub.publish(f"lost {i}".encode(), {"traceparent": f"00-{i}"}) for i in range(5)]
    b = make(outbound=[{"name": "out", "topics": topic, "exchange": exchange, "cursor": "outbox"}]).start()

    b.wait_link("out", lambda l: l["confirmed"] == 5 and l["returned"] == 5, 60, "5 returned and confirmed")
    dead = bus.subscribe("outbox.returned", start="earliest").receive_many(10, timeout=5)

    assert [bytes(m) for m in dead] == [f"lost {i}".encode() for i in range(5)]
    for m, pos in zip(dead, positions):
        h = m.headers
        assert h["x-death-reason"] == "unroutable"
        assert "312 NO_ROUTE" in h["x-death-error"] and f"exchange={exchange}" in h["x-death-error"]
        assert h["x-original-topic"] == topic and h["x-original-position"] == str(pos)
        assert h["message-id"] == f"{topic}@{pos}" and h["traceparent"].startswith("00-")
    cursor = wait_for(lambda: [c for c in bus.stats(topic).cursors if c.name == "outbox" and c.lag_records == 0],
                      10, "cursor past the returned messages")
    assert cursor


def test_wrong_password_is_a_clear_error_with_backoff_and_never_printed(env, cli):
    _, make, tmp = env
    host_port = os.environ["SHMBUS_AMQP_URL"].split("@")[1]
    b = make(broker={"url_env": None, "url": f"amqp://guest:wrong-secret-77@{host_port}",
                     "reconnect_max_ms": 1000}, outbound=[{"name": "out", "topics": "a.#", "exchange": "x", "cursor": "c"}])
    check = subprocess.run([cli, "bridge", "--config", b.config, "--check"], capture_output=True, text=True, timeout=30)
    b.start()

    link = b.wait_link("out", lambda l: "ACCESS_REFUSED" in l["last_error"], 60, "the login refusal")
    time.sleep(3)
    later = b.link("out")

    assert "check user and password" in link["last_error"]
    assert b.alive() and not later["connected"]
    assert later["failures"] <= 8, "configuration errors retry at the longest delay (1 s here), not in a loop"
    assert check.returncode == 0 and "guest:****@" in check.stdout
    for text in (check.stdout, check.stderr, b.log(), str(b.status())):
        assert "wrong-secret-77" not in text
    assert b.log().count("ACCESS_REFUSED") == 1, "each distinct error is logged once"


def test_absent_broker_is_a_clear_error_with_backoff(env):
    _, make, _ = env
    port = free_port()
    b = make(broker={"url_env": None, "url": f"amqp://guest:guest@127.0.0.1:{port}/", "reconnect_max_ms": 800},
             inbound=[{"name": "in", "queue": "q", "topic": "t.in"}]).start()

    link = b.wait_link("in", lambda l: "cannot connect" in l["last_error"], 60, "the connect error")
    time.sleep(3)

    assert f"127.0.0.1:{port}" in link["last_error"] and "is the broker running" in link["last_error"]
    assert b.alive()
    assert b.link("in")["failures"] <= 40, "backoff, not a tight loop"


def test_refused_declaration_is_a_clear_error(env):
    _, make, _ = env
    exchange = unique("x-")
    conn, ch = pika_channel()
    ch.exchange_declare(exchange, "fanout", durable=True)
    conn.close()
    b = make(outbound=[{"name": "out", "topics": "a.#", "exchange": exchange, "exchange_type": "topic", "cursor": "c"}])
    b.start()

    link = b.wait_link("out", lambda l: "PRECONDITION_FAILED" in l["last_error"], 60, "the 406")
    time.sleep(2)

    assert f"declare exchange {exchange}" in link["last_error"] and "inequivalent" in link["last_error"]
    assert b.alive() and b.link("out")["failures"] <= 6


@pytest.mark.parametrize("text, expect", [
    ("[broker\nurl = 1", "not valid TOML"),
    ("[broker]\nurl = \"http://x\"\n[[outbound]]\ntopics=\"a\"\nexchange=\"x\"\ncursor=\"c\"\n", "amqp://"),
    ("[broker]\n[[outbound]]\ntopics=\"a\"\nexchange=\"x\"\ncursor=\"c\"\nwindow=0\n", "window: must be from 1"),
    ("[broker]\n[[outbound]]\ntopics=\"a.#.\"\nexchange=\"x\"\ncursor=\"c\"\n", "topics"),
    ("[broker]\n[[inbound]]\nqueue=\"q\"\ntopic=\"t\"\nprefech=3\n", "unknown key prefech"),
    ("[broker]\n", "no link"),
    ("[broker]\nurl_env = \"SHMBUS_NO_SUCH_VARIABLE\"\n[[inbound]]\nqueue=\"q\"\ntopic=\"t\"\n", "is not set"),
])
def test_malformed_config_is_refused_with_file_and_reason(tmp_path, cli, text, expect):
    path = tmp_path / "bad.toml"
    path.write_text(text)

    r = subprocess.run([cli, "--bus", str(tmp_path / "bus"), "bridge", "--config", str(path)],
                       capture_output=True, text=True, timeout=30)

    assert r.returncode == 1
    assert str(path) in r.stderr and expect in r.stderr, r.stderr


def test_second_bridge_on_the_same_config_refuses_to_start(env, cli):
    _, make, _ = env
    b = make(inbound=[{"name": "in", "queue": unique("q-"), "topic": "t.in"}]).start()
    b.wait_link("in", lambda l: l["connected"], 60, "connected")

    r = subprocess.run([cli, "--bus", b.bus, "bridge", "--config", b.config], capture_output=True, text=True, timeout=30)

    assert r.returncode == 1
    assert f"another shmbus bridge (pid {b.proc.pid})" in r.stderr and "One bridge per config" in r.stderr
    assert b.alive()


def test_sigterm_stops_with_143_and_the_cursor_where_the_confirms_left_it(env):
    bus, make, _ = env
    topic, exchange, queue = unique("t") + ".x", unique("x-"), unique("q-")
    bus.create_topic(topic, kind="journal")
    declare_queue(queue, exchange)
    pub = bus.publisher(topic)
    for i in range(2000):
        pub.publish(f"m{i}".encode())
    b = make(outbound=[{"name": "out", "topics": topic, "exchange": exchange, "cursor": "c"}]).start()
    b.wait_link("out", lambda l: l["confirmed"] == 2000, 60, "all confirmed")

    rc = b.stop()

    assert rc == 143
    cursor = [c for c in bus.stats(topic).cursors if c.name == "c"][0]
    assert cursor.lag_records == 0 and not cursor.in_use
    assert b.status()["running"] is False


ISSUE_CONFIG = '''
[broker]
url = "amqp://guest:guest@127.0.0.1:5672/"      # or url_env = "SHMBUS_AMQP_URL"

[[outbound]]                                     # bus -> RabbitMQ
topics = "orders.#"                              # pattern of journal (or memory) topics
exchange = "orders"
exchange_type = "topic"                          # declared if missing
cursor = "to-rabbit"                             # named cursor: the outbox position

[[inbound]]                                      # RabbitMQ -> bus
queue = "payments-in"                            # declared if missing
topic = "payments.received"                      # local topic the messages land in
prefetch = 256
'''


def readme_config():
    import pathlib
    import re
    text = (pathlib.Path(__file__).resolve().parents[2] / "README.md").read_text()
    return re.search(r"```toml\n(# bridge.toml.*?)\n```", text, re.S).group(1)


@pytest.mark.parametrize("text", [ISSUE_CONFIG, "readme"], ids=["issue", "readme"])
def test_documented_configs_check_and_mask_the_password(tmp_path, cli, text):
    path = tmp_path / "bridge.toml"
    path.write_text(readme_config() if text == "readme" else text)
    env = dict(os.environ, SHMBUS_AMQP_URL="amqp://guest:s3cr3t@127.0.0.1:5672/")

    r = subprocess.run([cli, "bridge", "--config", str(path), "--check"], capture_output=True, text=True, timeout=30,
                       env=env)

    assert r.returncode == 0, r.stderr
    assert "outbound" in r.stdout and "inbound" in r.stdout and ":****@" in r.stdout
    assert "s3cr3t" not in r.stdout
