"""Publish failures explained: the size, the limit and the fix for a record that is too large,
the directory, its free space and retention for a journal that cannot grow (CLI and Python)."""
import subprocess
import sys
import textwrap

import pytest

import shmbus


def test_too_large_names_the_size_the_limit_and_the_capacity(bus):
    with shmbus.Bus(bus) as b:
        b.create_topic("small", capacity=65536)
        pub = b.publisher("small")
        with pytest.raises(shmbus.TooLargeError) as e:
            pub.publish(b"x" * 40000)
        message = str(e.value)
        assert message.startswith("publish to small: too-large: a record of 40000 bytes of payload"), message
        assert f"at most {pub.max_payload} bytes" in message
        assert "capacity is 65536 bytes" in message and "--capacity" in message


def test_cli_pub_too_large_says_what_to_do(run):
    assert run("topic", "create", "small", "--capacity", "4096").returncode == 0
    r = run("pub", "small", "y" * 3000)
    assert r.returncode == 1
    assert "publish failed: too-large: a record of 3000 bytes of payload is over the limit of topic small" in r.stderr
    assert "--capacity" in r.stderr


# The file size limit (RLIMIT_FSIZE) stands in for a full disk, in a child process.
_FULL_JOURNAL = textwrap.dedent("""
    import resource, signal, sys
    import shmbus
    bus, segments = sys.argv[1], sys.argv[2]
    b = shmbus.Bus(bus)
    b.create_topic("log", kind="journal", dir=segments, segment_size=65536)
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (16384, 16384))
    pub = b.publisher("log")
    try:
        for _ in range(1000):
            pub.publish(b"x")
    except shmbus.StorageError as e:
        print(e)
        sys.exit(0)
    sys.exit(1)
""")


def test_storage_error_names_the_directory_free_space_and_retention(bus, tmp_path, python_env):
    segments = tmp_path / "segments"
    r = subprocess.run([sys.executable, "-c", _FULL_JOURNAL, bus, str(segments)], capture_output=True, text=True,
                       timeout=60, env=python_env)
    assert r.returncode == 0, r.stdout + r.stderr
    message = r.stdout.strip()
    assert message.startswith(f"publish to log: storage: topic log's journal could not get a segment of 65536 bytes "
                              f"in {segments}"), message
    assert "File too large" in message and "ulimit -f" in message
    assert f"{segments} has " in message and " free of " in message
    assert "--retain-bytes" in message
