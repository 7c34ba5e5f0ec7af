"""An endpoint: a service's named durable queue plus the handlers registered on it. It declares
the very queue the C++ Endpoint declares (name, bindings, settings; service/endpoint.cc), so a C++
and a Python process can be the same endpoint, and re-declaring it after a restart agrees.
Before a delivery is handled, a circuit breaker (a kill switch) and a rate limit may hold the
handler threads back: the messages wait in the queue meanwhile. The same endpoint runs
in-process on a virtual clock on a TestBus (shmbus.service.testing)."""
import dataclasses
import threading

from .. import _shmbus
from .._errors import Error, InvalidArgumentError
from ._breaker import BreakerState, CircuitBreaker, CircuitBreakerOptions, options_of
from ._bus_host import BusHost
from ._kinds import check_handle, check_send, command_topic, event_topic
from ._message import parse_type_header, type_of
from ._rate_limit import RateLimiter, RateLimitOptions


@dataclasses.dataclass
class EndpointStats:
    handled: int = 0          # acked after the handler returned
    retried: int = 0          # immediate retries made
    nacked: int = 0           # handed back for a durable retry
    rejected: int = 0         # dead-lettered undecodable or unknown (never reached a handler)
    faulted: int = 0          # dead-lettered after the last attempt (a Fault published)
    replies_dropped: int = 0  # replies not sent: the requester's deadline had passed
    breaker: BreakerState = BreakerState.CLOSED  # now
    breaker_opened: int = 0   # times the breaker opened (after a failed trial too)
    breaker_closed: int = 0   # times a trial succeeded and closed it
    released: int = 0         # given back uncharged: the breaker opened after they were received
    rate_limited: int = 0     # times a handler thread waited for the rate limit (bus only)


