"""A transaction: the parts one collection adds, committed together.

Why stage, then commit, then move: parts are written under ``.staging/<txn>/`` (outside
the table folders, so neither rca nor a SQL engine globbing ``<table>/**/*.parquet`` sees
them), the manifest that lists them is replaced in one rename (the commit), and only then
are they moved into ``<table>/day=<day>/``. A kill before the commit leaves only staging
files, which the next writer removes; a kill after it leaves a committed manifest whose
parts the next writer finishes moving (readers find them in staging meanwhile).

Why compare with what is stored before appending: re-collecting the same window must add
nothing, and a collection should cost what it adds. Each batch is compared, by ``row_id``
and content, with the committed parts of the same table and day: identical rows are
skipped, changed rows are appended (the latest write wins on read), and only rows with an
unseen ``row_id`` count as new. For tables whose ``row_id`` includes the row's time (log
lines, metric samples) only parts whose time range overlaps the batch are read, so adding
one hour costs the same whether the store holds a day or a year.
"""

from __future__ import annotations

import os
import secrets
import shutil
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from rca import record
from rca.store.atomic import fsync_dir
from rca.store.compare import StoredDay, unseen
from rca.store.manifest import Manifest, Part
from rca.store.parts import SEQ, PartWriter, arrow_of

__all__ = ["STAGING", "TIME_IN_ROW_ID", "Transaction", "resolve"]

STAGING = ".staging"
#: Tables whose ``row_id`` hashes the row's time, so a row can only be stored again at the
#: same time: a file's log line (``collectors/logs/reader.py``) and a metric sample
#: (``collectors/metrics_file.py``). Events and objects keep their identity while their
#: time moves (``last_seen``, the collection stamp), so all their parts of a day are read.
TIME_IN_ROW_ID = frozenset({"requests", "metrics"})


def resolve(root: Path, part: Part) -> Path:
    """Where a committed part is now: its place, or its staging folder when the writer
    that committed it has not moved it yet."""
    final = root / part.file
    if final.exists():
        return final
    staged = root / STAGING / part.txn / part.file
    return staged if staged.exists() else final


