"""shmbus.service.testing.TestBus: the real Python endpoint pipeline in-process on a virtual
clock (as the C++ tests/service/test_bus_test.cc). Retries, schedules, request timeouts, the
breaker's cool-down and the rate limit fire on advance(), exactly; no bus directory is made."""
import asyncio
import datetime

import pytest

import shmbus
from shmbus import service
from shmbus.service.testing import Settled, TestBus
from service_messages import GetOrderStatus, OrderPlaced, OrderStatus, ReserveStock, StockReserved


class Transient(Exception):
    pass


def options(max_deliveries=5, **more):
    o = dict(max_deliveries=max_deliveries, retry="exponential:min=1s,max=60s,factor=2,jitter=0.2")
    o.update(more)
    return o


def breaker_options(**more):
    # The retries (1 min, no jitter) stay out of the way of the breaker's times.
    o = options(10, retry="exponential:min=1m,max=1m,factor=2,jitter=0",
                breaker=dict(window=4, minimum=4, failure_ratio=0.75, cool_down=30))
    o.update(more)
    return o


@pytest.fixture
def bus():
    with TestBus() as b:
        yield b


def test_the_envelope_is_carried_over_three_hops(bus):
    sales = service.Endpoint(bus, "sales")
    sales.handle(OrderPlaced, lambda e, ctx: ctx.send(ReserveStock(e.order, 3), "inventory"))
    inventory = service.Endpoint(bus, "inventory")
    inventory.handle(ReserveStock, lambda c, ctx: ctx.publish(StockReserved(c.order)))
    shipping = service.Endpoint(bus, "shipping")
    shipping.handle(StockReserved, lambda e, ctx: None)
    for ep in (sales, inventory, shipping):
        ep.start()

    first = bus.publish(OrderPlaced(42, "ann"))

    all_ = bus.messages()
    assert [r.topic for r in all_] == ["events.OrderPlaced", "commands.inventory", "events.StockReserved"]
    a, b, c = (r.envelope for r in all_)
    assert a.message_id == first
    assert (a.source, b.source, c.source) == ("test", "sales", "inventory")
    for e in (a, b, c):
        assert e.correlation_id == first
        assert e.conversation_id == first
        assert e.sent_time == service.format_time(bus.wall())  # no virtual time went by
    assert (a.causation_id, b.causation_id, c.causation_id) == ("", a.message_id, b.message_id)
    ta, tb, tc = (service.TraceContext.parse(e.traceparent) for e in (a, b, c))
    assert ta.trace_id == tb.trace_id == tc.trace_id
    assert len({ta.span_id, tb.span_id, tc.span_id}) == 3
    assert all_[2].is_(StockReserved) and all_[2].as_(StockReserved) == StockReserved(42)
    assert [(k.endpoint, k.settled, k.attempt) for k in bus.consumed()] == [
        ("sales", Settled.ACKED, 1), ("inventory", Settled.ACKED, 1), ("shipping", Settled.ACKED, 1)]
    assert bus.consumed("inventory")[0].message.envelope.message_id == b.message_id
    assert len(bus.sent()) == 1 and len(bus.published()) == 2
    assert sales.stats().handled == inventory.stats().handled == shipping.stats().handled == 1


def test_the_virtual_wall_clock_starts_where_asked_and_stamps_the_envelope():
    start = datetime.datetime(2030, 1, 2, 3, 4, 5, tzinfo=datetime.timezone.utc)
    bus = TestBus(start=start)
    ep = service.Endpoint(bus, "sales")
    ep.handle(OrderPlaced, lambda e, ctx: ctx.publish(StockReserved(e.order)))
    ep.start()
    bus.advance(datetime.timedelta(minutes=1, milliseconds=250))
    bus.publish(OrderPlaced(1, "x"))
    assert bus.elapsed == pytest.approx(60.25)
    assert [r.envelope.sent_time for r in bus.messages()] == ["2030-01-02T03:05:05.250Z"] * 2
    assert [r.at for r in bus.messages()] == [pytest.approx(60.25)] * 2


