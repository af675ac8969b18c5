"""Metrics files: Prometheus text exposition and OpenMetrics with timestamps.

Why these two formats: they are what people already have. ``curl :9100/metrics`` dumps
give the Prometheus text format, and the OpenMetrics form with timestamps is exactly what
``promtool tsdb create-blocks-from openmetrics`` backfills, so one file can feed both the
offline evaluator (``rca.signals``) and a real Prometheus and the two must agree.

The format is chosen by the file's last line: ``# EOF`` means OpenMetrics (timestamps in
seconds), anything else Prometheus text (timestamps in milliseconds). Timestamps are
truncated to milliseconds the way promtool does (``int64(seconds * 1000)``) so a sample
sits at the same instant here and in a backfilled TSDB.

A sample without a timestamp (a plain ``curl :9100/metrics`` dump) has no time of its
own: it is refused, line by line, unless the user says when the file was scraped
(``ctx.settings["metrics_time"]``, config ``metrics.time``). Stamping it at the end of the
collection window would silently put it where nothing happened.

Entities are decided per metric family: node_exporter's NUMA families
(``node_memory_numa_*``, ``node_zoneinfo_*``) carry a ``node`` label that is a NUMA node
number, not a Kubernetes node, so it is left out when deciding where the sample sits.

Speed matters (node_exporter dumps run to millions of samples), so a sample line is one
regex match and the label block of a series is parsed once and cached: every later
sample of the series costs a dict lookup, a float parse and a hash.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator

import numpy as np
import pandas as pd

from collectors.base import Batch, LineError, Malformed, ParseContext, bounded_lines
from rca import record
from rca.entities import entity_of

__all__ = ["CHUNK_SAMPLES", "read_metrics_file", "read_metrics_file_chunks"]

_NAME = r"[a-zA-Z_:][a-zA-Z0-9_:]*"
_QUOTED = r'"(?:[^"\\\n]|\\.)*"'
# name, optional {label block}, value, optional timestamp, optional exemplar (ignored).
_SAMPLE = re.compile(
    rf"({_NAME})(\{{(?:[^\"}}]|{_QUOTED})*\}})?[ \t]+(\S+)"
    r"(?:[ \t]+([^#\s]\S*))?(?:[ \t]+#.*)?[ \t]*"
)
_LABEL = re.compile(rf'[ \t]*([a-zA-Z_][a-zA-Z0-9_]*)[ \t]*=[ \t]*({_QUOTED})[ \t]*(?:,|$)')
_ESCAPE = re.compile(r"\\(.)")
_UNESCAPED = {"\\": "\\", '"': '"', "n": "\n"}
# pandas' nanosecond range, in milliseconds: a timestamp outside it cannot be stored.
_MIN_MS, _MAX_MS = -9_223_372_036_854, 9_223_372_036_853
_TEXT_MAX = 200
#: Families whose ``node`` label is a NUMA node id.
_NUMA_FAMILIES = ("node_memory_numa_", "node_zoneinfo_")
_NO_TIME = ("no timestamp, so its time is unknown: export with timestamps, or set "
            "metrics.time to when this file was scraped")


def read_metrics_file(path: str | os.PathLike, ctx: ParseContext, keep: int = 3) -> Batch:
    """Read one metrics file into the ``metrics`` table; bad lines are counted, not fatal.

    ``keep`` is how many malformed lines to keep as examples (all are counted). A sample
    without a timestamp is stamped with ``ctx.settings["metrics_time"]`` if given, else
    refused. ``lines`` counts sample lines and undecodable or over-long lines (comments
    and blank lines are not lines of data).
    """
    batch, chunks = read_metrics_file_chunks(path, ctx, keep)
    frames = [frames["metrics"] for frames in chunks]
    batch.frames["metrics"] = (record.empty("metrics") if not frames else frames[0]
                               if len(frames) == 1 else pd.concat(frames))
    return batch


#: Samples held before their rows are handed on. Why: a sample costs ~500 bytes while it
#: is Python objects (a day of 500 nodes, 10.8 M samples, held 6.2 GB when the file was
#: read whole); 200,000 keep a chunk near 100 MB, and each chunk is still large enough
#: that building its frame costs nothing extra per row.
CHUNK_SAMPLES = 200_000


def read_metrics_file_chunks(path: str | os.PathLike, ctx: ParseContext, keep: int = 3
                             ) -> tuple[Batch, Iterator[dict[str, pd.DataFrame]]]:
    """``read_metrics_file`` as a stream: the batch (its counts complete once the stream
    is consumed) and ``{"metrics": frame}`` for every ``CHUNK_SAMPLES`` samples, so that
    ``rca collect`` holds a chunk, not the file."""
    batch = Batch(source=str(path))
    return batch, _chunks(path, ctx, keep, batch)


def _chunks(path, ctx: ParseContext, keep: int, batch: Batch) -> Iterator[dict[str, pd.DataFrame]]:
    openmetrics = _ends_with_eof(path)
    collected_ms = _collected_at_ms(ctx)
    series: dict[tuple[bool, str], tuple[str, str]] = {}  # -> (labels JSON, entity)
    columns = _Columns()
    seen_eof = False
    with open(path, "rb") as fh:
        for number, raw in bounded_lines(fh):
            if raw is None:
                batch.lines += 1
                _bad(batch, ctx, keep, number, "", LineError("line", _TOO_LONG))
                continue
            try:
                line = raw.decode("utf-8-sig" if number == 1 else "utf-8").rstrip("\r\n")
            except UnicodeDecodeError as exc:
                batch.lines += 1
                _bad(batch, ctx, keep, number, raw.decode("utf-8", "replace"),
                     LineError("encoding", str(exc)))
                continue
            if not line or line.startswith("#"):
                seen_eof = seen_eof or (openmetrics and line == "# EOF")
                continue
            batch.lines += 1
            try:
                if seen_eof:
                    raise LineError("eof", "sample after '# EOF'")
                name, block, value, stamp_ms = _parse_sample(line, openmetrics, collected_ms)
                key = (name.startswith(_NUMA_FAMILIES), block)
                cached = series.get(key)
                if cached is None:
                    cached = series[key] = _series_key(*key)
            except LineError as exc:
                _bad(batch, ctx, keep, number, line, exc)
                continue
            batch.kept += 1
            columns.add(name, cached, value, stamp_ms)
            if len(columns.names) >= CHUNK_SAMPLES:
                yield {"metrics": columns.frame()}
                columns = _Columns()
    if columns.names:
        yield {"metrics": columns.frame()}


class _Columns:
    """A chunk's samples as columns (dict rows would dominate the run time)."""

    def __init__(self) -> None:
        self.names: list[str] = []
        self.labels: list[str] = []
        self.entities: list[str] = []
        self.values: list[float] = []
        self.stamps: list[int] = []

    def add(self, name: str, series: tuple[str, str], value: float, stamp_ms: int) -> None:
        self.names.append(name)
        self.labels.append(series[0])
        self.entities.append(series[1])
        self.values.append(value)
        self.stamps.append(stamp_ms)

    def frame(self) -> pd.DataFrame:
        return _frame(self.names, self.labels, self.entities, self.values, self.stamps)


