"""The shapes analysis produces: incidents, the findings of causes, their evidence.

Why one shape for every cause (as HolmesGPT does for its tools): the ranking, the JSON
output and the report treat all causes alike, and a cause that lacked data says so with
``status="no_data"`` instead of looking healthy.

JSON contract (stable)::

    {"incidents": [{"id", "start", "end", "scope": {...}, "symptoms": {...},
                    "causes": [{"id", "entity", "score", "status", "summary",
                                "evidence": [...], "fix", "chart"?}]}],
     "gaps": [...]}
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

import pandas as pd

__all__ = ["Analysis", "Chart", "Evidence", "Finding", "Incident", "Record", "Window"]

Status = Literal["ok", "no_data", "error"]


@dataclass(frozen=True)
class Window:
    """An incident window and the quiet baseline just before it, with their record slices."""

    start: pd.Timestamp
    end: pd.Timestamp
    baseline_start: pd.Timestamp
    tables: dict[str, pd.DataFrame]  # each table sliced to [baseline_start, end)
    scope: dict[str, Any] = field(default_factory=dict)
    symptoms: dict[str, Any] = field(default_factory=dict)  # the incident's figures and kinds
    cache: dict[str, Any] = field(default_factory=dict, compare=False)  # rca.measure

    def during(self, table: str) -> pd.DataFrame:
        """Rows of a table or ``signal:<name>`` frame inside the incident window."""
        return self.split(self.tables[table])[1]

    def before(self, table: str) -> pd.DataFrame:
        """Rows of the quiet baseline before the window (other incidents left out)."""
        return self.split(self.tables[table])[0]

    def baseline_seconds(self, table: str) -> float:
        """Seconds of baseline the table's rows cover: from its first row (when later than
        ``baseline_start``) to the window's start. A rate "before" taken over the whole
        baseline when the data began later (a collection started minutes before the
        incident) is too low, and every steady client would look new. At least 1 s."""
        df = self.tables.get(table)
        first = df.index.min() if df is not None and len(df) else self.start
        since = max(self.baseline_start, min(first, self.start))
        return max((self.start - since).total_seconds(), 1.0)

    def split(self, df: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
        """(baseline, during) parts of any time-indexed frame, e.g. one a cause derived."""
        baseline = df[(df.index >= self.baseline_start) & (df.index < self.start)]
        return baseline, df[(df.index >= self.start) & (df.index < self.end)]


@dataclass
class Evidence:
    """One observation for (``supports=True``) or against a cause."""

    supports: bool
    text: str
    start: pd.Timestamp | None = None
    end: pd.Timestamp | None = None
    source: str = ""  # the table/signal/query behind it
    rows: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class Chart:
    """What a cause judged, as the report draws it beside its evidence: the values it
    compared and the edge it compared them with (``line``), for the causes whose verdict is
    not one signal against a threshold (those mark their signal panel: ``Cause.marks``).

    Either ``series`` (label -> [(UTC time, value)], drawn over time with the incident
    shaded and ``marks`` as instants, e.g. kills) or ``bars`` (group -> {label: value},
    e.g. free GPUs per node, requests per backend). Kept small: a point a minute at most.
    """

    title: str
    unit: str = ""
    line: float | None = None
    line_label: str = ""
    series: dict[str, list[tuple[pd.Timestamp, float]]] = field(default_factory=dict)
    bars: dict[str, dict[str, float]] = field(default_factory=dict)
    marks: list[tuple[pd.Timestamp, str]] = field(default_factory=list)


@dataclass
class Finding:
    id: str
    score: float
    summary: str
    entity: str = ""
    status: Status = "ok"
    evidence: list[Evidence] = field(default_factory=list)
    fix: str = ""
    missing: list[str] = field(default_factory=list)  # no_data: what was not collected
    chart: Chart | None = None  # what it judged, drawn in the report

    def __post_init__(self) -> None:
        self.score = float(min(1.0, max(0.0, self.score)))


@dataclass
class Incident:
    id: str
    start: pd.Timestamp
    end: pd.Timestamp
    scope: dict[str, Any]
    symptoms: dict[str, Any]
    causes: list[Finding] = field(default_factory=list)
    suspects: list[dict[str, Any]] = field(default_factory=list)  # rca.suspects
    unexplained: str = ""  # why no cause explains it, "" when one does


@dataclass
class Record:
    """The record of [since, until) as the engine reads it: the tables, reaching back a
    baseline before ``since`` so the first incident has one."""

    tables: dict[str, pd.DataFrame]
    since: pd.Timestamp
    until: pd.Timestamp


@dataclass
class Analysis:
    incidents: list[Incident]
    gaps: list[dict[str, str]]
    timeline: dict[str, pd.DataFrame] = field(default_factory=dict)
    since: pd.Timestamp | None = None
    until: pd.Timestamp | None = None