def test_delayed_retries_come_within_their_jitter_bounds_on_the_virtual_clock(bus):
    deliveries = 6
    sut = service.Endpoint(bus, "billing", **options(deliveries))
    attempts = []

    def fail(e, ctx):
        attempts.append((bus.elapsed, ctx.attempt))
        raise Transient("db down")

    sut.handle(OrderPlaced, fail)
    sut.start()
    bus.publish(OrderPlaced(1, "x"))
    assert len(attempts) == 1
    bus.advance(600)

    assert [n for _, n in attempts] == list(range(1, deliveries + 1))
    gaps = [attempts[n][0] - attempts[n - 1][0] for n in range(1, deliveries)]
    policy = service.RetryPolicy.parse(sut.options["retry"])
    for n, gap in enumerate(gaps, start=1):
        low, high = policy.bounds(n)
        assert low == pytest.approx(0.8 * 2 ** (n - 1)) and high == pytest.approx(1.2 * 2 ** (n - 1))
        assert low - 1e-9 <= gap <= high + 1e-9, (n, gap)
    assert len({round(g / 2 ** n, 9) for n, g in enumerate(gaps)}) > 1  # jitter applied: the scales differ
    dead = bus.dead_letters("billing")
    assert [(d.reason, d.error) for d in dead] == [("delivery_limit", "test_service_testbus.Transient: db down")]
    assert dead[0].at == attempts[-1][0]
    consumed = bus.consumed("billing")
    assert [k.settled for k in consumed] == [Settled.RETRIED] * (deliveries - 1) + [Settled.DEAD_LETTERED]
    assert consumed[-1].attempt == deliveries
    assert sut.stats().nacked == deliveries - 1 and sut.stats().faulted == 1


def test_the_same_seed_gives_the_same_retry_times():
    def run(seed):
        bus = TestBus(seed=seed)
        sut = service.Endpoint(bus, "billing", **options(4))
        at = []

        def fail(e, ctx):
            at.append(bus.elapsed)
            raise Transient("no")

        sut.handle(OrderPlaced, fail)
        sut.start()
        bus.publish(OrderPlaced(1, "x"))
        bus.advance(60)
        return at

    assert run(7) == run(7)
    assert run(7) != run(8)


def test_a_failed_handler_publishes_one_fault_and_sends_nothing_it_sent(bus):
    calls = []
    sut = service.Endpoint(bus, "billing", **options(3, immediate_retries=2))

    def fail(e, ctx):
        calls.append(ctx.immediate_retry)
        ctx.publish(StockReserved(1))
        raise RuntimeError("card declined")

    sut.handle(OrderPlaced, fail)
    faults = []
    audit = service.Endpoint(bus, "audit")
    audit.handle(service.Fault.of(OrderPlaced), lambda f, ctx: faults.append(f))
    sut.start()
    audit.start()

    first = bus.publish(OrderPlaced(7, "bob"))
    bus.advance(3600)

    assert calls == [0, 1, 2] * 3
    assert len(faults) == 1
    f = faults[0]
    assert (f.message, f.message_id, f.exception_type, f.exception_message, f.attempts) == (
        OrderPlaced(7, "bob"), first, "RuntimeError", "card declined", 3)
    assert bus.messages_of(StockReserved) == []
    [fault] = bus.messages_of(service.Fault.of(OrderPlaced))
    assert fault.topic == "events.Fault.OrderPlaced"
    assert fault.envelope.causation_id == first
    assert (sut.stats().faulted, sut.stats().retried) == (1, 6)


def test_exception_filters_decide_what_is_retried(bus):
    sut = service.Endpoint(bus, "billing", **options(5))
    sut.retry_on(Transient)
    sut.never_retry(ValueError)
    calls = {1: 0, 2: 0, 3: 0}

    def handler(e, ctx):
        calls[e.order] += 1
        if e.order == 1 and calls[1] < 3:
            raise Transient("timeout")
        if e.order == 2:
            raise LookupError("bug")
        if e.order == 3:
            raise ValueError("no such customer")

    sut.handle(OrderPlaced, handler)
    sut.start()
    for order in (1, 2, 3):
        bus.publish(OrderPlaced(order, "x"))
    bus.advance(3600)

    assert calls == {1: 3, 2: 1, 3: 1}
    assert [(d.reason, d.error) for d in bus.dead_letters("billing")] == [
        ("rejected", "LookupError: bug"), ("rejected", "ValueError: no such customer")]
    assert sut.stats().handled == 1


