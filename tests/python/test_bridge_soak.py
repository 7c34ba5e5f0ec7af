"""The bridge under faults (issue 14): 100,000 messages (SHMBUS_SOAK_SCALE scales it) each way
while the broker is stopped and restarted twice and the bridge is kill -9'ed 20+ times at
random. A Jepsen-style check at the end: lost = {}, unexpected = {}, order per topic,
duplicates carry the message-id of the earlier copy. Needs SHMBUS_RABBITMQ_DIR (the node's
directory, which tools/test.sh exports) to restart the broker."""
import os
import random
import threading
import time

import pytest

import shmbus
from bridge_helpers import (SCALE, Bridge, declare_queue, drain, jitter, need_node_dir, pika, pika_channel,
                            queue_depth, rabbit_node, unique, wait_for, write_config)

pytestmark = pytest.mark.bridge

N = max(1000, int(100_000 * SCALE))
KILLS = max(5, round(20 * min(SCALE, 1.0)))
SPREAD_S = max(10.0, 40.0 * min(SCALE, 1.0))  # publishing is spread over this long, so faults hit mid-stream


def run_faults(bridge, rng, busy, kills_wanted):
    """kill -9 the bridge at random moments (restarting it), stopping and starting the broker at
    one third and two thirds of the kills; goes on until both kills_wanted and busy() are done."""
    restarts_at = {kills_wanted // 3, 2 * kills_wanted // 3}
    kills = restarts = 0
    while kills < kills_wanted or busy():
        time.sleep(jitter(0.2, 1.2, rng))
        bridge.kill9()
        kills += 1
        bridge.start()
        if kills in restarts_at:
            time.sleep(jitter(0.0, 1.0, rng))
            rabbit_node("stop")
            time.sleep(jitter(0.5, 2.0, rng))
            rabbit_node("start")
            restarts += 1
    return kills, restarts


def test_outbound_loses_nothing_across_broker_restarts_and_kill9(tmp_path, cli):
    need_node_dir()
    seed = int(os.environ.get("SHMBUS_SOAK_SEED", time.time_ns() % 1_000_000))
    print(f"seed {seed}, {N} messages, {KILLS} kills")
    rng = random.Random(seed)
    p = unique("t")
    topics = [f"{p}.orders.eu", f"{p}.orders.us"]
    exchange, queue = unique("x-"), unique("q-")
    bus = shmbus.Bus(str(tmp_path / "bus"))
    for t in topics:
        bus.create_topic(t, kind="journal")
    declare_queue(queue, exchange, "topic", "#")
    config = write_config(tmp_path / "out.toml", outbound=[
        {"name": "out", "topics": f"{p}.orders.#", "exchange": exchange, "cursor": "outbox", "window": 512}])
    bridge = Bridge(str(cli), str(tmp_path / "bus"), config).start()
    position_of = {}

    def publish():
        pubs = [bus.publisher(t) for t in topics]
        for i in range(N):
            body = f"{i % 2}:{i}".encode()
            # Every fourth record carries its own message-id; the rest get "<topic>@<position>".
            headers = {"message-id": f"own-{i}"} if i % 4 == 0 else None
            pos = pubs[i % 2].publish(body, headers)
            position_of[body] = f"own-{i}" if headers else f"{topics[i % 2]}@{pos}"
            if i % 500 == 499:
                time.sleep(SPREAD_S * 500 / N)

    publisher = threading.Thread(target=publish)
    publisher.start()
    kills, restarts = run_faults(bridge, rng, publisher.is_alive, KILLS)
    publisher.join()

    def caught_up():
        return all(c.lag_records == 0 for t in topics for c in bus.stats(t).cursors if c.name == "outbox") and \
            all(any(c.name == "outbox" for c in bus.stats(t).cursors) for t in topics)
    bridge.wait_running()
    wait_for(caught_up, 300, f"the cursors at the tails; log:\n{bridge.log()[-3000:]}", interval=0.5)
    assert bridge.stop() == 143
    got = drain(queue, N, timeout=600)
    bus.close()

    seen_first, unexpected, wrong_id = {}, [], []
    order = {0: [], 1: []}
    for _, props, body in got:
        if body not in position_of:
            unexpected.append(body)
            continue
        if props.message_id != position_of[body]:
            wrong_id.append((body, props.message_id))
        if body not in seen_first:
            seen_first[body] = True
            topic_index, i = map(int, body.decode().split(":"))
            order[topic_index].append(i)
    lost = set(position_of) - set(seen_first)
    print(f"{len(got)} received, {len(got) - len(seen_first)} duplicates, {kills} kills, {restarts} broker restarts")
    assert kills >= KILLS and restarts == 2
    assert not lost, f"{len(lost)} lost, e.g. {sorted(lost)[:5]}"
    assert not unexpected, unexpected[:5]
    assert not wrong_id, f"duplicates/ids not the record's: {wrong_id[:5]}"
    for t in (0, 1):
        assert order[t] == sorted(order[t]), f"topic {t}: first copies out of order"


def test_inbound_loses_nothing_and_acks_nothing_before_its_commit(tmp_path, cli):
    need_node_dir()
    seed = int(os.environ.get("SHMBUS_SOAK_SEED", time.time_ns() % 1_000_000))
    print(f"seed {seed}, {N} messages, {KILLS} kills")
    rng = random.Random(seed)
    queue, topic = unique("q-"), unique("t") + ".in"
    declare_queue(queue)
    bus = shmbus.Bus(str(tmp_path / "bus"))
    config = write_config(tmp_path / "in.toml", inbound=[{"name": "in", "queue": queue, "topic": topic, "prefetch": 128}])
    bridge = Bridge(str(cli), str(tmp_path / "bus"), config).start()
    confirmed, attempted = set(), set()
    deadline = time.monotonic() + 900

    # Four producers, each on its own connection and a quarter of the ids: pika's blocking channel
    # waits for each confirm, so one producer would take ~1 ms a message; four keep four in flight.
    producers_n = 4

    def produce(k):
        i, end, conn = k * N // producers_n, (k + 1) * N // producers_n, None
        while i < end and time.monotonic() < deadline:
            try:
                if conn is None or conn.is_closed:
                    conn, ch = pika_channel()
                    ch.confirm_delivery()
                batch_end = min(end, i + 200)
                while i < batch_end:  # confirmed one by one: each one we count is on the broker
                    attempted.add(f"in-{i}")
                    ch.basic_publish("", queue, f"body {i}".encode(),
                                     pika.BasicProperties(message_id=f"in-{i}", delivery_mode=2), mandatory=True)
                    confirmed.add(f"in-{i}")
                    i += 1
                time.sleep(SPREAD_S * 200 * producers_n / N)
            except (pika.exceptions.AMQPError, OSError):
                conn = None
                time.sleep(0.5)  # the broker is restarting; this message is sent again
        if conn is not None and conn.is_open:
            conn.close()

    producers = [threading.Thread(target=produce, args=(k,)) for k in range(producers_n)]
    for p in producers:
        p.start()
    kills, restarts = run_faults(bridge, rng, lambda: any(p.is_alive() for p in producers), KILLS)
    for p in producers:
        p.join()
    assert len(confirmed) == N, "the producer could not publish everything in time"

    sub = bus.subscribe(topic, start="earliest")
    landed, bodies = {}, {}

    def all_landed():
        for m in sub.receive_many(10000, timeout=0.5):
            mid = m.headers.get("message-id")
            landed[mid] = landed.get(mid, 0) + 1
            bodies.setdefault(mid, bytes(m))
        return confirmed <= set(landed)
    wait_for(all_landed, 300, f"every message in the local topic; log:\n{bridge.log()[-3000:]}", interval=0.1)
    bridge.wait_running()
    wait_for(lambda: queue_depth(queue) == 0, 120, "the broker's queue empty (every message acked)")
    assert bridge.stop() == 143
    time.sleep(1)
    depth = queue_depth(queue)
    bus.close()

    lost = confirmed - set(landed)
    unexpected = set(landed) - attempted
    print(f"{sum(landed.values())} landed, {sum(landed.values()) - len(landed)} duplicates, {kills} kills, "
          f"{restarts} broker restarts")
    assert kills >= KILLS and restarts == 2
    assert not lost and not unexpected
    assert depth == 0, "messages left unacked on the broker"
    assert all(bodies[f"in-{i}"] == f"body {i}".encode() for i in range(N))
