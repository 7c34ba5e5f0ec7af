"""A C++ process and Python exchange 1,000,000 records with headers, both ways: all arrive, in
order, intact. The record scheme is the one tests/python/interop_peer.cc uses."""
import subprocess
import time

import pytest

import shmbus

COUNT = 1_000_000


def expected_payload(i):
    return i.to_bytes(8, "little") + bytes((i * 131 + k) & 0xFF for k in range(24))


def test_cpp_publisher_to_python_subscriber(interop_peer, bus):
    with shmbus.Bus(bus) as b:
        b.create_topic("interop.cpp2py")
        sub = b.subscribe("interop.cpp2py", start="earliest")
        peer = subprocess.Popen([interop_peer, "publish", bus, "interop.cpp2py", str(COUNT)],
                                stderr=subprocess.PIPE, text=True)
        try:
            got = 0
            deadline = time.monotonic() + 180
            while got < COUNT and time.monotonic() < deadline:
                for msg in sub.receive_many(4096, timeout=1):
                    assert msg.headers == {"seq": str(got), "type": "interop"}, f"record {got}"
                    assert msg.data == expected_payload(got), f"record {got}"
                    assert msg.seq == got
                    got += 1
            assert got == COUNT
            assert peer.wait(timeout=60) == 0, peer.stderr.read()
        finally:
            peer.kill()
            peer.wait()


def test_python_publisher_to_cpp_subscriber(interop_peer, bus):
    with shmbus.Bus(bus) as b:
        b.create_topic("interop.py2cpp")
        peer = subprocess.Popen([interop_peer, "subscribe", bus, "interop.py2cpp", str(COUNT)],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            assert peer.stdout.readline().strip() == "attached"
            pub = b.publisher("interop.py2cpp")
            for i in range(COUNT):
                pub.publish(expected_payload(i), {"seq": str(i), "type": "interop"})
            assert peer.wait(timeout=120) == 0, peer.stderr.read()
        finally:
            peer.kill()
            peer.wait()