def _ends_with_eof(path: str | os.PathLike) -> bool:
    """OpenMetrics ends with ``# EOF``; reading the tail decides without a second pass."""
    with open(path, "rb") as fh:
        fh.seek(0, os.SEEK_END)
        fh.seek(max(0, fh.tell() - 64))
        tail = fh.read().rstrip()
    return tail == b"# EOF" or tail.endswith(b"\n# EOF")


_TOO_LONG = "longer than 64 KiB: not read (no sample line is this long)"


def _collected_at_ms(ctx: ParseContext) -> int | None:
    stamp = ctx.settings.get("metrics_time")
    if stamp is None or stamp == "":
        return None
    stamp = pd.Timestamp(stamp)
    if stamp.tzinfo is None:
        stamp = stamp.tz_localize(ctx.zone)
    return stamp.as_unit("ns").value // 1_000_000


def _parse_sample(line: str, openmetrics: bool, collected_ms: int | None):
    """(name, label block, value, timestamp in ms) of one sample line, or ``LineError``."""
    m = _SAMPLE.fullmatch(line)
    if m is None:
        raise _diagnose(line)
    name, block, value_text, stamp_text = m.groups()
    try:
        if "_" in value_text:
            raise ValueError("underscore")
        value = float(value_text)
    except ValueError:
        raise LineError("value", f"not a number: {value_text!r}") from None
    if stamp_text is None:
        if collected_ms is None:
            raise LineError("timestamp", _NO_TIME)
        return name, block or "", value, collected_ms
    return name, block or "", value, _parse_stamp(stamp_text, openmetrics)


