"""Shared fixtures: the built module, CLI and interop peer, and a throw-away bus directory."""
import os
import pathlib
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
# The module as built by CMake (build/python), unless the environment points elsewhere
# (e.g. an installed copy: SHMBUS_PYTHONPATH= with shmbus importable from site-packages).
_built = os.environ.get("SHMBUS_PYTHONPATH", str(ROOT / "build" / "python"))
if _built and _built not in sys.path:
    sys.path.insert(0, _built)


@pytest.fixture(scope="session")
def cli():
    path = pathlib.Path(os.environ.get("SHMBUS_CLI", ROOT / "build" / "tools" / "cli" / "shmbus"))
    if not path.exists():
        pytest.fail(f"the shmbus CLI is not built at {path}; run tools/test.sh or set SHMBUS_CLI")
    return str(path)


@pytest.fixture(scope="session")
def interop_peer():
    path = pathlib.Path(os.environ.get("SHMBUS_INTEROP_PEER", ROOT / "build" / "tests" / "interop_peer"))
    if not path.exists():
        pytest.fail(f"the interop peer is not built at {path}; run tools/test.sh or set SHMBUS_INTEROP_PEER")
    return str(path)


@pytest.fixture
def bus(tmp_path):
    # A path (it contains '/') makes a bus in that directory instead of /dev/shm/shmbus/NAME.
    return str(tmp_path / "bus")


@pytest.fixture
def run(cli, bus):
    """Runs `shmbus --bus BUS ARGS...`; returns the CompletedProcess (never raises on exit code)."""

    def _run(*args, input=None, timeout=30):
        return subprocess.run([cli, "--bus", bus, *args], input=input, capture_output=True, text=True,
                              timeout=timeout, stdin=None if input is not None else subprocess.DEVNULL)

    return _run


@pytest.fixture
def python_env():
    """Environment for a child Python process that imports the same shmbus as the tests."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (_built, env.get("PYTHONPATH", "")) if p)
    return env


def pytest_configure(config):
    config.addinivalue_line("markers", "bridge: needs a RabbitMQ node (SHMBUS_AMQP_URL; tools/test.sh starts one)")
