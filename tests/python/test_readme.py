"""The README's Python examples run as written (in a private bus root, with the built CLI on PATH)."""
import os
import pathlib
import re
import subprocess
import sys

import pytest

README = (pathlib.Path(__file__).resolve().parents[2] / "README.md").read_text()


def example(name):
    match = re.search(r"<!-- example:" + re.escape(name) + r" -->\n```python\n(.*?)\n```", README, re.S)
    assert match, f"README has no example:{name} block"
    return match.group(1)


@pytest.mark.parametrize("name, expected", [
    ("python", ["orders.eu.created 0 {'type': 'OrderPlaced'} b'{\"id\": 42}'",
                "orders.eu.created", "b'{\"id\": 44}'"]),
    ("python-async", ["metrics.cpu b'load 0'", "metrics.cpu b'load 2'"]),
    ("python-interop", ["sensors.temp b'21.5' {'unit': 'C'}"]),
    ("python-queue", ["jobs.resize 1 {'type': 'Resize@1'} b'640x480'", "acked 1 dead-lettered 1 dlq 1"]),
    ("python-service", ["order 42 by ann, conversation ", "order 42: shipped", "order 43: shipped (awaited)"]),
    ("python-outbox", ["reserved 3"]),
    ("python-testbus", ["open after 4 failures, 6 queued", "closed [1, 2, 3, 4, 5, 6] at 30 s"]),
])
def test_readme_example_runs(name, expected, tmp_path, cli, python_env):
    env = dict(python_env)
    env["SHMBUS_ROOT"] = str(tmp_path)  # bus names resolve here instead of /dev/shm/shmbus
    env["PATH"] = os.pathsep.join([str(pathlib.Path(cli).parent), env.get("PATH", "")])
    r = subprocess.run([sys.executable, "-c", example(name)], capture_output=True, text=True, env=env, timeout=60)
    assert r.returncode == 0, r.stderr
    for line in expected:
        assert line in r.stdout, r.stdout
