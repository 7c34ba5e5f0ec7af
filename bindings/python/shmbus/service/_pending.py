"""Requests waiting for their reply, and what a reply (or its absence) makes of them: the reply,
or the error it means (a Fault: RemoteFault; another type: BadReply; none in time:
RequestTimeout). Shared by the Client and the TestBus (service/pending_requests.cc)."""
from ._errors import BadReply, RemoteFault, RequestTimeout
from ._fault import FaultType
from ._message import DecodeError


class Pending:
    __slots__ = ("deadline", "request", "request_type", "reply_type", "endpoint", "timeout", "future")

    def __init__(self, deadline, request, reply_type, endpoint, timeout, future):
        self.deadline, self.request, self.request_type = deadline, request, request.type_header
        self.reply_type = reply_type
        self.endpoint, self.timeout, self.future = endpoint, timeout, future


def complete(r: Pending, env, payload: bytes) -> None:
    """Completes r's future with the reply that came (its envelope `env`, its JSON `payload`)."""
    if env.type.startswith("Fault<"):
        try:
            fault = FaultType(r.request).decode(payload)
            text = (f"{r.request_type} failed at endpoint {fault.endpoint} after {fault.attempts} attempt(s): "
                    f"{fault.exception_type}: {fault.exception_message}")
        except DecodeError as e:
            fault, text = None, f"{r.request_type} failed at its endpoint (its Fault is unreadable: {e})"
        return r.future.set_exception(RemoteFault(text, fault))
    if env.type != r.reply_type.type_header:
        return r.future.set_exception(BadReply(
            f"the reply to {r.request_type} is a {env.type}, not the {r.reply_type.type_header} asked for: the two "
            "sides disagree"))
    try:
        r.future.set_result(r.reply_type.decode(payload))
    except DecodeError as e:
        r.future.set_exception(BadReply(str(e)))


def time_out(r: Pending) -> None:
    r.future.set_exception(RequestTimeout(
        f"no reply to {r.request_type} from endpoint {r.endpoint} within {int(r.timeout * 1000)} ms: the endpoint is "
        f"slow, stopped or dead (shmbus queue stat {r.endpoint} shows its consumers)"))
