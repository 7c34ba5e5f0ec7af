"""The endpoint's rate limit (the C++ RateLimitOptions, service/rate_limiter.cc) as the generic
cell rate algorithm: the theoretical arrival time (TAT) of the next delivery. A delivery may go
at `now` when now >= TAT - tolerance (tolerance = (burst - 1) intervals); going moves TAT to
max(TAT, now) + interval. A token bucket of `burst` tokens refilled at `per_second`."""
import dataclasses
import math
import threading
from typing import Optional

from .._errors import InvalidArgumentError


@dataclasses.dataclass(frozen=True)
class RateLimitOptions:
    """Deliveries per second over all handler threads of the endpoint in this process (`burst`
    may go at once after a quiet spell). A handler thread over the rate blocks until its turn
    before it receives (or, if another thread took the turn meanwhile, holding the one delivery
    it received). A delivery takes one turn (immediate retries are not counted again)."""
    per_second: float = 0.0  # 0: no limit
    burst: int = 1           # >= 1


class RateLimiter:
    """Shared by the endpoint's handler threads: one lock, held for a few operations."""

    def __init__(self, options: RateLimitOptions, endpoint: str):
        self.interval = 0   # ns
        self.tolerance = 0  # ns
        self._tat = None    # the theoretical arrival time, clock.now_ns(); None: long ago
        self._lock = threading.Lock()
        per_second, burst = options.per_second, options.burst
        if per_second == 0:
            return
        at = f'endpoint "{endpoint}": rate limit '
        if not (per_second > 0) or not math.isfinite(per_second) or per_second > 1e9:
            raise InvalidArgumentError(at + "per_second must be in (0, 1e9], or 0 for none")
        if burst < 1 or int(burst) != burst:
            raise InvalidArgumentError(at + "burst must be 1 or more")
        self.interval = max(1, round(1e9 / per_second))
        self.tolerance = self.interval * (int(burst) - 1)

    @property
    def enabled(self) -> bool:
        return self.interval > 0

    def ready_at(self, now: int) -> int:
        """When the next delivery may go (ns; <= now: now). Takes nothing."""
        if not self.enabled:
            return now
        with self._lock:
            return now if self._tat is None else max(now, self._tat - self.tolerance)

    def take(self, now: int) -> Optional[int]:
        """Takes the turn of one delivery at `now` (None), or says when to try again (ns)."""
        if not self.enabled:
            return None
        with self._lock:
            tat = now if self._tat is None else self._tat
            allowed = tat - self.tolerance
            if now < allowed:
                return allowed
            self._tat = max(tat, now) + self.interval
            return None
