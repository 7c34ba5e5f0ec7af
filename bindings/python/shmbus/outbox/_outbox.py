"""The transactional outbox from Python (docs/outbox.md): the messages a service decides to send
are written into its own database transaction, beside its state change, and a relay thread
delivers them to the bus once (and only if) that transaction committed. Rows, envelopes, topics
and the relay lock are the C++ outbox's, so a C++ and a Python service may share one database."""
import threading

from .._errors import InvalidArgumentError
from ..service._envelope import Envelope
from ..service._kinds import check_publish, check_send, command_topic, event_topic
from ..service._message import type_of
from ..service._sender import Sender
from ._headers import encode_headers
from ._relay import Relay


class Outbox:
    """``Outbox(bus, store, source="ordering")``: starts the relay (unless relay=False).

    Options, as the C++ OutboxOptions (same defaults; times in seconds): source (the `source`
    header of messages that start a flow), journal (create_topic keywords of the topics the relay
    creates; they are journals), relay, sweep (the relay looks at least this often), batch (rows
    per read), mark_every (published rows marked sent at most this often), linger (after a
    wake-up, wait this long before reading), keep_sent (sent rows deleted after this),
    keep_processed (inbox marks of every endpoint deleted after this; 0: left to the Inbox),
    cleanup_every."""

    def __init__(self, bus, store, *, source: str = "outbox", journal=None, relay: bool = True, sweep: float = 1.0,
                 batch: int = 256, mark_every: float = 0.1, linger: float = 0.0, keep_sent: float = 24 * 3600.0,
                 keep_processed: float = 0.0, cleanup_every: float = 60.0):
        if batch < 1:
            raise InvalidArgumentError(f"outbox: batch {batch} would relay nothing: give 1 or more")
        if sweep <= 0 or mark_every < 0 or linger < 0 or cleanup_every <= 0:
            raise InvalidArgumentError("outbox: sweep and cleanup_every must be positive, mark_every and linger not "
                                       "negative")
        self.bus = bus
        self.store = store
        self.source = source
        self._sender = Sender(bus, journal)
        self._sender_lock = threading.Lock()  # the endpoint check's cache, from any thread
        self._relay = Relay(bus, store, dict(journal=journal, sweep=sweep, batch=batch, mark_every=mark_every,
                                             linger=linger, keep_sent=keep_sent, keep_processed=keep_processed,
                                             cleanup_every=cleanup_every))
        if relay:
            self._relay.start()

    # --- writing ---------------------------------------------------------------------------------------

    def publish(self, tx, event, ctx=None) -> str:
        """An event, in `tx`: to events.<Name> once tx commits. Returns its message-id. `ctx`: the
        Context of the handler this is sent from (its flow and trace continued)."""
        t = type_of(event)
        check_publish(t)
        return self._append(tx, event_topic(t), t, t.encode(event), ctx)

    def send(self, tx, command, endpoint: str, ctx=None) -> str:
        """A command, in `tx`: to commands.<endpoint> once tx commits. NoEndpoint (before anything
        is written) if no queue is bound to it."""
        t = type_of(command)
        check_send(t)
        with self._sender_lock:
            self._sender.require_endpoint(endpoint)
        return self._append(tx, command_topic(endpoint), t, t.encode(command), ctx)

    def append(self, tx, topic: str, envelope: Envelope, payload: bytes) -> None:
        """Any envelope, to any topic (the verbs above end here)."""
        tx.append_outbox(envelope.message_id, topic, encode_headers(envelope.headers()), bytes(payload))

    def _append(self, tx, topic, t, payload, ctx):
        if ctx is not None:
            envelope = Envelope.caused_by(ctx.envelope, t, ctx.endpoint)
        else:
            envelope = Envelope.start(t, self.source)
        self.append(tx, topic, envelope, payload)
        return envelope.message_id

    # --- the relay -------------------------------------------------------------------------------------

    def start(self) -> None:
        self._relay.start()

    def stop(self) -> None:
        """Finishes the batch it publishes, marks it sent, and ends (idempotent)."""
        self._relay.stop()

    def flush(self, timeout: float = 10.0) -> bool:
        """Waits until every message committed before this call is published and marked sent
        (True), or `timeout` passed (False, e.g. another process holds the relay lock)."""
        return self._relay.flush(timeout)

    def stats(self):
        return self._relay.stats()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()
        return False
