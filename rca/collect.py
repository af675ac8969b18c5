"""``rca collect``: read every source, keep the window, merge into the store.

Why one loop for every kind of source: each collector returns the same ``Batch`` (frames
plus malformed-line accounting), so the window filter, the store merge and the summary
are written once. Live sources (``rca.live``: Kubernetes, Prometheus, Loki) yield the same
batches from their fetch and go through this same path; what they could not get (their
``Gap``s) is gathered into the summary and the collection record.
"""

from __future__ import annotations

import glob
import os
from collections.abc import Callable, Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import tzinfo
from pathlib import Path

import pandas as pd

from collectors.base import Batch, Malformed, ParseContext
from rca.config import Config
from rca.live import Gap, LiveError, LiveSource, merge_gaps
from rca.redact import redact_batch, redact_frame, redact_text
from rca.store import Store, StoreError, Transaction

__all__ = ["CollectError", "Source", "Summary", "check_sources", "collect", "expand_logs",
           "why_no_row"]


class CollectError(ValueError):
    """A source named on the command line cannot be used (missing file, empty glob)."""


@dataclass(frozen=True)
class Source:
    kind: str  # kube | metrics | logs
    path: Path
    fmt: str = "auto"


@dataclass
class Summary:
    """What one collection did: the figures ``rca collect`` prints at the end."""

    since: pd.Timestamp
    until: pd.Timestamp
    files: list[dict] = field(default_factory=list)
    read: dict[str, int] = field(default_factory=dict)
    new: dict[str, int] = field(default_factory=dict)
    outside_window: int = 0
    first: pd.Timestamp | None = None
    last: pd.Timestamp | None = None
    #: what the store found and put right of an interrupted earlier run
    store_notes: list[str] = field(default_factory=list)
    gaps: list[Gap] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)  # live sources that gave nothing
    unreadable: dict[str, str] = field(default_factory=dict)  # file -> why it could not be read
    #: file -> why it gave no row at all, though it could be read
    empty: dict[str, str] = field(default_factory=dict)

    @property
    def malformed(self) -> int:
        return sum(f["malformed"] for f in self.files)


def expand_logs(patterns: Iterable[str]) -> list[Path]:
    """Every file matching each glob; a glob matching nothing is an error, not a no-op.
    A name that is an existing file is taken as written (``x[1].log`` is no glob)."""
    paths: list[Path] = []
    for pattern in patterns:
        literal = os.path.expanduser(pattern)
        hits = ([literal] if os.path.isfile(literal)
                else sorted(glob.glob(literal, recursive=True)))
        files = [Path(h) for h in hits if Path(h).is_file()]
        if not files:
            raise CollectError(f"--logs {pattern!r}: no file matches")
        paths.extend(files)
    return paths


def collect(store: Store, sources: list[Source], since: pd.Timestamp, until: pd.Timestamp,
            config: Config, zone: tzinfo,
            progress: Callable[..., None] | None = None,
            on_lines: Callable[[Source, int], None] | None = None,
            live: Iterable[LiveSource] = (),
            on_bytes: Callable[[Source, int], None] | None = None) -> Summary:
    """Read ``sources`` and the ``live`` sources, merge the rows of [since, until) into
    ``store``.

    ``progress(source, batch, done)`` is told of each batch and when a source is done;
    ``on_lines`` how far a long log is in lines, ``on_bytes`` in bytes of the file
    (compressed bytes for a ``.gz``), after every block.
    """
    check_sources(sources)
    summary = Summary(since, until)
    keep = int(config.get("logs.show_malformed"))
    collected_at = min(until, pd.Timestamp.now(tz="UTC")) - pd.Timedelta(microseconds=1)
    settings = {"jsonl_fields": config.get("logs.jsonl_fields"), "collected_at": collected_at,
                "log_zone": config.get("logs.zone"), "log_zones": config.get("logs.zones"),
                "metrics_time": config.get("metrics.time")}
    pending: dict[str, list[pd.DataFrame]] = {}

    def flush_when_full(writes: _Writes) -> None:
        if sum(len(f) for frames in pending.values() for f in frames) > FLUSH_ROWS:
            writes.submit(pending)

    def take(src, batch: Batch, writes: _Writes, done: bool = True) -> None:
        _account(batch, summary, pending)
        flush_when_full(writes)
        if progress:
            progress(src, batch, done)

    with store.transaction() as txn, _Writes(txn, summary) as writes:
        # the collection's rows become visible together, when the last write is done
        for src in sources:
            ctx = ParseContext(str(src.path), zone, dict(settings))
            if on_lines:
                ctx.settings["on_lines"] = lambda n, src=src: on_lines(src, n)
            if on_bytes:
                ctx.settings["on_bytes"] = lambda n, src=src: on_bytes(src, n)
            batch = _read_streaming(src, ctx, keep, summary, pending,
                                    lambda: flush_when_full(writes))
            if progress:
                progress(src, batch)
        for source in live:
            ctx = ParseContext(source.name, zone, {**settings, "show_malformed": keep})
            batch = None
            try:
                for batch in source.fetch(since, until, ctx):
                    take(source, batch, writes, done=False)
            except LiveError as exc:
                summary.failed.append(source.name)
                summary.gaps.append(Gap(source.name, "everything", redact_text(str(exc)),
                                        since, until))
            if progress:
                progress(source, batch, done=True)
        writes.submit(pending)
    summary.gaps = merge_gaps(summary.gaps)
    summary.store_notes = list(store.recovered)
    return summary


