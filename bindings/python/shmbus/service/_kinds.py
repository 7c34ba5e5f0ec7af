"""The kind rules and their refusals, worded as the C++ layer words them (service/kinds.cc), and
the topic names every endpoint and client agree on (shmbus/service/topology.h)."""
from .._errors import InvalidArgumentError

REPLY_TOPIC_PREFIX = "replies."


def event_topic(message_type) -> str:
    """events.<Name> (all versions); Fault<Name> goes to events.Fault.<Name>."""
    name = message_type.name
    if name.startswith("Fault<") and name.endswith(">"):
        return "events.Fault." + name[6:-1]
    return "events." + name


def command_topic(endpoint: str) -> str:
    return "commands." + endpoint


def _named(t):
    return f"{t.type_header} (a {t.kind})"


def check_publish(t):
    if t.kind == "command":
        raise InvalidArgumentError(f"cannot publish {_named(t)}: a command goes to one endpoint: send(message, "
                                   "endpoint) it, or register it as an event if every subscriber should get it")
    if t.kind == "reply":
        raise InvalidArgumentError(f"cannot publish {_named(t)}: a reply answers a request: call reply(message) in "
                                   "the handler of the request")


def check_send(t):
    if t.kind == "event":
        raise InvalidArgumentError(f"cannot send {_named(t)}: an event goes to every endpoint that handles it: "
                                   "publish(message) it, or register it as a command if exactly one endpoint "
                                   "should get it")
    if t.kind == "reply":
        raise InvalidArgumentError(f"cannot send {_named(t)}: a reply answers a request: call reply(message) in "
                                   "the handler of the request")


def check_reply(t, handled):
    if t.kind != "reply":
        instead = "publish(message) it" if t.kind == "event" else "send(message, endpoint) it"
        raise InvalidArgumentError(f"cannot reply with {_named(t)}: register the answer's type with kind reply, "
                                   f"or {instead}")
    if not handled.reply_to or handled.kind != "command":
        raise InvalidArgumentError(f"cannot reply to {handled.type} (a {handled.kind or 'message'} without "
                                   "reply-to): only a command sent by request() has someone waiting; publish an "
                                   "event or send a command instead")


def check_request(request, answer):
    check_send(request)
    if answer.kind != "reply":
        raise InvalidArgumentError(f"cannot request {request.type_header} answered by {_named(answer)}: register "
                                   "the answer's type with kind reply")


def check_handle(t):
    if t.kind == "reply":
        raise InvalidArgumentError(f"an endpoint cannot handle {_named(t)}: replies go back to the Client that made "
                                   "the request (its future); handle the request's command instead")


def routed_endpoint(t, endpoint, routes) -> str:
    """The endpoint a command goes to: the one given, or its route, or an error saying how to give one."""
    if endpoint:
        return endpoint
    if t.name in routes:
        return routes[t.name]
    raise InvalidArgumentError(f'no endpoint for command {t.type_header}: pass one (send(message, "endpoint")) or '
                               f'route the type once (route({t.name}, "endpoint"))')
