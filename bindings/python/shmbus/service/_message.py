"""Typed messages: a dataclass (or plain dicts) registered with its type name, version and kind,
carried as JSON exactly as the C++ layer writes it (nlohmann-json's dump(): compact, keys sorted).
The `type` header is "Name@version"; a type registered in Python and in C++ with the same name
and version is the same message."""
import dataclasses
import functools
import json
import re
import typing
from typing import Any, Optional

from .. import _shmbus
from .._errors import Error, InvalidArgumentError

KINDS = ("event", "command", "reply")


class DecodeError(Error, ValueError):
    """A payload that is not the registered type's JSON (found before any handler runs; the
    endpoint dead-letters the record with the text as its reason)."""


def validate_message_type(name: str, version: int) -> None:
    """InvalidArgumentError unless `name` is topic-name words (or Fault<...> of them) and version >= 1."""
    inner = name[6:-1] if name.startswith("Fault<") and name.endswith(">") else name
    try:
        _shmbus.validate_topic_name(inner)
    except Error as e:
        raise InvalidArgumentError(f'message type "{name}" cannot be registered: {e} (a type name is topic-name '
                                   'words, e.g. "OrderPlaced" or "sales.OrderPlaced")') from None
    if not isinstance(version, int) or isinstance(version, bool) or version < 1 or version >= 2**32:
        raise InvalidArgumentError(f'message type "{name}" has version {version}: versions start at 1')


def encode_json(value: Any) -> bytes:
    """nlohmann-json's dump(): no spaces, object keys sorted, UTF-8 as is."""
    return json.dumps(value, separators=(",", ":"), sort_keys=True, ensure_ascii=False, allow_nan=False).encode()


def _parse_json(payload) -> Any:
    try:
        return json.loads(bytes(payload).decode("utf-8"))
    except UnicodeDecodeError as e:
        raise ValueError(f"not UTF-8 at byte {e.start}") from None
    except json.JSONDecodeError as e:
        raise ValueError(f"not JSON: {e}") from None


# --- dataclasses <-> JSON values, with the field types checked as nlohmann's get<T>() does ---------