class Endpoint:
    """``Endpoint(bus, "inventory", concurrency=4)``; ``@inventory.handle(ReserveStock)`` on a
    function ``(message, ctx)`` (or an ``async def``); ``start()``, ``stop()`` (or ``with``).

    Options, as the C++ EndpointOptions (same defaults): concurrency (handler threads),
    immediate_retries, max_deliveries (the queue's, 1..255), retry (the queue's backoff, e.g.
    "exponential:min=100ms,max=30s"; None: the default), lease (seconds), expired ("dead-letter"
    or "drop"), journal (create_topic keywords of the topics it creates), idle_wait (seconds an
    idle thread waits per look), handler_timeout (seconds; 0: none; must be under the lease),
    breaker (a CircuitBreakerOptions or a dict of its fields, e.g. dict(window=20, minimum=10,
    failure_ratio=0.5, cool_down=30); None: none), rate_limit (a RateLimitOptions or a dict,
    e.g. dict(per_second=100, burst=10); None: none).

    `bus` is a shmbus.Bus, or a shmbus.service.testing.TestBus: the same endpoint in-process on
    its virtual clock (`concurrency` is then ignored: one handler runs at a time)."""

    def __init__(self, bus, name: str, *, concurrency: int = 1, immediate_retries: int = 0, max_deliveries: int = 5,
                 retry=None, lease: float = 30.0, expired: str = "dead-letter", journal=None,
                 idle_wait: float = 0.02, handler_timeout: float = 0.0, breaker=None, rate_limit=None):
        _shmbus.validate_topic_name(name)
        if concurrency < 1:
            raise InvalidArgumentError(f'endpoint "{name}": concurrency {concurrency} would handle nothing: give it 1 '
                                       "or more")
        if handler_timeout > 0 and handler_timeout >= lease:
            raise InvalidArgumentError(f'endpoint "{name}": handler_timeout ({int(handler_timeout * 1000)} ms) must '
                                       f"be shorter than the lease ({int(lease * 1000)} ms), or the message is "
                                       "redelivered to another handler while the first still runs")
        breaker = options_of(CircuitBreakerOptions, breaker, f'endpoint "{name}": breaker')
        rate_limit = options_of(RateLimitOptions, rate_limit, f'endpoint "{name}": rate_limit')
        self.bus = bus
        self.name = name
        self.options = dict(concurrency=concurrency, immediate_retries=immediate_retries,
                            max_deliveries=max_deliveries, retry=retry, lease=lease, expired=expired,
                            journal=journal, idle_wait=idle_wait, handler_timeout=handler_timeout,
                            breaker=breaker, rate_limit=rate_limit)
        self.breaker = CircuitBreaker(breaker, name)
        self.rate = RateLimiter(rate_limit, name)
        # Where it runs: the bus's queue and threads, or a TestBus's in-memory queue.
        make_host = getattr(bus, "_endpoint_host", None)
        self.host = make_host() if make_host is not None else BusHost(bus)
        self.clock = self.host.clock
        self._handlers = {}  # "Name@version" -> (MessageType, handler)
        self._routes = {}
        self._retry_on = ()
        self._never_retry = ()
        self._stats = EndpointStats()
        self._stats_lock = threading.Lock()

    # --- registration (before start) ---------------------------------------------------------------

    def _require_stopped(self, what):
        if self.host.running:
            raise InvalidArgumentError(f'endpoint "{self.name}" is running: set its {what} before start() (or after '
                                       "stop())")

    def handle(self, message_type, handler=None):
        """Registers the handler of a message type (an event or a command; a reply is refused).
        ``endpoint.handle(T, f)`` or, as a decorator, ``@endpoint.handle(T)``. One per type."""
        t = type_of(message_type)
        check_handle(t)

        def register(f):
            self._require_stopped("handlers")
            if t.type_header in self._handlers:
                raise InvalidArgumentError(f'endpoint "{self.name}" has a handler for {t.type_header} already: one '
                                           "per type")
            self._handlers[t.type_header] = (t, f)
            return f
        return register(handler) if handler is not None else register

    def route(self, command_type, endpoint: str) -> "Endpoint":
        """Where ctx.send(command) without an endpoint sends this type."""
        self._require_stopped("routes")
        t = type_of(command_type)
        check_send(t)
        _shmbus.validate_topic_name(endpoint)
        self._routes[t.name] = endpoint
        return self

    def never_retry(self, *exception_types) -> "Endpoint":
        """An exception of these types (or subclasses) dead-letters at once."""
        self._require_stopped("exception filters")
        self._never_retry += exception_types
        return self

    def retry_on(self, *exception_types) -> "Endpoint":
        """Once any is named, only these are retried; every other exception dead-letters at once."""
        self._require_stopped("exception filters")
        self._retry_on += exception_types
        return self

    # --- the queue and the threads ---------------------------------------------------------------

    def queue_config(self) -> dict:
        """The create_queue keywords: the C++ Endpoint's, so that both declare the same queue."""
        events = sorted({event_topic(t) for t, _ in self._handlers.values() if t.kind == "event"})
        return dict(bindings=[command_topic(self.name), *events], max_deliveries=self.options["max_deliveries"],
                    lease=self.options["lease"], retry=self.options["retry"], expired=self.options["expired"])

    def start(self) -> "Endpoint":
        """Declares the queue and starts the handler threads. Raises if the queue exists with other
        settings or bindings (the handlers changed): drain it and `shmbus queue rm NAME`."""
        self.host.start(self)
        return self

    def stop(self) -> None:
        """Graceful: each thread finishes and settles the message it handles, gives back what it
        holds uncharged, and ends; returns once all have. Idempotent."""
        self.host.stop()

    @property
    def running(self) -> bool:
        return self.host.running

    @property
    def queue(self):
        """The bus queue (after start()); an endpoint on a TestBus has none (Error)."""
        if self.host.queue is None:
            raise Error(f'endpoint "{self.name}" has no queue before start()')
        return self.host.queue

    def stats(self) -> EndpointStats:
        with self._stats_lock:
            return dataclasses.replace(self._stats, breaker=self.breaker.state, breaker_opened=self.breaker.opened,
                                       breaker_closed=self.breaker.closed)

    def __enter__(self):
        return self.start()

    def __exit__(self, *args):
        self.stop()

    # --- for the handler threads ---------------------------------------------------------------

    def _count(self, field):
        with self._stats_lock:
            setattr(self._stats, field, getattr(self._stats, field) + 1)

    def _retryable(self, error) -> bool:
        if self._never_retry and isinstance(error, self._never_retry):
            return False
        return not self._retry_on or isinstance(error, self._retry_on)

    def _find(self, type_header):
        """(entry, "") for the record's type header, or (None, why none)."""
        entry = self._handlers.get(type_header)
        if entry is not None:
            return entry, ""
        handled = ", ".join(sorted(self._handlers)) or "nothing"
        parsed = parse_type_header(type_header)
        if not type_header:
            return None, f"undecodable: no type header (endpoint {self.name} handles {handled})"
        if parsed is None:
            return None, f'undecodable: type header "{type_header}" is not Name@version'
        known = any(t.name == parsed[0] for t, _ in self._handlers.values())
        what = "unknown version" if known else "unknown type"
        return None, f"{what}: {type_header} (endpoint {self.name} handles {handled})"
