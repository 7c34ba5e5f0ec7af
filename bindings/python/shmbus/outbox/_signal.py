"""Commit wake-ups within a process: one counter per database (by its canonical path), bumped by
every commit that wrote outbox rows, waited on by the relays of that database (as C++'s
outbox/commit_signal.cc; another process's commits are found by the relay's sweep)."""
import threading
import weakref

_lock = threading.Lock()
_signals = weakref.WeakValueDictionary()


class CommitSignal:
    def __init__(self):
        self._cond = threading.Condition()
        self._count = 0

    def notify(self):
        with self._cond:
            self._count += 1
            self._cond.notify_all()

    def count(self) -> int:
        with self._cond:
            return self._count

    def wait(self, seen: int, timeout: float):
        """(came, count): whether a commit came after `seen` within `timeout` seconds."""
        with self._cond:
            came = self._cond.wait_for(lambda: self._count != seen, timeout)
            return came, self._count


def for_database(key: str) -> CommitSignal:
    with _lock:
        signal = _signals.get(key)
        if signal is None:
            signal = CommitSignal()
            _signals[key] = signal
        return signal
