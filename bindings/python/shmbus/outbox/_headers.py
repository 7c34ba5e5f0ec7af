"""A record's headers block as outbox rows store it (shmbus/headers.h): repeated, little-endian,
u16 key length | u16 value length | key bytes | value bytes. The C++ outbox writes the same bytes,
so either language's relay publishes the other's rows."""
import struct

_LENGTHS = struct.Struct("<HH")
_MAX = 0xFFFF


def encode_headers(headers: dict) -> bytes:
    """The block for these headers, in their order. ValueError for a key or value over 65535 bytes."""
    out = bytearray()
    for key, value in headers.items():
        k = key.encode() if isinstance(key, str) else bytes(key)
        v = value.encode() if isinstance(value, str) else bytes(value)
        if len(k) > _MAX or len(v) > _MAX:
            raise ValueError(f'header "{k[:40].decode(errors="replace")}" is longer than 65535 bytes: an outbox row '
                             "cannot carry it")
        out += _LENGTHS.pack(len(k), len(v))
        out += k
        out += v
    return bytes(out)


def decode_headers(block: bytes):
    """The (key, value) pairs of a block, as bytes; None if the block is malformed (a length that
    runs past its end)."""
    pairs = []
    at, end = 0, len(block)
    while at < end:
        if end - at < _LENGTHS.size:
            return None
        klen, vlen = _LENGTHS.unpack_from(block, at)
        at += _LENGTHS.size
        if end - at < klen + vlen:
            return None
        pairs.append((bytes(block[at:at + klen]), bytes(block[at + klen:at + klen + vlen])))
        at += klen + vlen
    return pairs
