"""A minimal DER writer and reader: just what PKCS#12 needs (definite lengths only)."""

from __future__ import annotations

from collections.abc import Iterator

SEQUENCE, SET, INTEGER, OCTET_STRING, NULL, OID, BMP_STRING = (
    0x30,
    0x31,
    0x02,
    0x04,
    0x05,
    0x06,
    0x1E,
)


class DerError(ValueError):
    pass


def tlv(tag: int, content: bytes) -> bytes:
    n = len(content)
    if n < 0x80:
        return bytes((tag, n)) + content
    size = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes((tag, 0x80 | len(size))) + size + content


def seq(*items: bytes) -> bytes:
    return tlv(SEQUENCE, b"".join(items))


def set_of(*items: bytes) -> bytes:
    return tlv(SET, b"".join(sorted(items)))  # DER orders SET OF by encoding


def explicit(n: int, content: bytes) -> bytes:
    return tlv(0xA0 | n, content)


def integer(value: int) -> bytes:
    return tlv(INTEGER, value.to_bytes(value.bit_length() // 8 + 1, "big", signed=True))


def octets(data: bytes) -> bytes:
    return tlv(OCTET_STRING, data)


def bmp(text: str) -> bytes:
    return tlv(BMP_STRING, text.encode("utf-16-be"))


def null() -> bytes:
    return b"\x05\x00"


def oid(dotted: str) -> bytes:
    parts = [int(p) for p in dotted.split(".")]
    arcs = [parts[0] * 40 + parts[1], *parts[2:]]
    out = bytearray()
    for arc in arcs:
        chunk = [arc & 0x7F]
        arc >>= 7
        while arc:
            chunk.append(0x80 | (arc & 0x7F))
            arc >>= 7
        out += bytes(reversed(chunk))
    return tlv(OID, bytes(out))


# --- reading ---------------------------------------------------------------


def read(data: bytes, pos: int = 0) -> tuple[int, bytes, int]:
    """(tag, content, end) of the element at `pos`."""
    try:
        tag, first = data[pos], data[pos + 1]
    except IndexError:
        raise DerError("truncated DER element") from None
    pos += 2
    if first < 0x80:
        length = first
    else:
        count = first & 0x7F
        if count == 0 or count > 4:
            raise DerError("unsupported DER length")
        length = int.from_bytes(data[pos : pos + count], "big")
        pos += count
    end = pos + length
    if end > len(data):
        raise DerError("truncated DER element")
    return tag, data[pos:end], end


def expect(data: bytes, tag: int) -> bytes:
    """The content of `data`, a single element with the given tag."""
    got, content, end = read(data)
    if got != tag or end != len(data):
        raise DerError(f"expected DER tag 0x{tag:02x}, found 0x{got:02x}")
    return content


def children(content: bytes) -> Iterator[tuple[int, bytes, bytes]]:
    """(tag, content, whole encoding) of each element in a constructed value's content."""
    pos = 0
    while pos < len(content):
        tag, inner, end = read(content, pos)
        yield tag, inner, content[pos:end]
        pos = end


def items(content: bytes) -> list[bytes]:
    """The whole encodings of a constructed value's elements."""
    return [whole for _, _, whole in children(content)]


def read_oid(data: bytes) -> str:
    body = expect(data, OID)
    arcs: list[int] = []
    value = 0
    for byte in body:
        value = (value << 7) | (byte & 0x7F)
        if not byte & 0x80:
            arcs.append(value)
            value = 0
    if not arcs:
        raise DerError("empty OID")
    first = min(arcs[0] // 40, 2)
    return ".".join(str(a) for a in [first, arcs[0] - first * 40, *arcs[1:]])


def read_int(data: bytes) -> int:
    return int.from_bytes(expect(data, INTEGER), "big", signed=True)
