#!/usr/bin/python3
"""Python-side throughput: shmbus against pyzmq (ipc://, PUSH/PULL) and multiprocessing.Queue.

One producer process and one consumer process, pinned to two CPUs, 64-byte messages. For each
system: the publish rate (messages handed over per second, measured at the producer) and the
receive rate (measured at the consumer, first to last message), per call and batched (shmbus:
publish_many / receive_many; zmq: 1000-part multipart messages; Queue: lists of 1000). Every
measurement is repeated (--repetitions, interleaved) and the median reported.

    PYTHONPATH=build/python /usr/bin/python3 bench/python/bench_python.py [--repetitions 5] [--json]
"""
import argparse
import json
import multiprocessing as mp
import os
import statistics
import sys
import tempfile
import time

PAYLOAD = b"x" * 64
BATCH = 1000
# Batches hold distinct objects: pickle would send one object repeated 1000 times only once.
BATCH_PAYLOADS = [bytes([i % 251]) * 64 for i in range(BATCH)]


def timed_sends(count, batched, send_one, send_batch):
    """Seconds to hand over `count` messages: one call each, or batches of BATCH."""
    start = time.perf_counter()
    if batched:
        for _ in range(count // BATCH):
            send_batch(BATCH_PAYLOADS)
    else:
        for _ in range(count):
            send_one(PAYLOAD)
    return time.perf_counter() - start


def pin(cpu):
    try:
        os.sched_setaffinity(0, {cpu})
    except (AttributeError, OSError):
        pass


# ---- shmbus -------------------------------------------------------------------------------

def shmbus_consumer(path, count, batched, ready, results):
    import shmbus
    pin(1)
    with shmbus.Bus(path) as bus:
        sub = bus.subscribe("bench", start="latest")
        ready.set()
        got = 0
        first = None
        if batched:
            while got < count:
                msgs = sub.receive_many(4096, timeout=10)
                if not msgs:
                    break
                if first is None:
                    first = time.perf_counter()
                got += len(msgs)
        else:
            for _ in sub:
                if first is None:
                    first = time.perf_counter()
                got += 1
                if got == count:
                    break
        results.put((got, time.perf_counter() - first))


def shmbus_producer(path, count, batched):
    import shmbus
    with shmbus.Bus(path) as bus:
        pub = bus.publisher("bench")
        return timed_sends(count, batched, pub.publish, pub.publish_many)


def run_shmbus(count, batched):
    import shmbus
    with tempfile.TemporaryDirectory(dir="/dev/shm") as root:
        path = os.path.join(root, "bus")
        # block: nothing is lost; 64 MiB holds a whole per-call run, as the peers' queues do.
        shmbus.Bus(path).create_topic("bench", capacity=64 << 20)
        return run_pair(shmbus_consumer, shmbus_producer, path, count, batched)


# ---- pyzmq ----------------------------------------------------------------------------------

def zmq_consumer(endpoint, count, batched, ready, results):
    import zmq
    pin(1)
    ctx = zmq.Context()
    sock = ctx.socket(zmq.PULL)
    sock.setsockopt(zmq.RCVHWM, 0)  # unbounded, like the others: a slow reader never stalls the sender
    sock.bind(endpoint)
    ready.set()
    got = 0
    first = None
    while got < count:
        if batched:
            parts = sock.recv_multipart(copy=False)
            n = len(parts)
        else:
            sock.recv(copy=True)
            n = 1
        if first is None:
            first = time.perf_counter()
        got += n
    results.put((got, time.perf_counter() - first))
    sock.close(linger=0)
    ctx.term()


def zmq_producer(endpoint, count, batched):
    import zmq
    ctx = zmq.Context()
    sock = ctx.socket(zmq.PUSH)
    sock.setsockopt(zmq.SNDHWM, 0)
    sock.connect(endpoint)
    elapsed = timed_sends(count, batched, sock.send, sock.send_multipart)
    sock.close(linger=-1)
    ctx.term()
    return elapsed


def run_zmq(count, batched):
    with tempfile.TemporaryDirectory() as d:
        return run_pair(zmq_consumer, zmq_producer, f"ipc://{d}/bench.ipc", count, batched)


# ---- multiprocessing.Queue -----------------------------------------------------------------

def queue_consumer(q, count, batched, ready, results):
    pin(1)
    ready.set()
    got = 0
    first = None
    while got < count:
        item = q.get()
        if first is None:
            first = time.perf_counter()
        got += len(item) if batched else 1
    results.put((got, time.perf_counter() - first))


def queue_producer(q, count, batched):
    return timed_sends(count, batched, q.put, q.put)


def run_queue(count, batched):
    return run_pair(queue_consumer, queue_producer, mp.get_context("fork").Queue(), count, batched)


# ---- harness --------------------------------------------------------------------------------

def run_pair(consumer, producer, channel, count, batched):
    ctx = mp.get_context("fork")
    ready, results = ctx.Event(), ctx.Queue()
    proc = ctx.Process(target=consumer, args=(channel, count, batched, ready, results))
    proc.start()
    if not ready.wait(30):
        proc.kill()
        raise RuntimeError("consumer did not start")
    time.sleep(0.05)  # the consumer is inside its first receive
    pin(0)
    published = producer(channel, count, batched)
    got, received = results.get(timeout=300)
    proc.join(60)
    if got != count:
        raise RuntimeError(f"{consumer.__name__}: {got} of {count} messages arrived")
    return count / published, count / received


SYSTEMS = {"shmbus": run_shmbus, "pyzmq ipc": run_zmq, "multiprocessing.Queue": run_queue}
COUNTS = {False: 200_000, True: 1_000_000}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repetitions", type=int, default=5)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    figures = {}  # (system, batched) -> [(publish/s, receive/s), ...]
    for rep in range(args.repetitions):
        for batched in (False, True):
            for name, run in SYSTEMS.items():
                print(f"[{rep + 1}/{args.repetitions}] {name} {'batched' if batched else 'per call'}", file=sys.stderr)
                figures.setdefault((name, batched), []).append(run(COUNTS[batched], batched))
    med = {k: (statistics.median(p for p, _ in v), statistics.median(r for _, r in v)) for k, v in figures.items()}
    if args.json:
        print(json.dumps({f"{n} {'batched' if b else 'per call'}": {"publish_per_s": p, "receive_per_s": r}
                          for (n, b), (p, r) in med.items()}, indent=2))
        return
    print(f"Python {sys.version.split()[0]}, 64-byte messages, {args.repetitions} interleaved repetitions, medians\n")
    print("| system | mode | publish, M msg/s | receive, M msg/s |\n|---|---|---:|---:|")
    for (name, batched), (p, r) in med.items():
        print(f"| {name} | {'batched' if batched else 'per call'} | {p / 1e6:.2f} | {r / 1e6:.2f} |")
    shm, zmq_ = med[("shmbus", False)], med[("pyzmq ipc", False)]
    print(f"\nshmbus per-call publish: {shm[0] / 1e6:.2f} M msg/s (target >= 1), "
          f"{shm[0] / zmq_[0]:.1f} x pyzmq (target >= 3); receive {shm[1] / zmq_[1]:.1f} x pyzmq")


if __name__ == "__main__":
    main()
