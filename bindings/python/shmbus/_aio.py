"""asyncio support: ``async for msg in sub``, ``await sub.receive_async()``, ``await pub.publish_async()``.

Nothing spins. A subscription that has nothing ready waits in its topic's futex (or the bus
doorbell, for patterns) on a worker thread of the loop's default executor, with the GIL released,
and the coroutine resumes when that wait returns. Messages are always taken on the event loop's
own thread. A publish that would wait for space (``block`` topics) waits the same way.
"""

import asyncio

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


def install(publisher_cls, subscription_cls):
    publisher_cls.publish_async = _publish_async
    subscription_cls.receive_async = _receive_async
    subscription_cls.__aiter__ = _aiter
    subscription_cls.__anext__ = _anext
