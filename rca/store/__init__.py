"""The store: append-only Parquet parts in a Hive layout, listed by a manifest.

Layout (store layout 2)::

    <store>/VERSION                              store layout version
    <store>/manifest.json                        committed parts, with their SHA-256
    <store>/<table>/day=<YYYY-MM-DD>/part-<seq>-<txn>.parquet
    <store>/collections/*.json                   the accounting of each collection
    <store>/.staging/<txn>/…                     parts of a collection not yet committed

Why append-only: a collection writes the rows it adds as new part files instead of
rewriting whole days, so it costs what it adds, a watch loop can append every minute, and
a run killed at any point loses or doubles nothing (see ``transaction``). Reads keep the
latest copy of each ``row_id`` (the highest ``write_seq``), so a row written twice — a
re-collected event that moved day, a changed object — is read once. ``rca compact``, and
``collect`` when a day holds many parts, merge a day's parts (see ``compaction``).

Why readers take no lock: parts are never changed once committed and the manifest is
replaced by a rename, so a reader needs no write access, and a read-only store (an
analyst's copy, a mounted snapshot) can be analysed. A part removed by a concurrent
compaction is met by reading the new manifest again.

The layout is plain Parquet partitioned Hive-style, so DuckDB, Spark or Trino read it
directly (``docs/store.md``); layout 1 (one file per table-day) is migrated on first open.
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from rca import record
from rca.store import legacy
from rca.store.atomic import atomic_write
from rca.store.compaction import DEFAULT_MAX_PARTS, compact
from rca.store.errors import CorruptPartError, StoreError
from rca.store.manifest import Manifest, Part
from rca.store.parts import SEQ, check_version, concat, read_part
from rca.store.records import read_records, save_record
from rca.store.recovery import recover
from rca.store.transaction import TIME_IN_ROW_ID, Transaction, resolve

__all__ = ["LAYOUT_VERSION", "CorruptPartError", "Store", "StoreError", "Transaction",
           "atomic_write"]

#: What ``VERSION`` says. rca 0.1 wrote its record schema version there (1, then 2) over
#: layout 1, one file per table-day; 3 is the first append-only layout (parts and a
#: manifest). Starting above every older value makes an older rca refuse this store
#: ("newer rca") instead of reading an empty one.
LAYOUT_VERSION = 3


class Store:
    def __init__(self, root: str | os.PathLike, max_parts_per_day: int = DEFAULT_MAX_PARTS):
        self.root = Path(root)
        if self.root.exists() and not self.root.is_dir():
            raise StoreError(f"store {self.root} is a file, not a directory")
        if int(max_parts_per_day) < 1:
            raise StoreError(f"compact.max_parts_per_day must be at least 1, not "
                             f"{max_parts_per_day}")
        self.max_parts_per_day = int(max_parts_per_day)
        #: what the last writer found and put right of an interrupted run
        self.recovered: list[str] = []

    def exists(self) -> bool:
        return (self.root / "VERSION").is_file()

    # -- writing ---------------------------------------------------------------------
    @contextmanager
    def transaction(self) -> Iterator[Transaction]:
        """All writes inside become visible together when the block ends without error;
        a day left with more than ``max_parts_per_day`` parts is then compacted."""
        with self._write_lock():
            manifest = self._open_for_writing()
            txn = Transaction(self.root, manifest)
            try:
                yield txn
            except BaseException:
                txn.abort()
                raise
            committed = txn.commit()
            if committed:
                self._mark_layout()
            touched = {(p.table, p.day) for p in committed}
            compact(self.root, manifest, self.max_parts_per_day, touched)

    def write(self, table: str, df: pd.DataFrame) -> int:
        """Add ``df`` in a transaction of its own; returns how many rows are new."""
        if df.empty:
            return 0
        with self.transaction() as txn:
            return txn.write(table, df)

    def compact(self, drop_corrupt: bool = False) -> list[dict]:
        """Merge every table-day holding more than one part (with ``drop_corrupt``, also
        move corrupt parts out to ``corrupt/`` and forget their rows)."""
        with self._write_lock():
            manifest = self._open_for_writing()
            return compact(self.root, manifest, 0 if drop_corrupt else 1,
                           drop_corrupt=drop_corrupt)

    def save_collection(self, rec: dict) -> Path:
        try:
            return save_record(self.root, rec)
        except OSError as exc:
            raise StoreError(f"store {self.root} is not writable: {exc.strerror}") from exc

    @contextmanager
    def _write_lock(self) -> Iterator[None]:
        """One writer at a time: a transaction allocates write sequence numbers and
        replaces the manifest, so two at once would lose one's parts."""
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            fh = open(self.root / ".lock", "a+b")  # noqa: SIM115 - closed below
        except OSError as exc:
            raise StoreError(f"store {self.root} is not writable ({exc.strerror}): collect "
                             f"and compact need write access; analyze and report only "
                             f"read") from exc
        with fh:
            fcntl.flock(fh, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(fh, fcntl.LOCK_UN)

    def _open_for_writing(self) -> Manifest:
        """Under the write lock: migrate or check the store, then put right what an
        interrupted run left."""
        version = self._version()
        manifest = Manifest.read(self.root)
        self.recovered = recover(self.root, manifest)
        if self._needs_migration(version):
            moved = legacy.migrate(self.root, manifest, lambda: Transaction(self.root, manifest))
            self.recovered.append(f"migrated the one-file-per-day layout to layout "
                                  f"{LAYOUT_VERSION}: {moved} rows")
            self._mark_layout()
        return manifest

    def _mark_layout(self) -> None:
        """``VERSION`` is written with the first commit, not when a collection starts: a
        first collection killed half-way leaves no store, so ``analyze`` says "store not
        found" instead of analysing nothing as if it were a quiet day."""
        if self._version() != LAYOUT_VERSION:
            atomic_write(self.root / "VERSION", f"{LAYOUT_VERSION}\n")

    def _version(self) -> int | None:
        vfile = self.root / "VERSION"
        if not vfile.exists():
            return None
        try:
            text = vfile.read_text()
        except OSError as exc:
            raise StoreError(f"{vfile}: cannot read the store's version: {exc.strerror}") from exc
        return check_version(text.strip(), vfile, LAYOUT_VERSION, "store layout")

    def _needs_migration(self, version: int | None) -> bool:
        return (version is not None and version < LAYOUT_VERSION) or bool(
            legacy.v1_files(self.root))

    def _ready_to_read(self) -> None:
        """Readers need the parts layout; an older store is migrated first, which needs
        write access once."""
        version = self._version()
        if self._needs_migration(version):
            try:
                with self._write_lock():
                    self._open_for_writing()
            except StoreError as exc:
                raise StoreError(f"store {self.root} has the one-file-per-day layout of rca "
                                 f"0.1 and must be migrated once by a user who can write "
                                 f"it: run `rca "
                                 f"compact --store {self.root}` ({exc})") from exc

    # -- reading ---------------------------------------------------------------------
    def load(self, table: str, since: pd.Timestamp | None = None,
             until: pd.Timestamp | None = None, ids: bool = True) -> pd.DataFrame:
        """Rows of ``table`` with ``since <= time < until`` (either bound optional), each
        once. ``ids=False`` leaves ``row_id`` out once it has served de-duplication: a
        reader that identifies no row (the analysis) saves 0.3 GB per 10 M rows."""
        if table not in record.TABLES:
            raise StoreError(f"unknown table {table!r}; tables are {', '.join(record.TABLES)}")
        self._ready_to_read()
        lo = since.strftime("%Y-%m-%d") if since is not None else ""
        hi = until.strftime("%Y-%m-%d") if until is not None else "9999"
        parts = self._read_parts(table, lo, hi)
        if not parts:
            empty = record.empty(table)
            return empty if ids else empty.drop(columns="row_id")
        days = [part.day for part, _ in parts]
        tables = [_in_window(t, since, until) for _, t in parts]
        del parts
        repeated = _stored_twice(table, days, tables)
        if not ids and not repeated:
            tables = [t.drop_columns(["row_id"]) for t in tables]
        arrow = _concat_in_time_order(tables)
        df = arrow.to_pandas()
        del arrow
        if repeated:
            df = df.sort_values(SEQ, kind="stable")
            df = df[~df["row_id"].duplicated(keep="last")]
            if not df.index.is_monotonic_increasing:
                df = df.sort_index(kind="stable")
        df = df.drop(columns=[SEQ] if ids or "row_id" not in df else [SEQ, "row_id"])
        _tidy_categories(df, record.repeating(table))
        try:
            return record.validate(table, df, ids)
        except record.RecordError as exc:
            raise StoreError(f"{self.root / table}: does not match the {table} schema: "
                             f"{exc}") from exc

    def _read_parts(self, table: str, lo: str, hi: str) -> list[tuple[Part, pa.Table]]:
        """Every committed part of the days, verified. A part that vanished was replaced
        by a compaction after we read the manifest: read the new manifest, once more."""
        repeats = tuple(record.repeating(table))
        for attempt in range(3):
            parts = Manifest.read(self.root).of(table, lo, hi)
            try:
                return [(p, read_part(resolve(self.root, p), p.sha256, repeats)) for p in parts]
            except FileNotFoundError as exc:
                missing = exc.filename
                if attempt == 2:
                    raise StoreError(f"{missing}: listed in the store's manifest but missing; "
                                     f"restore it, or run `rca compact --drop-corrupt`") from exc
        return []

    def tables(self) -> dict[str, int]:
        """Rows per table (a row stored again in another day counts in each)."""
        parts = Manifest.read(self.root).parts if self.exists() else []
        return {t: sum(p.rows - p.replaces for p in parts if p.table == t)
                for t in record.TABLES}

    def collections(self) -> list[dict]:
        """The record of every collection, oldest first."""
        return read_records(self.root)


def _in_window(table: pa.Table, since: pd.Timestamp | None,
               until: pd.Timestamp | None) -> pa.Table:
    """A part's rows with ``since <= time < until``, cut in Arrow before pandas sees them:
    a day's part holds the whole day, the window may want an hour of it. A part wholly
    inside is returned as it is (no copy)."""
    if since is None and until is None:
        return table
    time = table["time"]
    span = pc.min_max(time)
    lo, hi = span["min"].as_py(), span["max"].as_py()
    if lo is None or ((since is None or lo >= since) and (until is None or hi < until)):
        return table  # all inside: no copy of what may be a week
    keep = None
    for bound, op in ((since, pc.greater_equal), (until, pc.less)):
        if bound is not None:
            scalar = pa.scalar(pd.Timestamp(bound).tz_convert("UTC"), type=time.type)
            cond = op(time, scalar)
            keep = cond if keep is None else pc.and_(keep, cond)
    return table.filter(keep)


def _stored_twice(table: str, days: list[str], parts: list[pa.Table]) -> bool:
    """Whether some ``row_id`` is in the parts more than once (then the latest write wins).

    Why per day for log lines and samples: their ``row_id`` hashes the row's time, so a
    copy can only sit in a part of the same day, and a day with one part has none. Counting
    a week's ten million ids in one hash table cost 0.8 GB and 4 s; a day at a time costs
    a seventh. Events and objects (whose time moves) are counted all together; they are
    small."""
    if table not in TIME_IN_ROW_ID:
        groups = [parts]
    else:
        by_day: dict[str, list[pa.Table]] = {}
        for day, t in zip(days, parts, strict=True):
            by_day.setdefault(day, []).append(t)
        groups = list(by_day.values())
    return any(len(g) > 1 and pc.count_distinct(concat(g)["row_id"]).as_py()
               < sum(t.num_rows for t in g) for g in groups)


def _tidy_categories(df: pd.DataFrame, columns: list[str]) -> None:
    """The categoricals read from dictionary columns, made to behave as the strings they
    stand for: categories in sorted order (so sorting and grouping order as strings do),
    none unused (a part cut to the window keeps its whole dictionary), a missing value
    (a part older than the column) as ''."""
    for name in columns:
        if name not in df or not isinstance(df[name].dtype, pd.CategoricalDtype):
            continue
        values = df[name]
        if values.isna().any():
            if "" not in values.cat.categories:
                values = values.cat.add_categories("")
            values = values.fillna("")
        values = values.cat.remove_unused_categories()
        df[name] = values.cat.reorder_categories(sorted(values.cat.categories))


def _concat_in_time_order(tables: list[pa.Table]) -> pa.Table:
    """The tables as one, rows in time order (stable). Consumes ``tables``.

    Why in Arrow, one column at a time: parts of a day written by different collections
    interleave in time, and sorting the pandas frame held a second copy of a week's
    columns all at once; here each unsorted column is freed as soon as its sorted copy
    exists (hence the list is emptied: nothing else may keep the parts alive)."""
    table = concat(tables)
    tables.clear()
    time = table["time"]
    if len(time) < 2 or pc.all(pc.greater_equal(time[1:], time[:-1])).as_py():
        return table
    order = pc.sort_indices(table.select(["time"]), sort_keys=[("time", "ascending")])
    names, schema = table.column_names, table.schema
    columns = [table[n] for n in names]
    del table, time
    for i in range(len(columns)):
        columns[i] = columns[i].take(order)
    return pa.Table.from_arrays(columns, schema=schema)