def test_a_handler_that_takes_longer_than_its_timeout_fails_its_attempt(bus):
    sut = service.Endpoint(bus, "slow", **options(2, handler_timeout=5))
    past = []

    def handler(c, ctx):
        ctx.publish(StockReserved(c.order))
        bus.advance(6 if c.order == 1 else 4)  # the handler "takes" that long
        past.append(ctx.past_deadline())

    sut.handle(ReserveStock, handler)
    sut.start()
    bus.send(ReserveStock(1, 1), "slow")
    bus.send(ReserveStock(2, 1), "slow")
    bus.advance(60)

    assert True in past and False in past
    [dead] = bus.dead_letters("slow")
    assert dead.message.as_(ReserveStock).order == 1
    assert dead.error == ("shmbus.service.HandlerTimeout: the handler of ReserveStock@1 took 6000 ms, over the "
                          "endpoint's handler_timeout of 5000 ms")
    assert bus.published_of(StockReserved) == [StockReserved(2)]  # the quick one's only


def test_an_async_handler_runs_on_the_virtual_clock_too(bus):
    sut = service.Endpoint(bus, "slow", **options(1, handler_timeout=1))

    async def handler(c, ctx):
        await asyncio.sleep(0)
        bus.advance(2)

    sut.handle(ReserveStock, handler)
    sut.start()
    bus.send(ReserveStock(1, 1), "slow")
    [dead] = bus.dead_letters("slow")
    assert dead.error.startswith("shmbus.service.HandlerTimeout: the handler of ReserveStock@1 took 2000 ms")


# --- the circuit breaker ------------------------------------------------------------------------

def test_the_breaker_opens_when_most_recent_deliveries_fail_and_holds_the_rest_in_the_queue(bus):
    sut = service.Endpoint(bus, "payments", **breaker_options())
    calls = []

    def handler(c, ctx):
        calls.append(c.order)
        if c.order != 1:
            raise Transient("gateway down")  # 1 succeeds, the rest fail

    sut.handle(ReserveStock, handler)
    sut.start()
    for i in range(1, 11):
        bus.send(ReserveStock(i, 1), "payments")

    # 1 ok, 2, 3, 4 failed: 3 of the last 4 (75 %) -> open after the 4th; 5..10 wait.
    assert calls == [1, 2, 3, 4]
    st = sut.stats()
    assert (st.breaker, st.breaker_opened) == (service.BreakerState.OPEN, 1)
    assert st.breaker == "open"
    assert bus.queued("payments") == 9  # 3 waiting for their retry, 6 never delivered
    bus.advance(29)
    assert calls == [1, 2, 3, 4]
    assert bus.dead_letters() == []


def test_the_breaker_half_opens_after_its_cool_down_and_closes_when_the_trial_succeeds(bus):
    sut = service.Endpoint(bus, "payments", **breaker_options())
    down = [True]
    calls = []

    def handler(c, ctx):
        calls.append((c.order, bus.elapsed))
        if down[0]:
            raise Transient("gateway down")

    sut.handle(ReserveStock, handler)
    sut.start()
    for i in range(1, 7):
        bus.send(ReserveStock(i, 1), "payments")
    assert len(calls) == 4
    assert sut.stats().breaker == service.BreakerState.OPEN

    # The trial at 30 s fails: open again for another 30 s.
    bus.advance(30)
    assert calls[4:] == [(5, 30.0)]
    assert (sut.stats().breaker, sut.stats().breaker_opened) == (service.BreakerState.OPEN, 2)
    bus.advance(29)
    assert len(calls) == 5

    # The gateway is back: the trial at 60 s succeeds, the breaker closes, the rest flow.
    down[0] = False
    bus.advance(1)
    st = sut.stats()
    assert (st.breaker, st.breaker_closed) == (service.BreakerState.CLOSED, 1)
    assert calls[5] == (6, 60.0)  # the trial
    assert calls[6][1] == 60.0    # and at once the next
    bus.advance(300)  # the retries of 1..5, due 1 min after their failure
    assert sut.stats().handled == 6
    assert bus.queued("payments") == 0
    assert bus.dead_letters() == []  # nothing dead-lettered because of the breaker


