"""Outgoing messages: where they go and how they are published (a publisher per topic, event and
command topics created as journals when new), and the "is anybody there" check before a command
is sent (service/sender.cc)."""
import dataclasses

from .. import _shmbus
from .._errors import Error
from ._errors import NoEndpoint
from ._kinds import command_topic

# Reply topics of clients come and go: past this many publishers the cache starts afresh.
_MAX_CACHED_PUBLISHERS = 256


@dataclasses.dataclass
class Outgoing:
    topic: str
    envelope: object
    payload: bytes
    reply: bool = False   # to a Client's reply topic: never created here
    endpoint: str = ""    # a command's endpoint: checked to exist before it is sent


def journal_options(journal):
    """create_topic keywords for the topics this layer creates: a journal (queues read journals)."""
    options = dict(journal or {})
    options["kind"] = "journal"
    return options


class Sender:
    """One thread at a time."""

    def __init__(self, bus, journal=None):
        self.bus = bus
        self._journal = journal_options(journal)
        self._publishers = {}
        self._known_endpoints = set()  # found bound once: not looked up again

    def _publisher(self, topic, create):
        pub = self._publishers.get(topic)
        if pub is not None:
            return pub
        if len(self._publishers) >= _MAX_CACHED_PUBLISHERS:
            for p in self._publishers.values():
                p.close()
            self._publishers.clear()
        if create:
            self.bus.create_topic(topic, **self._journal)  # False: it exists, fine
        pub = self._publishers[topic] = self.bus.publisher(topic)
        return pub

    def publish(self, out: Outgoing) -> bool:
        """Publishes `out`; False if it is a reply whose topic is gone (its Client went away)."""
        if out.reply and out.topic not in self._publishers and not self.bus.topic_exists(out.topic):
            return False
        pub = self._publisher(out.topic, not out.reply)
        try:
            pub.publish(out.payload, out.envelope.headers())
        except Error as e:
            raise type(e)(f"publishing {out.envelope.type} to {out.topic} failed: {e}") from None
        return True

    def require_endpoint(self, endpoint: str) -> None:
        """NoEndpoint unless a queue is bound to commands.<endpoint>."""
        if endpoint in self._known_endpoints:
            return
        topic = command_topic(endpoint)
        names = self.bus.queues()
        names.sort(key=lambda n: n != endpoint)  # the endpoint's own queue first: one look usually
        for name in names:
            try:
                with self.bus.queue(name) as q:
                    bindings = q.stats().bindings
            except Error:
                continue  # removed or half-made meanwhile: not a binding
            if any(_shmbus.pattern_matches(b, topic) for b in bindings):
                self._known_endpoints.add(endpoint)
                return
        raise NoEndpoint(f'no endpoint "{endpoint}": no queue is bound to {topic}, so nothing would read the '
                                "command; start the endpoint (Endpoint.start) or fix the endpoint's name or route")

    def close(self):
        for p in self._publishers.values():
            p.close()
        self._publishers.clear()