def check_sources(sources: Iterable[Source]) -> None:
    """Every named file exists and is a file: a typo is refused before anything runs."""
    for src in sources:
        if not src.path.is_file():
            why = "is not a file" if src.path.exists() else "does not exist"
            raise CollectError(f"{src.kind} file {src.path} {why}")


def _read_streaming(src: Source, ctx: ParseContext, keep: int, summary: Summary,
                    pending: dict[str, list[pd.DataFrame]],
                    after_block: Callable[[], None]) -> Batch:
    """Read one source block by block into ``pending`` (window-filtered; redacted as written),
    calling ``after_block`` after each so the caller can flush: memory holds a few
    blocks, not the file. A file whose content cannot be made sense of (no recognisable
    format) is reported as malformed; one the system will not let us read (permission,
    I/O error, a gzip cut short) is an error named in ``summary.unreadable``. Either way
    the rows read before stay and the other sources still go in."""
    batch = Batch(source=str(src.path))
    kept: dict[str, int] = {}
    rows = 0
    latest: pd.Timestamp | None = None
    try:
        batch, blocks = _open(src, ctx, keep)
        for frames in blocks:
            rows += sum(len(df) for df in frames.values())
            latest = _latest(frames, latest)
            _window(frames, summary, pending, kept)
            after_block()
    except OSError as exc:
        summary.unreadable[redact_text(str(src.path))] = exc.strerror or str(exc)
    except ValueError as exc:
        batch.add_malformed(Malformed(str(src.path), 0, "file", str(exc), ""), keep)
    batch.gaps = [_file_gap_window(g, latest, summary) for g in batch.gaps]
    _account_file(batch, summary, kept)
    if not rows and batch.source not in summary.unreadable and not _an_empty_list(batch):
        summary.empty[batch.source] = why_no_row(batch)
    return batch


def _an_empty_list(batch: Batch) -> bool:
    """A ``kubectl get … -o json`` list with no item is the API's answer "there is
    none" (no Event in a quiet hour), not a file that failed to give its rows: it shows
    as 0 lines in the summary and does not fail the collection."""
    return getattr(batch, "lists", 0) > 0 and batch.lines == 0 and not batch.malformed


def why_no_row(batch: Batch) -> str:
    """Why a file that could be read gave no row: what its lines were instead."""
    if batch.lines == 0 and not batch.malformed:
        return "the file holds no line"
    if batch.samples and batch.samples[0].line == 0:  # refused as a whole (no format)
        return batch.samples[0].message
    parts = [f"{batch.malformed} malformed"] if batch.malformed else []
    parts += [f"{n} {reason}" for reason, n in batch.skipped.most_common(3)]
    first = f"; first malformed: {batch.samples[0]}" if batch.samples else ""
    return f"{batch.lines} line(s): {', '.join(parts) or 'none a record'}{first}"


def _latest(frames: dict[str, pd.DataFrame], latest: pd.Timestamp | None) -> pd.Timestamp | None:
    times = [df.index.max() for df in frames.values()
             if len(df) and isinstance(df.index, pd.DatetimeIndex)]
    return max([t for t in [latest, *times] if t is not None], default=None)


def _file_gap_window(gap: Gap, latest: pd.Timestamp | None, summary: Summary) -> Gap:
    """A file's gap (truncated while read) spans from its last row read to the window's
    end: what came after that point was not read."""
    if gap.since is not None or gap.until is not None:
        return gap
    since = summary.since if latest is None else min(max(latest, summary.since), summary.until)
    return replace(gap, since=since, until=summary.until)


def _open(src: Source, ctx: ParseContext, keep: int):
    """The source's batch and an iterator over its frames (a block of a log, a chunk of a
    metrics file, or the whole of a kube dump)."""
    if src.kind == "logs":
        from collectors.logs.reader import read_log_blocks

        return read_log_blocks(src.path, src.fmt, ctx, keep)
    if src.kind == "metrics":
        from collectors.metrics_file import read_metrics_file_chunks

        return read_metrics_file_chunks(src.path, ctx, keep)
    from collectors.kube import read_kube

    batch = read_kube(src.path, ctx, keep)
    return batch, iter([batch.frames])


#: Rows held in memory before handing them to the store. A flush appends to the
#: collection's staged parts (it rewrites nothing), so the cap only bounds memory: a row
#: of a log costs ~300 bytes in its frame and as much again while the flush turns it into
#: Arrow, so 100,000 rows are ~60 MB. Measured on 1 M ingress lines: 500,000 peaked at
#: 526 MB, 100,000 at 387 MB, and took no more CPU (each flush compares only the stored
#: parts that overlap it in time). Since writes run beside the reading (``_Writes``), one
#: flush is written while the next fills: 50,000 each (1 M lines: 421 MB first collect,
#: 580 MB re-collect; at 100,000: 451 and 640 MB, in the same time).
FLUSH_ROWS = 50_000


