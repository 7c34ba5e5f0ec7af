"""Helpers of the bridge tests (test_bridge*.py): a bridge process, configs, pika, waiting."""
import json
import os
import pathlib
import random
import signal
import socket
import subprocess
import time
import uuid

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
AMQP_URL = os.environ.get("SHMBUS_AMQP_URL", "")
RABBIT_DIR = os.environ.get("SHMBUS_RABBITMQ_DIR", "")


def _node_env():
    """DIR/env of the test broker (tools/rabbitmq_node.sh writes it), as a dict."""
    try:
        text = (pathlib.Path(RABBIT_DIR) / "env").read_text() if RABBIT_DIR else ""
    except OSError:
        text = ""
    return dict(line.split("=", 1) for line in text.splitlines() if "=" in line)


# The broker's TLS listener and its private CA (tools/test.sh exports them; else DIR/env has them).
_NODE = _node_env()
AMQPS_URL = os.environ.get("SHMBUS_AMQPS_URL") or _NODE.get("AMQPS_URL", "")
TLS_CA = os.environ.get("SHMBUS_TLS_CA") or _NODE.get("TLS_CA", "")
TLS_CLIENT_CERT = os.environ.get("SHMBUS_TLS_CLIENT_CERT") or _NODE.get("TLS_CLIENT_CERT", "")
TLS_CLIENT_KEY = os.environ.get("SHMBUS_TLS_CLIENT_KEY") or _NODE.get("TLS_CLIENT_KEY", "")
# The soak tests' size: 1 = the issue's 100,000 messages and 20+ kills.
SCALE = float(os.environ.get("SHMBUS_SOAK_SCALE", "1"))

try:
    import pika  # python3-pika: the independent client
except ImportError:  # pragma: no cover
    pika = None


def need_broker():
    if not AMQP_URL:
        pytest.skip("SHMBUS_AMQP_URL is not set (tools/test.sh starts a RabbitMQ node and sets it)")
    if pika is None:
        pytest.skip("python3-pika is not installed")


def need_node_dir():
    need_broker()
    if not RABBIT_DIR:
        pytest.skip("SHMBUS_RABBITMQ_DIR is not set: the broker cannot be restarted (tools/test.sh sets it)")


def need_tls():
    need_broker()
    if not (AMQPS_URL and TLS_CA):
        pytest.skip("no TLS listener: SHMBUS_AMQPS_URL / SHMBUS_TLS_CA are not set (tools/test.sh sets them)")


def unique(prefix):
    return f"{prefix}{uuid.uuid4().hex[:8]}"


def wait_for(predicate, timeout, what, interval=0.1):
    """Polls predicate() until it returns something true; fails the test after `timeout` s."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = predicate()
        if last:
            return last
        time.sleep(interval)
    pytest.fail(f"timed out after {timeout} s waiting for {what} (last: {last!r})")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def pika_channel(url=None):
    conn = pika.BlockingConnection(pika.URLParameters(url or AMQP_URL))
    return conn, conn.channel()


def declare_queue(queue, exchange=None, exchange_type="topic", key="#"):
    conn, ch = pika_channel()
    try:
        ch.queue_declare(queue, durable=True)
        if exchange:
            ch.exchange_declare(exchange, exchange_type, durable=True)
            ch.queue_bind(queue, exchange, key)
    finally:
        conn.close()


def queue_depth(queue):
    conn, ch = pika_channel()
    try:
        return ch.queue_declare(queue, passive=True).method.message_count
    finally:
        conn.close()


def drain(queue, want, timeout=120, idle=5.0):
    """Every message of `queue` (auto-ack) until `want` arrived and `idle` s pass without one,
    or `timeout`: a list of (routing_key, properties, body)."""
    got = []
    deadline = time.monotonic() + timeout
    conn, ch = pika_channel()
    try:
        ch.basic_qos(prefetch_count=1000)
        for method, props, body in ch.consume(queue, auto_ack=True, inactivity_timeout=idle):
            if method is None:
                if len(got) >= want or time.monotonic() > deadline:
                    break
                continue
            got.append((method.routing_key, props, body))
            if time.monotonic() > deadline:
                break
        ch.cancel()
    finally:
        conn.close()
    return got


def toml_value(v):
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return str(v)
    if isinstance(v, list):
        return "[" + ", ".join(toml_value(x) for x in v) + "]"
    if isinstance(v, dict):
        return "{ " + ", ".join(f"{k} = {toml_value(x)}" for k, x in v.items()) + " }"
    return json.dumps(v)


def write_config(path, broker=None, outbound=(), inbound=(), exchanges=()):
    broker = dict({"url_env": "SHMBUS_AMQP_URL", "heartbeat": 5, "reconnect_initial_ms": 50,
                   "reconnect_max_ms": 1000}, **(broker or {}))
    lines = ["[broker]"] + [f"{k} = {toml_value(v)}" for k, v in broker.items() if v is not None]
    for section, tables in (("exchange", exchanges), ("outbound", outbound), ("inbound", inbound)):
        for t in tables:
            lines += ["", f"[[{section}]]"] + [f"{k} = {toml_value(v)}" for k, v in t.items()]
    pathlib.Path(path).write_text("\n".join(lines) + "\n")
    return str(path)


class Bridge:
    """One `shmbus bridge` process over a config; its stderr goes to a log file."""

    def __init__(self, cli, bus, config):
        self.cli, self.bus, self.config = cli, bus, str(config)
        self.log_path = pathlib.Path(self.config + ".log")
        self.proc = None
        self.starts = 0

    def start(self):
        log = open(self.log_path, "ab")
        self.proc = subprocess.Popen([self.cli, "--bus", self.bus, "bridge", "--config", self.config],
                                     stdin=subprocess.DEVNULL, stdout=log, stderr=log)
        log.close()
        self.starts += 1
        return self

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def kill9(self):
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=30)

    def stop(self, timeout=60):
        """SIGTERM; returns the exit code (143 when it stopped as it should)."""
        if not self.alive():
            return self.proc.returncode if self.proc else None
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=30)
            pytest.fail(f"the bridge did not stop within {timeout} s of SIGTERM; log:\n{self.log()}")

    def wait_running(self, timeout=60):
        """Until this process wrote its status with every link connected."""
        def up():
            s = self.status()
            return s and s.get("pid") == self.proc.pid and all(l["connected"] for l in s["links"])
        wait_for(up, timeout, f"the bridge (pid {self.proc.pid}) connected; log:\n{self.log()[-3000:]}", interval=0.25)

    def log(self):
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def status(self):
        r = subprocess.run([self.cli, "--bus", self.bus, "bridge", "status", "--config", self.config, "--json"],
                           capture_output=True, text=True, timeout=30)
        if r.returncode != 0:
            return None
        try:
            return json.loads(r.stdout)
        except json.JSONDecodeError:
            return None

    def link(self, name):
        s = self.status()
        if not s:
            return None
        return next((l for l in s["links"] if l["name"] == name), None)

    def wait_link(self, name, predicate, timeout, what):
        def check():
            l = self.link(name)
            return l if l and predicate(l) else None
        return wait_for(check, timeout, f"{what} (link {name}); bridge log:\n{self.log()[-3000:]}", interval=0.25)


def rabbit_node(action):
    """Stops or starts the test broker (tools/rabbitmq_node.sh on SHMBUS_RABBITMQ_DIR)."""
    subprocess.run([str(ROOT / "tools" / "rabbitmq_node.sh"), action, RABBIT_DIR], check=True, timeout=300,
                   stdout=subprocess.DEVNULL)


def jitter(lo, hi, rng=random):
    return lo + (hi - lo) * rng.random()
