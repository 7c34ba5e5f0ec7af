"""The inbox (docs/outbox.md): a handler wrapped by an Inbox runs in a database transaction that
also inserts (endpoint, message-id) into shmbus_inbox; the two commit together. A message whose id
is there already (a redelivery after a crash, a replayed dead letter, a journal replay, a
duplicate from the bridge or an outbox relay's resend) is acknowledged without the handler."""
import dataclasses
import inspect
import threading
import time

from .._errors import InvalidArgumentError


@dataclasses.dataclass
class InboxStats:
    processed: int = 0  # handler ran and committed
    skipped: int = 0    # duplicates acknowledged without the handler
    failed: int = 0     # handler (or the database) raised: rolled back
    removed: int = 0    # old marks deleted


class Inbox:
    """``Inbox(store, keep=7 * 86400)``; ``endpoint.handle(T, inbox.handler(f))`` for
    ``f(message, ctx, tx)``. `keep`: seconds a processed message's id is kept, longer than the
    longest way a duplicate can come (docs/outbox.md, "Retention"). Handler threads each use a
    connection of their own."""

    def __init__(self, store, *, keep: float = 7 * 86400.0, cleanup_every: float = 60.0):
        self.store = store
        self.keep = keep
        self.cleanup_every = cleanup_every
        self._lock = threading.Lock()
        self._stats = InboxStats()
        self._next_cleanup = time.monotonic() + cleanup_every

    def handler(self, f):
        """The wrapper Endpoint.handle takes: ``(message, ctx)`` running ``f(message, ctx, tx)``
        once per message-id. Send what f sends through an Outbox on `tx`, not through ctx: what ctx
        sends goes out after the commit, and a crash in between would lose it (the redelivery is
        skipped)."""
        if inspect.iscoroutinefunction(f):
            raise InvalidArgumentError("inbox.handler: an async def cannot run inside the sqlite3 transaction (it "
                                       "blocks): write the inbox handler as a plain function")

        def handle(message, ctx):
            message_id = ctx.envelope.message_id
            if not message_id:
                raise ValueError("inbox: the message has no message-id header, so a duplicate of it could not be told "
                                 "apart; send it with an envelope (Client, Context, Outbox)")
            try:
                with self.store.transaction() as tx:
                    if not tx.mark_processed(ctx.endpoint, message_id):
                        tx.rollback()
                        self._count("skipped")
                        return
                    f(message, ctx, tx)
            except BaseException:
                self._count("failed")
                raise
            self._count("processed")
            self._cleanup_if_due()
        handle.__name__ = getattr(f, "__name__", "handle")
        return handle

    def stats(self) -> InboxStats:
        with self._lock:
            return dataclasses.replace(self._stats)

    def _count(self, field):
        with self._lock:
            setattr(self._stats, field, getattr(self._stats, field) + 1)

    def _cleanup_if_due(self):
        now = time.monotonic()
        with self._lock:
            if now < self._next_cleanup:
                return
            self._next_cleanup = now + self.cleanup_every
        conn = self.store.relay_connection()
        try:
            removed = conn.remove_processed(time.time_ns() // 1_000_000 - int(self.keep * 1000))
        except Exception:  # noqa: BLE001 - the next one tries again; the message is committed and fine
            removed = 0
        finally:
            conn.close()
        with self._lock:
            self._stats.removed += removed