#: Below this many milliseconds (1973-03-03) a text-format timestamp is really in seconds:
#: an OpenMetrics file that lost its ``# EOF`` line. No monitoring data predates it.
_SECONDS_LOOK_LIKE = 100_000_000_000


def _parse_stamp(text: str, openmetrics: bool) -> int:
    try:
        if "_" in text:
            raise ValueError("underscore")
        if openmetrics:
            seconds = float(text)
            if seconds != seconds or seconds in (float("inf"), float("-inf")):
                raise ValueError("not finite")
            ms = int(seconds * 1000)  # promtool: int64(ts * 1000), truncating
        else:
            ms = int(text)
    except (ValueError, OverflowError):
        unit = "seconds" if openmetrics else "integer milliseconds"
        raise LineError("timestamp", f"not {unit}: {text!r}") from None
    if not openmetrics and 0 <= ms < _SECONDS_LOOK_LIKE:
        raise LineError("timestamp", f"{text!r} looks like seconds, not milliseconds: "
                        "an OpenMetrics file must end with '# EOF'")
    if not _MIN_MS <= ms <= _MAX_MS:
        raise LineError("timestamp", f"out of range: {text!r}")
    return ms


def _diagnose(line: str) -> LineError:
    """Name the field that broke a line the sample regex refused (slow path, bad lines)."""
    name = re.match(_NAME, line)
    if name is None:
        return LineError("name", "no metric name at the start of the line")
    rest = line[name.end():]
    if rest.startswith("{"):
        block = re.match(rf"\{{(?:[^\"}}]|{_QUOTED})*\}}", rest)
        if block is None:
            return LineError("labels", "unterminated label set or quoted value")
        rest = rest[block.end():]
    tokens = rest.split()
    if not rest[:1].isspace() or not tokens or tokens[0].startswith("#"):
        return LineError("value", "no value after the metric name and labels")
    return LineError("line", "unexpected text after the timestamp")


def _series_key(numa: bool, block: str) -> tuple[str, str]:
    """Canonical labels JSON and entity for a label block such as ``{a="1",b="x\\"y"}``;
    ``numa``: the family's ``node`` label is a NUMA node, not where the sample sits."""
    labels = _parse_labels(block[1:-1]) if block else {}
    placed = {k: v for k, v in labels.items() if k != "node"} if numa else labels
    return record.canonical_labels(labels), entity_of(placed)


def _parse_labels(text: str) -> dict[str, str]:
    """Labels of a block body. Empty values are dropped: PromQL treats them as absent."""
    labels: dict[str, str] = {}
    pos = 0
    while pos < len(text):
        m = _LABEL.match(text, pos)
        if m is None:
            raise LineError("labels", f"cannot read label at {text[pos:pos + 30]!r}")
        key, quoted = m.group(1, 2)
        if key in labels:
            raise LineError("labels", f"label {key!r} given twice")
        value = quoted[1:-1]
        if "\\" in value:
            value = _ESCAPE.sub(lambda e: _UNESCAPED.get(e.group(1), e.group(0)), value)
        labels[key] = value
        pos = m.end()
    return {k: v for k, v in labels.items() if v}


def _bad(batch: Batch, ctx: ParseContext, keep: int, number: int, line: str,
         exc: LineError) -> None:
    batch.add_malformed(Malformed(ctx.file, number, exc.field, exc.message, line[:_TEXT_MAX]), keep)


def _frame(names, label_col, entities, values, stamps) -> pd.DataFrame:
    """Build the metrics frame from columns."""
    ns = np.asarray(stamps, dtype=np.int64) * 1_000_000
    rows = zip(names, label_col, ns.tolist(), strict=True)
    ids = [record.row_id(name, labels, t) for name, labels, t in rows]
    index = pd.DatetimeIndex(ns.view("datetime64[ns]"), name="time").tz_localize("UTC")
    df = pd.DataFrame(
        {"row_id": ids, "name": names, "entity": entities, "labels": label_col, "value": values},
        index=index,
    )
    return record.validate("metrics", df)
