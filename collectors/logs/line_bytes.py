"""A block's lines as bytes: which are plain, the picked ones as one Arrow array, and
their row-id digests; numpy and Arrow over the whole block, no Python object per line
(``blocks`` uses them)."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

__all__ = ["hashed_after", "hexdigests", "line_array", "plain_lines", "repeated",
           "take_at"]

_SPACE, _QUOTE, _BACKSLASH = 32, 39, 92
_HEX = np.frombuffer(b"0123456789abcdef", dtype=np.uint8)


def hashed_after(start, view: memoryview, offsets: list[int]) -> bytes:
    """The digests of ``start`` followed by each ``view[a:b]``, joined."""
    copy = start.copy
    digests = []
    append = digests.append
    for a, b in zip(offsets, offsets[1:], strict=False):
        h = copy()
        h.update(view[a:b])
        append(h.digest())
    return b"".join(digests)


def plain_lines(block: bytes, data: np.ndarray, starts: np.ndarray, ends: np.ndarray):
    """Lines of printable ASCII with no edge spaces (their own stripped text), and which
    of those hold a quote or backslash (their ``repr`` is not just the line quoted).

    Why this shape: a byte outside 0x20-0x7E wraps past 0x5E once 0x20 is taken off, so
    one compare finds them all (two compares and an ``or`` cost five times as much); and
    quotes and backslashes are rare, so ``bytes.find`` (memchr) rules them out first."""
    control = (data - np.uint8(_SPACE)) > np.uint8(0x7E - _SPACE)
    control[ends] = False  # the newlines themselves
    nonempty = ends > starts
    edge = np.zeros(len(starts), dtype=bool)
    edge[nonempty] = (data[starts[nonempty]] == _SPACE) | (data[ends[nonempty] - 1] == _SPACE)
    plain = nonempty & ~edge & ~_lines_holding(control, ends)
    if b"'" not in block and b"\\" not in block:
        return plain, np.zeros(len(ends), dtype=bool)
    return plain, _lines_holding((data == _QUOTE) | (data == _BACKSLASH), ends)


def _lines_holding(marks: np.ndarray, ends: np.ndarray) -> np.ndarray:
    """Per line, whether any of its bytes is marked (marks are few: look them up)."""
    held = np.zeros(len(ends), dtype=bool)
    held[np.searchsorted(ends, np.flatnonzero(marks))] = True
    return held


def line_array(block: bytes, starts: np.ndarray, pick: np.ndarray, kind: pa.DataType,
                newline: bool) -> pa.Array:
    """The picked lines of ``block`` (increasing positions) as one Arrow array (a gather
    in C, none when every line is picked), each with its ``\n`` or without it."""
    offsets = np.append(starts, len(block)).astype(np.int32)
    whole = pa.Array.from_buffers(kind, len(starts), [
        None, pa.py_buffer(offsets), pa.py_buffer(block)])
    lines = whole if len(pick) == len(starts) else take_at(whole, pick)
    if newline:
        return lines
    return pc.binary_slice(lines, 0, -1) if kind == pa.binary() else \
        pc.utf8_slice_codeunits(lines, 0, -1)


def take_at(values: pa.Array, positions: np.ndarray) -> pa.Array:
    """``values.take(positions)`` with 32-bit positions. Why: Arrow gathers a block's
    strings five times faster with them than with numpy's 64-bit ones (0.13 against
    0.63 ms for 20,000 lines)."""
    return values.take(pa.array(positions.astype(np.int32, copy=False)))


def hexdigests(digests: np.ndarray) -> pa.Array:
    """Digests as the lowercase hex strings ``hexdigest`` gives, without a loop."""
    out = np.empty((len(digests), 20), dtype=np.uint8)
    out[:, 0::2] = _HEX[digests >> 4]
    out[:, 1::2] = _HEX[digests & 15]
    offsets = np.arange(len(digests) + 1, dtype=np.int32) * 20
    return pa.Array.from_buffers(pa.string(), len(digests), [
        None, pa.py_buffer(offsets), pa.py_buffer(out.tobytes())])


def repeated(text: str, n: int) -> pa.Array:
    """``text`` ``n`` times as an Arrow string column, built from its buffers (a tenth of
    the cost of an object array of ``n`` references)."""
    data = text.encode()
    offsets = np.arange(n + 1, dtype=np.int32) * len(data)
    return pa.Array.from_buffers(pa.string(), n, [None, pa.py_buffer(offsets),
                                                  pa.py_buffer(data * n)])