def test_rejected_messages_and_never_retried_exceptions_do_not_open_the_breaker(bus):
    sut = service.Endpoint(bus, "payments", **breaker_options())
    sut.never_retry(ValueError)

    def handler(c, ctx):
        raise ValueError("bad card")

    sut.handle(ReserveStock, handler)
    sut.start()
    for i in range(8):
        bus.send(ReserveStock(i, 1), "payments")
    unknown = service.command("ReserveStock", 9)
    bus.send(unknown({"order": 1}), "payments")

    assert sut.stats().breaker == service.BreakerState.CLOSED
    assert len(bus.dead_letters("payments")) == 9


def test_breaker_options_are_checked_with_what_to_do(bus):
    for bad, why in [(dict(window=4, minimum=5), "minimum must be 1..4 (the window), not 5"),
                     (dict(window=4, minimum=0), "minimum must be 1..4"),
                     (dict(window=4, minimum=2, failure_ratio=0), "failure_ratio must be in (0, 1]"),
                     (dict(window=4, minimum=2, cool_down=0), "cool_down must be positive"),
                     (dict(window=200000), "window over 100000 deliveries"),
                     (dict(windows=4), "unexpected keyword argument 'windows'")]:
        with pytest.raises(shmbus.InvalidArgumentError, match=pytest.importorskip("re").escape(why)):
            service.Endpoint(bus, "payments", breaker=bad)
    for bad, why in [(dict(per_second=-1), "per_second must be in (0, 1e9]"),
                     (dict(per_second=5, burst=0), "burst must be 1 or more")]:
        with pytest.raises(shmbus.InvalidArgumentError, match=pytest.importorskip("re").escape(why)):
            service.Endpoint(bus, "mail", rate_limit=bad)
    ep = service.Endpoint(bus, "ok", breaker=service.CircuitBreakerOptions(window=5, minimum=5),
                          rate_limit=service.RateLimitOptions(per_second=5))
    assert ep.options["breaker"].window == 5 and ep.options["rate_limit"].burst == 1


# --- the rate limit -----------------------------------------------------------------------------

def test_the_rate_limit_spaces_deliveries_after_a_burst(bus):
    sut = service.Endpoint(bus, "mail", **options(rate_limit=dict(per_second=10, burst=3)))
    at = []
    sut.handle(OrderPlaced, lambda e, ctx: at.append(bus.elapsed))
    sut.start()

    for i in range(6):
        bus.publish(OrderPlaced(i, "x"))
    assert len(at) == 3  # the burst
    assert bus.queued("mail") == 3
    bus.advance(1)

    assert at == pytest.approx([0, 0, 0, 0.1, 0.2, 0.3], abs=1e-9)
    assert sut.stats().handled == 6


# --- schedules and requests ---------------------------------------------------------------------

def test_scheduled_commands_come_on_advance_and_can_be_cancelled(bus):
    sut = service.Endpoint(bus, "later")
    got = []
    sut.handle(ReserveStock, lambda c, ctx: got.append((c.order, bus.elapsed)))
    sut.start()

    bus.schedule(ReserveStock(1, 1), "later", delay=10)
    cancelled = bus.schedule(ReserveStock(2, 1), "later", delay=datetime.timedelta(seconds=10))
    bus.schedule(ReserveStock(3, 1), "later", at=bus.wall() + 5)
    assert bus.cancel_scheduled("later", cancelled) == 1
    assert bus.cancel_scheduled("later", cancelled) == 0
    bus.advance(9)
    assert got == [(3, 5.0)]
    bus.advance(3600)

    assert got == [(3, 5.0), (1, 10.0)]
    assert bus.sent()[0].envelope.not_before == service.format_time(bus.wall() - 3600 - 9 + 10)
    assert bus.queued("later") == 0


