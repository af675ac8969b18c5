"""What a cause is: one typed record, registered in ``rca.causes``.

Why a record (as k8sgpt's analyzers and Sigma rules are): the engine, config, the CLI
filter, the report and the catalogue test all read the same declaration. A cause declares
what it needs as predicates over the incident window; when one does not hold the engine
reports *no data* for it (never "healthy") without running it. It declares the signals it
reads (so the engine evaluates them once for every cause), its thresholds with the reason
for each default, and its fix. ``judge`` is a pure function of the window and the
thresholds: no I/O, no printing, no knowledge of any scenario.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from rca.finding import Finding, Window
from rca.measure import probe_kills
from rca.rule import Threshold

__all__ = ["DRIVER_CAP", "Cause", "Need", "Threshold", "any_of", "capped_as_driver", "rows_where",
           "signal", "table"]


@dataclass(frozen=True)
class Need:
    """Something the window must hold for a cause to be judged. ``label`` is what the
    *no data* verdict says was missing; ``signals`` are what the engine must evaluate."""

    label: str
    check: Callable[[Window], bool]
    signals: tuple[str, ...] = ()


def _has(window: Window, name: str) -> bool:
    df = window.tables.get(name)
    return df is not None and not df.empty


def table(name: str) -> Need:
    """Any row of a record table (``requests``, ``events``, ``objects``, ``dns``)."""
    return Need(f"{name} not collected", lambda w: _has(w, name))


def signal(name: str) -> Need:
    """A declared signal (``rca.signals``) evaluated over the window."""
    return Need(f"signal {name} not collected", lambda w: _has(w, f"signal:{name}"), (name,))


def rows_where(name: str, what: str, predicate: Callable[[pd.DataFrame], pd.Series]) -> Need:
    """Rows of a table that satisfy ``predicate`` (e.g. server-side requests); ``what``
    names them in the *no data* verdict."""

    def check(w: Window) -> bool:
        df = w.tables.get(name)
        return df is not None and not df.empty and bool(predicate(df).any())

    return Need(f"{what} not collected", check)


def any_of(label: str, *needs: Need) -> Need:
    """At least one of ``needs`` (e.g. any DNS-side source)."""
    return Need(f"{label} not collected", lambda w: any(n.check(w) for n in needs),
                tuple(s for n in needs for s in n.signals))


@dataclass(frozen=True)
class Cause:
    id: str  # stable: never changes meaning
    judge: Callable[[Window, dict[str, Any]], Finding]
    fix: str
    needs: tuple[Need, ...] = ()
    wants: tuple[str, ...] = ()  # signal names read when present
    thresholds: Mapping[str, Threshold] = field(default_factory=dict)
    #: signal -> threshold key: the line the report draws on that signal's panel, so a
    #: reader sees the value against the edge the cause judged it by
    marks: Mapping[str, str] = field(default_factory=dict)

    @property
    def config_key(self) -> str:
        """Its section under ``thresholds`` in config."""
        return self.id.replace(".", "_")

    def signals(self) -> tuple[str, ...]:
        """Every signal it reads, needed or wanted, once each."""
        names = [s for n in self.needs for s in n.signals] + list(self.wants)
        return tuple(dict.fromkeys(names))

    def defaults(self) -> dict[str, Any]:
        return {k: t.default for k, t in self.thresholds.items()}

    def lines(self, th: Mapping[str, Any] | None = None) -> dict[str, float]:
        """Signal -> threshold value to draw, from the config in effect (else defaults)."""
        values = {**self.defaults(), **dict(th or {})}
        return {sig: float(values[key]) for sig, key in self.marks.items()}

    def missing(self, window: Window) -> list[str]:
        """Labels of the needs that do not hold: non-empty means *no data*."""
        return [n.label for n in self.needs if not n.check(window)]


#: The ``driver_cap`` threshold of every cause that can only make a container slow (a full
#: link, CPU throttling, an IO stall): one record, so the three cannot drift apart.
DRIVER_CAP = Threshold(0.85, "when the incident's restarts are liveness kills, the probe "
                       "turned this slowness into an outage: probe.timeout_too_tight (which "
                       "names this cause as its driver) ranks first")


def capped_as_driver(score: float, window: Window, th: Mapping[str, Any]) -> float:
    """``score`` held at ``driver_cap`` when the incident's restarts are liveness kills:
    the cause made the container slow, the probe made that an outage."""
    return min(score, float(th["driver_cap"])) if probe_kills(window) else score
