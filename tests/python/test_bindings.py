"""The Python API: publish/subscribe, patterns, headers, start positions, timeouts, closing,
zero-copy views, and every kind of bad input raising the right exception."""
import time

import pytest

import shmbus


@pytest.fixture
def b(bus):
    with shmbus.Bus(bus) as opened:
        yield opened


def texts(messages):
    return [bytes(m.data).decode() for m in messages]


def test_publish_then_iterate_with_headers_and_metadata(b):
    pub = b.publisher("orders.created")
    sub = b.subscribe("orders.#", start="earliest")
    before = time.time()
    pos = pub.publish(b"hello", headers={"type": "OrderPlaced", "tenant": "acme"})
    msg = next(iter(sub))
    assert (msg.topic, msg.position, msg.seq) == ("orders.created", pos, 0)
    assert msg.headers == {"type": "OrderPlaced", "tenant": "acme"}
    assert bytes(msg) == b"hello"
    assert before - 1 < msg.timestamp < time.time() + 1
    assert abs(msg.timestamp_ns / 1e9 - msg.timestamp) < 1e-6


def test_headers_round_trip_unicode_and_empty_values(b):
    pub = b.publisher("h")
    sub = b.subscribe("h", start="earliest")
    headers = {"ключ": "значение ✓", "empty": "", "type": "x" * 1000}
    pub.publish(b"", headers=headers)
    msg = sub.receive(timeout=5)
    assert msg.headers == headers
    assert bytes(msg.data) == b""


def test_payload_types_bytes_bytearray_memoryview_str(b):
    pub = b.publisher("t")
    sub = b.subscribe("t", start="earliest")
    pub.publish(b"a")
    pub.publish(bytearray(b"bb"))
    pub.publish(memoryview(b"xccx")[1:3])
    pub.publish("dé")
    assert texts(sub.receive_many(10, timeout=5)) == ["a", "bb", "cc", "dé"]


def test_pattern_subscription_matches_words_and_sees_new_topics(b):
    star = b.subscribe("orders.*.created", start="earliest")
    hash_ = b.subscribe("orders.#", start="earliest")
    b.publisher("orders.eu.created").publish(b"1")
    b.publisher("orders.eu.shipped").publish(b"2")
    b.publisher("orders.us.created").publish(b"3")  # a topic made after subscribing
    b.publisher("billing.eu.created").publish(b"4")
    got = star.receive_many(10, timeout=5) + star.receive_many(10, timeout=0.2)
    assert sorted((m.topic, bytes(m.data)) for m in got) == [("orders.eu.created", b"1"), ("orders.us.created", b"3")]
    seen = []
    deadline = time.monotonic() + 5
    while len(seen) < 3 and time.monotonic() < deadline:
        seen += hash_.receive_many(10, timeout=0.5)
    assert sorted(m.topic for m in seen) == ["orders.eu.created", "orders.eu.shipped", "orders.us.created"]
    assert shmbus.pattern_matches("orders.#", "orders") and not shmbus.pattern_matches("orders.*", "orders")


def test_start_positions(b):
    pub = b.publisher("s")
    positions = [pub.publish(x) for x in (b"a", b"b", b"c")]
    assert texts(b.subscribe("s", start="earliest").receive_many(10, timeout=1)) == ["a", "b", "c"]
    assert texts(b.subscribe("s", start=positions[1]).receive_many(10, timeout=1)) == ["b", "c"]
    latest = b.subscribe("s", start="latest")
    assert latest.try_receive() is None
    pub.publish(b"d")
    assert texts([latest.receive(timeout=5)]) == ["d"]
    assert latest.position == b.stats("s").tail_position


def test_timeouts_return_none_after_the_time_and_reject_negative(b):
    sub = b.subscribe("quiet")
    start = time.monotonic()
    assert sub.receive(timeout=0.2) is None
    assert 0.19 <= time.monotonic() - start < 5
    assert sub.poll(5) == []
    assert sub.wait(timeout=0.05) is False
    with pytest.raises(ValueError):
        sub.receive(timeout=-1)


def test_block_topic_data_is_a_readonly_view_held_until_the_next_message(b):
    b.create_topic("small", capacity=4096, policy="block")
    pub = b.publisher("small")
    sub = b.subscribe("small", start="earliest")
    pub.publish(b"A" * 100)
    held = sub.receive(timeout=5)
    assert isinstance(held.data, memoryview) and held.data.readonly
    with pytest.raises(TypeError):
        held.data[0] = 0
    # While the view is held, publishers cannot lap it: the ring fills, then refuses.
    published = 0
    while pub.try_publish(b"B" * 100) is not None:
        published += 1
        assert published < 1000, "publisher overwrote a held record"
    assert bytes(held.data) == b"A" * 100
    # Taking the next message releases it, and the publisher can go on.
    assert bytes(sub.receive(timeout=5).data) == b"B" * 100
    assert pub.try_publish(b"C") is not None