def status_of(q):
    return OrderStatus(order=q["order"], status="shipped")


def test_a_request_is_answered_within_the_call(bus):
    orders = service.Endpoint(bus, "orders")
    orders.handle(GetOrderStatus, lambda q, ctx: ctx.reply(status_of(q)))
    orders.start()

    answer = bus.request(GetOrderStatus(order=5), "orders", reply=OrderStatus, timeout=5)

    assert answer == {"order": 5, "status": "shipped"}
    [reply] = bus.replies()
    assert reply.envelope.correlation_id == bus.sent()[0].envelope.message_id
    assert bus.sent()[0].envelope.expires_at == service.format_time(bus.wall() + 5)
    assert bus.pending_requests == 0


def test_a_request_times_out_on_advance_and_an_expired_one_is_never_answered(bus):
    orders = service.Endpoint(bus, "orders")
    orders.handle(GetOrderStatus, lambda q, ctx: ctx.reply(status_of(q)))
    orders.start()
    orders.stop()  # its queue stays; nothing reads it

    f = bus.request_future(GetOrderStatus(order=5), "orders", reply=OrderStatus, timeout=5)
    with pytest.raises(shmbus.Error, match="not answered within the call"):
        bus.request(GetOrderStatus(order=6), "orders", reply=OrderStatus, timeout=5)
    bus.advance(4.999)
    assert not f.done()
    bus.advance(0.001)
    assert f.done()
    with pytest.raises(service.RequestTimeout) as e:
        f.result()
    assert e.value.code == "timeout"

    orders.start()  # too late: the requests expired in the queue
    assert bus.replies() == []
    assert [d.reason for d in bus.dead_letters("orders")] == ["expired", "expired"]
    assert [k.settled for k in bus.consumed("orders")] == [Settled.EXPIRED, Settled.EXPIRED]


def test_requests_fail_distinctly_with_no_endpoint_and_with_a_remote_fault(bus):
    orders = service.Endpoint(bus, "orders", **options(2))

    def fail(q, ctx):
        raise KeyError("no order")

    orders.handle(GetOrderStatus, fail)
    orders.start()

    none = bus.request_future(GetOrderStatus(order=1), "nobody", reply=OrderStatus, timeout=5)
    fault = bus.request_future(GetOrderStatus(order=1), "orders", reply=OrderStatus, timeout=10)
    assert none.done()
    with pytest.raises(service.NoEndpoint):
        none.result()
    assert not fault.done()
    bus.advance(5)  # the retry after ~1 s fails too: the Fault answers

    with pytest.raises(service.RemoteFault) as e:
        fault.result(timeout=0)
    assert e.value.fault.exception_type == "KeyError" and e.value.fault.attempts == 2
    assert bus.pending_requests == 0


def test_closing_fails_the_requests_still_waiting():
    bus = TestBus()
    orders = service.Endpoint(bus, "orders")
    orders.handle(GetOrderStatus, lambda q, ctx: ctx.reply(status_of(q)))
    orders.start()
    orders.stop()
    f = bus.request_future(GetOrderStatus(order=1), "orders", reply=OrderStatus, timeout=5)
    bus.close()
    with pytest.raises(service.ClientClosed):
        f.result(timeout=0)


# --- poison, kinds, topology --------------------------------------------------------------------

