"""The verbs of a Client on a TestBus (service/test_bus_verbs.cc): the TestBus's own, and those
of a service.Client made on one. The same kind checks, routes and envelope as a Client on the
bus, with the virtual clock's times; each is handled, with all it causes at that instant,
before it returns."""
import concurrent.futures
import datetime

from .. import _shmbus
from .._errors import Error
from ._client import when
from ._envelope import Envelope, format_time
from ._kinds import check_publish, check_request, check_send, command_topic, event_topic, routed_endpoint
from ._message import type_of
from ._pending import Pending
from ._sender import Outgoing


def seconds_of(d) -> float:
    return d.total_seconds() if isinstance(d, datetime.timedelta) else float(d)


class MemoryVerbs:
    def __init__(self, bus, side):
        self.bus = bus    # the MemoryBus
        self.side = side  # its ClientSide: source, routes, reply topic, requests waiting

    def publish(self, event) -> str:
        t = type_of(event)
        check_publish(t)
        env = Envelope.start(t, self.side.source, self.bus.clock.wall())
        self.bus.publish(Outgoing(event_topic(t), env, t.encode(event)))
        self.bus.run_due()
        return env.message_id

    def send(self, command, endpoint="", not_before=None) -> str:
        t = type_of(command)
        check_send(t)
        to = routed_endpoint(t, endpoint, self.side.routes)
        env = Envelope.start(t, self.side.source, self.bus.clock.wall())
        if not_before is not None:
            env.not_before = format_time(not_before)
        self.bus.require_endpoint(to)
        self.bus.publish(Outgoing(command_topic(to), env, t.encode(command), endpoint=to))
        self.bus.run_due()
        return env.message_id

    def schedule(self, command, endpoint="", at=None, delay=None) -> str:
        return self.send(command, endpoint, when(at, delay, now=self.bus.clock.wall()))

    def cancel_scheduled(self, endpoint: str, message_id: str) -> int:
        q = self.bus.queues.get(endpoint)
        if q is None:
            raise Error(f'no queue "{endpoint}" on the TestBus: start its Endpoint first')
        now = self.bus.clock.now_ns()
        return q.remove_if(lambda e: e.delayed and e.due > now and e.record.envelope.message_id == message_id)

    def request_future(self, command, endpoint="", reply=None, timeout=5.0) -> concurrent.futures.Future:
        t = type_of(command)
        reply_type = type_of(reply)
        check_request(t, reply_type)
        bus, side = self.bus, self.side
        to = routed_endpoint(t, endpoint, side.routes)
        timeout = seconds_of(timeout)
        env = Envelope.start(t, side.source, bus.clock.wall())
        env.reply_to = side.reply_topic
        env.expires_at = format_time(bus.clock.wall() + timeout)
        future = concurrent.futures.Future()
        future.set_running_or_notify_cancel()
        # The deadline in the virtual clock's ns (a Client's on the bus is time.monotonic()).
        side.pending[env.message_id] = Pending(bus.clock.now_ns() + int(round(timeout * 1e9)), t, reply_type, to,
                                               timeout, future)
        try:
            bus.require_endpoint(to)
            bus.publish(Outgoing(command_topic(to), env, t.encode(command), endpoint=to))
        except Exception as e:  # noqa: BLE001 - the future carries it
            if side.pending.pop(env.message_id, None) is not None:
                future.set_exception(e)
            return future
        bus.run_due()
        return future

    def request(self, command, endpoint="", reply=None, timeout=5.0):
        """The reply (or its error) when it came within the call; never blocks (nothing would
        answer a request that waits for an advance() while its caller blocks)."""
        future = self.request_future(command, endpoint, reply, timeout)
        if not future.done():
            raise Error(f"the request {type_of(command).type_header} was not answered within the call: use "
                        "request_future() and advance() the TestBus")
        return future.result()

    def route(self, command_type, endpoint: str) -> None:
        t = type_of(command_type)
        check_send(t)
        _shmbus.validate_topic_name(endpoint)
        self.side.routes[t.name] = endpoint
