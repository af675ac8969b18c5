"""The shape every symptom detector shares.

Why detectors and not one incident rule: an incident is what woke someone up, and it shows
in different data on different clusters: failed requests in client logs, a wave of 413s in
a proxy log, a liveness-kill storm in pod events on a day with no request logs at all (seed
001), pods that cannot start. Each detector reads one symptom from the record and says when
and where it was; ``rca.incidents.merge`` turns overlapping symptoms into incidents.

A detector is a record, like a Prometheus rule: its name (also its config section
``thresholds.<name>``), the tables it reads, its thresholds with the reason for each
default, and a pure function. It makes no I/O and prints nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from rca.rule import Threshold

__all__ = ["Detector", "Inputs", "Symptom", "Threshold"]


@dataclass(frozen=True)
class Inputs:
    """What detectors read: the record tables of the analysed window (``requests``,
    ``events``, ``objects``, ``metrics``, ``dns``) and the evaluated signals
    (``signal:<name>`` frames with ``entity`` and ``value``), all UTC-indexed. ``since``
    is the start of the analysed window: the tables also hold the baseline before it, so a
    detector can compare with normal, but only symptoms starting at or after ``since`` count.
    """

    tables: Mapping[str, pd.DataFrame]
    since: pd.Timestamp
    until: pd.Timestamp

    def table(self, name: str) -> pd.DataFrame:
        df = self.tables.get(name)
        return df if df is not None else pd.DataFrame()

    def window(self, name: str) -> pd.DataFrame:
        """Rows of a table inside the analysed window (the baseline left out)."""
        df = self.table(name)
        if df.empty:
            return df
        return df[(df.index >= self.since) & (df.index < self.until)]


@dataclass
class Symptom:
    """One observed symptom: what (``kind``, the detector's name), when, where, how much.

    ``scope`` has any of ``stations``, ``services``, ``pods``, ``nodes`` (lists of names;
    pods as ``pod/<ns>/<name>``); ``figures`` are the headline numbers a person reads
    first (``failed_requests``, ``restarts``…), named so that two detectors never use the
    same key for different things.
    """

    kind: str
    start: pd.Timestamp
    end: pd.Timestamp
    scope: dict[str, list[str]] = field(default_factory=dict)
    figures: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Detector:
    name: str
    detect: Callable[[Inputs, dict[str, Any]], list[Symptom]]
    reads: tuple[str, ...]  # tables or ``signal:<name>`` it looks at
    thresholds: Mapping[str, Threshold] = field(default_factory=dict)
    wants_signals: tuple[str, ...] = ()

    def defaults(self) -> dict[str, Any]:
        return {k: t.default for k, t in self.thresholds.items()}
