"""Layout 1 (rca 0.1): one Parquet file per table and UTC day, ``<table>/<YYYY-MM-DD>.parquet``,
merged and rewritten on every collection. It is migrated into parts on first open.

Why keep the migration rather than ask users to re-collect: the raw logs behind an old
store are often rotated away; the store may be the only copy.

The migration is one transaction: every old file becomes one part (days in order, so a
row that moved day keeps its latest copy, as layout 1 read it), the manifest is committed,
the parts are moved into place, and only then are the old files removed and ``VERSION``
raised. A run killed before the commit leaves layout 1 untouched; one killed after it is
finished by the next open.
"""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from rca import record
from rca.store.errors import StoreError
from rca.store.manifest import Manifest
from rca.store.parts import META_KEY, check_version

__all__ = ["migrate", "v1_files"]

_DAY_FILE = re.compile(r"^\d{4}-\d{2}-\d{2}\.parquet$")


def v1_files(root: Path) -> list[tuple[str, Path]]:
    """(table, file) of every layout-1 day file, oldest day first."""
    out = []
    for table in record.TABLES:
        folder = root / table
        if folder.is_dir():
            out += [(table, p) for p in sorted(folder.iterdir()) if _DAY_FILE.match(p.name)]
    return sorted(out, key=lambda tp: (tp[1].stem, tp[0]))


def read_v1_file(table: str, path: Path) -> pd.DataFrame:
    try:
        pf = pq.read_table(path)
    except (OSError, pa.ArrowInvalid) as exc:
        raise StoreError(f"{path}: cannot read Parquet file: {exc}") from exc
    meta = pf.schema.metadata or {}
    if META_KEY not in meta:
        raise StoreError(f"{path}: not written by rca (no schema version); remove it")
    check_version(meta[META_KEY].decode(), path, record.SCHEMA_VERSION, "schema")
    try:
        return record.validate(table, pf.to_pandas())
    except record.RecordError as exc:
        raise StoreError(f"{path}: does not match the {table} schema: {exc}") from exc


def migrate(root: Path, manifest: Manifest, begin) -> int:
    """Move every layout-1 file into the parts layout; returns how many rows moved.

    ``begin`` opens a transaction on ``manifest`` (the caller holds the write lock)."""
    files = v1_files(root)
    if files and not manifest.parts:
        txn = begin()
        try:
            for table, path in files:
                txn.append_unchecked(table, read_v1_file(table, path))
            txn.commit()
        except BaseException:
            txn.abort()
            raise
    moved = sum(p.rows for p in manifest.parts)
    for _, path in files:
        path.unlink()
    return moved
