"""The endpoint's kill switch (the C++ CircuitBreakerOptions, service/circuit_breaker.cc):
closed -> open when most recent judged deliveries failed; open -> half-open when the cool-down is
over and one handler thread takes the trial; half-open -> closed (the trial succeeded) or open
again (it failed). While it is open no handler thread takes a message: they stay in the queue.
A delivery is judged when its handler is done with it: a success (acked) or a failure (it raised,
or ran over its timeout, with an exception the filters retry, after the immediate retries).
Rejected messages (unknown, undecodable) and never-retried exceptions are the message's fault,
not the endpoint's, and are not judged."""
import dataclasses
import enum
import math
import threading

from .._errors import InvalidArgumentError


class BreakerState(str, enum.Enum):
    """EndpointStats.breaker; compares equal to its C++ to_string() ("closed", "open", "half-open")."""
    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half-open"

    def __str__(self):
        return self.value


@dataclasses.dataclass(frozen=True)
class CircuitBreakerOptions:
    window: int = 0             # the last `window` judged deliveries count; 0: no breaker
    minimum: int = 10           # it opens only once this many are in the window (1..window) ...
    failure_ratio: float = 0.5  # ... and this share of them failed (0 < ratio <= 1)
    cool_down: float = 30.0     # seconds it stays open before the trial


def options_of(cls, value, what):
    """`value` (None, a dict of cls's fields, or a cls) as a cls."""
    if value is None:
        return cls()
    if isinstance(value, cls):
        return value
    if isinstance(value, dict):
        try:
            return cls(**value)
        except TypeError as e:
            names = ", ".join(f.name for f in dataclasses.fields(cls))
            raise InvalidArgumentError(f"{what}: {e} (its keys: {names})") from None
    raise InvalidArgumentError(f"{what} is a dict or a {cls.__name__}, not a {type(value).__name__}")


# What admit() let through, and how a delivery went (the C++ Pass and Verdict).
PASS_NO, PASS_YES, PASS_TRIAL = "no", "yes", "trial"
SUCCESS, FAILURE, NOT_JUDGED = "success", "failure", "not-judged"


class CircuitBreaker:
    """Shared by the endpoint's handler threads: one lock (never held while a handler runs)."""

    def __init__(self, options: CircuitBreakerOptions, endpoint: str):
        o = options
        self.window = int(o.window)
        self.minimum = int(o.minimum)
        self.ratio = float(o.failure_ratio)
        cool_down = float(o.cool_down)
        self.cool_down_ns = int(round(cool_down * 1e9)) if math.isfinite(cool_down) else 0
        self._lock = threading.Lock()
        self._state = BreakerState.CLOSED
        self._until = 0  # open: the end of the cool-down (clock.now_ns())
        self._slots = []   # the last outcomes, True = failed (a ring of `window`)
        self._next = 0
        self._failures = 0
        self.opened = 0
        self.closed = 0
        if self.window == 0:
            return
        at = f'endpoint "{endpoint}": circuit breaker '
        if self.window < 0 or self.window > 100000:
            raise InvalidArgumentError(at + "window over 100000 deliveries: judge fewer" if self.window > 0 else
                                       at + "window must be 1..100000, or 0 for none")
        if self.minimum < 1 or self.minimum > self.window:
            raise InvalidArgumentError(at + f"minimum must be 1..{self.window} (the window), not {self.minimum}")
        if not (0 < self.ratio <= 1):
            raise InvalidArgumentError(at + "failure_ratio must be in (0, 1], e.g. 0.5")
        if not (self.cool_down_ns > 0):
            raise InvalidArgumentError(at + "cool_down must be positive")

    @property
    def enabled(self) -> bool:
        return self.window > 0

    @property
    def state(self) -> BreakerState:
        return self._state

    def ready_at(self, now: int) -> float:
        """When a delivery may next be admitted (ns; <= now: now); inf while a trial runs."""
        if not self.enabled:
            return now
        with self._lock:
            if self._state is BreakerState.CLOSED:
                return now
            if self._state is BreakerState.OPEN:
                return max(now, self._until)
            return math.inf

    def admit(self, now: int) -> str:
        """PASS_YES (closed), PASS_TRIAL (the cool-down is over and this caller won the trial), PASS_NO."""
        if not self.enabled:
            return PASS_YES
        with self._lock:
            if self._state is BreakerState.CLOSED:
                return PASS_YES
            if self._state is BreakerState.HALF_OPEN or now < self._until:
                return PASS_NO
            self._state = BreakerState.HALF_OPEN
            return PASS_TRIAL

    def record(self, passed: str, verdict: str, now: int) -> bool:
        """The outcome of a delivery admitted with `passed`. True when the state changed (the
        caller wakes the threads waiting for it)."""
        if not self.enabled or passed == PASS_NO:
            return False
        with self._lock:
            if passed == PASS_TRIAL:
                if verdict == SUCCESS:
                    self._slots, self._next, self._failures = [], 0, 0
                    self._state = BreakerState.CLOSED
                    self.closed += 1
                elif verdict == FAILURE:
                    self._state, self._until = BreakerState.OPEN, now + self.cool_down_ns
                    self.opened += 1
                else:  # not judged (rejected, given back): open until now, the next may try
                    self._state, self._until = BreakerState.OPEN, now
                return True
            # Judged only while closed: a delivery admitted before it opened says nothing new.
            if verdict == NOT_JUDGED or self._state is not BreakerState.CLOSED:
                return False
            self._put(verdict == FAILURE)
            if verdict != FAILURE or not self._tripped():
                return False
            self._state, self._until = BreakerState.OPEN, now + self.cool_down_ns
            self.opened += 1
            return True

    def _put(self, failed: bool) -> None:
        if len(self._slots) < self.window:
            self._slots.append(failed)
        else:
            i = self._next % self.window
            self._failures -= self._slots[i]
            self._slots[i] = failed
        self._next += 1
        self._failures += failed

    def _tripped(self) -> bool:
        judged = len(self._slots)
        return judged >= self.minimum and self._failures >= self.ratio * judged
