"""The sending side of a service (MassTransit's IBus): publish events, send and schedule commands,
make requests (blocking, or ``await``). Each message starts a flow (new correlation and
conversation ids, a new trace); inside a handler use its Context instead, which continues it.
Requests wait in a table; one thread per client (started by the first request) reads its reply
topic and completes them by correlation-id, or times them out (service/client.cc)."""
import asyncio
import concurrent.futures
import datetime
import secrets
import sys
import threading
import time

from .._errors import Error
from ._envelope import Envelope, format_time
from ._errors import ClientClosed
from ._kinds import (REPLY_TOPIC_PREFIX, check_publish, check_request, check_send, command_topic, event_topic,
                     routed_endpoint)
from ._message import type_of
from ._pending import Pending, complete, time_out
from ._sender import Outgoing, Sender

_REPLY_WAIT = 0.01  # seconds; also how late a timeout may fire


def _topic_word(text):
    out = "".join(c if c.isascii() and (c.isalnum() or c in "_-") else "-" for c in text[:64])
    return out or "client"


def when(at=None, delay=None, now=None):
    """Unix seconds of `at` (a datetime, or Unix seconds) or of now + `delay` (seconds or a
    timedelta; `now`: Unix seconds, None: the real now)."""
    if (at is None) == (delay is None):
        raise TypeError("schedule takes one of at= (a datetime or Unix seconds) and delay= (seconds or a timedelta)")
    if delay is not None:
        seconds = delay.total_seconds() if isinstance(delay, datetime.timedelta) else float(delay)
        return (time.time() if now is None else now) + seconds
    if isinstance(at, datetime.datetime):
        if at.tzinfo is None:
            raise TypeError("schedule(at=...) needs an aware datetime (datetime.now(timezone.utc)), not a naive one")
        return at.timestamp()
    return float(at)


