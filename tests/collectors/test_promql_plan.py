"""The query plan: a bounded number of range queries, under the points limit, renamed."""

import pandas as pd
import pytest

from collectors.promql_plan import plan, rename, restore_labels
from rca.signals import SIGNALS, promql

DAY = (pd.Timestamp("2021-08-22T16:00:00Z"), pd.Timestamp("2021-08-23T16:00:00Z"))
LIMITS = {"step_s": 60, "max_points": 11_000, "max_range_s": 86_400}


def _steps(queries):
    out = []
    for q in queries:
        out += list(pd.date_range(q.start, q.end, freq=f"{q.step_s}s"))
    return out


def test_a_day_is_one_query_per_signal_with_every_step_once():
    queries = plan(list(SIGNALS.values()), *DAY, **LIMITS)
    assert len(queries) == len(SIGNALS)
    assert {q.signal for q in queries} == set(SIGNALS)
    q = queries[0]
    assert (q.start, q.end, q.points) == (DAY[0], DAY[1] - pd.Timedelta(minutes=1), 1440)


@pytest.mark.parametrize("minutes,chunks", [
    (11_000, 1),  # exactly the limit: one query (steps 0 … 10,999)
    (11_001, 2),  # one step more: split, never 11,001 points in one series
    (30 * 1440, 30),  # a month: max_range (a day) splits first
])
def test_long_ranges_split_under_the_points_limit(minutes, chunks):
    since = DAY[0]
    until = since + pd.Timedelta(minutes=minutes)
    limits = dict(LIMITS, max_range_s=30 * 86_400) if minutes < 30 * 1440 else LIMITS
    queries = plan([SIGNALS["node_load1"]], since, until, **limits)
    assert len(queries) == chunks
    assert all(q.points <= 11_000 for q in queries)
    steps = _steps(queries)
    assert len(steps) == len(set(steps)) == minutes  # contiguous, no step twice
    assert steps[0] == since and steps[-1] < until


def test_steps_sit_on_multiples_of_the_step():
    q, = plan([SIGNALS["node_load1"]], DAY[0] + pd.Timedelta(seconds=7), DAY[1], **LIMITS)
    assert q.start == DAY[0] + pd.Timedelta(minutes=1) and q.start.second == 0


def test_bad_limits_are_refused():
    with pytest.raises(ValueError, match="bad plan limits"):
        plan([SIGNALS["node_load1"]], *DAY, step_s=60, max_points=0, max_range_s=86_400)


@pytest.mark.parametrize("name", sorted(SIGNALS))
def test_every_declared_signal_renders_with_the_cluster_names(name):
    signal = SIGNALS[name]
    metrics = {m: f"cluster:{m}" for m in signal.metrics}
    labels = {"instance": "target", "node": "kubernetes_node", "device": "interface"}
    expr = promql(rename(signal, metrics, labels))
    for m in signal.metrics:
        assert f"cluster:{m}" in expr
    for declared, cluster in labels.items():
        used = declared in (*signal.by, *signal.on, *(k for k, _, _ in signal.matchers))
        assert (cluster in expr) == used, expr
        assert f"({declared}" not in expr and f" {declared}," not in expr
    assert promql(rename(signal, {}, {})) == promql(signal)  # nothing to rename: unchanged


def test_result_labels_get_the_declared_names_back():
    got = restore_labels({"__name__": "x", "kubernetes_node": "w1", "job": "n"},
                         {"node": "kubernetes_node"})
    assert got == {"node": "w1", "job": "n"}
