"""Small shared measurements causes make on a window, so each cause reads as its logic."""

from __future__ import annotations

import pandas as pd

from rca.entities import app_requests
from rca.finding import Evidence, Window

__all__ = ["app_requests", "during_evidence", "per_minute", "rows_of", "series_peak"]


def series_peak(df: pd.DataFrame) -> tuple[float, str]:
    """Highest value and the entity it was seen on."""
    if df.empty:
        return 0.0, ""
    i = df["value"].to_numpy().argmax()
    return float(df["value"].iloc[i]), str(df["entity"].iloc[i])


def rows_of(df: pd.DataFrame, columns: list[str], limit: int = 10) -> list[dict]:
    """The first rows behind a piece of evidence, as plain dicts with ISO times."""
    out = []
    for ts, row in df.head(limit).iterrows():
        item = {"time": ts.isoformat()}
        item.update({c: _plain(row[c]) for c in columns if c in row})
        out.append(item)
    return out


def _plain(v):
    if isinstance(v, pd.Timestamp):
        return v.isoformat()
    if hasattr(v, "item"):
        return v.item()
    return v


def during_evidence(window: Window, supports: bool, text: str, source: str,
                    rows: list[dict] | None = None) -> Evidence:
    return Evidence(supports, text, window.start, window.end, source, rows or [])


def per_minute(values: pd.Series, how: str = "max") -> list[tuple[pd.Timestamp, float]]:
    """A time-indexed series as one point a minute (``max``, ``sum``, ``median``…): what a
    cause's chart carries, small whatever the request rate."""
    values = pd.to_numeric(values, errors="coerce").dropna()
    if values.empty:
        return []
    binned = values.groupby(values.index.floor("min")).agg(how)
    return [(t, float(v)) for t, v in binned.items()]
