"""The test harness (MassTransit's InMemoryTestHarness, NServiceBus.Testing; the C++
shmbus/service/test_bus.h): the service API in-process on a virtual clock, without a bus
directory. Endpoints are the real Endpoint class with the real pipeline (kinds, decoding,
immediate and delayed retries, exception filters, handler timeout, circuit breaker, rate limit,
dead letters, Fault<T>); only the queues are in memory and the clocks virtual:

    from shmbus import service
    from shmbus.service.testing import TestBus

    bus = TestBus()
    inventory = service.Endpoint(bus, "inventory", max_deliveries=3)
    inventory.handle(ReserveStock, reserve)      # the same handlers as in production
    inventory.start()
    bus.send(ReserveStock(42, 1), "inventory")   # handled before send() returns
    bus.advance(30)                              # retries, schedules, timeouts, cool-downs fire
    assert len(bus.published_of(StockReserved)) == 1

Deterministic: one handler runs at a time, on the caller's thread, in the order messages became
due; retry jitter comes from `seed` (Python's random.Random: the same seed gives the same times
run after run, not the C++ TestBus's times). Virtual time moves only by advance(): a handler that
calls advance(d) "takes" d (its timeout can fire), and what falls due meanwhile runs after it
returns. One thread at a time (the test's)."""
import concurrent.futures
import datetime

from .. import _shmbus
from .._errors import Error
from ._client import when
from ._envelope import Envelope, format_time
from ._kinds import check_publish, check_request, check_send, command_topic, event_topic, routed_endpoint
from ._memory_bus import Consumed, DeadLetter, MemoryBus, MemoryHost, Recorded, Settled
from ._message import type_of
from ._pending import Pending
from ._sender import Outgoing

__all__ = ["Consumed", "DeadLetter", "Recorded", "Settled", "TestBus"]


def _seconds(d) -> float:
    return d.total_seconds() if isinstance(d, datetime.timedelta) else float(d)


