"""An endpoint on the bus (service/bus_host.cc): its queue, and a handler thread per
`concurrency`, each with its own Consumer, Sender and Pipeline. A thread blocks (a condition,
woken by the breaker's transitions and by stop()) while the breaker is open or the rate limit
says wait; it never spins."""
import math
import sys
import threading

from .._errors import Error, StaleLeaseError
from ._breaker import PASS_NO, PASS_YES
from ._clock import REAL_CLOCK
from ._pipeline import Pipeline
from ._sender import Sender, journal_options


def _settled(call, *args):
    try:
        call(*args)
        return True
    except StaleLeaseError:
        return False  # the lease was lost: another consumer has the record now


class ConsumerSettlement:
    """The delivery being handled, settled through the Consumer that received it."""

    def __init__(self, consumer, delivery):
        self.c, self.d = consumer, delivery

    def ack(self):
        return _settled(self.c.ack, self.d)

    def nack(self, error):
        return _settled(lambda: self.c.nack(self.d, error=error))

    def reject(self, error):
        return _settled(self.c.reject, self.d, error)


class BusHost:
    clock = REAL_CLOCK

    def __init__(self, bus):
        self.bus = bus
        self.queue = None
        self._threads = []
        self._stopping = False
        self._cv = threading.Condition()  # the waiters' only: never taken on a delivery's way

    @property
    def running(self):
        return bool(self._threads)

    @property
    def stopping(self):
        return self._stopping

    def start(self, e):
        """Declares the queue and starts the handler threads."""
        if self._threads:
            return
        config = e.queue_config()
        for topic in config["bindings"]:
            self.bus.create_topic(topic, **journal_options(e.options["journal"]))
        try:
            self.queue = self.bus.create_queue(e.name, **config)
        except Error as ex:
            raise type(ex)(f'endpoint "{e.name}" cannot declare its queue: {ex} (if its handlers or options changed, '
                           f"drain the old queue and remove it: shmbus queue rm {e.name})") from None
        self._stopping = False
        # A Consumer per thread, made here so that a failure to attach raises from start();
        # prefetch 1: a thread handles one message at a time and holds no other.
        consumers = [self.queue.consumer(prefetch=1) for _ in range(e.options["concurrency"])]
        for i, c in enumerate(consumers):
            t = threading.Thread(target=HandlerThread(e, self, c).run, name=f"shmbus-endpoint-{e.name}-{i}",
                                 daemon=True)
            self._threads.append(t)
            t.start()

    def stop(self):
        if not self._threads:
            return
        with self._cv:  # so that no waiter checks the flag and then sleeps past this notify
            self._stopping = True
            self._cv.notify_all()
        for t in self._threads:
            t.join()
        self._threads = []

    def wake(self):
        with self._cv:
            self._cv.notify_all()

    def wait_until(self, until) -> bool:
        """Blocks until `until` (clock.now_ns()), a wake() or stop(); False once stopping."""
        with self._cv:
            if not self._stopping:
                self._cv.wait(max(0.0, (until - self.clock.now_ns()) / 1e9))
            return not self._stopping


class HandlerThread:
    def __init__(self, endpoint, host, consumer):
        self.e = endpoint
        self.host = host
        self.consumer = consumer
        self.sender = Sender(host.bus, endpoint.options["journal"])
        self.pipeline = Pipeline(endpoint, self.sender)

    def run(self):
        clock, idle = self.e.clock, self.e.options["idle_wait"]
        idle_ns = int(idle * 1e9)
        try:
            while not self.host.stopping:
                # The breaker is open or the rate limit is spent: wait, taking nothing, until then
                # (stop() and the breaker's transitions wake us). While a trial runs nobody knows
                # for how long: idle_wait at a time.
                if self.pipeline.gated:
                    now = clock.now_ns()
                    ready = self.pipeline.ready_at(now)
                    if ready > now:
                        self.pipeline.note_wait(now)
                        self.host.wait_until(now + idle_ns if ready == math.inf else ready)
                        continue
                d = self.consumer.receive(timeout=idle)
                if d is not None:
                    self.handle(d)
        finally:
            self.consumer.close()  # gives back what it still holds, uncharged
            self.sender.close()
            self.pipeline.close()

    def handle(self, d):
        clock = self.e.clock
        passed = PASS_YES
        if self.pipeline.gated:
            passed = self.pipeline.admit(clock.now_ns())
            if passed == PASS_NO:  # it opened since ready_at
                return self.give_back(d, passed)
            first = True
            while True:
                later = self.pipeline.rate_wait(clock.now_ns(), first)
                if later is None:
                    break
                first = False
                if not self.host.wait_until(later):
                    return self.give_back(d, passed)
        try:
            self.pipeline.handle(d.headers, d.payload, d.attempt, ConsumerSettlement(self.consumer, d), passed)
        except Exception as ex:  # noqa: BLE001 - the endpoint goes on; the record goes back
            print(f"shmbus endpoint {self.e.name}: {ex} (the delivery goes back to the queue)", file=sys.stderr)
            try:
                self.consumer.release(d)
            except Error:
                pass  # settled already

    def give_back(self, d, passed):
        try:
            self.consumer.release(d)
        except Error:
            pass
        self.pipeline.gave_back(passed)
