"""Read one log file with one parser into a ``Batch``: rows, row ids and the accounting.

Why the reader (not the parsers) owns row ids and bad lines: every format must give the
same guarantees. Re-reading a file yields the same ``row_id``s (so the store de-duplicates
a re-collection), two identical lines stay two rows (the occurrence index tells them
apart), and a bad line is counted and sampled but never stops the rest of the file.
"""

from __future__ import annotations

import gc
import os
import re
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from hashlib import blake2b
from pathlib import Path
from types import ModuleType

import numpy as np
import pandas as pd

from collectors.base import (
    MAX_LINE,
    Batch,
    LineError,
    Malformed,
    ParseContext,
    RowBuffer,
    check_row,
)
from collectors.logs.files import iter_lines, numbered_lines, raw_chunks, truncated_gap
from collectors.logs.partials import PARTIAL, Joined, Partials
from collectors.logs.wrappers import unwrap
from rca import record

__all__ = ["iter_lines", "numbered_lines", "parse_line", "parse_lines", "read_log",
           "read_log_blocks", "skip_reason", "stream_name", "uncount_partial"]

#: Rows are turned into frames every this many, so memory holds at most this many dict
#: rows (~1 kB each) besides the compact frames; a multi-GB log then still fits.
CHUNK_ROWS = 50_000


#: Tables whose rows point back at their file and line (a finding shows where to look).
LINE_SOURCED = ("requests", "dns")


def read_log(path: str | os.PathLike, fmt: str, ctx: ParseContext, keep: int = 3) -> Batch:
    """Parse ``path`` as ``fmt`` (a name in ``collectors.logs.FORMATS``, or ``"auto"``).

    Requests rows get ``source = "<file>:<line>"`` so a finding can point at the line;
    events rows get ``source = "log"`` (the events table's source is the kind of origin).
    Malformed samples name ``path`` as given. The whole file's frames at once: see
    ``read_log_blocks`` to stream them.
    """
    batch, blocks = read_log_blocks(path, fmt, ctx, keep)
    chunks: dict[str, list[pd.DataFrame]] = defaultdict(list)
    for frames in blocks:
        for table, df in frames.items():
            chunks[table].append(df)
    batch.frames = {t: dfs[0] if len(dfs) == 1 else pd.concat(dfs) for t, dfs in chunks.items()}
    return batch


def read_log_blocks(path: str | os.PathLike, fmt: str, ctx: ParseContext,
                    keep: int = 3) -> tuple[Batch, Iterator[dict[str, pd.DataFrame]]]:
    """``read_log`` as a stream: the batch (its counts complete once the stream is
    consumed) and the frames of each block of lines, so memory holds one block."""
    from collectors.logs.blocks import READ_BYTES, read_blocks
    from collectors.logs.columns import COLUMN_PARSERS

    path = Path(path)
    batch = Batch(source=str(path))
    if fmt == "auto" and next(iter_lines(path), None) is None:
        return batch, iter(())  # an empty file: nothing to detect, nothing lost
    module = _module(path, fmt)
    columns = COLUMN_PARSERS.get(module.NAME, _no_columns)
    raw = raw_chunks(path, READ_BYTES, ctx.settings.get("on_bytes"), truncated_gap(path, batch))
    blocks = read_blocks(raw, path, module, columns, ctx, batch, keep, stream_name(path),
                         parse_line)
    return batch, _gc_paused_over(blocks)


def parse_line(module: ModuleType, text: str,
               ctx: ParseContext) -> tuple[list[tuple[str, dict]], str]:
    """One line's rows by the format's own parser, each checked for physical sense, and
    the line as parsed (its CRI/docker wrapper taken off); raises ``LineError``."""
    line = unwrap(text, getattr(module, "READS_TIME_PREFIX", False))
    pairs = module.parse(line, ctx)
    for _table, row in pairs:
        check_row(row)
    return pairs, line


def uncount_partial(batch: Batch) -> None:
    """A fragment counted as ``PARTIAL`` turned out to end its line (the file ended)."""
    batch.skipped[PARTIAL] -= 1
    if not batch.skipped[PARTIAL]:
        del batch.skipped[PARTIAL]


def skip_reason(module: ModuleType, line: str) -> str:
    """Why a valid line gave no row, for the accounting."""
    return getattr(module, "skip_reason", _no_record)(line)


def _no_columns(lines, ctx: ParseContext) -> tuple[np.ndarray, pd.DataFrame]:
    """For formats without a column parser: every line goes to the per-line parser."""
    return np.zeros(0, dtype=np.int64), pd.DataFrame()


def _gc_paused_over(blocks: Iterator) -> Iterator:
    with _gc_paused():
        yield from blocks


