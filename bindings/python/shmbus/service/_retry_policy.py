"""A queue's retry policy, "exponential:min=100ms,max=30s,factor=2,jitter=0.2" (the C++
shmbus::RetryPolicy, src/messaging/retry_policy.cc): the spec and the delay math, for the
TestBus's in-memory queues, which back off between deliveries as a bus queue does."""
import dataclasses
import math
import re

from .._errors import InvalidArgumentError

_NUMBER = re.compile(r"[+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?")


def _bad(spec, why):
    return InvalidArgumentError(f'retry policy "{spec}": {why} '
                                "(e.g. exponential:min=100ms,max=30s,factor=2,jitter=0.2)")


def _duration(spec, text):
    """Seconds, whole milliseconds as the C++ one keeps."""
    m = _NUMBER.match(text)
    if not m or text.startswith("+"):
        raise _bad(spec, f'"{text}" is not a duration')
    value, unit = float(m.group()), text[m.end():]
    scale = {"ms": 1, "s": 1000, "": 1000, "m": 60_000}.get(unit)
    if scale is None:
        raise _bad(spec, f'unknown unit "{unit}": use ms, s or m')
    return int(value * scale) / 1000.0


def _grown(factor, n):
    """factor^(n-1), inf past what a float holds (the C++ pow's inf, capped by max)."""
    try:
        return math.pow(factor, max(n - 1, 0))
    except OverflowError:
        return math.inf


def _number(spec, text):
    if not _NUMBER.fullmatch(text) or text.startswith("+"):
        raise _bad(spec, f'"{text}" is not a number')
    return float(text)


@dataclasses.dataclass(frozen=True)
class RetryPolicy:
    min: float = 0.1   # seconds
    max: float = 30.0
    factor: float = 2.0
    jitter: float = 0.2

    @staticmethod
    def parse(spec) -> "RetryPolicy":
        """None: the queue's default. Raises InvalidArgumentError saying what is wrong."""
        if spec is None or spec == "exponential":
            return RetryPolicy()
        if not spec.startswith("exponential:"):
            raise _bad(spec, "only exponential backoff is known")
        fields = {}
        for item in filter(None, spec[len("exponential:"):].split(",")):
            key, eq, value = item.partition("=")
            if not eq:
                raise _bad(spec, f'"{item}" is not key=value')
            if key in ("min", "max"):
                fields[key] = _duration(spec, value)
            elif key in ("factor", "jitter"):
                fields[key] = _number(spec, value)
            else:
                raise _bad(spec, f'unknown key "{key}": use min, max, factor, jitter')
        p = RetryPolicy(**fields)
        if p.max < p.min:
            raise _bad(spec, "max is below min")
        if not 1.0 <= p.factor <= 100.0:
            raise _bad(spec, "factor must be 1 .. 100")
        if not 0.0 <= p.jitter <= 1.0:
            raise _bad(spec, "jitter must be 0 .. 1")
        return p

    def delay_ns(self, n: int, u: float) -> int:
        """The delay before retry `n` (1-based), given a uniform u in [0, 1): min * factor^(n-1),
        capped at max, scaled by 1 - jitter + 2 * jitter * u; whole nanoseconds."""
        base = self.min * 1e9 * _grown(self.factor, n)
        capped = min(base, self.max * 1e9)
        return int(capped * (1.0 - self.jitter + 2.0 * self.jitter * u))

    def bounds(self, n: int):
        """(shortest, longest) delay in seconds before retry `n`: what the jitter allows."""
        capped = min(self.min * _grown(self.factor, n), self.max)
        return capped * (1.0 - self.jitter), capped * (1.0 + self.jitter)
