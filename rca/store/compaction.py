"""Compaction: merge the parts of a table-day into one, keeping the latest copy of each row.

Why: every collection appends a part, so a store fed every minute grows thousands of small
files, and each read opens them all. Merging a day's parts is one more transaction: the
merged part is staged and committed in place of the parts it replaces (readers see the old
parts or the new one, never both or neither), and the replaced files are removed after the
commit. Rows keep their ``write_seq``, so a row that also sits in another day still resolves
to its latest copy.

Why ``DEFAULT_MAX_PARTS`` is 16: a day's parts are all opened on every read of that day
and re-read by each collection comparing with them; past a few dozen small files the open
and footer costs dominate, while merging rewrites the whole day. 16 keeps reads within a
few files' cost and merges a day at most once per 16 collections (config
``compact.max_parts_per_day``).
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

from rca.store.errors import CorruptPartError
from rca.store.manifest import Manifest, Part
from rca.store.parts import SEQ, concat, read_part
from rca.store.transaction import Transaction, resolve

__all__ = ["DEFAULT_MAX_PARTS", "compact"]

DEFAULT_MAX_PARTS = 16
QUARANTINE = "corrupt"


def compact(root: Path, manifest: Manifest, more_than: int, days: set | None = None,
            drop_corrupt: bool = False) -> list[dict]:
    """Merge every table-day holding more than ``more_than`` parts (only ``days``, a set of
    (table, day), when given). Returns one line of figures per merged day."""
    groups: dict[tuple[str, str], list[Part]] = defaultdict(list)
    for part in manifest.parts:
        groups[(part.table, part.day)].append(part)
    done = []
    for key, parts in sorted(groups.items()):
        if len(parts) > more_than and (days is None or key in days):
            merged = _merge(root, manifest, key, parts, drop_corrupt)
            if merged:
                done.append(merged)
    return done


def _merge(root: Path, manifest: Manifest, key: tuple[str, str], parts: list[Part],
           drop_corrupt: bool) -> dict | None:
    table, day = key
    tables, dropped = [], []
    for part in parts:
        try:
            tables.append(read_part(resolve(root, part), part.sha256))
        except CorruptPartError:
            if not drop_corrupt:
                raise
            dropped.append(part)
    if len(parts) == 1 and not dropped:
        return None  # a single healthy part: nothing to merge
    txn = Transaction(root, manifest)
    try:
        if tables:
            df = concat(tables).to_pandas().sort_values(SEQ, kind="stable")
            df = df[~df["row_id"].duplicated(keep="last")].sort_index(kind="stable")
            txn.append_unchecked(table, df)
        replaced = {p.file for p in parts}
        manifest.parts = [p for p in manifest.parts if p.file not in replaced]
        txn.commit(always=True)
    except BaseException:
        txn.abort()
        raise
    for part in parts:
        if part in dropped:
            _quarantine(root, part)
        else:
            resolve(root, part).unlink(missing_ok=True)
    return {"table": table, "day": day, "parts": len(parts),
            "rows_before": sum(p.rows for p in parts),
            "rows_after": sum(p.rows for p in txn.committed),
            "dropped_corrupt": [p.file for p in dropped]}


def _quarantine(root: Path, part: Part) -> None:
    """Keep a dropped corrupt part out of the table folders but not destroyed: someone may
    want to recover what it held."""
    src = resolve(root, part)
    if src.exists():
        dst = root / QUARANTINE / part.file
        dst.parent.mkdir(parents=True, exist_ok=True)
        src.replace(dst)
