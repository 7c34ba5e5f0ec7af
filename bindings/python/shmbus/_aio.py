"""asyncio support: ``async for msg in sub``, ``await sub.receive_async()``, ``await pub.publish_async()``,
``await consumer.receive_async()``.

Nothing spins. A subscription that has nothing ready waits in its topic's futex (or the bus
doorbell, for patterns) on a worker thread of the loop's default executor, with the GIL released,
and the coroutine resumes when that wait returns. Messages are always taken on the event loop's
own thread. A publish that would wait for space (``block`` topics) waits the same way.
"""

import asyncio
import threading

_WAIT_SLICE = 0.25  # seconds a worker waits before handing control back (cancellation, close)


async def _receive_async(self, timeout=None):
    """The next message, or None after `timeout` seconds (None: wait for ever)."""
    loop = asyncio.get_running_loop()
    deadline = None if timeout is None else loop.time() + timeout
    while True:
        msg = self.try_receive()
        if msg is not None:
            return msg
        if self.closed:
            return None
        slice_ = _WAIT_SLICE
        if deadline is not None:
            slice_ = min(slice_, deadline - loop.time())
            if slice_ <= 0:
                return None
        await loop.run_in_executor(None, self.wait, slice_)


def _aiter(self):
    return self


async def _anext(self):
    msg = await _receive_async(self)
    if msg is None:  # only when closed
        raise StopAsyncIteration
    return msg


async def _publish_async(self, data, headers=None):
    """Publishes without blocking the event loop; returns the record's position."""
    position = self.try_publish(data, headers)
    if position is not None:
        return position
    loop = asyncio.get_running_loop()
    return await loop.run_in_executor(None, self.publish, data, headers)


class _Handoff:
    """A delivery taken on a worker thread for a coroutine that may be cancelled meanwhile. Under
    the lock, whichever comes second (the worker with a delivery, or the cancelled coroutine)
    releases it: a cancelled wait never leaves a lease to expire and be charged an attempt."""

    def __init__(self):
        self.lock = threading.Lock()
        self.cancelled = False
        self.delivery = None


def _receive_slice(consumer, slice_, handoff):
    delivery = consumer.receive(slice_)
    with handoff.lock:
        if handoff.cancelled:
            if delivery is not None:
                consumer.release(delivery)
            return None
        handoff.delivery = delivery
    return delivery


async def _consumer_receive_async(self, timeout=None):
    """The next Delivery, or None after `timeout` seconds (None: wait for ever). The wait runs on
    a worker thread with the GIL released; if this coroutine is cancelled, a delivery that arrives
    anyway is released (uncharged)."""
    loop = asyncio.get_running_loop()
    deadline = None if timeout is None else loop.time() + timeout
    while True:
        delivery = self.try_receive()
        if delivery is not None:
            return delivery
        if self.closed:
            return None
        slice_ = _WAIT_SLICE
        if deadline is not None:
            slice_ = min(slice_, deadline - loop.time())
            if slice_ <= 0:
                return None
        handoff = _Handoff()
        future = loop.run_in_executor(None, _receive_slice, self, slice_, handoff)
        try:
            delivery = await future
        except asyncio.CancelledError:
            with handoff.lock:
                handoff.cancelled = True
                late, handoff.delivery = handoff.delivery, None
            if late is not None:  # taken, but its result never reached us
                self.release(late)
            raise
        if delivery is not None:
            return delivery


def install(publisher_cls, subscription_cls, consumer_cls):
    publisher_cls.publish_async = _publish_async
    consumer_cls.receive_async = _consumer_receive_async
    subscription_cls.receive_async = _receive_async
    subscription_cls.__aiter__ = _aiter
    subscription_cls.__anext__ = _anext