def test_poison_payloads_are_dead_lettered_with_their_reason(bus):
    sut = service.Endpoint(bus, "sales")
    sut.handle(ReserveStock, lambda c, ctx: None)
    sut.start()

    bus.send(service.command("ReserveStock", 1)({"order": "one"}), "sales")
    bus.send(service.command("ReserveStock", 9)({}), "sales")

    dead = bus.dead_letters("sales")
    assert [d.reason for d in dead] == ["rejected", "rejected"]
    assert dead[0].error == "undecodable: ReserveStock@1.order: type must be number, but is string"
    assert dead[1].error == "unknown version: ReserveStock@9 (endpoint sales handles ReserveStock@1)"
    assert sut.stats().rejected == 2


def test_kinds_are_enforced_as_on_the_bus(bus):
    sut = service.Endpoint(bus, "sales")
    sut.handle(ReserveStock, lambda c, ctx: None)
    sut.start()

    with pytest.raises(shmbus.InvalidArgumentError, match="cannot publish ReserveStock@1"):
        bus.publish(ReserveStock(1, 1))
    with pytest.raises(shmbus.InvalidArgumentError, match="cannot send OrderPlaced@2"):
        bus.send(OrderPlaced(1, "x"), "sales")
    with pytest.raises(shmbus.InvalidArgumentError):
        bus.send(ReserveStock(1, 1))  # no route
    with pytest.raises(service.NoEndpoint, match='no endpoint "nobody" on the TestBus'):
        bus.send(ReserveStock(1, 1), "nobody")
    with pytest.raises(shmbus.Error, match="an endpoint on a TestBus has no bus queue"):
        sut.queue
    bus.route(ReserveStock, "sales").send(ReserveStock(2, 1))
    assert sut.stats().handled == 1


def test_an_endpoint_restarted_with_other_handlers_is_refused_as_on_the_bus(bus):
    ep = service.Endpoint(bus, "sales")
    ep.handle(ReserveStock, lambda c, ctx: None)
    ep.start()
    ep.stop()
    other = service.Endpoint(bus, "sales")
    other.handle(ReserveStock, lambda c, ctx: None)
    other.handle(OrderPlaced, lambda c, ctx: None)
    with pytest.raises(shmbus.InvalidArgumentError, match="exists on the TestBus with other bindings"):
        other.start()


def test_messages_sent_while_an_endpoint_is_stopped_wait_for_it(bus):
    ep = service.Endpoint(bus, "sales")
    got = []
    ep.handle(ReserveStock, lambda c, ctx: got.append(c.order))
    ep.start()
    ep.stop()
    bus.send(ReserveStock(1, 1), "sales")
    assert got == [] and bus.queued("sales") == 1
    ep.start()
    assert got == [1] and bus.queued("sales") == 0


def test_a_handler_feeding_itself_at_one_instant_is_stopped_with_an_error(bus, monkeypatch):
    from shmbus.service import _memory_bus
    monkeypatch.setattr(_memory_bus, "MAX_STEPS_AT_ONCE", 1000)
    ep = service.Endpoint(bus, "loop")
    ep.handle(ReserveStock, lambda c, ctx: ctx.send(ReserveStock(c.order + 1, 1), "loop"))
    ep.start()
    with pytest.raises(shmbus.Error, match="endpoint loop seems to feed itself forever"):
        bus.send(ReserveStock(1, 1), "loop")


def test_a_request_answered_after_a_retry_completes_on_advance_with_its_flow_kept(bus):
    orders = service.Endpoint(bus, "orders", **options(3))
    tries = []

    def answer(q, ctx):
        tries.append(bus.elapsed)
        if len(tries) == 1:
            raise Transient("db busy")
        ctx.publish(StockReserved(q["order"]))
        ctx.reply(status_of(q))

    orders.handle(GetOrderStatus, answer)
    orders.start()

    f = bus.request_future(GetOrderStatus(order=8), "orders", reply=OrderStatus, timeout=10)
    assert not f.done() and bus.pending_requests == 1
    bus.advance(2)  # the retry comes 0.8 .. 1.2 s later

    assert f.result(timeout=0) == {"order": 8, "status": "shipped"}
    assert 0.8 <= tries[1] <= 1.2
    request, = bus.sent()
    event, = bus.published()
    reply, = bus.replies()
    for r in (event, reply):
        assert r.envelope.correlation_id == request.envelope.message_id
        assert r.envelope.causation_id == request.envelope.message_id
        assert r.envelope.conversation_id == request.envelope.conversation_id
        assert r.at == tries[1]
    assert reply.topic == request.envelope.reply_to == "replies.test-bus"
    assert [k.settled for k in bus.consumed("orders")] == [Settled.RETRIED, Settled.ACKED]


