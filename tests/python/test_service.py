"""shmbus.service in Python alone: kinds enforced, the envelope's form, endpoints (retries,
exception filters, timeouts, Fault<T>, poison payloads), request/response, schedule and cancel.
The C++ <-> Python side of the same API is tests/python/test_service_interop.py."""
import asyncio
import os
import re
import threading
import time

import pytest

import shmbus
from shmbus import service
from service_messages import (JOURNAL, GetOrderStatus, OrderPlaced, OrderStatus, ReserveStock, StockReserved,
                              dead_letters, fast, wait_until)

UUID7 = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}")


@pytest.fixture
def bus(tmp_path):
    with shmbus.Bus(str(tmp_path / "bus")) as b:
        yield b


@pytest.fixture
def client(bus):
    with service.Client(bus, "test", journal=JOURNAL) as c:
        yield c


# --- kinds --------------------------------------------------------------------------------------

def test_publishing_a_command_is_refused_with_advice_to_send_it(client):
    with pytest.raises(shmbus.InvalidArgumentError, match=re.escape(
            "cannot publish ReserveStock@1 (a command): a command goes to one endpoint: send(message, endpoint) it")):
        client.publish(ReserveStock(1, 1))


def test_sending_an_event_is_refused_with_advice_to_publish_it(client):
    with pytest.raises(shmbus.InvalidArgumentError, match=re.escape(
            "cannot send OrderPlaced@2 (a event): an event goes to every endpoint that handles it: "
            "publish(message) it")):
        client.send(OrderPlaced(1, "ann"), "sales")


def test_publishing_sending_or_requesting_a_reply_is_refused(client):
    for verb in (lambda: client.publish(OrderStatus(order=1)), lambda: client.send(OrderStatus(order=1), "x")):
        with pytest.raises(shmbus.InvalidArgumentError, match="a reply answers a request: call reply"):
            verb()
    with pytest.raises(shmbus.InvalidArgumentError, match=re.escape(
            "cannot request GetOrderStatus@1 answered by OrderPlaced@2 (a event): register the answer's type with "
            "kind reply")):
        client.request(GetOrderStatus(order=1), "x", reply=OrderPlaced)


def test_an_endpoint_cannot_handle_a_reply(bus):
    with pytest.raises(shmbus.InvalidArgumentError, match="an endpoint cannot handle OrderStatus@1 \\(a reply\\)"):
        service.Endpoint(bus, "sales").handle(OrderStatus, lambda m, ctx: None)


def test_replying_to_an_event_or_a_plain_command_is_refused_in_the_handler(bus, client):
    errors = []

    def try_reply(m, ctx):
        try:
            ctx.reply(OrderStatus(order=1))
        except shmbus.InvalidArgumentError as e:
            errors.append(str(e))

    ep = service.Endpoint(bus, "sales", **fast())
    ep.handle(OrderPlaced, try_reply)
    ep.handle(ReserveStock, try_reply)
    with ep:
        client.publish(OrderPlaced(1, "ann"))
        client.send(ReserveStock(1, 1), "sales")
        wait_until(lambda: len(errors) == 2, what="both handlers")
    assert sorted(errors) == sorted([
        "cannot reply to OrderPlaced@2 (a event without reply-to): only a command sent by request() has someone "
        "waiting; publish an event or send a command instead",
        "cannot reply to ReserveStock@1 (a command without reply-to): only a command sent by request() has someone "
        "waiting; publish an event or send a command instead"])


def test_a_command_without_endpoint_or_route_is_refused_and_a_route_names_it(bus, client):
    with pytest.raises(shmbus.InvalidArgumentError, match="no endpoint for command ReserveStock@1: pass one"):
        client.send(ReserveStock(1, 1))
    with pytest.raises(service.NoEndpoint, match='no endpoint "inventory": no queue is bound to commands.inventory'):
        client.route(ReserveStock, "inventory").send(ReserveStock(1, 1))


def test_a_type_name_that_cannot_be_a_topic_or_version_zero_is_refused():
    with pytest.raises(shmbus.InvalidArgumentError, match='message type "bad name" cannot be registered'):
        service.event("bad name")
    with pytest.raises(shmbus.InvalidArgumentError, match="has version 0: versions start at 1"):
        service.command("Fine", 0)
    with pytest.raises(TypeError, match="decorate Plain with @dataclass"):
        service.message("Plain")(type("Plain", (), {}))


# --- the envelope -------------------------------------------------------------------------------

