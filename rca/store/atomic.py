"""The one way rca replaces a file: write a temporary file beside it, then rename.

Why one helper: a reader (``analyze``, a web server publishing reports, another
collection) must see the old file or the new one, never half of one, and a run killed
mid-write must leave nothing that looks finished. The temporary name starts with ``.`` and
ends with ``.tmp`` so the store's recovery can recognise and remove what a killed run left.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path

__all__ = ["TMP_SUFFIX", "atomic_write", "fsync_dir"]

TMP_SUFFIX = ".tmp"


def atomic_write(path: str | os.PathLike, data: bytes | str, mode: int = 0o644) -> Path:
    """Write ``data`` to ``path`` through a synced temporary file and a rename.

    ``mode`` is set explicitly because ``mkstemp`` creates files readable by their owner
    only, and the store and the reports are meant to be read by others (a read-only
    analyst, a web server)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=TMP_SUFFIX, dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data.encode("utf-8") if isinstance(data, str) else data)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    fsync_dir(path.parent)
    return path


def fsync_dir(folder: str | os.PathLike) -> None:
    """Make a rename durable: without syncing the directory, a power cut after the rename
    can bring back the old name."""
    with contextlib.suppress(OSError):
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
