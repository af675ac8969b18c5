"""Comparing a batch with what the store holds: which rows are new, changed or already there.

Why row groups, and bytes kept rather than tables: a re-collect of a busy day compares a
million rows with a million stored ones, in blocks. Decoding the day's parts whole for each
block costs time, and keeping them decoded costs memory (a day of requests is ~150 MB in
Arrow, ~20 MB as Parquet). So each part's verified bytes are kept for the day, and only the
row groups whose time range (Parquet statistics) overlaps the block are decoded; for a log
read in time order that is one or two row groups per block.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from rca.store.manifest import Part
from rca.store.parts import SEQ, concat, read_part_bytes

__all__ = ["StoredDay", "unseen"]


class StoredDay:
    """The committed parts of one table and day, verified once, decoded on demand."""

    def __init__(self, root: Path, resolve) -> None:
        self.root, self._resolve = root, resolve
        self._files: dict[str, pq.ParquetFile] = {}

    def rows(self, parts: list[Part], span: tuple[int, int] | None) -> pa.Table | None:
        """Rows of ``parts`` in row groups overlapping ``span`` (ns, or all when None),
        latest write first, so the first match of a ``row_id`` is its current copy."""
        tables = []
        for part in sorted(parts, key=lambda p: p.seq_max, reverse=True):
            pf = self._file(part)
            groups = _overlapping_groups(pf, span)
            if groups:
                tables.append(pf.read_row_groups(groups))
        return concat(tables) if tables else None

    def _file(self, part: Part) -> pq.ParquetFile:
        if part.file not in self._files:
            data = read_part_bytes(self._resolve(self.root, part), part.sha256)
            self._files[part.file] = pq.ParquetFile(pa.BufferReader(data),
                                                    page_checksum_verification=True)
        return self._files[part.file]


def _overlapping_groups(pf: pq.ParquetFile, span: tuple[int, int] | None) -> list[int]:
    meta = pf.metadata
    if span is None:
        return list(range(meta.num_row_groups))
    names = [meta.schema.column(i).name for i in range(meta.num_columns)]
    where = names.index("time")
    out = []
    for g in range(meta.num_row_groups):
        stats = meta.row_group(g).column(where).statistics
        if stats is None or not stats.has_min_max:
            out.append(g)
        elif stats.max.value >= span[0] and stats.min.value <= span[1]:
            out.append(g)
    return out


def unseen(batch: pa.Table, stored: pa.Table | None) -> tuple[pa.Table, int, int]:
    """(rows of ``batch`` to append, how many are new, how many replace a changed row)."""
    if stored is None or not stored.num_rows:
        return batch, batch.num_rows, 0
    where = pc.index_in(batch.column("row_id"),
                        value_set=stored.column("row_id").combine_chunks())
    known = pc.is_valid(where).to_numpy(zero_copy_only=False)
    if not known.any():
        return batch, batch.num_rows, 0
    changed = ~_same_rows(batch, known, stored, pc.drop_null(where))
    keep = ~known
    keep[known] = changed
    return batch.filter(keep), int((~known).sum()), int(changed.sum())


def _same_rows(batch: pa.Table, known: np.ndarray, stored: pa.Table,
               at: pa.Array) -> np.ndarray:
    """For the ``known`` rows of ``batch``, whether every column but ``write_seq`` equals
    the stored row at ``at`` (null equals null, NaN equals NaN: an unknown value
    re-collected is the same unknown value). One column at a time, to bound the copies."""
    mask = pa.array(known)
    same = np.ones(int(known.sum()), dtype=bool)
    for name in batch.column_names:
        if name in (SEQ, "row_id"):  # row_id: equal by construction
            continue
        a = batch.column(name).filter(mask)
        b = (stored.column(name).take(at) if name in stored.column_names
             else pa.nulls(len(a), a.type))
        if b.type != a.type:
            b = b.cast(a.type)
        both_missing = pc.and_(pc.is_null(a), pc.is_null(b))
        if pa.types.is_floating(a.type):
            both_missing = pc.or_kleene(both_missing, pc.and_kleene(pc.is_nan(a), pc.is_nan(b)))
        equal = pc.or_kleene(pc.fill_null(pc.equal(a, b), False), both_missing)
        same &= pc.fill_null(equal, False).to_numpy(zero_copy_only=False)
    return same
