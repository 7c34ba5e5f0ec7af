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

from ._memory_bus import Consumed, DeadLetter, MemoryBus, MemoryHost, Recorded, Settled
from ._memory_verbs import MemoryVerbs, seconds_of
from ._message import type_of

__all__ = ["Consumed", "DeadLetter", "Recorded", "Settled", "TestBus"]


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
        self._verbs = MemoryVerbs(self._s, self._s.own)

    def _endpoint_host(self):
        """An Endpoint made on this TestBus runs here (shmbus.service.Endpoint asks for it)."""
        return MemoryHost(self._s)

    def _client_verbs(self, source):
        """The verbs of a service.Client made on this TestBus: its own sending side."""
        return MemoryVerbs(self._s, self._s.add_side(source))

    # --- the virtual clocks -------------------------------------------------------------------------

    def advance(self, seconds) -> None:
        """Moves the clocks `seconds` (or a timedelta) on, running everything that falls due on the
        way, in time order: delayed redeliveries, scheduled commands, request timeouts, breaker
        cool-downs, rate-limited deliveries."""
        self._s.advance(seconds_of(seconds))

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
    # A service.Client(test_bus, source=...) has the same, with its own source, routes and reply
    # topic (code written against a Client runs on a TestBus unchanged).

    def publish(self, event) -> str:
        return self._verbs.publish(event)

    def send(self, command, endpoint: str = "") -> str:
        """A command to `endpoint` (or the one route() names); NoEndpoint if none is started."""
        return self._verbs.send(command, endpoint)

    def schedule(self, command, endpoint: str = "", *, at=None, delay=None) -> str:
        """send(), delivered not before `at` (a datetime or Unix seconds) or after `delay`
        (seconds or a timedelta) of virtual time. Returns the message-id cancel_scheduled() takes."""
        return self._verbs.schedule(command, endpoint, at, delay)

    def cancel_scheduled(self, endpoint: str, message_id: str) -> int:
        """Cancels a scheduled command that is not due yet; returns how many were cancelled."""
        return self._verbs.cancel_scheduled(endpoint, message_id)

    def request_future(self, command, endpoint: str = "", *, reply, timeout: float = 5.0) -> concurrent.futures.Future:
        """A Future of the reply: done once the reply came (within this call, or an advance()), or
        once `timeout` passed on the virtual clock (RequestTimeout); NoEndpoint, RemoteFault,
        BadReply as a Client's."""
        return self._verbs.request_future(command, endpoint, reply, timeout)

    def request(self, command, endpoint: str = "", *, reply, timeout: float = 5.0):
        """The reply (or its error) when it came within the call; a request its handler answers
        only later (after an advance()) needs request_future(). Never blocks."""
        return self._verbs.request(command, endpoint, reply, timeout)

    def route(self, command_type, endpoint: str) -> "TestBus":
        self._verbs.route(command_type, endpoint)
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
        return len(self._s.own.pending)

    def queued(self, endpoint: str) -> int:
        """Messages of `endpoint`'s queue not settled yet (ready, waiting for a retry, or scheduled)."""
        q = self._s.queues.get(endpoint)
        return 0 if q is None else len(q)

    # --- closing ----------------------------------------------------------------------------------

    def close(self) -> None:
        """Fails the requests of its own verbs still waiting (ClientClosed)."""
        self._s.close(self._s.own)

    def __enter__(self):
        return self

    def __exit__(self, *args):
        self.close()
