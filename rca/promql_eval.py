"""The offline half of a signal: the few PromQL operations we use, computed from raw samples.

Why mirror Prometheus exactly instead of approximating: a finding must read the same
whether it came from a live Prometheus or from a metrics file someone attached to a
ticket. So each function here follows Prometheus 2.42 (the version we test against,
``tests/integration/test_signals_prometheus.py``) step for step, including its edge rules:

* range selectors ``x[r]`` see the samples in the *closed* window ``[t - r, t]``
  (Prometheus 3 makes it left-open; switch ``side`` in :func:`rate` when we move);
* instant selectors take the last sample in ``[t - 5m, t]`` (the lookback delta);
* ``rate`` is ``extrapolatedRate``: counter resets, extrapolation to the window edges
  only when the edge is within 1.1 average sample intervals, never below zero;
* ``histogram_quantile`` is ``bucketQuantile`` with its +Inf and monotonicity rules.

Everything is vectorised over the evaluation steps: a :class:`Vec` is one output series,
its value at every step and whether it exists there (absent is not NaN: NaN is a value).
"""

from __future__ import annotations

import bisect
import json
import math
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import numpy as np
import pandas as pd

__all__ = [
    "AGGREGATIONS", "LOOKBACK_NS", "EvalError", "Matcher", "Series", "Vec", "aggregate",
    "bucket_quantile", "divide_on", "histogram_quantile", "instant", "matches", "rate", "select",
]

#: Prometheus' default ``--query.lookback-delta``.
LOOKBACK_NS = 5 * 60 * 1_000_000_000

#: A label matcher as in ``{device!~"lo|veth.*"}``: (label, op, value), op in = != =~ !~.
Matcher = tuple[str, str, str]


class EvalError(ValueError):
    """The expression has no answer, for the same reason Prometheus would refuse it."""


@dataclass(frozen=True)
class Series:
    """One raw series: labels without ``__name__``, times (ns, ascending, unique), values."""
    labels: dict[str, str]
    t: np.ndarray
    v: np.ndarray


@dataclass(frozen=True)
class Vec:
    """One output series over the evaluation steps."""
    labels: dict[str, str]
    value: np.ndarray  # float64 per step; NaN where absent
    present: np.ndarray  # bool per step


def matches(labels: dict[str, str], matchers: Iterable[Matcher]) -> bool:
    """Prometheus matching: an absent label is ``""``; regexes are fully anchored."""
    for label, op, pattern in matchers:
        value = labels.get(label, "")
        hit = value == pattern if op in ("=", "!=") else re.fullmatch(pattern, value) is not None
        if hit == op.startswith("!"):
            return False
    return True


def select(samples: pd.DataFrame, metric: str, matchers: Iterable[Matcher] = ()) -> list[Series]:
    """The series of ``metric`` in a metrics-table frame that satisfy ``matchers``.

    A sample written twice at the same instant keeps the later row, like the store does.
    """
    rows = samples[samples["name"].to_numpy() == metric]
    if rows.empty:
        return []
    t = rows.index.tz_convert("UTC").as_unit("ns").asi8
    v = rows["value"].to_numpy(dtype="float64")
    out = []
    for labels_json, pos in sorted(rows.groupby("labels", sort=False).indices.items()):
        labels = {k: str(x) for k, x in json.loads(labels_json).items() if x != ""}
        labels.pop("__name__", None)
        if not matches(labels, matchers):
            continue
        order = pos[np.argsort(t[pos], kind="stable")]
        ts, vs = t[order], v[order]
        last_of_instant = np.append(ts[1:] != ts[:-1], True)
        out.append(Series(labels, ts[last_of_instant], vs[last_of_instant]))
    return out


def rate(series: Iterable[Series], steps: np.ndarray, range_ns: int) -> list[Vec]:
    """``rate(x[range])`` at each step; a series needs two samples in the window."""
    out = []
    for s in series:
        first = np.searchsorted(s.t, steps - range_ns, side="left")
        end = np.searchsorted(s.t, steps, side="right")
        present = end - first >= 2
        value = np.full(len(steps), np.nan)
        if present.any():
            at = (first[present], end[present] - 1, steps[present])
            value[present] = _extrapolated_rate(s, *at, range_ns)
        out.append(Vec(s.labels, value, present))
    return out


