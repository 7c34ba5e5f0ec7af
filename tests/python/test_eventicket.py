"""The EvenTicket example (examples/eventicket/run.sh) from end to end, as a user runs it:
Ordering (HTTP), the order saga, Inventory, Payments and Shipping as separate processes; 200
orders placed over HTTP while Payments, Inventory and the saga are each killed -9 and
restarted; the run's own consistency check (stock + reserved + shipped = initial stock, every
paid order shipped or refunded, every order completed or cancelled) must hold. Once on one bus,
once as two buses joined by RabbitMQ through two bridges, and once serving the HTTP API."""
import json
import os
import pathlib
import re
import signal
import subprocess
import time
import urllib.error
import urllib.request

import pytest

from bridge_helpers import AMQP_URL, free_port, wait_for

ROOT = pathlib.Path(__file__).resolve().parents[2]
RUN_SH = ROOT / "examples" / "eventicket" / "run.sh"


@pytest.fixture(scope="module")
def eventicket(cli):
    path = pathlib.Path(os.environ.get("SHMBUS_EVENTICKET", ROOT / "build" / "examples" / "eventicket" / "eventicket"))
    if not path.exists():
        pytest.fail(f"eventicket is not built at {path} (needs libcpp-httplib-dev); run tools/test.sh or set SHMBUS_EVENTICKET")
    return dict(os.environ, EVENTICKET=str(path), SHMBUS_CLI=cli)


def run_example(env, *args, timeout=240):
    r = subprocess.run([str(RUN_SH), *args], env=env, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                       timeout=timeout)
    print(r.stdout)
    print(r.stderr)
    return r


def check_summary(out, orders, victims=("payments", "inventory", "order-saga")):
    m = re.search(r"orders placed (\d+), completed (\d+), cancelled (\d+)", out)
    assert m, out
    placed, completed, cancelled = map(int, m.groups())
    assert placed == orders and completed + cancelled == orders, out
    assert completed > 0, out
    for victim in victims:
        assert re.search(rf"killed {victim} \(pid \d+\) with kill -9 at \d+ of {orders} orders placed", out), out
    m = re.search(r"messages retried (\d+), dead-lettered (\d+)", out)
    assert m, out
    # 20 % of the capture attempts fail: with 200 orders, some are retried (0.8^200 ~ 0 otherwise).
    assert int(m.group(1)) > 0, out
    assert "FAIL" not in out and "consistency check: OK" in out, out
    # Each SKU's line adds up as printed.
    for sku, available, reserved, shipped, total, initial in re.findall(
            r"(\w+)\s+(\d+) available \+ (\d+) reserved \+\s+(\d+) shipped =\s+(\d+) \(initial (\d+)\)", out):
        assert int(available) + int(reserved) + int(shipped) == int(total) == int(initial), sku
        assert int(reserved) == 0, sku


def test_run_one_host(eventicket):
    r = run_example(eventicket, "--orders", "200")
    assert r.returncode == 0, r.stdout + r.stderr
    check_summary(r.stdout, 200)


def test_run_with_payment_timeouts_voids_and_refunds(eventicket):
    """A 40 ms payment timeout: orders whose capture is slow (Payments killed -9 and restarted,
    retries) time out; the saga voids the payment (a capture that comes later is refunded) and
    releases the stock, and the check still holds."""
    r = run_example(eventicket, "--orders", "100", "--payment-timeout-ms", "40", "--kill", "payments")
    assert r.returncode == 0, r.stdout + r.stderr
    check_summary(r.stdout, 100, victims=("payments",))
    assert re.search(r"cancelled\s+\d+: payment timed out", r.stdout), r.stdout
    m = re.search(r"refunded (\d+), voided (\d+)", r.stdout)
    assert m and int(m.group(1)) + int(m.group(2)) > 0, r.stdout


