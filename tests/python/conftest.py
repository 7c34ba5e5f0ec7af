"""Shared fixtures: where the built `shmbus` CLI is, and a throw-away bus directory."""
import os
import pathlib
import subprocess

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def cli():
    path = pathlib.Path(os.environ.get("SHMBUS_CLI", ROOT / "build" / "tools" / "cli" / "shmbus"))
    if not path.exists():
        pytest.fail(f"the shmbus CLI is not built at {path}; run tools/test.sh or set SHMBUS_CLI")
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