def _extrapolated_rate(s: Series, first, last, ends, range_ns: int) -> np.ndarray:
    """Prometheus' ``extrapolatedRate`` (isCounter, isRate) for windows [first, last]."""
    t, v = s.t, s.v
    result = v[last] - v[first]
    # A drop is a counter reset: the value before it is added back, drop by drop.
    resets = np.flatnonzero(v[1:] < v[:-1]) + 1
    if resets.size:
        lo = np.searchsorted(resets, first, side="right")
        hi = np.searchsorted(resets, last, side="right")
        for k in np.flatnonzero(hi > lo):
            for i in resets[lo[k]:hi[k]]:
                result[k] += v[i - 1]
    # Interval arithmetic on integer ns first, then seconds, as Prometheus does with ms.
    to_start = (t[first] - (ends - range_ns)) / 1e9
    to_end = (ends - t[last]) / 1e9
    sampled = (t[last] - t[first]) / 1e9
    average = sampled / (last - first)
    with np.errstate(divide="ignore", invalid="ignore"):
        # Counters are never negative: do not extrapolate the start below zero.
        to_zero = sampled * (v[first] / result)
    use_zero = (result > 0) & (v[first] >= 0) & (to_zero < to_start)
    to_start = np.where(use_zero, to_zero, to_start)
    threshold = average * 1.1
    interval = sampled + np.where(to_start < threshold, to_start, average / 2)
    interval = interval + np.where(to_end < threshold, to_end, average / 2)
    return result * (interval / sampled / (range_ns / 1e9))


def instant(
    series: Iterable[Series], steps: np.ndarray, lookback_ns: int = LOOKBACK_NS
) -> list[Vec]:
    """``x`` at each step: the last sample at or before the step, if within the lookback."""
    out = []
    for s in series:
        idx = np.searchsorted(s.t, steps, side="right") - 1
        safe = np.maximum(idx, 0)
        present = (idx >= 0) & (s.t[safe] >= steps - lookback_ns)
        out.append(Vec(s.labels, np.where(present, s.v[safe], np.nan), present))
    return out


_REDUCERS: dict[str, Callable[[np.ndarray, np.ndarray], np.ndarray]] = {
    "sum": lambda values, present: np.where(present, values, 0.0).sum(axis=0),
    # Prometheus' max replaces a NaN by any later value: NaN only if all are NaN (fmax).
    "max": lambda values, present: np.fmax.reduce(np.where(present, values, np.nan), axis=0),
}
AGGREGATIONS = frozenset(_REDUCERS)


def aggregate(op: str, vecs: Iterable[Vec], by: tuple[str, ...]) -> list[Vec]:
    """``op by (by) (vecs)``; a group exists at a step when any member does."""
    out = []
    for key, members in _group(vecs, by).items():
        values = np.vstack([m.value for m in members])
        present = np.vstack([m.present for m in members])
        any_present = present.any(axis=0)
        value = np.where(any_present, _REDUCERS[op](values, present), np.nan)
        out.append(Vec({k: x for k, x in zip(by, key, strict=True) if x}, value, any_present))
    return out


def divide_on(left: list[Vec], right: list[Vec], on: tuple[str, ...]) -> list[Vec]:
    """``left / on (on) right``, one-to-one; the result keeps only the ``on`` labels.

    Like Prometheus, a step where one side has two series with the same ``on`` labels
    (and both sides have data) is an error, not a guess.
    """
    lefts, rights = _group(left, on), _group(right, on)
    if not lefts or not rights:
        return []
    both = _pick(left)[1] & _pick(right)[1]  # Prometheus skips steps with an empty side
    for sig, members in rights.items():
        if ((_count(members) > 1) & both).any():
            raise EvalError(f"duplicate series for the match group {sig} on the right")
    out = []
    for sig, members in lefts.items():
        if sig not in rights:
            continue
        (l_value, l_present), (r_value, r_present) = _pick(members), _pick(rights[sig])
        if ((_count(members) > 1) & r_present).any():
            raise EvalError(f"multiple matches for labels {sig}: many-to-one needs group_left")
        present = l_present & r_present
        with np.errstate(divide="ignore", invalid="ignore"):
            value = np.where(present, l_value / r_value, np.nan)
        out.append(Vec({k: x for k, x in zip(on, sig, strict=True) if x}, value, present))
    return out


