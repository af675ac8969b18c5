"""What every file-mode collector returns, and how bad input is accounted for.

Why a shared shape: ``rca collect`` reads many files of many formats and must end with
one summary (rows per table, the span covered, malformed lines per file). A collector
never prints and never drops a bad line silently: it counts it and keeps the first few
with their line number and the field that failed.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import tzinfo
from typing import Any

import pandas as pd

from rca import record

__all__ = ["Batch", "LineError", "Malformed", "ParseContext", "RowBuffer"]


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
    """Everything a parser needs besides the line: zone for zone-less times, config."""

    file: str
    zone: tzinfo
    settings: dict[str, Any] = field(default_factory=dict)


@dataclass
class Batch:
    """The result of reading one source: frames per table plus the accounting."""

    source: str
    frames: dict[str, pd.DataFrame] = field(default_factory=dict)
    lines: int = 0
    malformed: int = 0
    samples: list[Malformed] = field(default_factory=list)
    gaps: list = field(default_factory=list)  # rca.live.Gap: what a live source could not get

    def add_malformed(self, m: Malformed, keep: int) -> None:
        self.malformed += 1
        if len(self.samples) < keep:
            self.samples.append(m)

    def rows(self) -> dict[str, int]:
        return {t: len(df) for t, df in self.frames.items()}


class RowBuffer:
    """Accumulates dict rows per table and turns them into validated record frames."""

    def __init__(self) -> None:
        self._rows: dict[str, list[dict]] = defaultdict(list)

    def add(self, table: str, row: dict) -> None:
        self._rows[table].append(row)

    def frames(self) -> dict[str, pd.DataFrame]:
        return {t: record.frame(t, rows) for t, rows in self._rows.items() if rows}