class TestBus:
    """``TestBus(start=None, seed=1, source="test")``: `start` is the virtual wall clock at the
    start (a datetime or Unix seconds; None: the real now); `seed` the retries' jitter;
    `source` the envelope's `source` of what the TestBus itself sends. ``close()`` (or ``with``)
    fails the requests still waiting (ClientClosed)."""

    __test__ = False  # not a pytest test class, despite its name

    def __init__(self, start=None, seed: int = 1, source: str = "test"):
        if isinstance(start, datetime.datetime):
            if start.tzinfo is None:
                raise TypeError("TestBus(start=...) needs an aware datetime (datetime.now(timezone.utc))")
            start = start.timestamp()
        self._s = MemoryBus(start, seed, source)

    def _endpoint_host(self):
        """An Endpoint made on this TestBus runs here (shmbus.service.Endpoint asks for it)."""
        return MemoryHost(self._s)

    # --- the virtual clocks -------------------------------------------------------------------------

    def advance(self, seconds) -> None:
        """Moves the clocks `seconds` (or a timedelta) on, running everything that falls due on the
        way, in time order: delayed redeliveries, scheduled commands, request timeouts, breaker
        cool-downs, rate-limited deliveries."""
        self._s.advance(_seconds(seconds))

    @property
    def elapsed(self) -> float:
        """Virtual seconds since the TestBus started."""
        return self._s.elapsed

    def now(self) -> float:
        """The virtual steady clock, seconds (as time.monotonic(); it starts at 0)."""
        return self._s.clock.now()

    def wall(self) -> float:
        """The virtual wall clock, Unix seconds (sent-time, expires-at, not-before)."""
        return self._s.clock.wall()

    # --- the verbs of a Client (each starts a flow), handled before they return -----------------

    def publish(self, event) -> str:
        t = type_of(event)
        check_publish(t)
        env = Envelope.start(t, self._s.source, self.wall())
        self._s.publish(Outgoing(event_topic(t), env, t.encode(event)))
        self._s.run_due()
        return env.message_id

    def _send(self, command, endpoint, not_before=None):
        t = type_of(command)
        check_send(t)
        to = routed_endpoint(t, endpoint, self._s.routes)
        env = Envelope.start(t, self._s.source, self.wall())
        if not_before is not None:
            env.not_before = format_time(not_before)
        self._s.require_endpoint(to)
        self._s.publish(Outgoing(command_topic(to), env, t.encode(command), endpoint=to))
        self._s.run_due()
        return env.message_id

    def send(self, command, endpoint: str = "") -> str:
        """A command to `endpoint` (or the one route() names); NoEndpoint if none is started."""
        return self._send(command, endpoint)

    def schedule(self, command, endpoint: str = "", *, at=None, delay=None) -> str:
        """send(), delivered not before `at` (a datetime or Unix seconds) or after `delay`
        (seconds or a timedelta) of virtual time. Returns the message-id cancel_scheduled() takes."""
        return self._send(command, endpoint, when(at, delay, now=self.wall()))

    def cancel_scheduled(self, endpoint: str, message_id: str) -> int:
        """Cancels a scheduled command that is not due yet; returns how many were cancelled."""
        q = self._s.queues.get(endpoint)
        if q is None:
            raise Error(f'no queue "{endpoint}" on the TestBus: start its Endpoint first')
        now = self._s.clock.now_ns()
        keep = [e for e in q.entries if not (e.delayed and e.due > now and e.record.envelope.message_id == message_id)]
        cancelled = len(q.entries) - len(keep)
        q.entries = keep
        return cancelled

    def request_future(self, command, endpoint: str = "", *, reply, timeout: float = 5.0) -> concurrent.futures.Future:
        """A Future of the reply: done once the reply came (within this call, or an advance()), or
        once `timeout` passed on the virtual clock (RequestTimeout); NoEndpoint, RemoteFault,
        BadReply as a Client's."""
        t = type_of(command)
        reply_type = type_of(reply)
        check_request(t, reply_type)
        s = self._s
        to = routed_endpoint(t, endpoint, s.routes)
        timeout = _seconds(timeout)
        env = Envelope.start(t, s.source, self.wall())
        env.reply_to = s.reply_topic
        env.expires_at = format_time(self.wall() + timeout)
        future = concurrent.futures.Future()
        future.set_running_or_notify_cancel()
        # The deadline in the virtual clock's ns (a Client's is time.monotonic()).
        s.pending[env.message_id] = Pending(s.clock.now_ns() + int(round(timeout * 1e9)), t, reply_type, to, timeout,
                                            future)
        try:
            s.require_endpoint(to)
            s.publish(Outgoing(command_topic(to), env, t.encode(command), endpoint=to))
        except Exception as e:  # noqa: BLE001 - the future carries it
            if s.pending.pop(env.message_id, None) is not None:
                future.set_exception(e)
            return future
        s.run_due()
        return future

    def request(self, command, endpoint: str = "", *, reply, timeout: float = 5.0):
        """The reply (or its error) when it came within the call; a request its handler answers
        only later (after an advance()) needs request_future(). Never blocks."""
        future = self.request_future(command, endpoint, reply=reply, timeout=timeout)
        if not future.done():
            raise Error(f"the request {type_of(command).type_header} was not answered within the call: use "
                        "request_future() and advance() the TestBus")
        return future.result()

    def route(self, command_type, endpoint: str) -> "TestBus":
        t = type_of(command_type)
        check_send(t)
        _shmbus.validate_topic_name(endpoint)
        self._s.routes[t.name] = endpoint
        return self

    # --- what went by, in order -----------------------------------------------------------------

    def _select(self, keep):
        return [r.recorded() for r in self._s.records if keep(r)]

    def messages(self) -> list:
        """Everything published (events, commands, replies)."""
        return self._select(lambda r: True)

    def published(self) -> list:
        """Events (Faults too)."""
        return self._select(lambda r: r.envelope.kind == "event")

    def sent(self) -> list:
        """Commands."""
        return self._select(lambda r: r.envelope.kind == "command")

    def replies(self) -> list:
        """Replies (and Faults sent back to requesters)."""
        return self._select(lambda r: r.envelope.kind == "reply")

    def messages_of(self, message_type) -> list:
        """The Recorded of one type (a registered class, a MessageType, or Fault.of(T))."""
        header = type_of(message_type).type_header
        return self._select(lambda r: r.envelope.type == header)

    def published_of(self, message_type) -> list:
        """The messages of one type, decoded."""
        return [r.as_(message_type) for r in self.messages_of(message_type)]

    def consumed(self, endpoint: str = "") -> list:
        """Every delivery and how it was settled ("": all endpoints)."""
        return [c for c in self._s.consumed if not endpoint or c.endpoint == endpoint]

    def dead_letters(self, endpoint: str = "") -> list:
        return [d for d in self._s.dead if not endpoint or d.endpoint == endpoint]

    @property
    def pending_requests(self) -> int:
        return len(self._s.pending)

    def queued(self, endpoint: str) -> int:
        """Messages of `endpoint`'s queue not settled yet (ready, waiting for a retry, or scheduled)."""
        q = self._s.queues.get(endpoint)
        return 0 if q is None else len(q.entries)

    # --- closing ----------------------------------------------------------------------------------

    def close(self) -> None:
        self._s.close()

    def __enter__(self):
        return self

    def __exit__(self, *args):
        self.close()
