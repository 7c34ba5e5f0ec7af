"""A TestBus's insides (service/test_bus_state.cc): the virtual clock, the records, the
in-memory queues (the queue semantics an endpoint relies on: delivery in order, the retry
backoff with seeded jitter, the delivery limit, dead letters, not-before, expires-at, cancel),
the requests waiting, and the loop that drives each endpoint's Pipeline, the very one its
threads run on a bus, with this file's Settlement and outbox instead of a Consumer and a Sender."""
import dataclasses
import enum
import heapq
import math
import random
import sys
from typing import Optional

from .. import _shmbus
from .._errors import Error, InvalidArgumentError
from ._breaker import PASS_NO
from ._clock import VirtualClock
from ._envelope import Envelope, parse_time
from ._errors import ClientClosed, NoEndpoint
from ._kinds import command_topic
from ._message import type_of
from ._pending import complete, time_out
from ._pipeline import Pipeline
from ._retry_policy import RetryPolicy

# A handler that sends to its own endpoint at the same instant forever would never let
# run_due() return: past this many steps at one instant it is stopped with an error.
MAX_STEPS_AT_ONCE = 1_000_000


def _wall_ns(text) -> Optional[int]:
    """A not-before or expires-at header as Unix ns (to the microsecond: exact for the
    millisecond form format_time writes), None if none or unreadable."""
    seconds = parse_time(text) if text else None
    return None if seconds is None else round(seconds * 1e6) * 1000


class Settled(str, enum.Enum):
    """What became of one delivery to an endpoint; compares equal to the C++ to_string()."""
    ACKED = "acked"                  # handled
    RETRIED = "retried"              # failed; delivered again after the backoff
    DEAD_LETTERED = "dead-lettered"  # failed its last attempt (delivery_limit)
    REJECTED = "rejected"            # dead-lettered at once: unknown, undecodable, a never-retried exception
    EXPIRED = "expired"              # its expires-at had passed (dead-lettered or dropped, by the queue's setting)

    def __str__(self):
        return self.value


@dataclasses.dataclass
class Recorded:
    """One message as the TestBus saw it published (by a handler, or by the TestBus's verbs)."""
    topic: str           # events.<Name>, commands.<endpoint>, the TestBus's reply topic
    envelope: Envelope
    payload: bytes       # JSON
    at: float            # virtual seconds since the TestBus started

    def is_(self, message_type) -> bool:
        """Whether it is a `message_type` (a registered class or a MessageType): its type header."""
        return self.envelope.type == type_of(message_type).type_header

    def as_(self, message_type):
        """Its payload decoded as `message_type` (DecodeError if it is not one)."""
        return type_of(message_type).decode(self.payload)


@dataclasses.dataclass
class Consumed:
    endpoint: str
    message: Recorded
    attempt: int          # the delivery (1 = first)
    settled: Settled
    error: str            # x-death-error style: "ValueError: card declined"
    at: float


@dataclasses.dataclass
class DeadLetter:
    endpoint: str
    message: Recorded     # the original (its topic and envelope)
    reason: str           # rejected, delivery_limit, expired
    error: str
    at: float


@dataclasses.dataclass
class _Record:
    topic: str
    envelope: Envelope
    headers: dict
    payload: bytes
    at: float
    _recorded: Optional[Recorded] = None

    def recorded(self) -> Recorded:
        """The one Recorded of this record (made once; every list of the TestBus shares it)."""
        if self._recorded is None:
            self._recorded = Recorded(self.topic, dataclasses.replace(self.envelope), self.payload, self.at)
        return self._recorded


@dataclasses.dataclass
class _Entry:
    record: _Record
    failed: int = 0        # failed deliveries so far
    due: int = 0           # clock.now_ns()
    order: int = 0         # among entries due at once: first in, first out
    delayed: bool = False  # held back by not-before (cancel_scheduled may take it)


@dataclasses.dataclass
class _Queue:
    name: str
    config: dict
    retry: RetryPolicy
    # Not settled, not in flight: a heap by (due, order), so the next due is found at once.
    heap: list = dataclasses.field(default_factory=list)
    endpoint: object = None  # while started
    pipeline: Optional[Pipeline] = None

    def push(self, entry) -> None:
        heapq.heappush(self.heap, (entry.due, entry.order, entry))  # orders are unique: entries never compared

    def first_due(self) -> int:
        return self.heap[0][0]

    def pop(self):
        return heapq.heappop(self.heap)[2]

    def remove_if(self, matches) -> int:
        keep = [item for item in self.heap if not matches(item[2])]
        removed = len(self.heap) - len(keep)
        heapq.heapify(keep)
        self.heap = keep
        return removed

    def __len__(self):
        return len(self.heap)