def test_overwrite_topic_data_is_bytes_and_loss_is_counted(b):
    b.create_topic("lossy", capacity=4096, policy="overwrite")
    pub = b.publisher("lossy")
    sub = b.subscribe("lossy", start="earliest")
    for i in range(1000):
        pub.publish(i.to_bytes(4, "little") * 8)
    got = []
    while (batch := sub.poll(100)):
        got += batch
    assert all(isinstance(m.data, bytes) for m in got)
    assert len(got) + sub.lost == 1000
    assert sub.lost > 0
    assert [int.from_bytes(m.data[:4], "little") for m in got] == sorted({int.from_bytes(m.data[:4], "little") for m in got})


def test_fail_policy_raises_would_block_and_too_large_raises(b):
    b.create_topic("strict", capacity=4096, policy="fail")
    pub = b.publisher("strict")
    sub = b.subscribe("strict")  # attached, never reading
    with pytest.raises(shmbus.WouldBlockError):
        for _ in range(1000):
            pub.publish(b"x" * 100)
    with pytest.raises(shmbus.TooLargeError) as e:
        pub.publish(b"x" * (pub.max_payload + 1))
    assert isinstance(e.value, ValueError)
    sub.close()


def test_claim_commits_in_place_and_aborts_on_exception(b):
    pub = b.publisher("zc")
    sub = b.subscribe("zc", start="earliest")
    with pub.claim(5, headers={"k": "v"}) as c:
        c.data[:] = b"hello"
    with pytest.raises(RuntimeError):
        with pub.claim(3) as c:
            c.data[:] = b"bad"
            raise RuntimeError("changed my mind")
    pub.publish(b"next")
    got = sub.receive_many(10, timeout=5)
    assert [(bytes(m.data), m.headers) for m in got] == [(b"hello", {"k": "v"}), (b"next", {})]
    claim = pub.claim(1)
    with pytest.raises(ValueError):
        pub.publish(b"while a claim is open")
    claim.abort()
    pub.publish(b"after abort")


def test_publish_many_accepts_payloads_and_pairs(b):
    pub = b.publisher("many")
    sub = b.subscribe("many", start="earliest")
    assert pub.publish_many([b"a", (b"b", {"k": "v"}), "c"], headers={"d": "1"}) == 3
    got = sub.receive_many(10, timeout=5)
    assert [(bytes(m.data), m.headers) for m in got] == [(b"a", {"d": "1"}), (b"b", {"k": "v"}), (b"c", {"d": "1"})]


def test_stats_and_topics(b):
    b.create_topic("stat.me", capacity=1 << 16, policy="overwrite")
    b.publisher("stat.me").publish(b"12345")
    s = b.stats("stat.me")
    assert (s.capacity, s.policy, s.published, s.bytes, s.kind) == (1 << 16, "overwrite", 1, 5, "memory")
    assert "stat.me" in b.topics() and b.topic_exists("stat.me") and not b.topic_exists("nope")
    assert b.create_topic("stat.me") is False


def test_closed_objects_raise_closed_error_and_iteration_stops(bus):
    bus_obj = shmbus.Bus(bus)
    pub = bus_obj.publisher("c")
    sub = bus_obj.subscribe("c")
    with bus_obj:
        pass  # leaving the block closes the bus and everything it handed out
    assert bus_obj.closed and pub.closed and sub.closed
    with pytest.raises(shmbus.ClosedError):
        pub.publish(b"x")
    with pytest.raises(shmbus.ClosedError):
        bus_obj.publisher("c")
    assert list(sub) == []
    assert sub.try_receive() is None
    with pytest.raises(ValueError):  # ClosedError is a ValueError, like I/O on a closed file
        bus_obj.topics()


@pytest.mark.parametrize("name", ["a..b", "../x", "", "x" * 300, "with space", "trailing."])
def test_invalid_topic_names_raise_invalid_name_error(b, name):
    with pytest.raises(shmbus.InvalidNameError) as e:
        b.publisher(name)
    assert isinstance(e.value, ValueError) and isinstance(e.value, shmbus.Error)
    with pytest.raises(shmbus.InvalidNameError):
        b.subscribe(name)


def test_a_non_ascii_character_in_a_name_is_named_in_the_message(b):
    with pytest.raises(shmbus.InvalidNameError) as e:
        b.publisher("orders.z\u0430\u043a\u0430\u0437")
    message = str(e.value)
    assert message
    assert "'\u0430' (U+0430)" in message and "orders.z\u0430\u043a\u0430\u0437" in message
    with pytest.raises(shmbus.InvalidNameError) as e:
        shmbus.validate_pattern("orders.*.\u00e9t\u00e9")
    assert "'\u00e9' (U+00E9)" in str(e.value)


def test_name_validation_helpers():
    shmbus.validate_topic_name("orders.eu.created")
    shmbus.validate_pattern("orders.*.#")
    with pytest.raises(shmbus.InvalidNameError):
        shmbus.validate_topic_name("orders.*")
    with pytest.raises(shmbus.InvalidNameError):
        shmbus.validate_pattern("orders..#")


