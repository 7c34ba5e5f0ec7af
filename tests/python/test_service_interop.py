"""C++ and Python services on one bus (tests/service/service_peer.cc is the C++ side, using only
the public C++ service API): a flow over three hops C++ -> Python -> C++ with its envelope checked
at each hop, requests both ways with their distinct errors, a Python Fault<T> read by C++, and both
declaring the very same endpoint queue."""
import asyncio
import json
import re
import signal
import time

import pytest

import shmbus
from shmbus import service
from service_messages import (JOURNAL, GetOrderStatus, OrderPlaced, OrderStatus, Peer, ReserveStock, StockReserved,
                              fast)

UUID7 = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}")


@pytest.fixture
def bus_path(tmp_path):
    return str(tmp_path / "bus")


@pytest.fixture
def bus(bus_path):
    with shmbus.Bus(bus_path) as b:
        yield b


def trace_id(traceparent):
    parsed = service.TraceContext.parse(traceparent)
    assert parsed, traceparent
    return parsed.trace_id, parsed.span_id


def test_envelope_over_three_hops_cpp_to_python_to_cpp(bus, bus_path):
    hop1 = []
    inventory = service.Endpoint(bus, "inventory", **fast())

    @inventory.handle(ReserveStock)
    def reserve(m, ctx):
        hop1.append((m, ctx.envelope))
        ctx.publish(StockReserved(m.order))  # hop 2: Python -> C++ (shipping)

    bus.create_topic("events.OrderShipped", kind="journal", **JOURNAL)
    with bus.subscribe("events.OrderShipped", start="earliest") as shipped, inventory:
        peer = Peer(bus_path, "flow")
        sent = peer.line("SENT ")
        hop2 = json.loads(peer.line("GOT "))  # the StockReserved as the C++ endpoint read it
        hop3 = shipped.receive(timeout=30)   # the OrderShipped its C++ handler published
        assert peer.proc.wait(timeout=30) == 0, peer.stop()
    assert hop3 is not None
    [(message, first)] = hop1
    assert message == ReserveStock(7, 3)
    # Hop 1, made by the C++ Client, read by Python: a new flow.
    assert UUID7.fullmatch(first.message_id) and first.message_id == sent
    assert first.correlation_id == first.conversation_id == sent and first.causation_id == ""
    assert (first.type, first.kind, first.source, first.content_type) == ("ReserveStock@1", "command", "cpp-web",
                                                                           "application/json")
    assert service.parse_time(first.sent_time) is not None
    trace, span1 = trace_id(first.traceparent)
    # Hop 2, made by the Python handler, read by C++: the flow continued.
    assert UUID7.fullmatch(hop2["message-id"]) and hop2["message-id"] != sent
    assert (hop2["correlation-id"], hop2["conversation-id"], hop2["causation-id"]) == (sent, sent, sent)
    assert (hop2["type"], hop2["kind"], hop2["source"]) == ("StockReserved@1", "event", "inventory")
    trace2, span2 = trace_id(hop2["traceparent"])
    assert trace2 == trace and span2 != span1
    # Hop 3, made by the C++ handler of the Python-made message.
    h3 = service.Envelope.read(hop3.headers)
    assert (h3.correlation_id, h3.conversation_id, h3.causation_id) == (sent, sent, hop2["message-id"])
    assert (h3.type, h3.kind, h3.source) == ("OrderShipped@1", "event", "shipping")
    trace3, span3 = trace_id(h3.traceparent)
    assert trace3 == trace and span3 not in (span1, span2)
    assert bytes(hop3.data) == b'{"order":7}' == service.event("OrderShipped").encode({"order": 7})
    # Byte for byte: C++ writes the envelope's keys in the order Python writes them.
    assert list(hop3.headers) == list(h3.headers())