@pytest.mark.bridge
def test_run_two_hosts(eventicket):
    if not AMQP_URL:
        pytest.skip("SHMBUS_AMQP_URL is not set (tools/test.sh starts a RabbitMQ node and sets it)")
    r = run_example(eventicket, "--orders", "200", "--two-hosts")
    assert r.returncode == 0, r.stdout + r.stderr
    check_summary(r.stdout, 200)
    assert "two hosts:" in r.stdout
    # Each host's queues are counted: the saga's and the stand-in queues on A, the workers' on B.
    for queue, host in (("order-saga", "host-a"), ("bridge.payments", "host-a"), ("payments", "host-b"),
                        ("inventory", "host-b"), ("shipping", "host-b")):
        assert re.search(rf"^\s+{re.escape(queue)}\s+acked\s+[1-9]\d*\b.*\({host}\)$", r.stdout, re.M), queue


def http(method, url, body=None):
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, method=method, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=10) as res:
            return res.status, dict(res.headers), json.loads(res.read())
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers), json.loads(e.read())


def children_of(pid):
    out = []
    for stat in pathlib.Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            out.append(int(stat.parent.name))
    return out


def alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return pathlib.Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"


def test_serve_answers_post_and_get_until_sigterm(eventicket, tmp_path):
    port = free_port()
    log = open(tmp_path / "serve.log", "w")
    proc = subprocess.Popen([str(RUN_SH), "--serve", str(port)], env=eventicket, stdin=subprocess.DEVNULL,
                            stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        def up():
            try:
                return http("GET", base + "/orders")[0] == 200
            except (urllib.error.URLError, ConnectionError):
                return False
        wait_for(up, 120, f"the Ordering API on {base}; log:\n{(tmp_path / 'serve.log').read_text()}", interval=0.2)

        ids = []
        for customer, items in (("ann", [{"sku": "SEAT", "qty": 2}]),
                                ("bob", [{"sku": "FLOOR", "qty": 1}, {"sku": "VIP", "qty": 1}]),
                                ("chen", [{"sku": "VIP", "qty": 100}])):   # more VIP than there is: cancelled
            status, headers, body = http("POST", base + "/orders", {"customer": customer, "items": items})
            assert status == 202, body
            assert isinstance(body["id"], int) and headers["Location"] == f"/orders/{body['id']}"
            ids.append(body["id"])
        assert len(set(ids)) == 3

        for bad in ({"customer": "ann"}, {"customer": "ann", "items": [{"sku": "NOPE", "qty": 1}]},
                    {"customer": "", "items": [{"sku": "VIP", "qty": 1}]},
                    {"customer": "ann", "items": [{"sku": "VIP", "qty": 0}]}):
            status, _, body = http("POST", base + "/orders", bad)
            assert status == 400 and body["error"], bad
        assert http("GET", base + "/orders/999999")[0] == 404

        outcome = {}
        def finished():
            for i in ids:
                status, _, body = http("GET", f"{base}/orders/{i}")
                assert status == 200 and body["id"] == i and body["status"] in ("placed", "completed", "cancelled"), body
                outcome[i] = body
            return all(o["status"] != "placed" for o in outcome.values())
        wait_for(finished, 60, "the three orders completed or cancelled", interval=0.2)
        ann, bob, chen = (outcome[i] for i in ids)
        assert chen["status"] == "cancelled" and chen["reason"] == "out of stock: VIP", chen
        assert chen["customer"] == "chen" and chen["items"] == [{"sku": "VIP", "qty": 100}]
        assert ann["amount"] == 2 * 6500 and bob["amount"] == 4500 + 19900
        for o in (ann, bob):  # completed, or cancelled only by the injected payment failures (or a timeout)
            assert o["status"] == "completed" or o["reason"].startswith("payment"), o
        status, _, counts = http("GET", base + "/orders")
        assert counts["orders"] == 3 and counts["completed"] + counts["cancelled"] == 3, counts

        services = children_of(proc.pid)
        assert len(services) >= 5, services  # Ordering, saga, Inventory, Payments, Shipping
    finally:
        proc.send_signal(signal.SIGTERM)
        rc = proc.wait(timeout=90)
        log.close()
    print((tmp_path / "serve.log").read_text())
    assert rc == 0
    deadline = time.monotonic() + 10
    while any(alive(p) for p in services) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not [p for p in services if alive(p)], "services left running after SIGTERM"
