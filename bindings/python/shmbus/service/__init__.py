"""The service-bus API from Python (docs/service.md): typed events, commands and replies, the
envelope, endpoints with retries, dead letters and Fault<T>, request/response, scheduling. The
same type names, topics, queues and headers as the C++ layer (shmbus/service/), so C++ and
Python services talk on one bus. shmbus.service.testing.TestBus runs the same endpoints
in-process on a virtual clock, for tests.

    from dataclasses import dataclass
    from shmbus import service

    @service.message("OrderPlaced", version=2, kind="event")
    @dataclass
    class OrderPlaced:
        order: int
        customer: str
"""
from ._breaker import BreakerState, CircuitBreakerOptions
from ._client import Client
from ._context import Context
from ._endpoint import Endpoint, EndpointStats
from ._envelope import Envelope, TraceContext, format_time, message_id_time, new_message_id, parse_time
from ._errors import BadReply, ClientClosed, HandlerTimeout, NoEndpoint, RemoteFault, RequestError, RequestTimeout
from ._fault import Fault
from ._kinds import command_topic, event_topic
from ._message import DecodeError, DictMessage, MessageType, command, event, message, parse_type_header, reply, type_of
from ._rate_limit import RateLimitOptions
from ._retry_policy import RetryPolicy

__all__ = ["BadReply", "BreakerState", "CircuitBreakerOptions", "Client", "ClientClosed", "Context", "DecodeError",
           "DictMessage", "Endpoint", "EndpointStats", "Envelope", "Fault", "HandlerTimeout", "MessageType",
           "NoEndpoint", "RateLimitOptions", "RemoteFault", "RequestError", "RequestTimeout", "RetryPolicy",
           "TraceContext", "command", "command_topic", "event", "event_topic", "format_time", "message",
           "message_id_time", "new_message_id", "parse_time", "parse_type_header", "reply", "type_of"]

# Exceptions name themselves (in a Fault's exception-type) by where users find them.
for _name in __all__:
    _obj = globals()[_name]
    if isinstance(_obj, type):
        _obj.__module__ = __name__
del _name, _obj
