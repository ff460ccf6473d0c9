"""How `java.util.Properties.load` reads `.properties` text, for the managed-key guard.

Pure and import-free (below `spec`): a user's key is read the way Java would read it if it
appeared raw at the start of a line, so a key such as `"pico.rcp.platform.host\\t"` or
`"pico.rcp.tls\\u002ekeystore"` is recognised as the managed key it would become.
"""

from __future__ import annotations

WHITESPACE = " \t\f"
SEPARATORS = "=:"
_ESCAPED = {"t": "\t", "n": "\n", "r": "\r", "f": "\f"}


def _natural_lines(text: str) -> list[str]:
    return text.replace("\r\n", "\n").replace("\r", "\n").split("\n")


def _ends_in_continuation(line: str) -> bool:
    backslashes = len(line) - len(line.rstrip("\\"))
    return backslashes % 2 == 1


def logical_lines(text: str) -> list[str]:
    """Java's LineReader: skip blank and comment lines, join continued lines (leading white
    space of a continuation line dropped)."""
    out: list[str] = []
    pending: str | None = None
    for raw in _natural_lines(text):
        line = raw.lstrip(WHITESPACE)
        if pending is None and (not line or line[0] in "#!"):
            continue
        joined = line if pending is None else pending + line
        if _ends_in_continuation(line):
            pending = joined[:-1]
            continue
        out.append(joined)
        pending = None
    if pending is not None:
        out.append(pending)
    return out


def unescape(text: str) -> str:
    """Java's loadConvert: `\\uXXXX`, `\\t \\n \\r \\f`, and `\\c` for any other c."""
    out: list[str] = []
    i = 0
    while i < len(text):
        char = text[i]
        i += 1
        if char != "\\" or i >= len(text):
            out.append(char)
            continue
        char = text[i]
        i += 1
        if char == "u":
            digits = text[i : i + 4]
            if len(digits) < 4 or any(d not in "0123456789abcdefABCDEF" for d in digits):
                raise ValueError("malformed \\uxxxx escape")
            out.append(chr(int(digits, 16)))
            i += 4
        else:
            out.append(_ESCAPED.get(char, char))
    return "".join(out).encode("utf-16", "surrogatepass").decode("utf-16")


def split_line(line: str) -> tuple[str, str]:
    """One logical line into its raw (still escaped) key and value."""
    key_end = len(line)
    escaped = False
    for index, char in enumerate(line):
        if escaped:
            escaped = False
        elif char == "\\":
            escaped = True
        elif char in SEPARATORS or char in WHITESPACE:
            key_end = index
            break
    rest = line[key_end:].lstrip(WHITESPACE)
    if rest[:1] and rest[0] in SEPARATORS:
        rest = rest[1:].lstrip(WHITESPACE)
    return line[:key_end], rest


def load(text: str) -> dict[str, str]:
    """The properties Java reads from `text` (later keys win, as in Java)."""
    out: dict[str, str] = {}
    for line in logical_lines(text):
        key, value = split_line(line)
        out[unescape(key)] = unescape(value)
    return out


def keys_read_from(raw_key: str) -> set[str]:
    """Every key Java would read if `raw_key` were written unescaped as a key (`KEY=`);
    a malformed escape yields the key as given."""
    try:
        return set(load(raw_key + "=")) | {raw_key}
    except ValueError:
        return {raw_key}