class _Settlement:
    """As Consumer's verbs on the delivery being handled; never loses its lease."""

    def __init__(self, bus, q, entry):
        self.bus, self.q, self.entry = bus, q, entry
        self.settled = False

    def ack(self):
        self.settled = True
        self.bus._consumed(self.q, self.entry, Settled.ACKED, "")
        return True

    def nack(self, error):
        """As Consumer.nack: the n-th failure waits the policy's n-th delay, the last dead-letters."""
        self.settled = True
        failed = self.entry.failed + 1
        if failed >= self.q.config["max_deliveries"]:
            self.bus._consumed(self.q, self.entry, Settled.DEAD_LETTERED, error)
            self.bus._dead_letter(self.q, self.entry, "delivery_limit", error or "nacked")
        else:
            self.bus._consumed(self.q, self.entry, Settled.RETRIED, error)
            self.bus._retry_later(self.q, dataclasses.replace(self.entry, failed=failed))
        return True

    def reject(self, error):
        self.settled = True
        self.bus._consumed(self.q, self.entry, Settled.REJECTED, error)
        self.bus._dead_letter(self.q, self.entry, "rejected", error)
        return True


class MemoryHost:
    """The host of an endpoint on a TestBus."""

    def __init__(self, bus):
        self.bus = bus
        self.clock = bus.clock
        self._endpoint = None

    @property
    def running(self):
        return self._endpoint is not None

    @property
    def queue(self):
        raise Error("an endpoint on a TestBus has no bus queue: ask the TestBus (queued(), consumed(), dead_letters())")

    def start(self, e):
        if self._endpoint is not None:
            return
        self.bus.attach(e)
        self._endpoint = e
        self.bus.run_due()  # what waited in its queue while it was stopped

    def stop(self):
        if self._endpoint is not None:
            self.bus.detach(self._endpoint)
        self._endpoint = None

    def wake(self):
        pass  # one thread: the loop looks at the breaker after each step


class ClientSide:
    """The sending side of a flow on the TestBus: the TestBus's own verbs, or a Client made on it."""

    def __init__(self, source, reply_topic):
        self.source = source
        self.routes = {}
        self.reply_topic = reply_topic
        self.pending = {}  # correlation-id -> Pending (deadline: clock.now_ns())


