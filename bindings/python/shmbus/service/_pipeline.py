"""The handler pipeline of one handler thread (or of a TestBus's endpoint): the same code on the
bus and on a TestBus (service/pipeline.cc). Its driver (_bus_host.py, _memory_bus.py) receives a
delivery and:
  0. admits it: the circuit breaker (admit(): PASS_NO gives it back uncharged) and the rate
     limit (rate_wait(): a time to wait until, holding it);
  1. find the handler by the `type` header       (none: reject, reason "unknown type/version")
  2. decode and call it, with immediate retries   (DecodeError: reject, reason "undecodable")
  3. it returned: send what it sent, then ack      (its messages go only after it succeeded)
  4. it raised: retry later (nack) while attempts and the filters allow; else dead-letter the
     record (nack at the last attempt: delivery_limit; a never-retried exception: reject), and
     once that settled, publish Fault<T> (and answer a requester with it);
  5. tell the breaker how it went.
Settle first, Fault second: a settlement refused because the lease was lost publishes nothing,
so one dead-lettered record gives one Fault.

What the pipeline needs of the world it runs in:
  - a Settlement of the delivery: ack(), nack(error), reject(error), each False if the lease
    was lost (another consumer has the record now);
  - an outbox: publish(Outgoing), require_endpoint(name) (NoEndpoint unless one is bound);
  - the endpoint's clock (now_ns(), wall()) and host (wake(): the breaker changed state)."""
import asyncio
import inspect
import math

from ._breaker import FAILURE, NOT_JUDGED, PASS_NO, SUCCESS
from ._context import Context
from ._envelope import Envelope, format_time
from ._errors import HandlerTimeout
from ._fault import FaultType, fault_payload
from ._kinds import event_topic
from ._message import DecodeError, MessageType
from ._sender import Outgoing


def describe(error: BaseException):
    """(type, text) of an exception: "ValueError" for builtins, else "module.Qualname"."""
    t = type(error)
    name = t.__qualname__ if t.__module__ == "builtins" else f"{t.__module__}.{t.__qualname__}"
    return name, str(error)