class Transaction:
    """Stages writes into one part per table and day; ``commit`` makes them visible."""

    def __init__(self, root: Path, manifest: Manifest) -> None:
        self.root, self.manifest = root, manifest
        self.txn = secrets.token_hex(6)
        self.staging = root / STAGING / self.txn
        self._writers: dict[tuple[str, str], PartWriter] = {}
        self._replaces: dict[tuple[str, str], int] = {}
        self._stored_key: tuple[str, str] | None = None
        self._stored: StoredDay | None = None
        self.committed: list[Part] = []

    def write(self, table: str, df: pd.DataFrame) -> int:
        """Stage the rows of ``df`` that the store lacks; returns how many are new."""
        df = self._prepared(table, df)
        if df.empty:
            return 0
        seq = self._next_seq()
        added = 0
        days = _by_day(arrow_of(df, seq))
        for day, rows in days:
            for chunk in _chunks(rows):
                batch, new, changed = self._unseen(table, day, chunk)
                self._writer(table, day, seq).append(batch)
                self._replaces[(table, day)] = self._replaces.get((table, day), 0) + changed
                added += new
        self._drain_other_days(table, {day for day, _ in days})
        return added

    def _drain_other_days(self, table: str, days: set[str]) -> None:
        """Write out the rows buffered for the days this write did not touch: a log moves
        on through its days, and a day's last partial row group (up to ``ROW_GROUP``
        rows) would otherwise wait in memory for the commit, one per day of the log."""
        for (name, day), writer in self._writers.items():
            if name == table and day not in days:
                writer.flush()

    def append_unchecked(self, table: str, df: pd.DataFrame) -> None:
        """Stage every row without comparing (migration, compaction: rows already unique,
        each keeping the ``write_seq`` it has, if any)."""
        df = self._prepared(table, df)
        if df.empty:
            return
        seq = self._next_seq()
        rows = (arrow_of(df.drop(columns=SEQ), df[SEQ].to_numpy()) if SEQ in df
                else arrow_of(df, seq))
        for day, part in _by_day(rows):
            self._writer(table, day, seq).append(part)

    @staticmethod
    def _prepared(table: str, df: pd.DataFrame) -> pd.DataFrame:
        seqs = df[SEQ] if SEQ in df else None
        df = record.validate(table, df.drop(columns=SEQ) if seqs is not None else df)
        if seqs is not None:
            df[SEQ] = seqs.to_numpy()
        # within one write the last copy of a row wins, as it always has (Arrow's hash
        # tells first whether any id repeats: pandas' ``duplicated`` costs 4x as much)
        ids = pa.array(df["row_id"], from_pandas=True)
        if len(pc.unique(ids)) == len(ids):
            return df
        repeated = df["row_id"].duplicated(keep="last")
        return df[~repeated] if repeated.any() else df

    def _next_seq(self) -> int:
        seq = self.manifest.next_seq
        self.manifest.next_seq += 1
        return seq

    def _writer(self, table: str, day: str, seq: int) -> PartWriter:
        key = (table, day)
        if key not in self._writers:
            name = f"{table}/day={day}/part-{seq:012d}-{self.txn}.parquet"
            self._writers[key] = PartWriter(self.staging / name)
        return self._writers[key]

    # -- comparing with what is stored ------------------------------------------------
    def _unseen(self, table: str, day: str, batch: pa.Table) -> tuple[pa.Table, int, int]:
        """(rows to append, how many are new, how many replace a changed row)."""
        parts = self.manifest.of(table, day, day)
        span = None
        if table in TIME_IN_ROW_ID:
            got = pc.min_max(batch.column("time").cast(pa.int64()))
            span = (got["min"].as_py(), got["max"].as_py())
            parts = [p for p in parts if p.t_max >= span[0] and p.t_min <= span[1]]
        if not parts:
            return batch, batch.num_rows, 0
        if self._stored_key != (table, day):  # keep one day's parts while its rows come
            self._stored_key, self._stored = (table, day), StoredDay(self.root, resolve)
        return unseen(batch, self._stored.rows(parts, span))

    # -- ending ---------------------------------------------------------------------
    def commit(self, always: bool = False) -> list[Part]:
        """Close the staged parts, commit the manifest (the moment the rows become
        visible), then move the parts into place. ``always`` commits the manifest even
        with no new part (a compaction that only removed parts)."""
        for (table, day), writer in self._writers.items():
            facts = writer.close()
            if facts:
                rel = writer.path.relative_to(self.staging).as_posix()
                self.committed.append(Part(table=table, day=day, file=rel, txn=self.txn,
                                           replaces=self._replaces.get((table, day), 0),
                                           **facts))
        self._writers.clear()
        if self.committed or always:
            if self.committed:
                fsync_dir(self.staging)
            self.manifest.parts = [*self.manifest.parts, *self.committed]
            self.manifest.write(self.root)
            move_into_place(self.root, self.committed)
        shutil.rmtree(self.staging, ignore_errors=True)
        return self.committed

    def abort(self) -> None:
        for writer in self._writers.values():
            writer.discard()
        self._writers.clear()
        shutil.rmtree(self.staging, ignore_errors=True)


def move_into_place(root: Path, parts: list[Part]) -> list[str]:
    """Move committed parts from their staging folder to their place; returns the moved."""
    moved = []
    for part in parts:
        src, dst = root / STAGING / part.txn / part.file, root / part.file
        if src.exists() and not dst.exists():
            dst.parent.mkdir(parents=True, exist_ok=True)
            os.replace(src, dst)
            fsync_dir(dst.parent)
            moved.append(part.file)
    return moved


#: Rows compared with the store at a time: bounds the copies a comparison makes.
CHUNK = 131_072


def _by_day(rows: pa.Table) -> list[tuple[str, pa.Table]]:
    """The rows of each UTC day (a plain slice when, as usual, there is one day)."""
    days = pc.floor_temporal(rows.column("time"), unit="day")
    unique = pc.unique(days)
    if len(unique) == 1:
        return [(unique[0].as_py().strftime("%Y-%m-%d"), rows)]
    ordered = pc.take(unique, pc.sort_indices(unique))
    return [(day.as_py().strftime("%Y-%m-%d"), rows.filter(pc.equal(days, day)))
            for day in ordered]


def _chunks(rows: pa.Table) -> list[pa.Table]:
    return [rows.slice(i, CHUNK) for i in range(0, rows.num_rows, CHUNK)]