class Client:
    """``Client(bus, source="web")``. Every method may be called from any thread. ``close()`` (or
    ``with``) fails what still waits (ClientClosed) and removes the reply topic."""

    def __init__(self, bus, source: str = "client", *, journal=None, reply_capacity: int = 1 << 20):
        # On a shmbus.service.testing.TestBus: the same verbs in-process on its virtual clock, with
        # this client's own source, routes and reply topic (journal, reply_capacity unused).
        make_verbs = getattr(bus, "_client_verbs", None)
        self._memory = make_verbs(source) if make_verbs is not None else None
        self.bus = bus
        self.source = source
        self._reply_capacity = reply_capacity
        self._send_lock = threading.Lock()  # guards the sender and the routes
        self._sender = Sender(bus, journal)
        self._routes = {}
        self._pending = {}
        self._pending_lock = threading.Lock()
        self._replies_lock = threading.Lock()
        self._reply_topic = ""
        self._subscription = None
        self._thread = None
        self._stopping = threading.Event()
        self._closed = False

    # --- publish, send, schedule ---------------------------------------------------------------

    def _open(self, message):
        """`message`, once this client is known not to be closed (on a TestBus; on a bus the sender checks)."""
        if self._closed:
            raise ClientClosed("the Client is closed")
        return message

    def _publish(self, out: Outgoing) -> str:
        with self._send_lock:
            if self._closed:
                raise ClientClosed("the Client is closed")
            if out.endpoint:
                self._sender.require_endpoint(out.endpoint)
            self._sender.publish(out)
        return out.envelope.message_id

    def publish(self, event) -> str:
        """An event, to every endpoint that handles it; returns its message-id."""
        if self._memory is not None:
            return self._memory.publish(self._open(event))
        t = type_of(event)
        check_publish(t)
        return self._publish(Outgoing(event_topic(t), Envelope.start(t, self.source), t.encode(event)))

    def _command(self, command, endpoint, not_before=None):
        t = type_of(command)
        check_send(t)
        with self._send_lock:
            to = routed_endpoint(t, endpoint, self._routes)
        env = Envelope.start(t, self.source)
        if not_before is not None:
            env.not_before = format_time(not_before)
        return t, to, env

    def send(self, command, endpoint: str = "") -> str:
        """A command to `endpoint`'s queue (or the one route() names); returns its message-id.
        NoEndpoint if no queue is bound to its command topic."""
        if self._memory is not None:
            return self._memory.send(self._open(command), endpoint)
        t, to, env = self._command(command, endpoint)
        return self._publish(Outgoing(command_topic(to), env, t.encode(command), endpoint=to))

    def schedule(self, command, endpoint: str = "", *, at=None, delay=None) -> str:
        """send(), delivered not before `at` or after `delay` (the queue's not-before: durable,
        uncharged). Returns the message-id, which cancel_scheduled() takes."""
        if self._memory is not None:
            return self._memory.schedule(self._open(command), endpoint, at, delay)
        t, to, env = self._command(command, endpoint, not_before=when(at, delay))
        return self._publish(Outgoing(command_topic(to), env, t.encode(command), endpoint=to))

    def cancel_scheduled(self, endpoint: str, message_id: str) -> int:
        """Cancels a scheduled command by its id; returns how many records were cancelled (0 if the
        queue has not taken it in yet: its dispatcher reads the topic on its own; QueueStats.delayed
        counts what it holds back)."""
        if self._memory is not None:
            return self._memory.cancel_scheduled(endpoint, message_id)
        with self.bus.queue(endpoint) as q:
            return q.cancel(message_id)

    def route(self, command_type, endpoint: str) -> "Client":
        if self._memory is not None:
            self._memory.route(command_type, endpoint)
            return self
        t = type_of(command_type)
        check_send(t)
        with self._send_lock:
            self._routes[t.name] = endpoint
        return self

    # --- request / response ---------------------------------------------------------------------

    def request_future(self, command, endpoint: str = "", *, reply, timeout: float = 5.0) -> concurrent.futures.Future:
        """A command whose handler answers with ctx.reply(<a `reply` message>): a Future of the reply,
        or of RequestTimeout, NoEndpoint (checked before sending), RemoteFault, BadReply,
        ClientClosed. The deadline travels as expires-at: the queue dead-letters (or drops) the
        request once it passed, and a responder does not answer it. On a TestBus: done when the
        reply came (within the call, or an advance()), or at its timeout on the virtual clock."""
        if self._memory is not None:
            return self._memory.request_future(self._open(command), endpoint, reply, timeout)
        t = type_of(command)
        reply_type = type_of(reply)
        check_request(t, reply_type)
        with self._send_lock:
            to = routed_endpoint(t, endpoint, self._routes)
        env = Envelope.start(t, self.source)
        env.reply_to = self._ensure_reply_topic()
        env.expires_at = format_time(time.time() + timeout)
        future = concurrent.futures.Future()
        future.set_running_or_notify_cancel()
        # In the table before it is sent: the reply can come before publish returns.
        with self._pending_lock:
            self._pending[env.message_id] = Pending(time.monotonic() + timeout, t, reply_type, to, timeout,
                                                     future)
        try:
            self._publish(Outgoing(command_topic(to), env, t.encode(command), endpoint=to))
        except BaseException as e:
            if self._take(env.message_id) is not None:
                future.set_exception(e)
        return future

    def request(self, command, endpoint: str = "", *, reply, timeout: float = 5.0):
        """request_future(...).result(): blocks until the reply (or its error). On a TestBus it never
        blocks: the reply when it came within the call, else an Error (use request_future)."""
        if self._memory is not None:
            return self._memory.request(self._open(command), endpoint, reply, timeout)
        return self.request_future(command, endpoint, reply=reply, timeout=timeout).result()

    async def request_async(self, command, endpoint: str = "", *, reply, timeout: float = 5.0):
        """``await client.request_async(...)``: the reply, without blocking the event loop (on a
        TestBus, as request())."""
        if self._memory is not None:
            return self._memory.request(self._open(command), endpoint, reply, timeout)
        return await asyncio.wrap_future(self.request_future(command, endpoint, reply=reply, timeout=timeout))

    @property
    def reply_topic(self) -> str:
        """The topic this client's replies come to ("" before its first request; on a TestBus, its own)."""
        return self._memory.side.reply_topic if self._memory is not None else self._reply_topic

    @property
    def pending_requests(self) -> int:
        if self._memory is not None:
            return len(self._memory.side.pending)
        with self._pending_lock:
            return len(self._pending)

    def _take(self, correlation_id):
        with self._pending_lock:
            return self._pending.pop(correlation_id, None)

    def _ensure_reply_topic(self):
        with self._replies_lock:
            if self._closed:
                raise ClientClosed("the Client is closed")
            if not self._reply_topic:
                topic = f"{REPLY_TOPIC_PREFIX}{_topic_word(self.source)}-{secrets.randbits(48)}"
                self.bus.create_topic(topic, capacity=self._reply_capacity)
                # Subscribed before any request goes out, so no reply can come before we read.
                self._subscription = self.bus.subscribe(topic)
                self._reply_topic = topic
                self._thread = threading.Thread(target=self._read_replies, name=f"shmbus-client-{self.source}",
                                                daemon=True)
                self._thread.start()
            return self._reply_topic

    def _read_replies(self):
        while not self._stopping.is_set():
            try:
                for m in self._subscription.receive_many(256, timeout=_REPLY_WAIT):
                    self._on_reply(m)
            except Error as e:
                if self._stopping.is_set():
                    return
                print(f"shmbus client: reading replies failed: {e}", file=sys.stderr)
                time.sleep(_REPLY_WAIT)
            now = time.monotonic()
            with self._pending_lock:
                expired = [k for k, r in self._pending.items() if r.deadline <= now]
                expired = [self._pending.pop(k) for k in expired]
            for r in expired:
                time_out(r)

    def _on_reply(self, m):
        try:
            env = Envelope.read(m.headers)
            r = self._take(env.correlation_id)
            if r is None:
                return  # timed out already, or not ours
            complete(r, env, bytes(m.data))
        except Exception as e:  # noqa: BLE001 - one bad reply must not end the reader
            print(f"shmbus client: a reply could not be handled: {e}", file=sys.stderr)

    # --- closing ---------------------------------------------------------------------------------

    def close(self) -> None:
        """Fails requests still waiting (ClientClosed) and removes the reply topic. Idempotent."""
        with self._replies_lock:
            if self._closed:
                return
            self._closed = True
        if self._memory is not None:
            return self._memory.bus.close(self._memory.side)
        self._stopping.set()
        if self._thread is not None:
            self._thread.join()
        with self._pending_lock:
            left, self._pending = list(self._pending.values()), {}
        for r in left:
            r.future.set_exception(ClientClosed(f"the Client making request {r.request_type} went away"))
        with self._send_lock:
            self._sender.close()
        if self._reply_topic:
            self._subscription.close()
            try:
                self.bus.remove_topic(self._reply_topic, force=True)  # responders may still hold publishers on it
            except Error as e:
                print(f"shmbus client: reply topic {self._reply_topic} not removed: {e}", file=sys.stderr)

    def __enter__(self):
        return self

    def __exit__(self, *args):
        self.close()
