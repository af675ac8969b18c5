"""Read a log in blocks of lines: columns built by Arrow, the per-line parser as fallback.

Why blocks: the per-line reader builds a dict per line and holds every row until the file
ends, so a 10 M-line log costs minutes and gigabytes. Here a block of ``BLOCK_BYTES`` is
split into lines with numpy, the lines a format's column parser accepts become Arrow
columns in one pass, and the block's frames are handed on before the next block is read:
memory is bounded by the block, not the file.

Why the result is the per-line reader's, row for row (a test holds them equal): a line
the column parser is not sure about (not plain ASCII, a format variant, garbage) goes to
the format's per-line ``parse``, with the same row id, ``source`` and malformed sample
it always had. Row ids are the per-line reader's ``record.row_id(stream, text,
occurrence, index)``: the hash is computed per line in C over one buffer of the
``repr`` texts (see ``_digests``), and occurrences are counted in ``Occurrences``.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from hashlib import blake2b
from pathlib import Path
from types import ModuleType

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from collectors.base import MAX_LINE, Batch, LineError, Malformed, ParseContext, RowBuffer
from collectors.logs.heap import keep_freed_heap
from collectors.logs.line_bytes import (
    hashed_after,
    hexdigests,
    line_array,
    plain_lines,
    repeated,
    take_at,
)
from collectors.logs.occurrences import Occurrences
from collectors.logs.partials import PARTIAL, Joined, Partials
from collectors.logs.reader import LINE_SOURCED, TOO_LONG, skip_reason, uncount_partial
from rca import record

__all__ = ["BLOCK_BYTES", "READ_BYTES", "ColumnParser", "iter_blocks", "read_blocks"]

#: Bytes parsed per block. Why 4 MB: ~20,000 access lines, large enough that Arrow's
#: per-call overhead vanishes, small enough that a block's frames stay a few tens of MB.
BLOCK_BYTES = 4 << 20
#: Bytes read at a time: an over-long line is seen and skipped a read at a time. (4 MB
#: reads were measured slower with the column thread: 2.1 s against 1.7 s for 1 M lines.)
READ_BYTES = 1 << 20

#: ``parse(lines, ctx) -> (accepted, frame)``: ``lines`` are ASCII lines, each ending in
#: ``\n``; ``accepted`` the positions of the lines read, ``frame`` their requests rows
#: (time index, record columns but ``row_id`` and ``source``) in that order. A parser may
#: return a third item, ``{reason: positions}``: lines it read that carry no row (none of
#: them in ``accepted``), counted in ``Batch.skipped`` under the reason the per-line
#: parser's ``skip_reason`` gives them.
#: Why: in a daemon's log (RGW) most lines are such; left to the per-line parser, they
#: would cost the block most of its time.
ColumnParser = Callable[[pa.Array, ParseContext],
                        tuple[np.ndarray, pd.DataFrame]
                        | tuple[np.ndarray, pd.DataFrame, dict[str, np.ndarray]]]

_NEWLINE = 10
_PARTIAL_TAGS = re.compile(rb" (?:stdout|stderr) P[ :]")  # rare; a false hit only slows
_BOM = b"\xef\xbb\xbf"


def iter_blocks(raw: Iterator[bytes]) -> Iterator[bytes]:
    """Whole lines, ``BLOCK_BYTES`` at a time, ``\r\n`` and lone ``\r`` turned into
    ``\n`` (Python's universal newlines, which the per-line reader numbers lines by).

    A line that grows past what ``MAX_LINE`` characters can take in UTF-8 is not kept:
    the rest of it is skipped as it streams by, and a placeholder just over ``MAX_LINE``
    stands in its place, so it is counted and reported as too long in bounded memory."""
    tail = b""
    first = True
    skipping = False
    pieces: list[bytes] = []
    size = 0
    for chunk in raw:
        if skipping:
            end = chunk.find(b"\n")
            if end < 0:
                continue
            chunk, skipping = _OVER_LONG + chunk[end:], False
        data = tail + chunk if tail else chunk
        if first:
            data = data.removeprefix(_BOM)
            first = False
        cut = data.rfind(b"\n") + 1
        if data.endswith(b"\r"):  # may be half of a "\r\n": wait for the next chunk
            cut = min(cut, len(data) - 1) if cut else 0
        if len(data) - cut > _LONGEST_BYTES:
            tail, skipping = b"", True
        else:
            tail = data[cut:]
        if cut:
            pieces.append(data[:cut] if cut < len(data) else data)
            size += cut
        del data, chunk
        if size >= BLOCK_BYTES:
            yield _universal_newlines(b"".join(pieces))
            pieces, size = [], 0
    if skipping:
        pieces.append(_OVER_LONG + b"\n")
    elif tail:
        pieces.append(tail if tail.endswith(b"\n") else tail + b"\n")
    if pieces:
        yield _universal_newlines(b"".join(pieces))


#: Bytes a line of ``MAX_LINE`` characters can take at most (4 per character in UTF-8).
_LONGEST_BYTES = 4 * (MAX_LINE + 1)
_OVER_LONG = b"x" * (MAX_LINE + 1)


def _universal_newlines(block: bytes) -> bytes:
    if b"\r" in block:
        return block.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
    return block


def read_blocks(raw: Iterator[bytes], path: Path, module: ModuleType,
                columns: ColumnParser, ctx: ParseContext, batch: Batch, keep: int,
                stream: str, parse_line: Callable) -> Iterator[dict[str, pd.DataFrame]]:
    """The frames of each block of ``raw``; ``batch`` gets the lines and malformed counts."""
    occurrences = Occurrences()
    reader = _BlockReader(path, module, columns, ctx, batch, keep, stream, parse_line)
    with _beside() as pool:
        lineno, pending = 0, None
        for block in iter_blocks(raw):
            lines = reader.split(block, lineno, occurrences)
            lineno += len(lines.ends)
            if pending is None or reader.holds_nothing_after(pending[0]):
                # the column thread goes on to this block while the one before finishes
                columns = pool.submit(reader.columns_of, lines, False)
                if pending is not None:
                    yield reader.finish(*pending)
            else:  # submitted once the block before is finished (its CRI fragments joined)
                yield reader.finish(*pending)
                columns = pool.submit(reader.columns_of, lines, reader.partials.holding())
            pending = lines, columns
        if pending is not None:
            yield reader.finish(*pending)
    last = reader.rest()
    if last:
        yield last


#: The GIL's switch interval while a file is read. Why shorter than Python's 5 ms: the
#: column parser's thread gets the GIL back between its Arrow calls only when the hashing
#: thread is made to let go of it, and at 5 ms it would wait a block's worth of time for
#: each of its few dozen calls; at 0.5 ms it waits little and the hashing barely slows
#: (measured on 1 M ingress lines: 2.3 s alone, 1.65 s beside each other on 2 free cores;
#: the same CPU seconds either way).
SWITCH_SECONDS = 0.0005


@contextmanager
def _beside() -> Iterator[ThreadPoolExecutor]:
    """One worker thread for the column parser, and a short GIL switch interval while
    it runs (the process's own interval is put back after); the heap keeps the blocks'
    buffers between blocks (``heap``)."""
    keep_freed_heap()
    interval = sys.getswitchinterval()
    sys.setswitchinterval(min(interval, SWITCH_SECONDS))
    try:
        with ThreadPoolExecutor(1, thread_name_prefix="log-columns") as pool:
            yield pool
    finally:
        sys.setswitchinterval(interval)


@dataclass
class _Lines:
    """A block split into lines, each line's digest and occurrence counted."""

    block: bytes
    starts: np.ndarray
    ends: np.ndarray
    numbers: np.ndarray  # line numbers in the file, per line of the block
    lines: np.ndarray  # positions of the non-blank lines
    plain: np.ndarray
    texts: dict  # decoded text of the lines that are not plain ASCII
    tagged: bool  # may hold a CRI ``P`` fragment
    digests: np.ndarray  # per non-blank line
    occurrence: np.ndarray


@dataclass
class _Read:
    """What the column parser made of a block's lines (positions in ``_Lines.lines``)."""

    rows: np.ndarray  # the lines ``frame``'s rows come from, in order
    done: np.ndarray  # those and the lines that gave no row: not for the per-line parser
    frame: pd.DataFrame
    skipped: dict[str, int]  # lines that gave no row, per reason


class _BlockReader:
    def __init__(self, path: Path, module: ModuleType, columns: ColumnParser,
                 ctx: ParseContext, batch: Batch, keep: int, stream: str,
                 parse_line: Callable) -> None:
        self.path, self.module, self.columns, self.ctx = path, module, columns, ctx
        self.batch, self.keep, self.stream = batch, keep, stream
        self.parse_line = parse_line
        self.prefix = f"({stream!r}, '".encode()
        self.base = path.name
        self.partials = Partials(stream)
        self.table = getattr(columns, "table", "requests")

    def split(self, block: bytes, lineno: int, occurrences: Occurrences) -> _Lines:
        """A block's lines, which are plain, and each one's row-id digest and occurrence
        (in the GIL: done while the column parser reads the block before)."""
        data = np.frombuffer(block, dtype=np.uint8)
        ends = np.flatnonzero(data == _NEWLINE)
        starts = np.concatenate(([0], ends[:-1] + 1))
        numbers = np.arange(lineno + 1, lineno + 1 + len(ends))
        plain, quoted = plain_lines(block, data, starts, ends)
        plain &= (ends - starts) <= MAX_LINE
        # lines that are not plain ASCII: decoded and stripped as the per-line reader does
        # (a line over MAX_LINE characters is not read at all: TOO_LONG)
        other = np.flatnonzero(~plain & (ends > starts))
        texts = {}
        for i in other.tolist():
            raw = block[starts[i]:ends[i]].decode("utf-8", "replace")
            texts[i] = None if len(raw) > MAX_LINE else raw.strip()
        blank = [i for i, t in texts.items() if t == ""]
        keep_line = plain.copy()
        keep_line[other] = True
        keep_line[blank] = False
        lines = np.flatnonzero(keep_line)  # non-blank lines, in order
        digests = self._digests(block, starts, ends, lines, plain & ~quoted, texts)
        return _Lines(block, starts, ends, numbers, lines, plain, texts, _holds_partial(block),
                      digests, occurrences.count(digests))

    def holds_nothing_after(self, b: _Lines) -> bool:
        """Whether no CRI fragment can be waiting once ``b`` is finished: none waits now
        and ``b`` starts none. Then the next block's columns need not wait for it (the
        column thread is never idle while a block finishes: ~8 % of a read's time)."""
        return not b.tagged and not self.partials.holding()

    def columns_of(self, b: _Lines, holding: bool) -> _Read:
        """Which of the block's lines the column parser read, its frame for those that
        gave a row, and the count of those that gave none, per reason (in the worker
        thread; ``holding``: a CRI fragment waits for its end)."""
        read = _Read(np.zeros(len(b.lines), dtype=bool), np.zeros(len(b.lines), dtype=bool),
                     pd.DataFrame(), {})
        candidates = np.flatnonzero(b.plain[b.lines])
        if not len(candidates) or holding or b.tagged:
            # a CRI fragment is joined in line order by the per-line path (rare: lines
            # over 16 KiB), and the line that ends it must be joined, not read alone
            return read
        body = line_array(b.block, b.starts, b.lines[candidates], pa.string(), newline=True)
        rows, read.frame, *rest = self.columns(body, self.ctx)
        read.rows[candidates[rows]] = True
        read.done |= read.rows
        for reason, where in (rest[0] if rest else {}).items():
            read.done[candidates[where]] = True
            read.skipped[reason] = len(where)
        return read

    def finish(self, b: _Lines, columns: Future) -> dict[str, pd.DataFrame]:
        """The block's frames: the column parser's rows, and the per-line parser's for
        the lines it left, in line order."""
        self.batch.lines += len(b.lines)
        read = columns.result()
        fast = read.frame
        self.batch.skipped.update(read.skipped)
        ids = hexdigests(b.digests)
        frames = self._fallback(b.block, b.starts, b.ends, b.numbers, b.lines, read.done,
                                b.texts, b.occurrence, ids)
        if len(fast):
            self.batch.kept += len(fast)
            at = np.flatnonzero(read.rows)  # positions in ``lines``
            fast = self._identify(fast, b.block, b.starts, b.ends, b.lines[at], b.numbers,
                                  b.occurrence[at], take_at(ids, at))
            frames.setdefault(self.table, []).append(fast)
        out = {t: _in_line_order(dfs) for t, dfs in frames.items()}
        on_lines = self.ctx.settings.get("on_lines")
        if on_lines:
            on_lines(self.batch.lines)
        return out

    def _digests(self, block, starts, ends, lines, simple, texts) -> np.ndarray:
        """Occurrence-0 row-id digests, (n, 10) uint8, one per non-blank line.

        Why one buffer: the ``repr`` of a plain line without quote or backslash is the
        line in single quotes, so every such message is built by one Arrow call and hashed
        from a memoryview; only the other lines build their ``repr`` in Python. Each hash
        starts from a copy of one that has already read the stream's part of the message
        (the same digest, ~20 % less work than a new hasher per line)."""
        out = np.empty((len(lines), 10), dtype=np.uint8)
        is_simple = simple[lines]
        pick = lines[is_simple]
        if len(pick):
            body = line_array(block, starts, pick, pa.binary(), newline=False)
            msgs = pc.binary_join_element_wise(body, b"', 0, 0)", b"")
            offsets = np.frombuffer(msgs.buffers()[1], dtype=np.int32)[
                msgs.offset:msgs.offset + len(msgs) + 1].tolist()
            out[is_simple] = np.frombuffer(hashed_after(
                blake2b(self.prefix, digest_size=10), memoryview(msgs.buffers()[2]), offsets),
                dtype=np.uint8).reshape(-1, 10)
        rest = np.flatnonzero(~is_simple)
        if len(rest):
            digest = [bytes.fromhex(record.row_id(self.stream, self._text(block, starts, ends,
                                                                          texts, lines[i]), 0, 0))
                      for i in rest.tolist()]
            out[rest] = np.frombuffer(b"".join(digest), dtype=np.uint8).reshape(-1, 10)
        return out

    def _fallback(self, block, starts, ends, numbers, lines, done, texts, occurrence, ids):
        """The per-line parser on every line the column parser left, as ``read_log`` does
        (CRI fragments joined first)."""
        rows = RowBuffer()
        order: dict[str, list[int]] = {}
        for pos in np.flatnonzero(~done).tolist():
            i = int(lines[pos])
            text = self._text(block, starts, ends, texts, i)
            lineno = int(numbers[i])
            if text is not None:
                got = self.partials.feed(lineno, text, lambda i=i: block[
                    starts[i]:ends[i]].decode("utf-8", "replace"))
                if got is None:
                    self.batch.skipped[PARTIAL] += 1
                    continue
                if isinstance(got, Joined):
                    self._read_line(rows, order, got.number, got.text, got.identity)
                    continue
            occ = int(occurrence[pos])
            self._read_line(rows, order, lineno, text, (self.stream, text, occ),
                            ids[pos].as_py() if occ == 0 else None)
        return {t: [(df, np.asarray(order[t]))] for t, df in rows.frames().items()}

    def rest(self) -> dict[str, pd.DataFrame]:
        """The line the file ended inside (its CRI fragments joined), if any."""
        rows = RowBuffer()
        order: dict[str, list[int]] = {}
        for joined in self.partials.rest():
            uncount_partial(self.batch)
            self._read_line(rows, order, joined.number, joined.text, joined.identity)
        return rows.frames()

    def _read_line(self, rows: RowBuffer, order: dict[str, list[int]], lineno: int,
                   text: str | None, identity: tuple, first_id: str | None = None) -> None:
        """One line by the per-line parser: its rows, or its malformed sample or skip."""
        if text is None:
            sample = Malformed(str(self.path), lineno, "line", TOO_LONG, "")
            self.batch.add_malformed(sample, self.keep)
            return
        try:
            pairs, line = self.parse_line(self.module, text, self.ctx)
        except LineError as exc:
            sample = Malformed(str(self.path), lineno, exc.field, exc.message, text[:200])
            self.batch.add_malformed(sample, self.keep)
            return
        if not pairs:
            self.batch.skipped[skip_reason(self.module, line)] += 1
            return
        self.batch.kept += 1
        for index, (table, row) in enumerate(pairs):
            row["row_id"] = (first_id if first_id is not None and index == 0
                             else record.row_id(*identity, index))
            row["source"] = f"{self.base}:{lineno}" if table in LINE_SOURCED else "log"
            rows.add(table, row)
            order.setdefault(table, []).append(lineno)

    def _identify(self, frame, block, starts, ends, lines, numbers, occurrence, ids):
        """``row_id`` and ``source`` for the column parser's rows."""
        linenos = numbers[lines]
        again = np.flatnonzero(occurrence)
        if len(again):  # a repeated line: its row id hashes its occurrence (Python, rare)
            row_ids = ids.to_pylist()
            for pos in again.tolist():
                text = block[starts[lines[pos]]:ends[lines[pos]]].decode("ascii")
                row_ids[pos] = record.row_id(self.stream, text, int(occurrence[pos]), 0)
            ids = pa.array(row_ids, pa.string())
        sources = pc.binary_join_element_wise(f"{self.base}:", pc.cast(pa.array(linenos),
                                                                        pa.string()), "")
        return record.validate(self.table, _in_schema(self.table, frame, {
            "row_id": ids.to_pandas().array, "source": sources.to_pandas().array})), linenos

    @staticmethod
    def _text(block, starts, ends, texts, i: int) -> str:
        i = int(i)
        if i in texts:
            return texts[i]
        return block[starts[i]:ends[i]].decode("ascii")


def _holds_partial(block: bytes) -> bool:
    """Whether ``block`` may hold a CRI ``P`` fragment. Why numpy first: a ``P`` tag is a
    ``P`` between a space and a space or colon, and numpy finds those in a 4 MB block in
    ~0.6 ms outside the GIL; ``bytes.find`` for the two tags took ~3 ms holding it (a
    tenth of the column thread's time, and the reading thread stalled meanwhile). Only
    the few such ``P`` are then matched against the tag."""
    data = np.frombuffer(block, dtype=np.uint8)
    at = np.flatnonzero(data[_TAG_AT:-1] == _P) + _TAG_AT  # P with room for " stdout "
    if not len(at):
        return False
    at = at[(data[at - 1] == _SPACE) & ((data[at + 1] == _SPACE) | (data[at + 1] == _COLON))]
    return any(_PARTIAL_TAGS.match(block, i - _TAG_AT) for i in at.tolist())


_P, _SPACE, _COLON = ord("P"), ord(" "), ord(":")
_TAG_AT = len(b" stdout ")  # the tag's P, counted from the space before the stream


def _in_schema(table: str, frame: pd.DataFrame, more: dict) -> pd.DataFrame:
    """``frame`` and ``more``'s columns in the table's order, on a nanosecond UTC index: the
    shape ``record.validate`` passes without rebuilding each column (a tenth of a block's
    time). A column the parser did not give is left out, for ``validate`` to name or fill."""
    columns = {**{name: frame[name].array for name in frame.columns}, **more}
    for col in record.TABLES[table]:  # a text the format does not log: "" (as validate)
        if col.name not in columns and col.dtype == "string":
            columns[col.name] = repeated("", len(frame)).to_pandas().array
    order = [c.name for c in record.TABLES[table] if c.name in columns]
    order += [name for name in columns if name not in order]
    index = pd.DatetimeIndex(frame.index).tz_convert("UTC").as_unit("ns").rename("time")
    return pd.DataFrame({name: columns[name] for name in order}, index=index, copy=False)


def _in_line_order(frames: list[tuple[pd.DataFrame, np.ndarray]]) -> pd.DataFrame:
    """One frame of ``(frame, line numbers)`` pieces, rows in line order."""
    if len(frames) == 1:
        return frames[0][0]
    df = pd.concat([f for f, _ in frames])
    return df.iloc[np.argsort(np.concatenate([n for _, n in frames]), kind="stable")]
