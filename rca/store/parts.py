"""Part files: one Parquet file per collection, table and UTC day, never changed once
committed.

Why integrity checks twice: Parquet page checksums (CRC32 per page, written and verified
by Arrow) catch a flipped byte in the data, and the part's SHA-256 kept in the manifest
also catches one in page headers or the footer, which the CRCs do not cover. Either way a
damaged part is an error naming the file, never a quietly different analysis.

Every row carries ``write_seq``: the order of the write that stored it. Reads keep, for
each ``row_id``, the row with the highest ``write_seq`` (the latest write wins), also when
the copies sit in different days or a compacted part; it is an ordinary column, so SQL
engines de-duplicate the same way.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from rca import record
from rca.store.errors import CorruptPartError, StoreError

__all__ = ["SEQ", "PartWriter", "arrow_of", "check_version", "concat", "read_part",
           "read_part_bytes", "sha256_of"]

SEQ = "write_seq"
META_KEY = b"rca.schema_version"
#: Rows per Parquet row group: large enough that Parquet's per-group cost is noise, small
#: enough that a writer holds little in memory.
ROW_GROUP = 131_072
#: Columns whose values hardly repeat: a dictionary page for them is built, found too big
#: and dropped for every row group (~20 % of a log part's write time, and a bigger file).
UNIQUE_COLUMNS = frozenset({"row_id", "source", "request_id"})


def arrow_of(df: pd.DataFrame, seq) -> pa.Table:
    """A validated frame as the Arrow table a part stores: the record's columns, ``time``,
    then ``write_seq`` (one number for the whole write, or one per row)."""
    table = pa.Table.from_pandas(df, preserve_index=True)
    seqs = np.full(len(df), seq, dtype="int64") if np.isscalar(seq) else np.asarray(seq, "int64")
    table = table.append_column(SEQ, pa.array(seqs, pa.int64()))
    meta = dict(table.schema.metadata or {})
    meta[META_KEY] = str(record.SCHEMA_VERSION).encode()
    return table.replace_schema_metadata(meta)


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


@dataclass
class PartWriter:
    """Appends Arrow tables to one part file, buffering them into whole row groups, and
    knows what the manifest needs about the part when it is closed."""

    path: Path
    rows: int = 0
    times: tuple[int, int] | None = None  # ns since the epoch, UTC
    seqs: tuple[int, int] | None = None
    _writer: pq.ParquetWriter | None = None
    _buffer: list[pa.Table] | None = None
    _buffered: int = 0

    def append(self, table: pa.Table) -> None:
        if not table.num_rows:
            return
        self.times = _widen(self.times, table.column("time").cast(pa.int64()))
        self.seqs = _widen(self.seqs, table.column(SEQ))
        self.rows += table.num_rows
        self._buffer = [*(self._buffer or []), table]
        self._buffered += table.num_rows
        if self._buffered >= ROW_GROUP:
            self._drain()

    def flush(self) -> None:
        """Write what is buffered as a row group of its own (the part stays open)."""
        self._drain()

    def _drain(self) -> None:
        if not self._buffer:
            return
        table = pa.concat_tables(self._buffer)
        if self._writer is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._writer = pq.ParquetWriter(
                self.path, table.schema, compression="zstd", write_page_checksum=True,
                use_dictionary=[c for c in table.schema.names if c not in UNIQUE_COLUMNS])
        self._writer.write_table(table, row_group_size=ROW_GROUP)
        self._buffer, self._buffered = [], 0

    def close(self) -> dict | None:
        """Finish the file and return its manifest facts (None when nothing was written)."""
        self._drain()
        if self._writer is None:
            return None
        self._writer.close()
        with open(self.path, "rb") as fh:
            os.fsync(fh.fileno())
        return {"rows": self.rows, "seq_min": self.seqs[0], "seq_max": self.seqs[1],
                "t_min": self.times[0], "t_max": self.times[1],
                "bytes": self.path.stat().st_size, "sha256": sha256_of(self.path)}

    def discard(self) -> None:
        if self._writer is not None:
            self._writer.close()
        self.path.unlink(missing_ok=True)


def concat(tables: list[pa.Table]) -> pa.Table:
    """Parts written before a column was added to the record lack it: it reads as missing
    (``record.validate`` fills it in) instead of failing the whole load."""
    return pa.concat_tables(tables, promote_options="permissive")


def _widen(span: tuple[int, int] | None, values) -> tuple[int, int]:
    got = pc.min_max(values)
    lo, hi = got["min"].as_py(), got["max"].as_py()
    return (lo, hi) if span is None else (min(span[0], lo), max(span[1], hi))


def read_part_bytes(path: Path, sha256: str | None) -> bytes:
    """The part's bytes, checked against the SHA-256 the manifest recorded.

    Raises ``CorruptPartError`` naming the file when they differ, and
    ``FileNotFoundError`` when it is gone (a compaction may have replaced it)."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise
    except OSError as exc:
        raise StoreError(f"{path}: cannot read: {exc.strerror}") from exc
    if sha256 is not None:
        got = hashlib.sha256(data).hexdigest()
        if got != sha256:
            raise CorruptPartError(
                f"{path}: corrupt part: its SHA-256 is {got[:12]}…, the manifest recorded "
                f"{sha256[:12]}…; restore the file from a backup, or drop it with "
                f"`rca compact --drop-corrupt` (its rows are lost)")
    return data


def read_part(path: Path, sha256: str | None, dictionary: tuple[str, ...] = ()) -> pa.Table:
    """The part's rows, verified against its manifest hash and its page checksums; the
    ``dictionary`` columns read dictionary-encoded (a code per row, each value once)."""
    data = read_part_bytes(path, sha256)
    try:
        table = pq.read_table(pa.BufferReader(data), page_checksum_verification=True,
                              read_dictionary=list(dictionary) or None)
    except (OSError, pa.ArrowException) as exc:
        raise CorruptPartError(f"{path}: corrupt part: cannot read Parquet: {exc}") from exc
    meta = table.schema.metadata or {}
    if META_KEY not in meta:
        raise StoreError(f"{path}: not written by rca (no schema version); remove it")
    check_version(meta[META_KEY].decode(), path, record.SCHEMA_VERSION, "schema")
    return table


def check_version(text: str, where: object, known: int, what: str) -> int:
    """``text`` as a version this rca can read, or a clear error."""
    try:
        version = int(text)
    except ValueError as exc:
        raise StoreError(f"{where}: {what} version {text!r} is not a number") from exc
    if version > known:
        raise StoreError(f"{where}: written by a newer rca ({what} {version}, this rca reads "
                         f"up to {known}); upgrade rca or use another --store")
    return version
