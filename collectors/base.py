"""What every file-mode collector returns, and how bad input is accounted for.

Why a shared shape: ``rca collect`` reads many files of many formats and must end with
one summary (rows per table, the span covered, malformed lines per file). A collector
never prints and never drops a bad line silently: it counts it and keeps the first few
with their line number and the field that failed.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, tzinfo
from fnmatch import fnmatch
from typing import IO, Any

import pandas as pd

from rca import record

__all__ = [
    "MAX_LINE",
    "Batch",
    "LineError",
    "Malformed",
    "ParseContext",
    "RowBuffer",
    "bounded_lines",
    "check_row",
    "check_time",
    "log_zone",
]

#: The longest line (characters, or bytes for binary readers) any reader accepts. Why
#: 64 KiB: nginx refuses request lines over its ``large_client_header_buffers`` (8 KiB by
#: default), so a real access line with referer and agent stays well under it; a longer
#: line is garbage (a binary blob, a runaway label value) and holding it would cost a
#: parser ~100x its size in memory. Over-long lines are malformed, never read whole.
MAX_LINE = 64 * 1024


class LineError(ValueError):
    """One input line (or item) cannot be read. ``field`` names what failed."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


@dataclass(frozen=True)
class Malformed:
    file: str
    line: int  # 1-based; for JSON documents, the item index
    field: str
    message: str
    text: str  # the offending line, truncated

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.field}: {self.message}: {self.text!r}"


@dataclass
class ParseContext:
    """Everything a parser needs besides the line: zone for zone-less times, config.

    ``zone`` is the user's zone (``--tz``): zone-less times the user wrote by hand (a JSON
    document, a kube file edited by hand) are read in it. Zone-less times printed by a
    container (RGW's older releases, a pod's own log lines) are read in ``log_zone(ctx)``
    instead, UTC unless the user says otherwise: containers run in UTC unless their image
    sets ``TZ``, whatever the zone of the person reading the logs.
    """

    file: str
    zone: tzinfo
    settings: dict[str, Any] = field(default_factory=dict)


def log_zone(ctx: ParseContext) -> tzinfo:
    """The zone of zone-less times in a container log: ``logs.zones`` (glob -> zone,
    matched against the file path) first, then ``logs.zone``, then UTC."""
    from rca.timeutil import get_zone  # rca.timeutil imports nothing from collectors

    for pattern, name in (ctx.settings.get("log_zones") or {}).items():
        if fnmatch(ctx.file, pattern):
            return get_zone(name)
    name = ctx.settings.get("log_zone")
    return get_zone(name) if name else UTC


@dataclass
class Batch:
    """The result of reading one source: frames per table plus the accounting."""

    source: str
    frames: dict[str, pd.DataFrame] = field(default_factory=dict)
    lines: int = 0
    malformed: int = 0
    samples: list[Malformed] = field(default_factory=list)
    gaps: list = field(default_factory=list)  # rca.live.Gap: what a live source could not get
    #: lines (items) that gave at least one row
    kept: int = 0
    #: lines (items) read fine that hold nothing for the record, counted per reason
    skipped: Counter[str] = field(default_factory=Counter)

    def add_malformed(self, m: Malformed, keep: int) -> None:
        self.malformed += 1
        if len(self.samples) < keep:
            self.samples.append(m)

    def rows(self) -> dict[str, int]:
        return {t: len(df) for t, df in self.frames.items()}

    def unaccounted(self) -> int:
        """Lines neither kept, malformed nor skipped with a reason: always 0 (tested)."""
        return self.lines - self.kept - self.malformed - sum(self.skipped.values())


class RowBuffer:
    """Accumulates dict rows per table and turns them into validated record frames."""

    def __init__(self) -> None:
        self._rows: dict[str, list[dict]] = defaultdict(list)

    def add(self, table: str, row: dict) -> None:
        self._rows[table].append(row)

    def frames(self) -> dict[str, pd.DataFrame]:
        return {t: record.frame(t, rows) for t, rows in self._rows.items() if rows}


def bounded_lines(fh: IO, limit: int = MAX_LINE) -> Iterator[tuple[int, Any]]:
    """``(line number, line)`` of a text or binary file, each line read at most ``limit``
    long; a longer line yields ``None`` and its rest is skipped in ``limit``-sized
    pieces, so memory stays bounded whatever the file holds."""
    newline = "\n" if isinstance(fh.read(0), str) else b"\n"
    lineno = 0
    while True:
        piece = fh.readline(limit + 1)
        if not piece:
            return
        lineno += 1
        if len(piece) <= limit or piece[limit:] == newline:
            yield lineno, piece
            continue
        while piece and not piece.endswith(newline):
            piece = fh.readline(limit)
        yield lineno, None


# pandas' nanosecond range: a time outside it cannot be stored, so it is a bad line.
_FIRST = pd.Timestamp.min.ceil("s").to_pydatetime().replace(tzinfo=UTC)
_LAST = pd.Timestamp.max.floor("s").to_pydatetime().replace(tzinfo=UTC)
#: Columns that measure something: finite and >= 0 when known (NaN is "unknown").
_MEASURES = ("latency_s", "bytes", "restarts", "replicas", "ready_replicas",
             "liveness_timeout_s", "liveness_period_s", "liveness_failure_threshold",
             "readiness_timeout_s")
_TIMES = ("time", "first_seen", "last_seen", "last_termination_at")
_INT64_MAX = 2**63 - 1
_KIND = {**dict.fromkeys(_MEASURES, "measure"), **dict.fromkeys(_TIMES, "time"),
         "count": "count"}
_INF = math.inf


def check_time(value: datetime, field: str) -> datetime:
    """``value`` if a store can hold it (pandas' 1677-2262), else ``LineError(field)``."""
    if not _FIRST <= value <= _LAST:
        raise LineError(field, f"{value.isoformat()} is outside 1677-2262, the range "
                        "a time can be stored in")
    return value


def check_row(row: dict) -> None:
    """Refuse a row whose values make no physical sense, naming the field.

    Why here and not in each parser: every reader must give the same guarantee, and one
    absurd value (a year-9999 time, a 400-digit latency read as ``inf``, a count of 2**64)
    would otherwise fail the whole frame it lands in, and with it the whole file.
    Called once per row, so the common case (a float, a datetime) is checked first.
    """
    for key, value in row.items():
        kind = _KIND.get(key)
        if kind is None or value is None:
            continue
        if kind == "measure":
            if type(value) is float and 0.0 <= value < _INF or value != value:
                continue  # a sane float, or NaN (unknown)
            _check_measure(key, value)
        elif kind == "time":
            if value is pd.NaT:
                continue
            if not isinstance(value, datetime) or value.tzinfo is None:
                raise LineError(key, f"not a zoned time: {value!r}")
            check_time(value, key)
        elif not (isinstance(value, int) and 0 <= value <= _INT64_MAX):
            raise LineError(key, f"must be a whole number 0..2^63-1, got {_short(value)}")


def _check_measure(key: str, value: Any) -> None:
    try:
        number = float(value)
    except (TypeError, ValueError, OverflowError):
        raise LineError(key, f"not a number: {_short(value)}") from None
    if not math.isnan(number) and (math.isinf(number) or number < 0):
        raise LineError(key, f"must be a finite number >= 0, got {_short(value)}")


def _short(value: Any) -> str:
    if isinstance(value, int) and value.bit_length() > 100:
        return "a number of ~" + str(int(value.bit_length() * 0.30103) + 1) + " digits"
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."
