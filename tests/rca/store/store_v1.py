"""rca 0.1's store, verbatim (layout 1): the migration test writes a store with it.

Kept as the code that wrote real stores, so the test proves the migration on exactly what
users have on disk. Do not "fix" it.

The store: Parquet files partitioned by table and UTC day.

Layout::

    <store>/VERSION                     schema version, written once
    <store>/<table>/<YYYY-MM-DD>.parquet

Why one file per table-day and a merge on write: a collection window usually touches one
or two days, so merging the new rows into those files and de-duplicating on ``row_id``
(the latest write wins) makes re-collecting idempotent without an index or a database.
Every file is written to a temporary name in the same directory and renamed into place,
so a crash leaves either the old file or the new one, never half of one.
"""

from __future__ import annotations

import fcntl
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from rca import record

__all__ = ["Store", "StoreError"]

_META_KEY = b"rca.schema_version"


class StoreError(RuntimeError):
    """The store cannot be read or written; the message says which file and why."""


class Store:
    def __init__(self, root: str | os.PathLike) -> None:
        self.root = Path(root)
        if self.root.exists() and not self.root.is_dir():
            raise StoreError(f"store {self.root} is a file, not a directory")

    def exists(self) -> bool:
        return (self.root / "VERSION").is_file()

    @contextmanager
    def _locked(self, exclusive: bool) -> Iterator[None]:
        """One writer at a time, and no reader while a file is being replaced: a merge
        reads a day file and writes it back, so two concurrent collections would
        otherwise each overwrite the other's rows."""
        self.root.mkdir(parents=True, exist_ok=True)
        with open(self.root / ".lock", "a+b") as fh:
            fcntl.flock(fh, fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH)
            try:
                yield
            finally:
                fcntl.flock(fh, fcntl.LOCK_UN)

    # -- writing ---------------------------------------------------------------------
    def write(self, table: str, df: pd.DataFrame) -> int:
        """Merge ``df`` into the store; returns how many rows are new (not seen before)."""
        df = record.validate(table, df)
        if df.empty:
            return 0
        with self._locked(exclusive=True):
            return self._merge(table, df)

    def _merge(self, table: str, df: pd.DataFrame) -> int:
        self._ensure_version()
        added = 0
        for day, part in df.groupby(df.index.strftime("%Y-%m-%d"), sort=True):
            path = self._path(table, day)
            old = self._read_file(table, path) if path.exists() else record.empty(table)
            before = set(old["row_id"])
            merged = pd.concat([old, part]) if len(old) else part
            merged = merged[~merged["row_id"].duplicated(keep="last")].sort_index(kind="stable")
            added += int((~part["row_id"].drop_duplicates().isin(before)).sum())
            self._atomic_write(path, merged)
        return added

    def _atomic_write(self, path: Path, df: pd.DataFrame) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        table = pa.Table.from_pandas(df, preserve_index=True)
        meta = dict(table.schema.metadata or {})
        meta[_META_KEY] = str(record.SCHEMA_VERSION).encode()
        table = table.replace_schema_metadata(meta)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
        os.close(fd)
        try:
            pq.write_table(table, tmp, compression="zstd")
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    def _ensure_version(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        vfile = self.root / "VERSION"
        if vfile.exists():
            self._check_version(vfile.read_text().strip(), vfile)
        else:
            fd, tmp = tempfile.mkstemp(dir=self.root, prefix=".VERSION.")
            with os.fdopen(fd, "w") as fh:
                fh.write(f"{record.SCHEMA_VERSION}\n")
            os.replace(tmp, vfile)

    @staticmethod
    def _check_version(text: str, where: Path) -> int:
        try:
            version = int(text)
        except ValueError as exc:
            raise StoreError(f"{where}: schema version {text!r} is not a number") from exc
        if version > record.SCHEMA_VERSION:
            raise StoreError(
                f"{where}: written by a newer rca (schema {version}, this rca reads up to "
                f"{record.SCHEMA_VERSION}); upgrade rca or use another --store"
            )
        return version

    # -- reading ---------------------------------------------------------------------
    def load(self, table: str, since: pd.Timestamp | None = None,
             until: pd.Timestamp | None = None) -> pd.DataFrame:
        """Rows of ``table`` with ``since <= time < until`` (either bound optional)."""
        if table not in record.TABLES:
            raise StoreError(f"unknown table {table!r}; tables are {', '.join(record.TABLES)}")
        files = self._files(table, since, until)
        if not files:
            return record.empty(table)
        with self._locked(exclusive=False):
            frames = [self._read_file(table, f) for f in files if f.exists()]
        df = pd.concat(frames).sort_index(kind="stable")
        # A row can move day between collections (an event whose last_seen passed
        # midnight); its older copy stays in the older file. Read it once, at its latest.
        df = df[~df["row_id"].duplicated(keep="last")]
        if since is not None:
            df = df[df.index >= since]
        if until is not None:
            df = df[df.index < until]
        return df

    def tables(self) -> dict[str, int]:
        """Row count per table, for summaries."""
        out = {}
        for table in record.TABLES:
            out[table] = sum(pq.ParquetFile(f).metadata.num_rows for f in self._files(table))
        return out

    def _files(self, table: str, since=None, until=None) -> list[Path]:
        folder = self.root / table
        if not folder.is_dir():
            return []
        lo = since.strftime("%Y-%m-%d") if since is not None else ""
        hi = until.strftime("%Y-%m-%d") if until is not None else "9999"
        return sorted(p for p in folder.glob("*.parquet") if lo <= p.stem <= hi)

    def _read_file(self, table: str, path: Path) -> pd.DataFrame:
        try:
            pf = pq.read_table(path)
        except (OSError, pa.ArrowInvalid) as exc:
            raise StoreError(f"{path}: cannot read Parquet file: {exc}") from exc
        meta = pf.schema.metadata or {}
        if _META_KEY not in meta:
            raise StoreError(f"{path}: not written by rca (no schema version); remove it")
        self._check_version(meta[_META_KEY].decode(), path)
        df = pf.to_pandas()
        try:
            return record.validate(table, df)
        except record.RecordError as exc:
            raise StoreError(f"{path}: does not match the {table} schema: {exc}") from exc

    def _path(self, table: str, day: str) -> Path:
        return self.root / table / f"{day}.parquet"