class MemoryBus:
    """The outbox of every endpoint on it, and its queues. One thread at a time (the test's)."""

    def __init__(self, start=None, seed=1, source="test"):
        self.clock = VirtualClock(start)
        self.records = []
        self.queues = {}
        self.consumed = []
        self.dead = []
        self.own = ClientSide(source, "replies.test-bus")
        self._sides = [self.own]
        self._clients = 0
        self._rng = random.Random(seed)
        self._order = 0
        self._dispatching = False

    @property
    def elapsed(self) -> float:
        return self.clock.elapsed_ns / 1e9

    # --- the outbox -------------------------------------------------------------------------------

    def publish(self, out) -> bool:
        # A reply to a requester that is gone has nobody to go to (as a reply topic removed).
        requester = next((side for side in self._sides if side.reply_topic == out.topic), None)
        if out.reply and requester is None:
            return False
        env = out.envelope
        r = _Record(out.topic, dataclasses.replace(env), env.headers(), bytes(out.payload), self.elapsed)
        self.records.append(r)
        if out.reply:
            waiting = requester.pending.pop(env.correlation_id, None)
            if waiting is not None:
                complete(waiting, env, r.payload)
            return True
        # As a queue joins a topic at its tail: only queues declared by now get the record.
        not_before = _wall_ns(env.not_before)
        for q in self.queues.values():
            if not any(_shmbus.pattern_matches(b, r.topic) for b in q.config["bindings"]):
                continue
            entry = _Entry(r, 0, self.clock.now_ns(), self._next_order())
            if not_before is not None and not_before > self.clock.wall_ns():
                entry.due, entry.delayed = self.clock.steady_of_wall_ns(not_before), True
            q.push(entry)
        return True

    def require_endpoint(self, endpoint: str) -> None:
        topic = command_topic(endpoint)
        for q in self.queues.values():
            if any(_shmbus.pattern_matches(b, topic) for b in q.config["bindings"]):
                return
        raise NoEndpoint(f'no endpoint "{endpoint}" on the TestBus: no queue is bound to {topic}; start an Endpoint of '
                         "that name on it, or fix the endpoint's name or route")

    # --- endpoints --------------------------------------------------------------------------------

    def attach(self, e) -> None:
        """Declares (or reopens) e's queue; InvalidArgumentError if it exists with other bindings."""
        config = e.queue_config()
        if not 1 <= config["max_deliveries"] <= 255:
            raise InvalidArgumentError(f'endpoint "{e.name}": max_deliveries must be 1..255, not '
                                       f'{config["max_deliveries"]}')
        if config["expired"] not in ("dead-letter", "drop"):
            raise InvalidArgumentError(f'endpoint "{e.name}": expired must be "dead-letter" or "drop", not '
                                       f'"{config["expired"]}"')
        q = self.queues.get(e.name)
        if q is None:
            q = self.queues[e.name] = _Queue(e.name, config, RetryPolicy.parse(config["retry"]))
        elif q.config["bindings"] != config["bindings"] or q.config["max_deliveries"] != config["max_deliveries"]:
            raise InvalidArgumentError(f'endpoint "{e.name}" cannot declare its queue: it exists on the TestBus with '
                                       "other bindings or max_deliveries (the handlers or options changed)")
        q.config, q.retry = config, RetryPolicy.parse(config["retry"])
        q.endpoint, q.pipeline = e, Pipeline(e, self)

    def detach(self, e) -> None:
        q = self.queues.get(e.name)
        if q is None or q.endpoint is not e:
            return
        q.pipeline.close()
        q.endpoint, q.pipeline = None, None

    # --- settling (the Settlement's) --------------------------------------------------------------

    def _next_order(self):
        self._order += 1
        return self._order

    def _retry_later(self, q, entry):
        entry.due = self.clock.now_ns() + q.retry.delay_ns(entry.failed, self._rng.random())
        entry.order, entry.delayed = self._next_order(), False
        q.push(entry)

    def _dead_letter(self, q, entry, reason, error):
        self.dead.append(DeadLetter(q.name, entry.record.recorded(), reason, error, self.elapsed))

    def _consumed(self, q, entry, settled, error):
        self.consumed.append(Consumed(q.name, entry.record.recorded(), entry.failed + 1, settled, error, self.elapsed))

    # --- the loop ---------------------------------------------------------------------------------

    def _step(self, q) -> bool:
        if q.endpoint is None:
            return False
        now = self.clock.now_ns()
        if not q.heap or q.first_due() > now:
            return False
        pipeline = q.pipeline
        if pipeline.ready_at(now) > now:
            return False  # the breaker is open, or the rate is spent
        entry = q.pop()
        r = entry.record
        expires = _wall_ns(r.envelope.expires_at)
        if expires is not None and expires <= self.clock.wall_ns():
            self._consumed(q, entry, Settled.EXPIRED, "")
            if q.config["expired"] == "dead-letter":
                self._dead_letter(q, entry, "expired", "")
            return True
        # One thread: what ready_at allowed, admit and rate_wait grant.
        passed = pipeline.admit(now)
        if passed == PASS_NO or pipeline.rate_wait(now, True) is not None:
            q.push(entry)
            pipeline.gave_back(passed)
            return False
        s = _Settlement(self, q, entry)
        self._dispatching = True
        try:
            pipeline.handle(r.headers, r.payload, entry.failed + 1, s, passed)
        except Exception as ex:  # noqa: BLE001 - as a handler thread: the delivery goes back
            print(f"shmbus TestBus endpoint {q.name}: {ex} (the delivery goes back to the queue)", file=sys.stderr)
            if not s.settled:
                q.push(entry)
        finally:
            self._dispatching = False
        return True

    def _expire_requests(self) -> bool:
        now = self.clock.now_ns()
        any_late = False
        for side in list(self._sides):  # a copy: a callback may make a Client
            late = [k for k, r in side.pending.items() if r.deadline <= now]
            for k in late:
                time_out(side.pending.pop(k))
            any_late = any_late or bool(late)
        return any_late

    def run_due(self) -> None:
        """Runs everything due now, until nothing is."""
        if self._dispatching:
            return  # called from a handler: the loop it runs in goes on after it
        steps = 0
        while True:
            progressed = self._expire_requests()
            for name, q in list(self.queues.items()):
                if self._step(q):
                    progressed = True
                    steps += 1
                    if steps > MAX_STEPS_AT_ONCE:
                        raise Error(f"TestBus: over {MAX_STEPS_AT_ONCE} deliveries at one instant: endpoint {name} "
                                    "seems to feed itself forever")
            if not progressed:
                return

    def _next_event(self) -> Optional[int]:
        now = self.clock.now_ns()
        times = []
        for q in self.queues.values():
            if q.endpoint is not None and q.heap:
                times.append(max(q.first_due(), q.pipeline.ready_at(now)))
        times += [r.deadline for side in self._sides for r in side.pending.values()]
        later = [t for t in times if now < t < math.inf]
        return min(later) if later else None

    def advance(self, seconds: float) -> None:
        if seconds < 0:
            raise InvalidArgumentError("TestBus.advance: time runs forward only")
        target = self.clock.elapsed_ns + int(round(seconds * 1e9))
        if self._dispatching:  # a handler "takes" the time; the rest runs after it
            self.clock.elapsed_ns = target
            return
        self.run_due()
        while True:
            t = self._next_event()
            if t is None or t > target:
                break
            self.clock.elapsed_ns = max(self.clock.elapsed_ns, t)  # a handler may have taken time
            self.run_due()
        self.clock.elapsed_ns = max(self.clock.elapsed_ns, target)
        self.run_due()

    # --- the sending sides ------------------------------------------------------------------------

    def add_side(self, source) -> ClientSide:
        self._clients += 1
        side = ClientSide(source, f"replies.client-{self._clients}")
        self._sides.append(side)
        return side

    def close(self, side) -> None:
        """Fails the requests `side` still waits for (ClientClosed); its replies go nowhere now."""
        if side is not self.own and side in self._sides:
            self._sides.remove(side)
        left, side.pending = list(side.pending.values()), {}
        for r in left:
            r.future.set_exception(ClientClosed(f"the {side.source} making request {r.request_type} went away"))
