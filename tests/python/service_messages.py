"""The message types of the Python service tests: the small shop of tests/service/messages.h,
registered with the same names and versions, so C++ (tests/service/service_peer.cc) reads them."""
import dataclasses
import os
import pathlib
import select
import subprocess
import time

from shmbus import service

ROOT = pathlib.Path(__file__).resolve().parents[2]
JOURNAL = {"segment_size": 4 << 20}  # small segments: tests make many topics (as small_journal())


@service.message("OrderPlaced", version=2, kind="event")
@dataclasses.dataclass
class OrderPlaced:
    order: int
    customer: str


@service.message("ReserveStock", version=1, kind="command")
@dataclasses.dataclass
class ReserveStock:
    order: int
    quantity: int


@service.message("StockReserved", version=1, kind="event")
@dataclasses.dataclass
class StockReserved:
    order: int


# Plain-dict types (no dataclass): the same JSON.
GetOrderStatus = service.command("GetOrderStatus", 1)
OrderStatus = service.reply("OrderStatus", 1)


def fast(**more):
    """Endpoint options of the C++ tests' fast_options(3): quick retries, small journals."""
    options = dict(max_deliveries=3, retry="exponential:min=1ms,max=5ms", journal=JOURNAL, idle_wait=0.005)
    options.update(more)
    return options


def wait_until(predicate, timeout=30.0, what="the condition"):
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.005)


def dead_letters(bus, queue, count, timeout=30.0):
    """The first `count` records of `queue`'s dead-letter topic, as (headers, payload)."""
    out = []
    wait_until(lambda: bus.topic_exists(f"{queue}.dlq"), timeout, f"{queue}.dlq")
    with bus.subscribe(f"{queue}.dlq", start="earliest") as sub:
        deadline = time.monotonic() + timeout
        while len(out) < count and time.monotonic() < deadline:
            m = sub.receive(timeout=0.1)
            if m is not None:
                out.append((m.headers, bytes(m.data)))
    assert len(out) == count, out
    return out


class Peer:
    """tests/service/service_peer running one mode; lines read with a bounded wait."""

    def __init__(self, bus_path, *args, stdin=False):
        path = os.environ.get("SHMBUS_SERVICE_PEER", str(ROOT / "build" / "tests" / "service_peer"))
        if not os.path.exists(path):
            raise AssertionError(f"the service peer is not built at {path}; build service_peer or set "
                                 "SHMBUS_SERVICE_PEER")
        self.proc = subprocess.Popen([path, bus_path, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     stdin=subprocess.PIPE if stdin else subprocess.DEVNULL, text=True)

    def line(self, prefix, timeout=60.0):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            ready, _, _ = select.select([self.proc.stdout], [], [], 0.1)
            if ready:
                text = self.proc.stdout.readline()
                if not text:
                    break
                if text.startswith(prefix):
                    return text[len(prefix):].rstrip("\n")
        raise AssertionError(f"no {prefix!r} line from the peer; stderr: {self.stop()}")

    def stop(self, timeout=30):
        if self.proc.stdin:
            self.proc.stdin.close()
        try:
            self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        return self.proc.stderr.read()
