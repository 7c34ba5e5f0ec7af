"""Fault<T>: the event an endpoint publishes when a T failed its last attempt: the original message
and the error. Type "Fault<Name>@<T's version>", topic events.Fault.<Name>, JSON as the C++
Fault<T> (fault.cc): {"attempts","endpoint","exception-message","exception-type","message",
"message-id","message-type","time"}. Handle it like any event: endpoint.handle(Fault.of(OrderPlaced))."""
import dataclasses
from typing import Any

from ._message import DecodeError, MessageType, _parse_json, encode_json, type_of

_INFO = (("message_id", "message-id", str), ("message_type", "message-type", str),
         ("exception_type", "exception-type", str), ("exception_message", "exception-message", str),
         ("endpoint", "endpoint", str), ("attempts", "attempts", int), ("time", "time", str))


@dataclasses.dataclass
class Fault:
    message: Any             # the failed message (its type's dataclass, or a DictMessage)
    message_id: str          # of the failed message
    message_type: str        # "OrderPlaced@2"
    exception_type: str      # "ValueError", "std::runtime_error", ...
    exception_message: str
    endpoint: str            # where it failed
    attempts: int            # deliveries made (each with its immediate retries)
    time: str                # format_time

    @staticmethod
    def of(message_type) -> MessageType:
        """The message type of Fault<T>, given T (a registered dataclass or a MessageType)."""
        return FaultType(type_of(message_type))


class FaultType(MessageType):
    def __init__(self, of: MessageType, kind: str = "event"):
        super().__init__(f"Fault<{of.name}>", of.version, kind)
        self.of = of

    def __call__(self, *args, **kwargs):
        raise TypeError("a Fault is published by the endpoint whose handler failed, not made by hand")

    def encode(self, fault: Fault) -> bytes:
        raise TypeError("a Fault is published by the endpoint whose handler failed, not by hand")

    def decode(self, payload):
        try:
            value = _parse_json(payload)
            if not isinstance(value, dict):
                raise ValueError("type must be object")
            fields = {}
            for field, key, kind in _INFO:
                if key not in value:
                    raise ValueError(f"key '{key}' not found")
                if not isinstance(value[key], kind) or isinstance(value[key], bool):
                    raise ValueError(f"{key}: type must be {'number' if kind is int else 'string'}")
                fields[field] = value[key]
            if "message" not in value:
                raise ValueError("key 'message' not found")
            fields["message"] = self.of.decode(encode_json(value["message"]))
            return Fault(**fields)
        except (ValueError, DecodeError) as e:
            raise DecodeError(f"{self.type_header}: {e}") from None


def fault_payload(payload: bytes, info: dict) -> bytes:
    """The JSON of Fault<T> for `payload` (the failed message's JSON, which decoded before its
    handler ran) and the fault's fields (their JSON keys)."""
    value = dict(info)
    try:
        value["message"] = _parse_json(payload)
    except ValueError:
        value["message"] = bytes(payload).decode("utf-8", "replace")
    return encode_json(value)