def test_message_ids_are_uuidv7_strictly_increasing_with_their_time_and_new_in_a_forked_child():
    before = time.time()
    ids = [service.new_message_id() for _ in range(10000)]
    assert all(UUID7.fullmatch(i) for i in ids)
    assert ids == sorted(ids) and len(set(ids)) == len(ids)
    assert before - 0.002 <= service.message_id_time(ids[0]) <= time.time() + 0.002
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.write(w, service.new_message_id().encode())
        os._exit(0)
    os.waitpid(pid, 0)
    child = os.read(r, 64).decode()
    mine = service.new_message_id()
    assert UUID7.fullmatch(child) and child[19:] != mine[19:]  # the random bits differ


def test_traceparent_parse_refuse_and_child():
    t = service.TraceContext.parse("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
    assert (t.trace_id, t.span_id, t.flags) == ("4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7", 1)
    for bad in ("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-x", "ff-4bf92f3577b34da6a3ce929d0e0e4736-"
                "00f067aa0ba902b7-01", "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
                "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01", "00-4bf9-00f0-01", ""):
        assert service.TraceContext.parse(bad) is None, bad
    assert service.TraceContext.parse("01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-future") is not None
    child = t.child()
    assert child.trace_id == t.trace_id and child.span_id != t.span_id
    assert re.fullmatch(r"00-[0-9a-f]{32}-[0-9a-f]{16}-01", str(service.TraceContext.start()))


def test_times_are_rfc3339_utc_milliseconds():
    assert service.format_time(1796126400.123) == "2026-12-01T12:00:00.123Z"
    assert service.parse_time("2026-12-01T12:00:00.123Z") == pytest.approx(1796126400.123)
    assert service.parse_time("2026-12-01T12:00:00+00:00") == 1796126400
    assert service.parse_time("1796126400123") == pytest.approx(1796126400.123)
    assert service.parse_time("yesterday") is None


def test_an_envelope_starts_a_flow_and_continues_it_with_tracestate():
    start = service.Envelope.start(service.type_of(OrderPlaced), "web")
    assert start.correlation_id == start.conversation_id == start.message_id and not start.causation_id
    assert list(start.headers()) == ["message-id", "correlation-id", "conversation-id", "type", "kind",
                                     "content-type", "sent-time", "source", "traceparent"]
    start.tracestate = "vendor=1"
    next_ = service.Envelope.caused_by(start, service.type_of(StockReserved), "inventory")
    assert (next_.correlation_id, next_.conversation_id, next_.causation_id) == (start.message_id,) * 3
    assert next_.traceparent[3:35] == start.traceparent[3:35] and next_.traceparent != start.traceparent
    assert next_.tracestate == "vendor=1"
    foreign = service.Envelope(message_id="m1", traceparent="garbage", tracestate="vendor=1")
    cont = service.Envelope.caused_by(foreign, service.type_of(StockReserved), "x")
    assert cont.correlation_id == cont.conversation_id == cont.causation_id == "m1"
    assert cont.tracestate == "" and service.TraceContext.parse(cont.traceparent)  # a new trace, no state


def test_payloads_are_the_json_nlohmann_writes():
    assert service.type_of(OrderPlaced).encode(OrderPlaced(42, "Zoë")) == '{"customer":"Zoë","order":42}'.encode()
    assert GetOrderStatus(order=1, seq=2).message_type is GetOrderStatus
    assert GetOrderStatus.encode(GetOrderStatus(seq=2, order=1)) == b'{"order":1,"seq":2}'


def test_three_hops_in_python_carry_correlation_causation_conversation_and_trace(bus, client):
    seen = {}
    inventory = service.Endpoint(bus, "inventory", **fast())
    shipping = service.Endpoint(bus, "shipping", **fast())

    @inventory.handle(ReserveStock)
    def reserve(m, ctx):
        seen["reserve"] = ctx.envelope
        ctx.publish(StockReserved(m.order))

    @shipping.handle(StockReserved)
    def ship(m, ctx):
        seen["reserved"] = ctx.envelope

    with inventory, shipping:
        first = client.send(ReserveStock(1, 2), "inventory")
        wait_until(lambda: "reserved" in seen, what="the second hop")
    a, b = seen["reserve"], seen["reserved"]
    assert a.message_id == first and a.correlation_id == a.conversation_id == first and a.causation_id == ""
    assert (b.correlation_id, b.conversation_id, b.causation_id) == (first, first, first)
    assert a.source == "test" and b.source == "inventory" and b.kind == "event" and b.type == "StockReserved@1"
    assert a.traceparent[3:35] == b.traceparent[3:35] and a.traceparent[36:52] != b.traceparent[36:52]


# --- endpoints ----------------------------------------------------------------------------------

def test_a_failing_handler_is_retried_then_dead_lettered_and_one_fault_is_published(bus, client):
    calls = []
    faults = []
    sales = service.Endpoint(bus, "sales", immediate_retries=1, **fast())
    watch = service.Endpoint(bus, "watch", **fast())

    @sales.handle(OrderPlaced)
    def decline(e, ctx):
        calls.append((ctx.attempt, ctx.immediate_retry))
        raise RuntimeError("card declined")

    watch.handle(service.Fault.of(OrderPlaced), lambda f, ctx: faults.append((f, ctx.envelope)))
    with sales, watch:
        placed = client.publish(OrderPlaced(7, "ann"))
        wait_until(lambda: faults, what="the Fault")
        time.sleep(0.3)  # a second Fault would come now
    assert calls == [(1, 0), (1, 1), (2, 0), (2, 1), (3, 0), (3, 1)]
    assert len(faults) == 1
    fault, env = faults[0]
    assert fault.message == OrderPlaced(7, "ann") and fault.message_id == placed
    assert (fault.exception_type, fault.exception_message, fault.attempts, fault.endpoint, fault.message_type) == (
        "RuntimeError", "card declined", 3, "sales", "OrderPlaced@2")
    assert env.type == "Fault<OrderPlaced>@2" and env.causation_id == placed and env.correlation_id == placed
    [(headers, payload)] = dead_letters(bus, "sales", 1)
    assert headers["x-death-reason"] == "delivery_limit" and headers["x-death-error"] == "RuntimeError: card declined"
    assert payload == b'{"customer":"ann","order":7}'
    stats = sales.stats()
    assert (stats.retried, stats.nacked, stats.faulted, stats.handled) == (3, 2, 1, 0)


def test_durable_retries_come_after_the_exponential_backoff_within_its_jitter(bus, client):
    times = []
    ep = service.Endpoint(bus, "sales", max_deliveries=4, retry="exponential:min=200ms,max=10s,factor=2,jitter=0.2",
                          journal=JOURNAL, idle_wait=0.005)

    @ep.handle(OrderPlaced)
    def decline(e, ctx):
        times.append(time.monotonic())
        raise RuntimeError("card declined")

    with ep:
        client.publish(OrderPlaced(1, "ann"))
        dead_letters(bus, "sales", 1)
    gaps = [b - a for a, b in zip(times, times[1:])]
    assert len(gaps) == 3
    for n, gap in enumerate(gaps):
        base = 0.2 * 2 ** n
        # Never early; late by at most a generous scheduling slack on shared cores.
        assert base * 0.8 - 0.005 <= gap <= base * 1.2 + 0.5, (n, gaps)


def test_a_never_retried_exception_dead_letters_at_once_and_retry_on_retries_only_those(bus, client):
    calls = {"sales": 0, "billing": 0}
    sales = service.Endpoint(bus, "sales", immediate_retries=2, **fast()).never_retry(ValueError)
    billing = service.Endpoint(bus, "billing", immediate_retries=2, **fast()).retry_on(TimeoutError)

    def bad(name, error):
        def handler(m, ctx):
            calls[name] += 1
            raise error
        return handler

    sales.handle(OrderPlaced, bad("sales", ValueError("no such customer")))
    billing.handle(OrderPlaced, bad("billing", KeyError("k")))
    with sales, billing:
        client.publish(OrderPlaced(1, "ann"))
        [(h1, _)] = dead_letters(bus, "sales", 1)
        [(h2, _)] = dead_letters(bus, "billing", 1)
    assert calls == {"sales": 1, "billing": 1}
    assert (h1["x-death-reason"], h1["x-death-error"]) == ("rejected", "ValueError: no such customer")
    assert (h2["x-death-reason"], h2["x-death-error"]) == ("rejected", "KeyError: 'k'")


def test_a_handler_over_its_timeout_fails_and_what_it_sent_is_discarded(bus, client):
    slow = service.Endpoint(bus, "slow", max_deliveries=1, handler_timeout=0.1, **{k: v for k, v in fast().items()
                                                                                     if k != "max_deliveries"})
    started = []

    @slow.handle(ReserveStock)
    def sync_handler(m, ctx):
        ctx.publish(StockReserved(m.order))  # discarded: the attempt fails
        time.sleep(0.3)
        assert ctx.past_deadline()

    @slow.handle(OrderPlaced)
    async def async_handler(m, ctx):
        started.append(time.monotonic())
        await asyncio.sleep(30)  # cancelled at the timeout

    bus.create_topic("events.StockReserved", kind="journal", **JOURNAL)
    with bus.subscribe("events.StockReserved", start="earliest") as reserved, slow:
        client.send(ReserveStock(1, 1), "slow")
        client.publish(OrderPlaced(2, "bob"))
        letters = dead_letters(bus, "slow", 2)
        assert reserved.receive(timeout=0.2) is None
    errors = sorted(h["x-death-error"] for h, _ in letters)
    assert errors[0].startswith("shmbus.service.HandlerTimeout: the handler of OrderPlaced@2 was cancelled at the "
                                "endpoint's handler_timeout of 100 ms")
    assert re.match(r"shmbus.service.HandlerTimeout: the handler of ReserveStock@1 took \d+ ms, over the endpoint's "
                    r"handler_timeout of 100 ms", errors[1])
    with pytest.raises(shmbus.InvalidArgumentError, match="must be shorter than the lease"):
        service.Endpoint(bus, "x", handler_timeout=2, lease=1)


def test_poison_payloads_are_dead_lettered_with_their_reason_and_the_endpoint_goes_on(tmp_path, bus, client):
    handled = []
    journal = {"segment_size": 64 << 20}  # the 16 MiB record must fit a segment
    ep = service.Endpoint(bus, "inventory", **fast(journal=journal))
    ep.handle(ReserveStock, lambda m, ctx: handled.append(m))
    with ep:
        pub = bus.publisher("commands.inventory")
        pub.publish(b"{not json", {"type": "ReserveStock@1"})
        pub.publish(b'{"order":1,"quantity":1}', {"type": "ReserveStock@9"})
        pub.publish(b'{"order":1}', {"type": "Unheard@1"})
        pub.publish(b'{"order":1}', {})
        pub.publish(b'{"order":"one","quantity":1}', {"type": "ReserveStock@1"})
        pub.publish(bytes(16 << 20), {"type": "ReserveStock@1"})  # 16 MiB of garbage
        pub.publish(b'{"order":1,"quantity":1}', {"type": "ReserveStock"})
        client.send(ReserveStock(5, 1), "inventory")
        wait_until(lambda: handled, what="the good command")
        letters = dead_letters(bus, "inventory", 7)
    assert handled == [ReserveStock(5, 1)]
    assert all(h["x-death-reason"] == "rejected" for h, _ in letters)
    errors = [h["x-death-error"] for h, _ in letters]
    assert errors[0].startswith("undecodable: ReserveStock@1: not JSON: ")
    assert errors[1] == "unknown version: ReserveStock@9 (endpoint inventory handles ReserveStock@1)"
    assert errors[2] == "unknown type: Unheard@1 (endpoint inventory handles ReserveStock@1)"
    assert errors[3] == "undecodable: no type header (endpoint inventory handles ReserveStock@1)"
    assert errors[4] == ("undecodable: ReserveStock@1.order: type must be number, but is string")
    assert errors[5].startswith("undecodable: ReserveStock@1: not JSON: ")
    assert errors[6] == 'undecodable: type header "ReserveStock" is not Name@version'
    assert len(letters[5][1]) == 16 << 20
    assert ep.stats().rejected == 7 and ep.stats().handled == 1


def test_the_queue_is_declared_as_the_cpp_endpoint_declares_it_and_other_handlers_are_refused(bus):
    ep = service.Endpoint(bus, "orders", journal=JOURNAL)
    ep.handle(GetOrderStatus, lambda m, ctx: None)
    ep.handle(OrderPlaced, lambda m, ctx: None)
    ep.handle(service.Fault.of(OrderPlaced), lambda m, ctx: None)
    with ep:
        stats = ep.queue.stats()
    assert stats.bindings == ["commands.orders", "events.Fault.OrderPlaced", "events.OrderPlaced"]
    assert (stats.max_deliveries, stats.lease, stats.expired_action) == (5, 30.0, "dead-letter")
    again = service.Endpoint(bus, "orders", journal=JOURNAL)
    again.handle(OrderPlaced, lambda m, ctx: None)
    with pytest.raises(shmbus.Error, match='endpoint "orders" cannot declare its queue: .* shmbus queue rm orders'):
        again.start()


def test_stop_lets_the_running_handler_finish_and_settle(bus, client):
    entered, finished = threading.Event(), []
    ep = service.Endpoint(bus, "slow", **fast())

    @ep.handle(ReserveStock)
    def slow(m, ctx):
        entered.set()
        time.sleep(0.3)
        finished.append(m.order)

    ep.start()
    client.send(ReserveStock(3, 1), "slow")
    assert entered.wait(30)
    ep.stop()
    assert finished == [3] and ep.stats().handled == 1
    assert ep.queue.stats().acked == 1 and ep.queue.stats().in_flight == 0


# --- request / response ---------------------------------------------------------------------------

@pytest.fixture
def responder(bus):
    ep = service.Endpoint(bus, "orders", concurrency=2, **fast())

    @ep.handle(GetOrderStatus)
    def status(q, ctx):
        if q["order"] < 0:
            raise LookupError(f"no order {q['order']}")
        ctx.reply(OrderStatus(order=q["order"], seq=q.get("seq", 0), status="shipped"))

    with ep:
        yield ep


def test_a_request_is_answered_correlated_blocking_and_awaited(client, responder):
    r = client.request(GetOrderStatus(order=42), "orders", reply=OrderStatus, timeout=10)
    assert r == {"order": 42, "seq": 0, "status": "shipped"} and r.message_type is OrderStatus

    async def many():
        return await asyncio.gather(*(client.request_async(GetOrderStatus(order=1, seq=i), "orders",
                                                           reply=OrderStatus, timeout=30) for i in range(300)))
    replies = asyncio.run(many())
    assert [r["seq"] for r in replies] == list(range(300))
    assert client.pending_requests == 0 and client.reply_topic.startswith("replies.test-")


def test_a_handler_that_fails_every_attempt_answers_with_a_remote_fault(client, responder):
    with pytest.raises(service.RemoteFault, match=r"GetOrderStatus@1 failed at endpoint orders after 3 attempt\(s\): "
                                                  r"LookupError: no order -1") as e:
        client.request(GetOrderStatus(order=-1), "orders", reply=OrderStatus, timeout=30)
    assert e.value.fault.message == {"order": -1} and e.value.code == "remote-fault"


def test_no_endpoint_fails_at_once_and_a_stopped_one_times_out_and_its_expired_request_is_never_answered(bus, client):
    t0 = time.monotonic()
    with pytest.raises(service.NoEndpoint, match='no endpoint "orders"'):
        client.request(GetOrderStatus(order=1), "orders", reply=OrderStatus, timeout=10)
    assert time.monotonic() - t0 < 5
    answered = []
    ep = service.Endpoint(bus, "orders", **fast())
    ep.handle(GetOrderStatus, lambda q, ctx: (answered.append(q), ctx.reply(OrderStatus(order=1))))
    ep.start()
    ep.stop()  # declared, nobody reading
    t0 = time.monotonic()
    with pytest.raises(service.RequestTimeout, match="no reply to GetOrderStatus@1 from endpoint orders within 200 ms"):
        client.request(GetOrderStatus(order=1), "orders", reply=OrderStatus, timeout=0.2)
    assert 0.19 <= time.monotonic() - t0 < 5
    with ep:  # the request expired in the queue: dead-lettered, never handled
        [(headers, _)] = dead_letters(bus, "orders", 1)
        assert headers["x-death-reason"] == "expired"
    assert answered == []


def test_closing_a_client_fails_what_waits_and_removes_its_reply_topic(bus):
    ep = service.Endpoint(bus, "orders", **fast())
    ep.handle(GetOrderStatus, lambda q, ctx: None)  # never answers
    with ep:
        c = service.Client(bus, "leaver", journal=JOURNAL)
        f = c.request_future(GetOrderStatus(order=1), "orders", reply=OrderStatus, timeout=30)
        topic = c.reply_topic
        assert bus.topic_exists(topic)
        c.close()
        with pytest.raises(service.ClientClosed):
            f.result(timeout=10)
        assert not bus.topic_exists(topic)


# --- scheduling ---------------------------------------------------------------------------------

def test_a_scheduled_command_waits_and_can_be_cancelled(bus, client):
    got = []
    ep = service.Endpoint(bus, "inventory", **fast())
    ep.handle(ReserveStock, lambda m, ctx: got.append((m.order, time.monotonic())))
    with ep:
        t0 = time.monotonic()
        client.schedule(ReserveStock(1, 1), "inventory", delay=1.0)
        cancelled = client.schedule(ReserveStock(2, 1), "inventory", at=time.time() + 1.0)
        wait_until(lambda: ep.queue.stats().delayed == 2, what="the queue holding both back")
        assert client.cancel_scheduled("inventory", cancelled) == 1
        wait_until(lambda: got, what="the scheduled command")
        time.sleep(0.3)  # the cancelled one is due by now
    assert [o for o, _ in got] == [1]
    assert got[0][1] - t0 >= 0.95
    with pytest.raises(TypeError, match="one of at="):
        client.schedule(ReserveStock(3, 1), "inventory")