def test_invalid_patterns_and_options(b):
    with pytest.raises(shmbus.InvalidNameError):
        b.subscribe("orders.#x")
    with pytest.raises(shmbus.InvalidArgumentError):
        b.subscribe("orders.#", start="yesterday")
    with pytest.raises(shmbus.InvalidArgumentError):
        b.subscribe("orders.#", wait="nap")
    with pytest.raises(shmbus.InvalidArgumentError):
        b.create_topic("bad.capacity", capacity=1000)
    with pytest.raises(shmbus.InvalidArgumentError):
        b.create_topic("bad.policy", policy="sometimes")
    b.publisher("pos").publish(b"abc")
    with pytest.raises(shmbus.InvalidArgumentError):
        b.subscribe("pos", start=3)  # not a record's position


def test_wrong_types_raise_type_error(b):
    pub = b.publisher("types")
    with pytest.raises(TypeError):
        pub.publish(123)
    with pytest.raises(TypeError):
        pub.publish(b"x", headers={"k": 1})
    with pytest.raises(TypeError):
        pub.publish(b"x", headers=[("k", "v")])
    with pytest.raises(TypeError):
        shmbus.Bus(42)
    with pytest.raises(TypeError):
        b.subscribe("types", start=1.5)


def test_not_a_bus_and_missing_bus(tmp_path):
    (tmp_path / "file").write_text("x")
    with pytest.raises(shmbus.NotShmbusError):
        shmbus.Bus(str(tmp_path / "file"))
    with pytest.raises(shmbus.NotFoundError):
        shmbus.Bus(str(tmp_path / "nothing-here"), create=False)
    notes = tmp_path / "notes"
    notes.mkdir()
    (notes / "todo.txt").write_text("keep me")
    with pytest.raises(shmbus.NotShmbusError):
        shmbus.Bus(str(notes))
    assert (notes / "todo.txt").read_text() == "keep me"


def test_bus_of_another_layout_version_raises_version_error(bus):
    shmbus.Bus(bus).close()
    import pathlib
    meta = pathlib.Path(bus) / "bus.meta"
    raw = bytearray(meta.read_bytes())
    raw[8:12] = (99).to_bytes(4, "little")  # the layout version follows the 8-byte magic
    meta.write_bytes(bytes(raw))
    with pytest.raises(shmbus.VersionError) as e:
        shmbus.Bus(bus)
    assert "version 99" in str(e.value)


def test_journal_topic_from_python_survives_the_bus(tmp_path):
    data = str(tmp_path / "segments")
    with shmbus.Bus(str(tmp_path / "bus1")) as b:
        assert b.create_topic("ledger", kind="journal", dir=data, segment_size=1 << 16)
        assert b.stats("ledger").kind == "journal" and b.stats("ledger").data_dir == data
        b.publisher("ledger").publish_many([f"entry {i}".encode() for i in range(3000)])
    report = shmbus.check_journal(data)
    assert report["healthy"] and report["records"] == 3000 and report["segments"] > 1
    with shmbus.Bus(str(tmp_path / "bus2")) as b:  # a new bus, as after a reboot
        b.create_topic("ledger", kind="journal", dir=data, segment_size=1 << 16)
        sub = b.subscribe("ledger", start="earliest")
        got = []
        while len(got) < 3000 and (batch := sub.receive_many(1000, timeout=5)):
            got += [bytes(m.data).decode() for m in batch]
        assert got == [f"entry {i}" for i in range(3000)]
        assert isinstance(batch[0].data, memoryview)
    with pytest.raises(shmbus.InvalidArgumentError):
        shmbus.Bus(str(tmp_path / "bus3")).create_topic("x", kind="tape")


def test_journal_fsync_always_from_python(tmp_path):
    with shmbus.Bus(str(tmp_path / "bus")) as b:
        b.create_topic("durable", kind="journal", dir=str(tmp_path / "d"), fsync="always")
        pub = b.publisher("durable")
        for i in range(50):
            pos = pub.publish(f"r{i}".encode())
            assert b.stats("durable").flushed_position > pos
        s = b.stats("durable")
        assert s.fsync == "always" and s.flushed_records == 50
        with pytest.raises(shmbus.InvalidArgumentError):
            b.create_topic("bad", kind="journal", fsync="sometimes")


def test_single_publisher_topic_refuses_a_second_publisher_until_the_first_closes(b):
    assert b.create_topic("solo", single_publisher=True)
    assert b.stats("solo").single_publisher
    sub = b.subscribe("solo", start="earliest")
    first = b.publisher("solo")
    first.publish(b"one")
    with pytest.raises(shmbus.InUseError, match="single publisher"):
        b.publisher("solo")
    first.close()
    second = b.publisher("solo")
    second.publish(b"two")
    assert texts(sub.receive_many(10, timeout=5)) == ["one", "two"]
