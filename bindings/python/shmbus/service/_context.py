"""What a handler gets beside its message: the envelope it came with, and the verbs to publish,
send and reply. What it sends continues the handled message's flow (correlation and conversation
kept, causation = the handled id, the trace continued) and waits until the handler returns: a
handler that raises sends nothing, so a retried attempt does not repeat what a failed one sent."""
from ._clock import REAL_CLOCK
from ._envelope import Envelope
from ._kinds import check_publish, check_reply, check_send, command_topic, event_topic, routed_endpoint
from ._message import type_of
from ._sender import Outgoing


class Context:
    def __init__(self, handled: Envelope, endpoint: str, routes: dict, outgoing: list, attempt: int,
                 immediate_retry: int, deadline_ns, clock=REAL_CLOCK):
        self.envelope = handled          # the message being handled
        self.endpoint = endpoint         # the endpoint handling it
        self.attempt = attempt           # its queue delivery (1 = first)
        self.immediate_retry = immediate_retry  # within it, the immediate retry (0 = first try)
        self.deadline = deadline_ns / 1e9  # clock.now() when this attempt times out (inf: never)
        self.clock = clock               # the endpoint's: real on a bus, a TestBus's virtual one
        self._deadline_ns = deadline_ns
        self._routes = routes
        self._outgoing = outgoing

    def past_deadline(self) -> bool:
        """True once the endpoint's handler_timeout passed: a long handler gives up."""
        return self.clock.now_ns() > self._deadline_ns

    def _caused(self, message_type) -> Envelope:
        return Envelope.caused_by(self.envelope, message_type, self.endpoint, self.clock.wall())

    def publish(self, event) -> None:
        """An event, to every endpoint that handles it. Refuses anything but an event."""
        t = type_of(event)
        check_publish(t)
        self._outgoing.append(Outgoing(event_topic(t), self._caused(t), t.encode(event)))

    def send(self, command, endpoint: str = "") -> None:
        """A command, to one endpoint (or to the one routed for its type: Endpoint.route)."""
        t = type_of(command)
        check_send(t)
        to = routed_endpoint(t, endpoint, self._routes)
        self._outgoing.append(Outgoing(command_topic(to), self._caused(t), t.encode(command), endpoint=to))

    def reply(self, answer) -> None:
        """The answer to the request being handled. Refuses a type that is not a reply, and a
        handled message that was not a request. Not sent if the requester's deadline passed."""
        t = type_of(answer)
        check_reply(t, self.envelope)
        self._outgoing.append(Outgoing(self.envelope.reply_to, self._caused(t), t.encode(answer), reply=True))
