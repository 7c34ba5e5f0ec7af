"""The exceptions shmbus raises. Every one is a shmbus.Error; most also derive from the built-in
exception a Python programmer would catch for the same mistake (ValueError, LookupError, ...)."""

import builtins


class Error(Exception):
    """Base of every shmbus exception. The message says what failed and what to do."""


class InvalidNameError(Error, ValueError):
    """A topic, pattern or bus name that is not allowed (e.g. ``a..b``, ``../x``, empty, too long)."""


class InvalidArgumentError(Error, ValueError):
    """An option value that is not allowed (capacity, policy, start position, headers...)."""


class NotFoundError(Error, LookupError):
    """No such bus or topic (and it was not to be created)."""


class NotShmbusError(Error):
    """A file or directory that is not a shmbus bus or topic."""


class VersionError(NotShmbusError):
    """A shmbus file of another layout version."""


class CorruptError(Error):
    """A shmbus file or record whose bytes are damaged; nothing invalid was delivered."""


class StorageError(Error, OSError):
    """The operating system refused (permissions, space in /dev/shm, mmap)."""


class FullError(Error):
    """A fixed table is full: publisher or subscriber slots of a topic, or the bus registry."""


class InUseError(Error):
    """Live processes hold what was to be removed (``Bus.remove_topic``); the message names their pids."""


class ClosedError(Error, ValueError):
    """The object was closed (like I/O on a closed file)."""


class TimeoutError(Error, builtins.TimeoutError):  # noqa: A001 - deliberately shadows the builtin
    """A wait ran out of time."""


class WouldBlockError(Error):
    """A topic with the ``fail`` policy is full: the slowest subscriber has not read enough yet."""


class TooLargeError(Error, ValueError):
    """The record is larger than the topic allows (``Publisher.max_payload``)."""


class AbandonedError(Error):
    """The claim was taken back (this publisher stalled past the unblock timeout); not published."""


class StaleLeaseError(Error):
    """The delivery's lease was taken away (it expired, or this process was presumed dead): another
    consumer may hold the record now. Nothing was settled; do not retry the call."""


__all__ = [
    "Error", "InvalidNameError", "InvalidArgumentError", "NotFoundError", "NotShmbusError", "VersionError",
    "CorruptError", "StorageError", "FullError", "InUseError", "ClosedError", "TimeoutError", "WouldBlockError",
    "TooLargeError", "AbandonedError", "StaleLeaseError",
]