def _group(vecs: Iterable[Vec], keys: tuple[str, ...]) -> dict[tuple[str, ...], list[Vec]]:
    """Vecs by their values of ``keys`` (absent is ``""``), in first-seen order."""
    groups: dict[tuple[str, ...], list[Vec]] = {}
    for vec in vecs:
        groups.setdefault(tuple(vec.labels.get(k, "") for k in keys), []).append(vec)
    return groups


def _count(members: list[Vec]) -> np.ndarray:
    return np.vstack([m.present for m in members]).sum(axis=0)


def _pick(members: list[Vec]) -> tuple[np.ndarray, np.ndarray]:
    """Value of whichever member is present at each step, and whether any is."""
    value = np.full(len(members[0].value), np.nan)
    present = np.zeros(len(value), dtype=bool)
    for m in members:
        value = np.where(m.present, m.value, value)
        present |= m.present
    return value, present


def histogram_quantile(q: float, vecs: Iterable[Vec]) -> list[Vec]:
    """``histogram_quantile(q, vecs)`` over classic ``le`` buckets.

    Series whose ``le`` is missing or not a number are ignored, as Prometheus does.
    """
    groups: dict[tuple, tuple[dict[str, str], list[tuple[float, Vec]]]] = {}
    for vec in vecs:
        bound = _parse_bound(vec.labels.get("le", ""))
        if bound is None:
            continue
        labels = {k: x for k, x in vec.labels.items() if k != "le"}
        groups.setdefault(tuple(sorted(labels.items())), (labels, []))[1].append((bound, vec))
    out = []
    for labels, buckets in groups.values():
        present = np.vstack([b.present for _, b in buckets]).any(axis=0)
        value = np.full(len(present), np.nan)
        for step in np.flatnonzero(present):
            value[step] = bucket_quantile(
                q, [(le, b.value[step]) for le, b in buckets if b.present[step]]
            )
        out.append(Vec(labels, value, present))
    return out


def _parse_bound(text: str) -> float | None:
    """Go's ``strconv.ParseFloat`` for ``le`` values (no spaces, no underscores)."""
    try:
        return float(text) if "_" not in text and text == text.strip() else None
    except ValueError:
        return None


def bucket_quantile(q: float, buckets: list[tuple[float, float]]) -> float:
    """Prometheus 2.42 ``bucketQuantile``: linear interpolation inside the target bucket.

    ``buckets`` are (upper bound, cumulative count). The highest must be +Inf (else NaN);
    equal bounds merge; counts are forced monotonic; a rank in the +Inf bucket gives the
    highest finite bound; the first bucket starts at 0 unless its bound is <= 0.
    """
    if math.isnan(q):
        return math.nan
    if q < 0:
        return -math.inf
    if q > 1:
        return math.inf
    ordered = sorted(buckets, key=lambda b: b[0])
    if ordered[-1][0] != math.inf:
        return math.nan
    merged: list[list[float]] = []
    for bound, count in ordered:
        if merged and merged[-1][0] == bound:
            merged[-1][1] += count
        else:
            merged.append([bound, count])
    highest = -math.inf
    for b in merged:
        if b[1] > highest:
            highest = b[1]
        elif b[1] < highest:
            b[1] = highest
    if len(merged) < 2:
        return math.nan
    observations = merged[-1][1]
    if observations == 0:
        return math.nan
    rank = q * observations
    # Go's sort.Search over a predicate (not a value search), so NaN counts agree too.
    b = bisect.bisect_left(range(len(merged) - 1), True, key=lambda i: merged[i][1] >= rank)
    if b == len(merged) - 1:
        return merged[-2][0]
    if b == 0 and merged[0][0] <= 0:
        return merged[0][0]
    start, end, count = 0.0, merged[b][0], merged[b][1]
    if b > 0:
        start = merged[b - 1][0]
        count -= merged[b - 1][1]
        rank -= merged[b - 1][1]
    return start + (end - start) * (rank / count)

