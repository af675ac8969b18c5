"""Row filters shared by every table the API returns.

Why one function for all tables: ``s.requests(service=...)``, ``s.events(pod=...)`` and
``s.metrics(node=...)`` must mean the same thing by the same word, and a filter a table
cannot answer (``pod`` on request logs, which name no pod) must say so instead of quietly
returning every row. Names are matched the way the rules match them: a service by
``rca.entities.same_service`` (``neishi`` is ``inference-neishi``), a pod or node by its
kubectl name with or without the ``pod/<namespace>/`` or ``node/`` prefix.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import tzinfo
from typing import Any

import pandas as pd

from rca.entities import same_service

__all__ = ["local", "select"]

#: Which column answers a name filter, per table (first present wins).
_ENTITY_COLUMNS = {"pod": ("object", "entity"), "node": ("node", "entity")}


def local(df: pd.DataFrame, zone: tzinfo) -> pd.DataFrame:
    """A copy of ``df`` with its UTC time index shown in ``zone`` (the same instants)."""
    out = df.copy()
    if isinstance(out.index, pd.DatetimeIndex):
        out.index = out.index.tz_convert(zone)
    return out


def select(df: pd.DataFrame, *, station: Any = None, service: Any = None, pod: Any = None,
           node: Any = None, status: Any = None, min_latency: float | None = None,
           max_latency: float | None = None, **columns: Any) -> pd.DataFrame:
    """Rows of a record table matching every filter given (``None``: not filtered).

    Each filter takes one value or a list of them. ``status`` compares as text, so
    ``status=504`` and ``status="504"`` are the same; ``min_latency``/``max_latency`` are
    seconds, inclusive. Any other keyword names a column (``side="client"``,
    ``reason="Unhealthy"``)."""
    mask = pd.Series(True, index=range(len(df)))
    if station is not None:
        mask &= _isin(_column(df, "station", "station"), station)
    if service is not None:
        wanted = _values(service)
        col = _column(df, "service", "service")
        mask &= col.map(lambda s: any(same_service(str(s), w) for w in wanted)).to_numpy()
    for name, value in (("pod", pod), ("node", node)):
        if value is not None:
            mask &= _named(df, name, value)
    if status is not None:
        mask &= _isin(_column(df, "status", "status"), status)
    latency = None
    if min_latency is not None or max_latency is not None:
        latency = pd.to_numeric(_column(df, "latency_s", "min_latency/max_latency"),
                                errors="coerce")
    if min_latency is not None:
        mask &= (latency >= float(min_latency)).to_numpy()
    if max_latency is not None:
        mask &= (latency <= float(max_latency)).to_numpy()
    for name, value in columns.items():
        if value is not None:
            mask &= _isin(_column(df, name, name), value)
    return df[mask.to_numpy()]


def _column(df: pd.DataFrame, column: str, flt: str) -> pd.Series:
    if column not in df.columns:
        raise TypeError(f"filter {flt!r} does not apply here: the table has no {column!r} "
                        f"column (its columns: {', '.join(map(str, df.columns))})")
    return df[column].reset_index(drop=True)


def _named(df: pd.DataFrame, kind: str, value: Any) -> pd.Series:
    """``pod="neishi-x"`` matches ``pod/inference/neishi-x``; ``node="n1"`` matches
    ``n1`` and ``node/n1``."""
    column = next((c for c in _ENTITY_COLUMNS[kind] if c in df.columns), None)
    if column is None:
        raise TypeError(f"filter {kind!r} does not apply here: the table names no {kind} "
                        f"(its columns: {', '.join(map(str, df.columns))})")
    wanted = [w.removeprefix(f"{kind}/") for w in _values(value)]
    col = df[column].astype(str).reset_index(drop=True)
    hit = col.map(lambda v: any(v == w or v == f"{kind}/{w}" or v.endswith("/" + w)
                                for w in wanted))
    if "labels" in df.columns:  # a sample scraped from a pod names it in a label
        keys = [f'"{kind}":"{w.rsplit("/", 1)[-1]}"' for w in wanted]
        labels = df["labels"].astype(str).reset_index(drop=True)
        hit |= labels.map(lambda v: any(k in v for k in keys))
    return hit


def _isin(col: pd.Series, value: Any) -> pd.Series:
    return col.astype(str).isin(_values(value))


def _values(value: Any) -> list[str]:
    if isinstance(value, (str, bytes, int, float)) or not isinstance(value, Iterable):
        value = [value]
    return [str(v) for v in value]