def test_python_requests_a_cpp_responder_and_times_out_once_it_is_killed(bus, bus_path):
    peer = Peer(bus_path, "respond", stdin=True)
    try:
        peer.line("READY")
        with service.Client(bus, "py-web", journal=JOURNAL) as client:
            r = client.request(GetOrderStatus(order=5, requester=1, seq=1), "cpp-orders", reply=OrderStatus,
                               timeout=10)
            assert r == {"order": 5, "requester": 1, "seq": 1, "status": "shipped by C++ (py-web)"}

            async def many():
                return await asyncio.gather(*(client.request_async(GetOrderStatus(order=i, requester=1, seq=i),
                                                                   "cpp-orders", reply=OrderStatus, timeout=30)
                                              for i in range(200)))
            assert [x["seq"] for x in asyncio.run(many())] == list(range(200))
            with pytest.raises(service.NoEndpoint):
                client.request(GetOrderStatus(order=1), "nobody", reply=OrderStatus, timeout=10)
            peer.proc.send_signal(signal.SIGKILL)
            peer.proc.wait(timeout=30)
            t0 = time.monotonic()
            with pytest.raises(service.RequestTimeout, match="from endpoint cpp-orders within 500 ms"):
                client.request(GetOrderStatus(order=2), "cpp-orders", reply=OrderStatus, timeout=0.5)
            assert time.monotonic() - t0 < 5
    finally:
        peer.stop()


def test_cpp_requests_a_python_responder_with_reply_remote_fault_timeout_and_no_endpoint(bus, bus_path):
    orders = service.Endpoint(bus, "py-orders", **fast())
    failing = service.Endpoint(bus, "py-failing", **fast())
    silent = service.Endpoint(bus, "py-silent", **fast())

    @orders.handle(GetOrderStatus)
    def status(q, ctx):
        assert ctx.envelope.source == "cpp-requester" and ctx.envelope.reply_to.startswith("replies.cpp-requester-")
        ctx.reply(OrderStatus(order=q["order"], requester=q["requester"], seq=q["seq"], status="shipped by Python"))

    @failing.handle(GetOrderStatus)
    def fail(q, ctx):
        raise ValueError(f"order {q['order']} is unknown")

    silent.handle(GetOrderStatus, lambda q, ctx: None)
    silent.start()
    silent.stop()  # declared, nobody reading: a timeout, not "no endpoint"

    def run(endpoint, ms):
        peer = Peer(bus_path, "request", endpoint, str(ms))
        line = peer.line("", timeout=60)
        assert peer.proc.wait(timeout=30) == 0, peer.stop()
        return line

    with orders, failing:
        assert run("py-orders", 10000) == "REPLY 41 shipped by Python"
        assert run("py-failing", 20000) == ("ERROR remote-fault GetOrderStatus@1 failed at endpoint py-failing after 3 "
                                            "attempt(s): ValueError: order 41 is unknown")
        assert run("py-silent", 300).startswith("ERROR timeout no reply to GetOrderStatus@1 from endpoint py-silent "
                                                "within 300 ms")
        assert run("nobody", 10000).startswith('ERROR no-endpoint no endpoint "nobody"')


def test_a_python_fault_is_read_by_a_cpp_handler_of_fault_of_t(bus, bus_path):
    sales = service.Endpoint(bus, "py-sales", **fast())

    @sales.handle(OrderPlaced)
    def decline(e, ctx):
        raise RuntimeError("card declined")

    peer = Peer(bus_path, "faults")
    try:
        peer.line("READY")
        with sales, service.Client(bus, "py-web", journal=JOURNAL) as client:
            placed = client.publish(OrderPlaced(9, "Zoë"))
            line = peer.line("FAULT ")
        assert peer.proc.wait(timeout=30) == 0
    finally:
        peer.stop()
    assert line == (f"Fault<OrderPlaced>@2 order=9 customer=Zoë attempts=3 endpoint=py-sales id={placed} "
                    "error=RuntimeError: card declined")


def test_cpp_and_python_declare_the_same_endpoint_queue(bus, bus_path):
    peer = Peer(bus_path, "declare")
    peer.line("DECLARED")
    assert peer.proc.wait(timeout=30) == 0, peer.stop()
    cpp = bus.queue("orders").stats()
    same = service.Endpoint(bus, "orders", journal=JOURNAL)
    same.handle(OrderPlaced, lambda e, ctx: None)
    same.handle(GetOrderStatus, lambda q, ctx: None)
    with same:  # opens the C++ endpoint's queue: the very same configuration
        py = same.queue.stats()
    fields = ("bindings", "max_deliveries", "lease", "retry", "filter", "expired_action")
    assert {f: getattr(py, f) for f in fields} == {f: getattr(cpp, f) for f in fields}
    other = service.Endpoint(bus, "orders", journal=JOURNAL)
    other.handle(GetOrderStatus, lambda q, ctx: None)
    with pytest.raises(shmbus.Error, match='endpoint "orders" cannot declare its queue'):
        other.start()
