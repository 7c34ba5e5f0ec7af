"""The handler pipeline of one delivery, one step per method (as service/dispatch.cc):
  1. find the handler by the `type` header       (none: reject, reason "unknown type/version")
  2. decode and call it, with immediate retries   (DecodeError: reject, reason "undecodable")
  3. it returned: send what it sent, then ack      (its messages go only after it succeeded)
  4. it raised: retry later (nack) while attempts and the filters allow; else dead-letter the
     record (nack at the last attempt: delivery_limit; a never-retried exception: reject), and
     once that settled, publish Fault<T> (and answer a requester with it).
Settle first, Fault second: a settlement refused because the lease was lost publishes nothing,
so one dead-lettered record gives one Fault."""
import asyncio
import inspect
import math
import sys
import time

from .._errors import Error, StaleLeaseError
from ._context import Context
from ._envelope import Envelope, format_time
from ._errors import HandlerTimeout
from ._fault import FaultType, fault_payload
from ._kinds import event_topic
from ._message import DecodeError, MessageType
from ._sender import Outgoing, Sender


def describe(error: BaseException):
    """(type, text) of an exception: "ValueError" for builtins, else "module.Qualname"."""
    t = type(error)
    name = t.__qualname__ if t.__module__ == "builtins" else f"{t.__module__}.{t.__qualname__}"
    return name, str(error)


def _settled(call, *args):
    try:
        call(*args)
        return True
    except StaleLeaseError:
        return False  # the lease was lost: another consumer has the record now


class HandlerThread:
    def __init__(self, endpoint, consumer):
        self.e = endpoint
        self.consumer = consumer
        self.sender = Sender(endpoint.bus, endpoint.options["journal"])
        self.loop = None  # an event loop of its own, made for the first async handler

    def run(self):
        try:
            while not self.e._stopping.is_set():
                d = self.consumer.receive(timeout=self.e.options["idle_wait"])
                if d is None:
                    continue
                try:
                    self.handle(d)
                except Exception as ex:  # noqa: BLE001 - the endpoint goes on; the record goes back
                    print(f"shmbus endpoint {self.e.name}: {ex} (the delivery goes back to the queue)", file=sys.stderr)
                    try:
                        self.consumer.release(d)
                    except Error:
                        pass  # settled already
        finally:
            self.consumer.close()  # gives back what it still holds, uncharged
            self.sender.close()
            if self.loop is not None:
                self.loop.close()

    def handle(self, d):
        env = Envelope.read(d.headers)
        entry, reason = self.e._find(env.type)
        if entry is None:
            return self.reject_unhandled(d, reason)
        message_type, handler = entry
        payload = d.payload
        error = None
        retry = 0
        while True:
            outgoing = []
            started = time.monotonic()
            timeout = self.e.options["handler_timeout"]
            ctx = Context(env, self.e.name, self.e._routes, outgoing, d.attempt, retry,
                          started + timeout if timeout > 0 else math.inf)
            try:
                message = message_type.decode(payload)
            except DecodeError as ex:
                return self.reject_unhandled(d, f"undecodable: {ex}")
            try:
                self.call(handler, message, ctx, env, timeout)
                if ctx.past_deadline():
                    raise HandlerTimeout(f"the handler of {env.type} took {int((time.monotonic() - started) * 1000)} "
                                         f"ms, over the endpoint's handler_timeout of {int(timeout * 1000)} ms")
                self.send_outgoing(env, outgoing)
                if _settled(self.consumer.ack, d):
                    self.e._count("handled")
                return
            except Exception as ex:  # noqa: BLE001 - any failure is a failed attempt
                error = ex
            if not self.e._retryable(error) or retry >= self.e.options["immediate_retries"]:
                break
            self.e._count("retried")
            retry += 1
        self.failed(d, env, message_type, payload, error)

    def call(self, handler, message, ctx, env, timeout):
        if not inspect.iscoroutinefunction(handler):
            handler(message, ctx)
            return
        # An async handler can be stopped at its timeout (a thread cannot).
        if self.loop is None:
            self.loop = asyncio.new_event_loop()
        coro = handler(message, ctx)
        try:
            self.loop.run_until_complete(asyncio.wait_for(coro, timeout) if timeout > 0 else coro)
        except asyncio.TimeoutError:
            raise HandlerTimeout(f"the handler of {env.type} was cancelled at the endpoint's handler_timeout of "
                                 f"{int(timeout * 1000)} ms") from None

    def reject_unhandled(self, d, reason):
        if _settled(self.consumer.reject, d, reason):
            self.e._count("rejected")

    def send_outgoing(self, handled, outgoing):
        # Commands are checked to have an endpoint before anything goes, so that a missing one
        # fails the attempt without having sent half of the batch.
        for out in outgoing:
            if out.endpoint:
                self.sender.require_endpoint(out.endpoint)
        expires = handled.expires()
        for out in outgoing:
            if out.reply and expires is not None and expires < time.time():
                self.e._count("replies_dropped")  # the requester gave up: nobody waits
                continue
            self.sender.publish(out)

    def failed(self, d, env, message_type, payload, error):
        kind, text = describe(error)
        line = f"{kind}: {text}"
        retry = self.e._retryable(error)
        if retry and d.attempt < self.e.options["max_deliveries"]:
            if _settled(lambda: self.consumer.nack(d, error=line)):
                self.e._count("nacked")
            return
        attempts = d.attempt
        payload = bytes(payload)
        # At the last attempt a nack dead-letters (delivery_limit); a never-retried one is rejected.
        settled = _settled(lambda: self.consumer.nack(d, error=line)) if retry else _settled(self.consumer.reject, d,
                                                                                              line)
        if not settled:
            return
        self.e._count("faulted")
        self.publish_fault(env, message_type, payload, kind, text, attempts)

    def publish_fault(self, env, message_type: MessageType, payload, kind, text, attempts):
        info = {"message-id": env.message_id, "message-type": env.type, "exception-type": kind,
                "exception-message": text, "endpoint": self.e.name, "attempts": attempts,
                "time": format_time(time.time())}
        body = fault_payload(payload, info)
        fault = FaultType(message_type)
        self.sender.publish(Outgoing(event_topic(fault), Envelope.caused_by(env, fault, self.e.name), body))
        if env.reply_to and env.kind == "command":
            answer = FaultType(message_type, kind="reply")
            self.sender.publish(Outgoing(env.reply_to, Envelope.caused_by(env, answer, self.e.name), body, reply=True))