class _Writes:
    """Pending rows handed to the transaction in a thread of their own, one write at a
    time and in order, while the next blocks are read.

    Why: a write is mostly Parquet encoding, and redaction Arrow's RE2, both out of the
    GIL, and the reading leaves one core partly idle. Measured on 1 M ingress lines:
    ``rca collect`` 2.6 s instead of 2.9 s. Memory holds at most one write in progress
    besides the rows pending. Leaving the block waits for that write, so the transaction
    commits or aborts only once it is done; a write's error is raised by the next
    ``submit`` or on leaving."""

    def __init__(self, txn: Transaction, summary: Summary) -> None:
        self.txn, self.summary = txn, summary
        self.pool = ThreadPoolExecutor(1, thread_name_prefix="store-write")
        self.last: Future | None = None

    def submit(self, pending: dict[str, list[pd.DataFrame]]) -> None:
        frames = {table: list(dfs) for table, dfs in pending.items()}
        pending.clear()
        self.wait()
        self.last = self.pool.submit(_flush, self.txn, frames, self.summary)

    def wait(self) -> None:
        """Wait for the write in progress. Its failure is a ``StoreError`` naming the
        store, so that it is not taken for the source file's (read as unreadable)."""
        last, self.last = self.last, None
        if last is None:
            return
        try:
            last.result()
        except StoreError:
            raise
        except Exception as exc:
            raise StoreError(f"writing the collection into the store {self.txn.root} failed: "
                             f"{exc}") from exc

    def __enter__(self) -> _Writes:
        return self

    def __exit__(self, kind, *_) -> None:
        try:
            if kind is None:
                self.wait()
        finally:
            self.pool.shutdown(wait=True)


def _flush(txn: Transaction, pending: dict[str, list[pd.DataFrame]], summary: Summary) -> None:
    """Hand the pending rows to the collection's transaction, redacted (the one door to
    the store: every row goes through here); count the new ones."""
    for table, frames in pending.items():
        if frames:
            new = txn.write(table, redact_frame(pd.concat(frames)))
            summary.new[table] = summary.new.get(table, 0) + new
    pending.clear()


def _in_window(table: str, df: pd.DataFrame, since: pd.Timestamp,
               until: pd.Timestamp) -> pd.DataFrame:
    """Rows of the window. An event is in it when it was *active* in it: a liveness kill
    first seen days before and last seen after ``until`` repeated all through the
    window. Such an event is placed at the window's end (its ``last_seen`` column keeps
    the truth), so loading the window finds it; a later collection moves it on, and the
    store's reader keeps only the latest copy."""
    if table != "events" or df.empty:
        if df.empty or (df.index.min() >= since and df.index.max() < until):
            return df  # the usual block: all of it in the window, no copy
        return df[(df.index >= since) & (df.index < until)]
    first = df["first_seen"].fillna(pd.Series(df.index, index=df.index))
    active = df[(first.to_numpy() < until) & (df.index >= since)].copy()
    late = active.index >= until
    if late.any():
        end = until - pd.Timedelta(microseconds=1)
        active.index = pd.DatetimeIndex(active.index.where(~late, end), name="time")
    return active


def _window(frames: dict[str, pd.DataFrame], summary: Summary,
            pending: dict[str, list[pd.DataFrame]], kept: dict[str, int]) -> None:
    """Keep the rows of one block that fall in the window; count the rest."""
    for table, df in frames.items():
        inside = _in_window(table, df, summary.since, summary.until)
        summary.outside_window += len(df) - len(inside)
        summary.read[table] = summary.read.get(table, 0) + len(inside)
        pending.setdefault(table, []).append(inside)
        kept[table] = kept.get(table, 0) + len(inside)
        if len(inside):
            lo, hi = inside.index.min(), inside.index.max()
            summary.first = lo if summary.first is None else min(summary.first, lo)
            summary.last = hi if summary.last is None else max(summary.last, hi)


def _account(batch: Batch, summary: Summary, pending: dict[str, list[pd.DataFrame]]) -> None:
    """A batch that arrives whole (a live source's): its rows and its file entry."""
    kept: dict[str, int] = {}
    _window(batch.frames, summary, pending, kept)
    _account_file(batch, summary, kept)


def _account_file(batch: Batch, summary: Summary, kept_rows: dict[str, int]) -> None:
    frames, batch.frames = batch.frames, {}  # their rows are redacted as written (_flush)
    redact_batch(batch)  # its name, samples and gaps
    batch.frames = frames
    summary.files.append({
        "file": batch.source, "lines": batch.lines, "rows": kept_rows,
        "malformed": batch.malformed, "samples": [str(m) for m in batch.samples],
        # kinds a collector saw and deliberately did not store (Secrets, ConfigMaps…)
        "skipped": dict(getattr(batch, "skipped", {})),
        **({"error": summary.unreadable[batch.source]}
           if batch.source in summary.unreadable else {}),
    })
    summary.gaps.extend(batch.gaps)
