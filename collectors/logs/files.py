"""A log file's bytes and lines as they lie on disk, for both readers: gzip recognised by
content (a rotated ``access.log.2`` may be either), a file truncated while read (rotation
by ``copytruncate``), lines too long to be a log line.
"""

from __future__ import annotations

import gzip
import io
import os
from collections.abc import Callable, Iterator
from pathlib import Path

from collectors.base import Batch, bounded_lines

__all__ = ["iter_lines", "numbered_lines", "raw_chunks", "truncated_gap"]

_GZIP_MAGIC = b"\x1f\x8b"


def _open_text(path: Path) -> io.TextIOBase:
    """Text or gzip (recognised by content, so rotated ``access.log.2`` works either way)."""
    with open(path, "rb") as fh:
        magic = fh.read(2)
    if magic == _GZIP_MAGIC:
        return gzip.open(path, "rt", encoding="utf-8-sig", errors="replace")
    return open(path, encoding="utf-8-sig", errors="replace")


def raw_chunks(path: Path, size: int,
                on_bytes: Callable[[int], None] | None = None,
                on_truncated: Callable[[int, int], None] | None = None) -> Iterator[bytes]:
    """The file's bytes, ``size`` at a time (gzip recognised by content, as above);
    ``on_bytes`` is told how far into the file each read got (a ``.gz``: its compressed
    bytes, so a progress bar over file sizes ends at 100 %).

    A plain file that shrinks below what was read (``copytruncate`` rotation, or a
    writer starting over) ends the read there: the bytes read are kept, nothing is read
    twice, and ``on_truncated(bytes read, size now)`` says so. A file renamed away mid-read
    (``create`` rotation) is read to its end through the open handle."""
    with open(path, "rb") as raw:
        magic = raw.read(2)
        raw.seek(0)
        if magic == _GZIP_MAGIC:
            with gzip.GzipFile(fileobj=raw, mode="rb") as fh:
                while chunk := fh.read(size):
                    if on_bytes:
                        on_bytes(raw.tell())
                    yield chunk
            return
        while chunk := raw.read(size):
            if on_bytes:
                on_bytes(raw.tell())
            yield chunk
        now = os.fstat(raw.fileno()).st_size
        if now < raw.tell() and on_truncated:
            on_truncated(raw.tell(), now)


def truncated_gap(path: Path, batch: Batch) -> Callable[[int, int], None]:
    """The gap a log truncated while read leaves (its window filled in by ``collect``)."""
    from rca.live import Gap

    def note(read: int, now: int) -> None:
        batch.gaps.append(Gap("logs", str(path), f"truncated while read: {read:,} bytes read, "
                              f"{now:,} left (rotated by copytruncate?); the lines read are "
                              "kept, the rest was not read: collect again, with the rotated "
                              "file, to read them"))
    return note


def iter_lines(path: str | os.PathLike) -> Iterator[tuple[int, str]]:
    """``(line number, stripped text)`` for each non-blank line, numbered from 1
    (over-long lines left out: see ``numbered_lines``)."""
    for lineno, text in numbered_lines(path):
        if text is not None:
            yield lineno, text


def numbered_lines(path: str | os.PathLike,
                   stripped: bool = True) -> Iterator[tuple[int, str | None]]:
    """Like ``iter_lines``, but an over-long line (``MAX_LINE``) yields ``None``; with
    ``stripped=False`` a line comes as written, only its newline taken off."""
    with _open_text(Path(path)) as fh:
        for lineno, raw in bounded_lines(fh):
            if raw is None:
                yield lineno, None
                continue
            text = raw.strip()
            if text:
                yield lineno, text if stripped else raw.removesuffix("\n")