def ask_status(client, order):
    """Code written against a service.Client: it runs on the TestBus unchanged."""
    return client.request(GetOrderStatus(order=order), reply=OrderStatus, timeout=2)


def test_a_client_on_the_test_bus_has_the_same_verbs(bus):
    orders = service.Endpoint(bus, "orders")
    orders.handle(GetOrderStatus, lambda q, ctx: ctx.reply(status_of(q)))
    orders.start()
    web = service.Client(bus, "web")
    web.route(GetOrderStatus, "orders")

    assert ask_status(web, 9) == {"order": 9, "status": "shipped"}
    web.publish(OrderPlaced(9, "ann"))
    orders.stop()
    late = web.request_future(GetOrderStatus(order=1), reply=OrderStatus, timeout=2)
    gone = service.Client(bus, "gone")
    closed = gone.request_future(GetOrderStatus(order=2), "orders", reply=OrderStatus, timeout=2)
    gone.close()
    bus.advance(2)

    with pytest.raises(service.RequestTimeout):
        late.result(timeout=0)
    with pytest.raises(service.ClientClosed, match="the gone making request GetOrderStatus@1 went away"):
        closed.result(timeout=0)
    with pytest.raises(service.ClientClosed):
        gone.publish(OrderPlaced(1, "x"))
    sent = bus.sent()
    assert len(sent) == 3
    assert sent[0].envelope.source == "web"
    assert sent[0].envelope.reply_to == web.reply_topic == "replies.client-1"
    assert sent[2].envelope.reply_to != web.reply_topic
    assert len(bus.replies()) == 1
    assert bus.published()[0].envelope.source == "web"
    assert web.pending_requests == 0 and bus.pending_requests == 0
    later = service.Endpoint(bus, "later")
    got = []
    later.handle(ReserveStock, lambda c, ctx: got.append((c.order, bus.elapsed, ctx.envelope.source)))
    later.start()
    web.schedule(ReserveStock(1, 1), "later", delay=5)
    assert web.cancel_scheduled("later", web.schedule(ReserveStock(2, 1), "later", delay=5)) == 1
    bus.advance(5)
    assert got == [(1, 7.0, "web")]
    web.close()


def test_the_retry_policy_is_read_as_the_queue_reads_it(bus):
    p = service.RetryPolicy.parse("exponential:min=250ms,max=1m,factor=3,jitter=0")
    assert (p.min, p.max, p.factor, p.jitter) == (0.25, 60.0, 3.0, 0.0)
    assert service.RetryPolicy.parse(None) == service.RetryPolicy(0.1, 30.0, 2.0, 0.2)  # the queue's default
    assert [p.delay_ns(n, 0.5) for n in (1, 2, 3, 4, 5)] == [250_000_000, 750_000_000, 2_250_000_000,
                                                             6_750_000_000, 20_250_000_000]
    assert p.delay_ns(9, 0.5) == 60_000_000_000  # capped at max
    for spec, why in [("linear:min=1s", "only exponential backoff is known"), ("exponential:min=5s,max=1s",
                      "max is below min"), ("exponential:jitter=2", "jitter must be 0 .. 1"),
                      ("exponential:min=10parsecs", 'unknown unit "parsecs": use ms, s or m')]:
        with pytest.raises(shmbus.InvalidArgumentError, match=pytest.importorskip("re").escape(why)):
            service.RetryPolicy.parse(spec)
    ep = service.Endpoint(bus, "sales", retry="exponential:factor=0.5")
    ep.handle(ReserveStock, lambda c, ctx: None)
    with pytest.raises(shmbus.InvalidArgumentError, match="factor must be 1 .. 100"):
        ep.start()
