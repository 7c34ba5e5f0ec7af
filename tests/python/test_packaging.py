"""`pip install --no-build-isolation` builds and installs the module from the project root with
what Debian provides (no PyPI), and the installed copy works and ships its type stubs."""
import pathlib
import subprocess
import sys

ROOT = pathlib.Path(__file__).resolve().parents[2]


def test_pip_install_builds_an_importable_package(tmp_path, bus):
    target = tmp_path / "site"
    r = subprocess.run([sys.executable, "-m", "pip", "install", "--no-build-isolation", "--no-index", "--quiet",
                        "--target", str(target), str(ROOT)], capture_output=True, text=True, timeout=900)
    assert r.returncode == 0, r.stdout + r.stderr
    package = target / "shmbus"
    assert (package / "__init__.pyi").exists() and (package / "py.typed").exists()
    assert list(package.glob("_shmbus*.so"))
    check = f"""
import shmbus
import shmbus.outbox, shmbus.service  # the pure-Python layers are installed with the module
assert shmbus.outbox.__file__.startswith({str(target)!r}), shmbus.outbox.__file__
assert shmbus.__file__.startswith({str(target)!r}), shmbus.__file__
with shmbus.Bus({bus!r}) as b:
    sub = b.subscribe("pkg", start="earliest")
    b.publisher("pkg").publish(b"installed")
    print(bytes(sub.receive(timeout=5).data).decode())
"""
    r = subprocess.run([sys.executable, "-c", check], capture_output=True, text=True, timeout=60,
                       env={"PYTHONPATH": str(target), "PATH": "/usr/bin:/bin"}, cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "installed"