class Pipeline:
    """One thread at a time (each handler thread has its own)."""

    def __init__(self, endpoint, outbox):
        self.e = endpoint
        self.outbox = outbox
        self.clock = endpoint.clock
        self.loop = None  # an event loop of its own, made for the first async handler
        # A breaker or a rate limit: without, admission is skipped (no clock read on the way).
        self.gated = endpoint.breaker.enabled or endpoint.rate.enabled

    def close(self):
        if self.loop is not None:
            self.loop.close()
            self.loop = None

    # --- step 0: admission ----------------------------------------------------------------------

    def ready_at(self, now: int):
        """When the next delivery may be taken (clock.now_ns(): the breaker's and the rate
        limit's; <= now: at once; inf: a trial runs)."""
        return max(self.e.breaker.ready_at(now), self.e.rate.ready_at(now))

    def admit(self, now: int) -> str:
        """The breaker's word on a received delivery (PASS_NO: give it back, gave_back())."""
        return self.e.breaker.admit(now)

    def rate_wait(self, now: int, first_try: bool):
        """The rate limit's turn for a delivery: None, or when to try again (a wait counted on first_try)."""
        later = self.e.rate.take(now)
        if later is not None and first_try:
            self.e._count("rate_limited")
        return later

    def note_wait(self, now: int) -> None:
        """The driver waits before receiving, as ready_at said: counted if the rate limit is why."""
        if self.e.rate.ready_at(now) > now:
            self.e._count("rate_limited")

    def gave_back(self, passed: str) -> None:
        """A delivery given back without being handled (stopping, or the breaker opened)."""
        if passed == PASS_NO:
            self.e._count("released")
        self._judge(passed, NOT_JUDGED)

    def _judge(self, passed, verdict):
        b = self.e.breaker
        if b.enabled and b.record(passed, verdict, self.clock.now_ns()):
            self.e.host.wake()

    # --- steps 1-5 --------------------------------------------------------------------------------

    def handle(self, headers, payload, attempt: int, settlement, passed: str) -> None:
        """Raises only if publishing a Fault fails (the driver gives the delivery back)."""
        verdict = NOT_JUDGED  # whatever happens, the breaker hears of it (a trial must not stay half-open)
        try:
            verdict = self._run(headers, payload, attempt, settlement)
        finally:
            self._judge(passed, verdict)

    def _run(self, headers, payload, attempt, s):
        env = Envelope.read(headers)
        entry, reason = self.e._find(env.type)
        if entry is None:
            return self._reject_unhandled(s, reason)
        message_type, handler = entry
        timeout = self.e.options["handler_timeout"]
        timeout_ns = int(round(timeout * 1e9))
        retry = 0
        while True:
            outgoing = []
            started = self.clock.now_ns()
            ctx = Context(env, self.e.name, self.e._routes, outgoing, attempt, retry,
                          started + timeout_ns if timeout > 0 else math.inf, self.clock)
            try:
                message = message_type.decode(payload)
            except DecodeError as ex:
                return self._reject_unhandled(s, f"undecodable: {ex}")
            try:
                self._call(handler, message, ctx, env, timeout)
                if ctx.past_deadline():
                    took_ms = (self.clock.now_ns() - started) // 1_000_000
                    raise HandlerTimeout(f"the handler of {env.type} took {took_ms} ms, over the endpoint's "
                                         f"handler_timeout of {int(timeout * 1000)} ms")
                self._send_outgoing(env, outgoing)
                if s.ack():
                    self.e._count("handled")
                return SUCCESS
            except Exception as ex:  # noqa: BLE001 - any failure is a failed attempt
                error = ex
            if not self.e._retryable(error) or retry >= self.e.options["immediate_retries"]:
                break
            self.e._count("retried")
            retry += 1
        return self._failed(s, env, attempt, message_type, payload, error)

    def _call(self, handler, message, ctx, env, timeout):
        if not inspect.iscoroutinefunction(handler):
            handler(message, ctx)
            return
        # An async handler can be stopped at its timeout (a thread cannot); on a virtual clock
        # the timeout is judged when it returns, as a thread's.
        if self.loop is None:
            self.loop = asyncio.new_event_loop()
        coro = handler(message, ctx)
        if timeout <= 0 or not self.clock.real:
            self.loop.run_until_complete(coro)
            return
        try:
            self.loop.run_until_complete(asyncio.wait_for(coro, timeout))
        except asyncio.TimeoutError:
            raise HandlerTimeout(f"the handler of {env.type} was cancelled at the endpoint's handler_timeout of "
                                 f"{int(timeout * 1000)} ms") from None

    def _reject_unhandled(self, s, reason):
        if s.reject(reason):
            self.e._count("rejected")
        return NOT_JUDGED  # the message's fault, not the endpoint's

    def _send_outgoing(self, handled, outgoing):
        # Commands are checked to have an endpoint before anything goes, so that a missing one
        # fails the attempt without having sent half of the batch.
        for out in outgoing:
            if out.endpoint:
                self.outbox.require_endpoint(out.endpoint)
        expires = handled.expires()
        for out in outgoing:
            if out.reply and expires is not None and expires < self.clock.wall():
                self.e._count("replies_dropped")  # the requester gave up: nobody waits
                continue
            self.outbox.publish(out)

    def _failed(self, s, env, attempt, message_type, payload, error):
        kind, text = describe(error)
        line = f"{kind}: {text}"
        retry = self.e._retryable(error)
        verdict = FAILURE if retry else NOT_JUDGED
        if retry and attempt < self.e.options["max_deliveries"]:
            if s.nack(line):
                self.e._count("nacked")
            return verdict
        payload = bytes(payload)  # the record may go with its settlement
        # At the last attempt a nack dead-letters (delivery_limit); a never-retried one is rejected.
        if not (s.nack(line) if retry else s.reject(line)):
            return verdict
        self.e._count("faulted")
        self._publish_fault(env, message_type, payload, kind, text, attempt)
        return verdict

    def _publish_fault(self, env, message_type: MessageType, payload, kind, text, attempts):
        now = self.clock.wall()
        info = {"message-id": env.message_id, "message-type": env.type, "exception-type": kind,
                "exception-message": text, "endpoint": self.e.name, "attempts": attempts, "time": format_time(now)}
        body = fault_payload(payload, info)
        fault = FaultType(message_type)
        self.outbox.publish(Outgoing(event_topic(fault), Envelope.caused_by(env, fault, self.e.name, now), body))
        if env.reply_to and env.kind == "command":
            answer = FaultType(message_type, kind="reply")
            self.outbox.publish(Outgoing(env.reply_to, Envelope.caused_by(env, answer, self.e.name, now), body,
                                         reply=True))
