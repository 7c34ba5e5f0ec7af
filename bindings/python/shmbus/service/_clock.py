"""The clocks the pipeline reads (service/clock.h): a steady one for deadlines, cool-downs and
rates, a wall one for the envelope's times. The real ones on a bus; a TestBus's virtual one,
moved only by advance(). Both in seconds (floats), as time.monotonic() and time.time()."""
import time


class RealClock:
    real = True  # a real-time wait (an async handler's timeout) means what it says

    @staticmethod
    def now() -> float:
        return time.monotonic()

    @staticmethod
    def wall() -> float:
        return time.time()


REAL_CLOCK = RealClock()


class VirtualClock:
    """Starts at the real steady now (as the C++ one) and at `wall_start` (Unix seconds; None:
    the real now). Time is kept in integer nanoseconds, so that many small advances add up
    exactly."""
    real = False

    def __init__(self, wall_start=None):
        self._steady_start_ns = time.monotonic_ns()
        self._wall_start_ns = time.time_ns() if wall_start is None else int(round(wall_start * 1e9))
        self.elapsed_ns = 0

    def now(self) -> float:
        return (self._steady_start_ns + self.elapsed_ns) / 1e9

    def wall(self) -> float:
        return (self._wall_start_ns + self.elapsed_ns) / 1e9

    @property
    def start(self) -> float:
        return self._steady_start_ns / 1e9

    def steady_ns(self, steady: float) -> int:
        """`steady` (a now()) as elapsed nanoseconds."""
        return int(round(steady * 1e9)) - self._steady_start_ns

    def steady_of_wall(self, wall: float) -> float:
        return (self._steady_start_ns + int(round(wall * 1e9)) - self._wall_start_ns) / 1e9
