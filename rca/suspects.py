"""Suspects: every metric series ranked by how much it changed at an incident's onset.

Why a rule-free fallback (as BARO and N-Sigma do): the cause catalogue only knows the
failures someone has written a rule for. A cluster fails in other ways too, and then the
most useful thing a tool can say is "these series moved when it started". Every raw series
in the record is scored, not only declared signals: counters become per-second rates
(reset-aware), then the change from the baseline's median to the incident's median is
measured in robust standard deviations (MAD x 1.4826), so one noisy series cannot win by
being noisy.

Thresholds (``thresholds.suspects``): see ``THRESHOLDS``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from rca.finding import Window
from rca.record import between
from rca.rule import Threshold

__all__ = ["THRESHOLDS", "suspects", "unexplained"]

THRESHOLDS = {
    "min_score": Threshold(3.0, "three robust standard deviations: the N-Sigma rule's line "
                           "between noise and a change worth a look"),
    "min_baseline_points": Threshold(5, "a median and a MAD of fewer points are not a baseline: "
                                     "five 30 s scrapes is the least that says what normal is"),
    "top": Threshold(5, "a person reads five suspects; more is a list nobody reads"),
    "explained_min_score": Threshold(0.5, "below half of its evidence weight a cause explains "
                                     "the incident no better than a guess: then the incident "
                                     "is reported unexplained, with the data that was missing"),
}

_MAD_TO_SIGMA = 1.4826  # MAD of a normal distribution x this = its standard deviation


def suspects(metrics: pd.DataFrame, window: Window, th: dict[str, Any]) -> list[dict]:
    """The top series by robust z-score of their change at the incident, most changed first."""
    if metrics.empty:
        return []
    part = between(metrics, window.baseline_start, window.end)
    if part.empty:
        return []
    scored = []
    for (name, labels), series in part.groupby(["name", "labels"], sort=False):
        values = _as_rate(series["value"]) if _is_counter(name) else series["value"]
        before = values[values.index < window.start].to_numpy(dtype=float)
        during = values[values.index >= window.start].to_numpy(dtype=float)
        before, during = before[np.isfinite(before)], during[np.isfinite(during)]
        if len(before) < int(th["min_baseline_points"]) or len(during) == 0:
            continue
        base = float(np.median(before))
        now = float(np.median(during)) if len(during) > 2 else float(during.max())
        spread = _MAD_TO_SIGMA * float(np.median(np.abs(before - base)))
        score = abs(now - base) / max(spread, 1e-9 + 1e-3 * abs(base))
        if score >= float(th["min_score"]):
            scored.append({"entity": str(series["entity"].iloc[0]),
                           "series": _series_name(name, labels), "before": round(base, 6),
                           "during": round(now, 6), "change": _change(base, now),
                           "score": round(min(score, 999.9), 1)})
    scored.sort(key=lambda s: -s["score"])
    return scored[: int(th["top"])]


def _is_counter(name: str) -> bool:
    """Prometheus naming: ``_total``, ``_count`` and ``_sum`` are cumulative; conntrack's
    ``node_nf_conntrack_stat_*`` is typed gauge by node_exporter but cumulative too."""
    return name.endswith(("_total", "_count", "_sum")) or name.startswith(
        "node_nf_conntrack_stat_")


def _as_rate(values: pd.Series) -> pd.Series:
    values = values.sort_index()
    dv = values.diff()
    dv = dv.where(dv >= 0, values)  # a reset starts again from zero
    dt = values.index.to_series().diff().dt.total_seconds()
    return (dv / dt.where(dt > 0)).dropna()


def _series_name(name: str, labels: str) -> str:
    return name if labels in ("", "{}") else f"{name}{labels}"


def _change(before: float, now: float) -> str:
    if before == 0:
        return f"{before:g} → {now:g}"
    return f"{before:g} → {now:g} ({now / before:.1f}x)"


def unexplained(causes: list, th: dict[str, Any]) -> str:
    """Why no cause explains the incident ("" when one does): the best judged score, and
    what the unjudged causes lacked, so the reader knows what to collect next."""
    judged = [f for f in causes if f.status == "ok"]
    best = max(judged, key=lambda f: f.score, default=None)
    if best is not None and best.score >= float(th["explained_min_score"]):
        return ""
    lacking = sorted({m for f in causes if f.status == "no_data" for m in f.missing})
    text = (f"no cause is convincing (best: {best.id} {best.score:.2f})" if best is not None
            else "no cause could be judged")
    return text + (f"; missing: {'; '.join(lacking)}" if lacking else "")