def _to_json(value):
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _to_json(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, (list, tuple)):
        return [_to_json(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _to_json(v) for k, v in value.items()}
    return value


@functools.lru_cache(maxsize=None)
def _fields_of(cls):
    """A dataclass's fields with their resolved type hints: looked up once per class (each decode
    would otherwise evaluate them again)."""
    hints = typing.get_type_hints(cls)
    return tuple((f, hints.get(f.name, Any)) for f in dataclasses.fields(cls))


def _from_json(value, hint, where):
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if hint is Any or hint is object:
        return value
    if origin is typing.Union:
        if value is None and type(None) in args:
            return None
        errors = []
        for arg in (a for a in args if a is not type(None)):
            try:
                return _from_json(value, arg, where)
            except ValueError as e:
                errors.append(str(e))
        raise ValueError("; ".join(errors))
    if dataclasses.is_dataclass(hint):
        if not isinstance(value, dict):
            raise ValueError(f"{where}: type must be object, but is {_json_name(value)}")
        kwargs = {}
        for f, field_hint in _fields_of(hint):
            if f.name in value:
                kwargs[f.name] = _from_json(value[f.name], field_hint, f"{where}.{f.name}")
            elif f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
                raise ValueError(f"{where}: key '{f.name}' not found")
        return hint(**kwargs)
    if hint is bool:
        if isinstance(value, bool):
            return value
        raise ValueError(f"{where}: type must be boolean, but is {_json_name(value)}")
    if hint is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        raise ValueError(f"{where}: type must be number, but is {_json_name(value)}")
    if hint is float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
        raise ValueError(f"{where}: type must be number, but is {_json_name(value)}")
    if hint is str:
        if isinstance(value, str):
            return value
        raise ValueError(f"{where}: type must be string, but is {_json_name(value)}")
    if origin in (list, tuple) or hint in (list, tuple):
        if not isinstance(value, list):
            raise ValueError(f"{where}: type must be array, but is {_json_name(value)}")
        item = args[0] if args else Any
        return [_from_json(v, item, f"{where}[{i}]") for i, v in enumerate(value)]
    if origin is dict or hint is dict:
        if not isinstance(value, dict):
            raise ValueError(f"{where}: type must be object, but is {_json_name(value)}")
        item = args[1] if len(args) == 2 else Any
        return {k: _from_json(v, item, f"{where}.{k}") for k, v in value.items()}
    return value


def _json_name(value):
    return {bool: "boolean", int: "number", float: "number", str: "string", list: "array", dict: "object",
            type(None): "null"}.get(type(value), type(value).__name__)


# --- message types ---------------------------------------------------------------------------------

class MessageType:
    """What a registered type is on the wire: name, version, kind, and how its payload is read.
    A dict type (no class) is made by event(), command(), reply(); calling it makes a message:
    ``OrderPlaced(order=42, customer="ann")`` is a dict that knows its type."""

    def __init__(self, name: str, version: int = 1, kind: str = "event", cls: Optional[type] = None):
        validate_message_type(name, version)
        if kind not in KINDS:
            raise InvalidArgumentError(f'message type "{name}": kind must be event, command or reply, not {kind!r}')
        self.name, self.version, self.kind, self.cls = name, version, kind, cls

    @property
    def type_header(self) -> str:
        return f"{self.name}@{self.version}"

    def __repr__(self):
        return f"<shmbus.service.MessageType {self.type_header} ({self.kind})>"

    def __eq__(self, other):
        return isinstance(other, MessageType) and (self.name, self.version, self.kind) == (other.name, other.version,
                                                                                          other.kind)

    def __hash__(self):
        return hash((self.name, self.version, self.kind))

    def __call__(self, fields: Optional[dict] = None, **more) -> "DictMessage":
        if self.cls is not None:
            raise TypeError(f"{self.type_header} is the dataclass {self.cls.__name__}: make one of those")
        return DictMessage(self, {**(fields or {}), **more})

    def encode(self, message) -> bytes:
        return encode_json(_to_json(message))

    def decode(self, payload):
        """The message in `payload`, or DecodeError with the reason."""
        try:
            value = _parse_json(payload)
            if self.cls is not None:
                return _from_json(value, self.cls, self.type_header)
            if not isinstance(value, dict):
                raise ValueError(f"{self.type_header}: type must be object, but is {_json_name(value)}")
            return DictMessage(self, value)
        except ValueError as e:
            text = str(e)
            raise DecodeError(text if text.startswith(self.type_header) else f"{self.type_header}: {text}") from None


class DictMessage(dict):
    """A message of a dict type: the dict of its JSON, and `message_type`."""

    def __init__(self, message_type: MessageType, fields: dict):
        super().__init__(fields)
        self.message_type = message_type

    def __repr__(self):
        return f"{self.message_type.name}({dict.__repr__(self)})"


def message(name: str, version: int = 1, kind: str = "event"):
    """Registers a dataclass as message `name` of `version` and `kind`:

        @service.message("OrderPlaced", version=2, kind="event")
        @dataclass
        class OrderPlaced:
            order: int
            customer: str
    """
    def register(cls):
        if not dataclasses.is_dataclass(cls):
            raise TypeError(f"@message registers a dataclass; decorate {cls.__name__} with @dataclass first")
        cls.__shmbus_type__ = MessageType(name, version, kind, cls)
        return cls
    return register


def event(name: str, version: int = 1) -> MessageType:
    return MessageType(name, version, "event")


def command(name: str, version: int = 1) -> MessageType:
    return MessageType(name, version, "command")


def reply(name: str, version: int = 1) -> MessageType:
    return MessageType(name, version, "reply")


def type_of(message_or_type) -> MessageType:
    """The MessageType of a registered dataclass (or one of its instances), of a DictMessage, or itself."""
    if isinstance(message_or_type, MessageType):
        return message_or_type
    if isinstance(message_or_type, DictMessage):
        return message_or_type.message_type
    t = getattr(message_or_type, "__shmbus_type__", None)
    if isinstance(t, MessageType):
        return t
    raise InvalidArgumentError(f"{message_or_type!r} is not a service message: register its dataclass with "
                               "@shmbus.service.message(name, version, kind), or make it from a MessageType "
                               "(shmbus.service.event/command/reply)")


def parse_type_header(text: str):
    """(name, version) of "Name@version" (version 1..2^32-1, decimal), or None."""
    at = text.rfind("@")
    if at <= 0 or at + 1 == len(text):
        return None
    digits = text[at + 1:]
    if not re.fullmatch(r"[0-9]+", digits) or not 0 < int(digits) < 2**32:
        return None
    return text[:at], int(digits)
