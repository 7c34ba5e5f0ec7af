"""The envelope (DESIGN.md section 11): message ids, W3C trace context, the time form, and the
headers every service message carries. Written exactly as the C++ layer writes them
(service/envelope.cc, message_id.cc, trace_context.cc; shmbus/envelope.h's time form), so that
C++ and Python services read each other's messages."""
import calendar
import dataclasses
import math
import re
import secrets
import threading
import time
from datetime import datetime, timezone
from typing import Optional

JSON_CONTENT_TYPE = "application/json"

# --- message ids: UUIDv7 (RFC 9562, method 1: a 12-bit counter after the millisecond) -------------

_stamp_lock = threading.Lock()
_last_stamp = 0  # (ms << 12) | counter of the last id made in this process


def _next_stamp():
    # Ids of one process strictly increase: max(now, last + 1), as message_id.cc does.
    global _last_stamp
    ms = time.time_ns() // 1_000_000
    with _stamp_lock:
        _last_stamp = max(ms << 12, _last_stamp + 1)
        return _last_stamp


def new_message_id() -> str:
    """A UUIDv7: 48 bits of Unix milliseconds, a 12-bit counter, 62 random bits (os.urandom, so a
    forked child draws its own)."""
    stamp = _next_stamp()
    ms, counter = stamp >> 12, stamp & 0xFFF
    random = secrets.randbits(64)
    b = bytearray(16)
    b[0:6] = (ms & ((1 << 48) - 1)).to_bytes(6, "big")
    b[6] = 0x70 | (counter >> 8)
    b[7] = counter & 0xFF
    b[8] = 0x80 | ((random >> 56) & 0x3F)
    b[9:16] = (random & ((1 << 56) - 1)).to_bytes(7, "big")
    h = b.hex()
    return f"{h[0:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:32]}"


def message_id_time(message_id: str) -> Optional[float]:
    """The Unix time (seconds, millisecond precision) a UUIDv7 was made at; None if it is not one."""
    if len(message_id) != 36 or message_id[8] != "-" or message_id[13] != "-" or message_id[14] != "7":
        return None
    digits = message_id[0:8] + message_id[9:13]
    if not re.fullmatch(r"[0-9a-fA-F]{12}", digits):
        return None
    return int(digits, 16) / 1000.0


# --- W3C trace context ---------------------------------------------------------------------------

_LOWER_HEX = re.compile(r"[0-9a-f]*")


def _random_hex(digits):
    out = secrets.token_hex((digits + 1) // 2)[:digits]
    return out if out.strip("0") else out[:-1] + "1"  # all-zero ids are invalid


@dataclasses.dataclass(frozen=True)
class TraceContext:
    """``traceparent`` = "00-<32 hex trace-id>-<16 hex parent-id>-<2 hex flags>"."""
    trace_id: str
    span_id: str
    flags: int = 1  # bit 0: sampled

    @staticmethod
    def parse(traceparent: str) -> Optional["TraceContext"]:
        """None unless a valid version-00 header (other versions: their first four fields)."""
        t = traceparent
        if len(t) < 55 or t[2] != "-" or t[35] != "-" or t[52] != "-":
            return None
        version, trace, span, flags = t[0:2], t[3:35], t[36:52], t[53:55]
        if not all(_LOWER_HEX.fullmatch(s) for s in (version, trace, span, flags)) or version == "ff":
            return None
        if version == "00" and len(t) != 55:
            return None
        if version != "00" and len(t) > 55 and t[55] != "-":
            return None
        if not trace.strip("0") or not span.strip("0"):
            return None
        return TraceContext(trace, span, int(flags, 16))

    @staticmethod
    def start() -> "TraceContext":
        return TraceContext(_random_hex(32), _random_hex(16), 1)

    def child(self) -> "TraceContext":
        """The same trace, a new span."""
        return TraceContext(self.trace_id, _random_hex(16), self.flags)

    def __str__(self):
        return f"00-{self.trace_id}-{self.span_id}-{self.flags:02x}"


# --- times: RFC 3339 UTC with milliseconds, "2026-12-01T12:00:00.000Z" ---------------------------

def format_time(unix_seconds: float) -> str:
    # Truncated to the millisecond, as the C++ one; half a microsecond of slack, so that a float
    # that stands for a whole millisecond (1.001 is 1.000999...) keeps it.
    ms = math.floor(unix_seconds * 1000 + 0.0005) if not isinstance(unix_seconds, int) else unix_seconds * 1000
    seconds, millis = divmod(ms, 1000)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds)) + f".{millis:03d}Z"


