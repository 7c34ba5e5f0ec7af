"""The clocks the pipeline reads (service/clock.h): a steady one for deadlines, cool-downs and
rates, a wall one for the envelope's times. The real ones on a bus; a TestBus's virtual one,
moved only by advance(). The breaker, the rate limit and the TestBus's queues count in integer
nanoseconds (now_ns(), as the C++ ones), so that virtual times add up exactly; handlers see
seconds (now(), wall()), as time.monotonic() and time.time()."""
import time


class RealClock:
    real = True  # a real-time wait (an async handler's timeout) means what it says

    @staticmethod
    def now_ns() -> int:
        return time.monotonic_ns()

    @staticmethod
    def now() -> float:
        return time.monotonic()

    @staticmethod
    def wall() -> float:
        return time.time()


REAL_CLOCK = RealClock()


class VirtualClock:
    """Steady time starts at 0 and wall time at `wall_start` (Unix seconds; None: the real now,
    to the millisecond, so that the envelope's millisecond times are exact); both move only by
    advance() (elapsed_ns)."""
    real = False

    def __init__(self, wall_start=None):
        self.wall_start_ns = (time.time_ns() // 1_000_000 * 1_000_000 if wall_start is None
                              else int(round(wall_start * 1e9)))
        self.elapsed_ns = 0

    def now_ns(self) -> int:
        return self.elapsed_ns

    def now(self) -> float:
        return self.elapsed_ns / 1e9

    def wall_ns(self) -> int:
        return self.wall_start_ns + self.elapsed_ns

    def wall(self) -> float:
        return self.wall_ns() / 1e9

    def steady_of_wall_ns(self, wall_ns: int) -> int:
        return wall_ns - self.wall_start_ns
