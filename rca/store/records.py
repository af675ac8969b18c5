"""Collection records: the accounting of each ``rca collect`` (files, lines, malformed
samples, rows), kept beside the data as ``collections/<when>-<pid>-<since>-<until>.json``.

Why the store owns them: the report shows the malformed lines of the files behind an
analysis long after the terminal is gone, so the records are part of the store's contract;
a damaged one is an error naming its file, never a bare ``JSONDecodeError``.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pandas as pd

from rca.store.atomic import atomic_write
from rca.store.errors import StoreError

__all__ = ["read_records", "save_record"]

FOLDER = "collections"
_REQUIRED = ("since", "until", "files")


def save_record(root: Path, rec: dict) -> Path:
    """Write one record; named by when it ran, so a second collection of the same window
    keeps its own."""
    since, until = pd.Timestamp(rec["since"]), pd.Timestamp(rec["until"])
    name = (f"{pd.Timestamp.now(tz='UTC').strftime('%Y%m%dT%H%M%S%f')}-{os.getpid()}-"
            f"{since.strftime('%Y%m%dT%H%M%S')}-{until.strftime('%Y%m%dT%H%M%S')}.json")
    return atomic_write(root / FOLDER / name, json.dumps(rec, indent=1, default=str))


def read_records(root: Path) -> list[dict]:
    """Every record, oldest first."""
    folder = root / FOLDER
    return [_read(p) for p in sorted(folder.glob("*.json"))] if folder.is_dir() else []


def _read(path: Path) -> dict:
    try:
        rec = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise StoreError(f"{path}: not a readable collection record: {exc}; "
                         f"move it out of the store to analyze without it") from exc
    if not isinstance(rec, dict) or any(k not in rec for k in _REQUIRED):
        raise StoreError(f"{path}: not a collection record (needs {', '.join(_REQUIRED)}); "
                         f"move it out of the store to analyze without it")
    return rec
