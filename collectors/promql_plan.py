"""What to ask a Prometheus for a window: each declared signal, renamed and cut into range queries.

Why a plan separate from the fetch: the number of queries is what keeps a day of a
1,000-node cluster cheap (one aggregated query per signal per chunk, never raw series),
so it is worth computing and testing without a server. Two limits shape it:

* Prometheus refuses a range query of more than 11,000 points per series
  (``exceeded maximum resolution of 11,000 points per timeseries``); a chunk therefore
  holds at most ``max_points`` steps, and a long window is split into chunks that do not
  share a step (no point is fetched twice);
* ``max_range_s`` caps a chunk's length too: a server with a max query length
  (Thanos, Mimir ``max_query_length``) answers a shorter range where it refuses a day.

Steps sit on multiples of the step (epoch-aligned): the same instants the offline
evaluator uses for a window starting on a whole minute, and what a caching front-end
(Thanos query-frontend, VictoriaMetrics) aligns to anyway.

Relabelled clusters: a metric or label name the cluster spells differently is renamed in
the signal before it is rendered (``rename``), and the result's labels are mapped back
(``restore_labels``), so causes and entities see the declared names whatever the cluster
calls them. Renaming walks the signal's fields, so it works for any declared signal.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass

import pandas as pd

from rca.signals import Signal, promql

__all__ = ["Query", "plan", "rename", "restore_labels"]

#: Fields of a Signal that are never metric or label names, even when their text is.
_NOT_NAMES = {"name", "doc", "kind", "agg", "range"}


@dataclass(frozen=True)
class Query:
    """One range query: ``expr`` evaluated at ``start, start + step, …, end``."""

    signal: str  # the declared name, what the rows are stored under
    expr: str
    start: pd.Timestamp
    end: pd.Timestamp
    step_s: int

    @property
    def points(self) -> int:
        return int((self.end - self.start).total_seconds()) // self.step_s + 1


def rename(signal: Signal, metrics: Mapping[str, str], labels: Mapping[str, str]) -> Signal:
    """``signal`` with the cluster's metric and label names (identity when both are empty)."""
    if not metrics and not labels:
        return signal
    changes = {}
    for f in dataclasses.fields(signal):
        value = getattr(signal, f.name)
        if f.name in _NOT_NAMES:
            continue
        if isinstance(value, str) and value in signal.metrics:
            changes[f.name] = metrics.get(value, value)
        elif isinstance(value, tuple) and value and all(isinstance(v, str) for v in value):
            changes[f.name] = tuple(labels.get(v, v) for v in value)
        elif isinstance(value, tuple) and value and all(isinstance(v, tuple) for v in value):
            changes[f.name] = tuple((labels.get(k, k), *rest) for k, *rest in value)
    return dataclasses.replace(signal, **changes)


def restore_labels(labels: Mapping[str, str], renamed: Mapping[str, str]) -> dict[str, str]:
    """The declared label names back on a result series (``__name__`` dropped)."""
    back = {cluster: declared for declared, cluster in renamed.items()}
    return {back.get(k, k): v for k, v in labels.items() if k != "__name__"}


def plan(signals: list[Signal], since: pd.Timestamp, until: pd.Timestamp, *, step_s: int,
         max_points: int, max_range_s: int, metrics: Mapping[str, str] | None = None,
         labels: Mapping[str, str] | None = None) -> list[Query]:
    """Range queries covering the steps in [since, until) for every signal."""
    if step_s <= 0 or max_points < 1 or max_range_s < step_s:
        raise ValueError(f"bad plan limits: step {step_s}s, max_points {max_points}, "
                         f"max_range {max_range_s}s")
    chunks = _chunks(since, until, step_s, min(max_points, max_range_s // step_s + 1))
    out = []
    for signal in signals:
        expr = promql(rename(signal, metrics or {}, labels or {}))
        out += [Query(signal.name, expr, a, b, step_s) for a, b in chunks]
    return out


def _chunks(since: pd.Timestamp, until: pd.Timestamp, step_s: int,
            per_chunk: int) -> list[tuple[pd.Timestamp, pd.Timestamp]]:
    """(first step, last step) of each chunk; steps on multiples of ``step_s``, < until."""
    step_ns = step_s * 1_000_000_000
    first = -(-since.as_unit("ns").value // step_ns) * step_ns
    last = (until.as_unit("ns").value - 1) // step_ns * step_ns
    out = []
    while first <= last:
        end = min(last, first + (per_chunk - 1) * step_ns)
        out.append((pd.Timestamp(first, tz="UTC"), pd.Timestamp(end, tz="UTC")))
        first = end + step_ns
    return out