_TIME = re.compile(r"(\d{4})-(\d\d)-(\d\d)T(\d\d):(\d\d):(\d\d)(?:\.(\d+))?(Z|\+00:00)")


def parse_time(text: str) -> Optional[float]:
    """Unix seconds of that form (a fraction of any length or none, "Z" or "+00:00"), or of plain
    digits as Unix milliseconds; None if the text is neither (as shmbus::envelope::parse_time_ns)."""
    if text.isdigit() and len(text) <= 15:
        return int(text) / 1000.0
    m = _TIME.fullmatch(text)
    if not m:
        return None
    y, mo, d, h, mi, s = (int(g) for g in m.groups()[:6])
    try:
        datetime(y, mo, d, h, mi, s, tzinfo=timezone.utc)
    except ValueError:
        return None
    fraction = m.group(7) or "0"
    return calendar.timegm((y, mo, d, h, mi, s)) + int(fraction[:9].ljust(9, "0")) / 1e9


# --- the envelope ---------------------------------------------------------------------------------

# The envelope's fields and their header keys, in the order they are written (envelope.cc).
_FIELDS = (
    ("message_id", "message-id"), ("correlation_id", "correlation-id"), ("causation_id", "causation-id"),
    ("conversation_id", "conversation-id"), ("type", "type"), ("kind", "kind"), ("content_type", "content-type"),
    ("sent_time", "sent-time"), ("source", "source"), ("reply_to", "reply-to"), ("expires_at", "expires-at"),
    ("not_before", "not-before"), ("traceparent", "traceparent"), ("tracestate", "tracestate"),
)


@dataclasses.dataclass
class Envelope:
    message_id: str = ""       # new_message_id(): unique, time-ordered
    correlation_id: str = ""   # the flow's id (a request's message-id; else the first message's)
    causation_id: str = ""     # the message whose handler sent this one ("" at a flow's start)
    conversation_id: str = ""  # kept along the whole flow
    type: str = ""             # "OrderPlaced@2"
    kind: str = ""             # "event" | "command" | "reply"
    content_type: str = ""     # "application/json"
    sent_time: str = ""        # format_time
    source: str = ""           # the sending endpoint or client
    reply_to: str = ""         # requests: the topic replies go to
    expires_at: str = ""       # requests: the caller's deadline
    not_before: str = ""       # delayed delivery (schedule())
    traceparent: str = ""      # W3C, continued by every handler
    tracestate: str = ""

    @staticmethod
    def read(headers) -> "Envelope":
        """The envelope's keys from a record's headers (missing ones are ""); others ignored."""
        return Envelope(**{field: headers.get(key, "") for field, key in _FIELDS})

    def headers(self) -> dict:
        """The non-empty fields as headers, in the C++ layer's order."""
        return {key: getattr(self, field) for field, key in _FIELDS if getattr(self, field)}

    @staticmethod
    def _fresh(message_type, source, now):
        return Envelope(message_id=new_message_id(), type=message_type.type_header, kind=message_type.kind,
                        content_type=JSON_CONTENT_TYPE, sent_time=format_time(time.time() if now is None else now),
                        source=source)

    @staticmethod
    def start(message_type, source: str, now: Optional[float] = None) -> "Envelope":
        """The first message of a flow: new ids, a new trace. `now`: the sent-time (Unix
        seconds; None: the real now; a TestBus gives its virtual one)."""
        e = Envelope._fresh(message_type, source, now)
        e.correlation_id = e.conversation_id = e.message_id
        e.traceparent = str(TraceContext.start())
        return e

    @staticmethod
    def caused_by(parent: "Envelope", message_type, source: str, now: Optional[float] = None) -> "Envelope":
        """A message sent while `parent` is handled: correlation and conversation kept, causation =
        parent's id, the trace continued (same trace-id, new span), tracestate kept with it."""
        e = Envelope._fresh(message_type, source, now)
        # A parent from outside this layer may lack ids: the flow then starts at the parent.
        e.correlation_id = parent.correlation_id or parent.message_id or e.message_id
        e.conversation_id = parent.conversation_id or e.correlation_id
        e.causation_id = parent.message_id
        trace = TraceContext.parse(parent.traceparent)
        e.traceparent = str(trace.child() if trace else TraceContext.start())
        if trace:  # tracestate belongs to the trace (W3C section 3.3)
            e.tracestate = parent.tracestate
        return e

    def expires(self) -> Optional[float]:
        """expires_at as Unix seconds (None if none or unreadable)."""
        return parse_time(self.expires_at) if self.expires_at else None