def read_log_per_line(path: str | os.PathLike, fmt: str, ctx: ParseContext,
                      keep: int = 3) -> Batch:
    """Parse ``path`` as ``fmt`` (a name in ``collectors.logs.FORMATS``, or ``"auto"``),
    one line at a time: the reference ``read_log`` is held equal to (and the fallback
    ``blocks`` uses for the lines its column parsers leave).

    Requests rows get ``source = "<file>:<line>"`` so a finding can point at the line;
    events rows get ``source = "log"`` (the events table's source is the kind of origin).
    Malformed samples name ``path`` as given.
    """
    path = Path(path)
    if fmt == "auto" and next(iter_lines(path), None) is None:
        return Batch(source=str(path))  # an empty file: nothing to detect, nothing lost
    module = _module(path, fmt)
    base, stream = path.name, stream_name(path)
    # occurrences per distinct line, keyed by a 128-bit digest rather than the text, so
    # a large file is not held in memory twice
    # Every line read counts, whatever becomes of it (the block reader counts so too): a
    # line that ends a CRI fragment is read joined, and does not make the same text
    # printed whole later a first occurrence again.
    seen: dict[bytes, int] = {}
    current = [0]

    def counted(lines: Iterator[tuple[int, str | None]]) -> Iterator[tuple[int, str | None]]:
        for lineno, raw in lines:
            if raw is not None:
                key = blake2b(raw.strip().encode("utf-8", "surrogatepass"),
                              digest_size=16).digest()
                current[0] = seen.get(key, 0)
                seen[key] = current[0] + 1
            yield lineno, raw

    def identity(_lineno: int, text: str) -> tuple:
        return stream, text, current[0]

    return parse_lines(counted(numbered_lines(path, stripped=False)), module, ctx, keep,
                       Batch(source=str(path)), identity, lambda lineno: f"{base}:{lineno}",
                       Partials(stream))


def parse_lines(lines: Iterable[tuple[int, str | None]], module: ModuleType,
                ctx: ParseContext, keep: int, batch: Batch,
                identity: Callable[[int, str], tuple], where: Callable[[int], str],
                partials: Partials | None = None) -> Batch:
    """Parse numbered lines with a format ``module`` into ``batch``, one at a time: the
    loop every line source shares (files here, Loki streams in ``collectors.loki``).
    ``identity(number, text)`` gives the parts of the row id (the line's index within it
    is added); ``where(number)`` the ``source`` of request rows. Malformed samples name
    ``batch.source``. With ``partials`` (a file's lines, given unstripped), CRI
    fragments are joined first (``collectors.logs.partials``)."""
    chunks: dict[str, list[pd.DataFrame]] = defaultdict(list)
    rows, pending = RowBuffer(), 0
    row_id = record.row_id
    on_lines = ctx.settings.get("on_lines")  # progress on a long file: lines read so far

    def read(lineno: int, text: str | None, ident: tuple | None = None) -> int:
        if text is None:
            batch.add_malformed(Malformed(batch.source, lineno, "line", TOO_LONG, ""), keep)
            return 0
        try:
            pairs, line = parse_line(module, text, ctx)
        except LineError as exc:
            sample = Malformed(batch.source, lineno, exc.field, exc.message, text[:200])
            batch.add_malformed(sample, keep)
            return 0
        if not pairs:
            batch.skipped[skip_reason(module, line)] += 1
            return 0
        batch.kept += 1
        ident = ident or identity(lineno, text)
        for index, (table, row) in enumerate(pairs):
            row["row_id"] = row_id(*ident, index)
            row["source"] = where(lineno) if table in LINE_SOURCED else "log"
            rows.add(table, row)
        return len(pairs)

    with _gc_paused():
        for lineno, text in lines:
            batch.lines += 1
            if partials is not None and text is not None:
                raw, text = text, text.strip()
                got = partials.feed(lineno, text, lambda raw=raw: raw)
                if got is None:
                    batch.skipped[PARTIAL] += 1
                    continue
                if isinstance(got, Joined):
                    pending += read(got.number, got.text, got.identity)
                    continue
            pending += read(lineno, text)
            if pending >= CHUNK_ROWS:
                _flush(rows, chunks)
                rows, pending = RowBuffer(), 0
                if on_lines:
                    on_lines(batch.lines)
        for joined in partials.rest() if partials is not None else ():
            uncount_partial(batch)  # the last fragment carries the line after all
            read(joined.number, joined.text, joined.identity)
        _flush(rows, chunks)
    for t, dfs in chunks.items():
        mine = dfs[0] if len(dfs) == 1 else pd.concat(dfs)
        batch.frames[t] = mine if t not in batch.frames else pd.concat([batch.frames[t], mine])
    return batch


_ROTATION = re.compile(r"(?:\.gz|\.\d+|[-.]\d{8}(?:\d{2,6})?)+$")


def stream_name(path: Path) -> str:
    """The log stream a file belongs to: its two innermost folders (``<pod>/<container>``
    under /var/log/pods) and its name without rotation
    suffixes (``access.log.1``, ``access.log-20210823.gz`` → ``access.log``). Row ids
    hash the stream, not the file name, so a rotated file re-collected under its new name
    is not stored twice, while ``0.log`` of two different pods stay apart."""
    folders = "/".join(path.resolve().parent.parts[-2:])
    return f"{folders}/{_ROTATION.sub('', path.name)}"


TOO_LONG = f"longer than {MAX_LINE} characters: not read (no log line is this long)"


def _no_record(line: str) -> str:
    return "no record in line"


def _module(path: Path, fmt: str) -> ModuleType:
    # Imported here: the package imports this module to re-export ``read_log``.
    from collectors.logs import FORMATS, detect

    if fmt == "auto":
        fmt = detect(path)
    if fmt not in FORMATS:
        known = ", ".join(["auto", *FORMATS])
        raise ValueError(f"unknown log format {fmt!r}; formats are {known}")
    return FORMATS[fmt]


def _flush(rows: RowBuffer, chunks: dict[str, list[pd.DataFrame]]) -> None:
    for table, df in rows.frames().items():
        chunks[table].append(df)


@contextmanager
def _gc_paused() -> Iterator[None]:
    """Pause the cyclic GC: parsing allocates millions of acyclic objects (rows), and each
    collection rescans all of them; pausing saves ~15% of a large read."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()
