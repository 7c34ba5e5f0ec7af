"""What a request (or a send) can fail with, distinctly, as the C++ RequestErrc: the caller acts
differently on each. Every one is a RequestError (a shmbus.Error) with `code` as in C++."""
from .._errors import Error, NotFoundError, TimeoutError as _BusTimeout


class RequestError(Error):
    code = ""


class RequestTimeout(RequestError, _BusTimeout):
    """No reply before the deadline: the responder is slow, stopped or dead, or the request expired
    in its queue. Retry if the request is idempotent, or look at the endpoint."""
    code = "timeout"


class NoEndpoint(RequestError, NotFoundError):
    """No queue is bound to the endpoint's command topic: nothing would ever read the command.
    Start the endpoint, or fix the endpoint's name or the route."""
    code = "no-endpoint"


class RemoteFault(RequestError):
    """The responder's handler failed on every attempt: a Fault came back instead of a reply.
    `fault` is the shmbus.service.Fault (its exception type and text)."""
    code = "remote-fault"

    def __init__(self, message, fault=None):
        super().__init__(message)
        self.fault = fault


class BadReply(RequestError):
    """A reply whose type or JSON is not the reply type asked for: the two sides disagree."""
    code = "bad-reply"


class ClientClosed(RequestError):
    """The Client was closed before the reply came."""
    code = "closed"


class HandlerTimeout(Error):
    """A handler that ran past its endpoint's handler_timeout: the attempt failed (what it sent is
    discarded) and goes the way of any exception (retry, or dead letter)."""
