"""Signals: the PromQL each renders to, and offline values computed by hand.

The hand computations follow Prometheus 2.42's ``extrapolatedRate`` and
``bucketQuantile``; ``tests/integration/test_signals_prometheus.py`` checks the same code
against a real Prometheus on two hours of data.
"""

from __future__ import annotations

import math
from datetime import UTC
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from collectors.base import ParseContext
from collectors.metrics_file import read_metrics_file
from rca.promql_eval import EvalError, Vec, bucket_quantile, divide_on, matches
from rca.signals import SIGNALS, Signal, available, entity_of, evaluate, promql

DATA = Path(__file__).resolve().parents[1] / "data" / "metrics"
T0 = pd.Timestamp("2021-08-23T00:00:00Z")
NODE_A = '{"instance":"10.0.0.11:9100"}'
NODE_B = '{"instance":"10.0.0.12:9100","node":"worknode2"}'


@pytest.fixture(scope="module")
def samples() -> pd.DataFrame:
    ctx = ParseContext(file="test", zone=UTC)
    return pd.concat([read_metrics_file(DATA / f, ctx).frames["metrics"]
                      for f in ("node_exporter.om", "coredns.om", "cadvisor.om",
                                "node_io_cadvisor.om")])


def at(name: str, samples: pd.DataFrame, seconds: float) -> dict[str, float]:
    """Signal ``name`` at one instant T0 + seconds, as {labels: value}."""
    t = T0 + pd.Timedelta(seconds=seconds)
    df = evaluate(SIGNALS[name], samples, t, t, 15)
    return dict(zip(df["labels"], df["value"], strict=True))


def test_promql_of_every_declared_signal():
    assert {name: promql(s) for name, s in SIGNALS.items()} == {
        "coredns_request_p99_seconds": "histogram_quantile(0.99, sum by (le) "
        "(rate(coredns_dns_request_duration_seconds_bucket[5m])))",
        "coredns_requests_per_second": "sum(rate(coredns_dns_requests_total[5m]))",
        "conntrack_insert_failed_per_second": "sum by (instance, node) "
        "(rate(node_nf_conntrack_stat_insert_failed[1m]))",
        "conntrack_drop_per_second": "sum by (instance, node) "
        "(rate(node_nf_conntrack_stat_drop[1m]))",
        "node_receive_utilization_ratio": "max by (instance, node) "
        '(rate(node_network_receive_bytes_total{device!~"lo|veth.*|cali.*|flannel.*|cni.*'
        '|docker.*"}[1m]) / on (instance, node, device) node_network_speed_bytes)',
        "node_load1": "max by (instance, node) (node_load1)",
        "cadvisor_memory_working_set_bytes": "max by (namespace, pod) "
        '(container_memory_working_set_bytes{container!="", container!="POD"})',
        "node_transmit_utilization_ratio": "max by (instance, node) "
        '(rate(node_network_transmit_bytes_total{device!~"lo|veth.*|cali.*|flannel.*|cni.*'
        '|docker.*"}[1m]) / on (instance, node, device) node_network_speed_bytes)',
        "node_network_drop_per_second": "sum by (instance, node) "
        '(rate(node_network_receive_drop_total{device!~"lo|veth.*|cali.*|flannel.*|cni.*'
        '|docker.*"}[1m]))',
        "node_procs_blocked": "max by (instance, node) (node_procs_blocked)",
        "node_disk_io_time_ratio": "max by (instance, node) "
        "(rate(node_disk_io_time_seconds_total[1m]))",
        "container_cpu_cfs_throttled_periods_per_second": "sum by (namespace, pod, container) "
        '(rate(container_cpu_cfs_throttled_periods_total{container!~"|POD"}[5m]))',
        "container_cpu_cfs_periods_per_second": "sum by (namespace, pod, container) "
        '(rate(container_cpu_cfs_periods_total{container!~"|POD"}[5m]))',
    }


def test_promql_quotes_matcher_values():
    sig = Signal("x_y_total", "doc", "gauge", "m", matchers=(("a", "=~", 'q"\\d'),))
    assert promql(sig) == 'sum(m{a=~"q\\"\\\\d"})'


def test_rate_handles_a_counter_reset(samples):
    # Node A: 100, 130, 10 (reset), 40, 70 at T0+0…60 s; rate(…[1m]) at T0+60 sees all five
    # (2.42's window [t-1m, t] is closed). Increase = 70 - 100 + 130 = 100 over exactly the
    # window: no extrapolation -> 100 / 60.
    assert at("conntrack_insert_failed_per_second", samples, 60)[NODE_A] == pytest.approx(
        100 / 60, rel=1e-12)
    # At T0+70 the window [10, 70] holds 130, 10, 40, 70 at 15…60 s: increase 70 - 130 + 130
    # = 70 over 45 s, 5 s short at the start and 10 s at the end (both < 1.1 * 15 s, so
    # extrapolated): 70 * (45 + 5 + 10) / 45 / 60 = 70 / 45.
    assert at("conntrack_insert_failed_per_second", samples, 70)[NODE_A] == pytest.approx(
        70 / 45, rel=1e-12)


def test_rate_extrapolates_a_new_counter_only_down_to_zero(samples):
    # Node B appears at T0+30 with 5, 20, 35. At T0+60: increase 30 over 30 s, 30 s from
    # the window start. Zero would be reached 30 * 5/30 = 5 s before the first sample, so
    # the start extrapolates 5 s, not the 7.5 s (half an interval) it would otherwise:
    # 30 * (30 + 5) / 30 / 60 = 35 / 60.
    assert at("conntrack_insert_failed_per_second", samples, 60)[NODE_B] == pytest.approx(
        35 / 60, rel=1e-12)
    assert NODE_B not in at("conntrack_insert_failed_per_second", samples, 30)  # one sample


def test_sum_of_rates_across_pods_with_a_restart(samples):
    # Five samples at 15 s spacing, window [t-5m, t]: 240 s before the first sample is more
    # than 1.1 intervals, so each series extrapolates half an interval (7.5 s) at the start
    # only: factor (60 + 7.5) / 60 / 300. Increases: 400 + 400 + (140 - 500 + 560) = 1000.
    value = at("coredns_requests_per_second", samples, 60)["{}"]
    assert value == pytest.approx(1000 * 67.5 / 60 / 300, rel=1e-12)


def test_histogram_quantile_interpolates_in_the_bucket(samples):
    # Summed bucket increases over the minute (every bucket scales by the same rate factor):
    # le 0.256 -> 192, 1.024 -> 196 + 8 = 204, +Inf -> 204. Rank 0.99 * 204 = 201.96 falls in
    # (0.256, 1.024]: 0.256 + 0.768 * (201.96 - 192) / (204 - 192).
    expected = 0.256 + 0.768 * (0.99 * 204 - 192) / 12
    assert at("coredns_request_p99_seconds", samples, 60)["{}"] == pytest.approx(expected)


@pytest.mark.parametrize(("q", "buckets", "expected"), [
    (0.5, [(0.1, 10), (0.2, 20), (math.inf, 20)], 0.1),                  # rank at a bound
    (0.75, [(0.1, 10), (0.2, 20), (math.inf, 20)], 0.15),
    (0.99, [(0.1, 10), (0.2, 20), (math.inf, 40)], 0.2),                 # in +Inf: top bound
    (0.75, [(0.1, 10), (0.2, 8), (0.4, 11), (math.inf, 12)], 0.09),     # 8 forced up to 10
    (0.5, [(1.0, 4), (1.0, 4), (math.inf, 10)], 0.625),                 # "1" and "1.0" merge
    (0.2, [(-1.0, 5), (math.inf, 10)], -1.0),                           # bound <= 0 returned
    (0.5, [(math.inf, 10), (0.5, 6)], 0.5 * 5 / 6),                      # unsorted input
])
def test_bucket_quantile_rules(q, buckets, expected):
    assert bucket_quantile(q, buckets) == pytest.approx(expected)


def test_bucket_quantile_undefined_cases():
    assert math.isnan(bucket_quantile(0.5, [(0.1, 1), (0.2, 2)]))  # no +Inf bucket
    assert math.isnan(bucket_quantile(0.5, [(0.1, 0), (math.inf, 0)]))  # no observations
    assert math.isnan(bucket_quantile(0.5, [(math.inf, 3)]))  # one bucket
    assert bucket_quantile(1.5, [(0.1, 1), (math.inf, 1)]) == math.inf
    assert bucket_quantile(-0.5, [(0.1, 1), (math.inf, 1)]) == -math.inf


def test_ratio_skips_virtual_nics_and_matches_on_device(samples):
    # eth0 receives 62.5 MB/s on a 125 MB/s link on A; veth3f2a1b (0.72 of its speed) and
    # lo (no speed) would win the max if they were not excluded. B: 31.25 / 125.
    value = at("node_receive_utilization_ratio", samples, 60)
    assert value == pytest.approx({NODE_A: 0.5, NODE_B: 0.25}, rel=1e-12)


def test_gauge_uses_the_five_minute_lookback(samples):
    # Node A's load1 has one valid sample (3.5 at T0): the next two lines are malformed.
    df = evaluate(SIGNALS["node_load1"], samples, T0 + pd.Timedelta(seconds=299),
                  T0 + pd.Timedelta(seconds=301), 1)
    a = df[df["entity"] == "node/10.0.0.11"]
    assert a.index.tolist() == [T0 + pd.Timedelta(seconds=s) for s in (299, 300)]
    assert a["value"].tolist() == [3.5, 3.5]


def test_evaluate_frame_shape(samples):
    df = evaluate(SIGNALS["conntrack_drop_per_second"], samples, T0, T0 + pd.Timedelta("1min"), 30)
    assert df.index.name == "time" and str(df.index.tz) == "UTC"
    assert list(df.columns) == ["entity", "labels", "value"]
    assert df.index.is_monotonic_increasing
    assert df["entity"].tolist() == ["node/10.0.0.11"] * 2  # at T0 a single sample: no rate
    empty = evaluate(SIGNALS["node_load1"], samples.iloc[:0], T0, T0, 60)
    assert empty.empty and list(empty.columns) == ["entity", "labels", "value"]


def test_available_needs_every_metric_and_a_matching_series(samples):
    assert all(available(s, samples) for s in SIGNALS.values())
    no_speed = samples[samples["name"] != "node_network_speed_bytes"]
    assert not available(SIGNALS["node_receive_utilization_ratio"], no_speed)
    only_lo = samples[~samples["labels"].str.contains('"device":"eth0"')]
    only_lo = only_lo[~only_lo["labels"].str.contains('"device":"veth')]
    assert not available(SIGNALS["node_receive_utilization_ratio"], only_lo)


def test_matchers_are_anchored_like_prometheus():
    keep = (("device", "!~", "lo|veth.*"),)
    assert matches({"device": "lo0"}, keep) and not matches({"device": "veth12"}, keep)
    assert matches({}, (("node", "=", ""),)) and not matches({}, (("node", "!=", ""),))


def test_duplicate_match_group_is_an_error_as_in_prometheus():
    one = np.array([True])
    left = [Vec({"instance": "a", "device": "eth0"}, np.array([1.0]), one)]
    right = [Vec({"instance": "a", "device": "eth0", "job": j}, np.array([2.0]), one)
             for j in ("x", "y")]
    with pytest.raises(EvalError, match="duplicate series"):
        divide_on(left, right, ("instance", "device"))
    assert divide_on(left, right[:1], ("instance", "device"))[0].labels == {
        "instance": "a", "device": "eth0"}


@pytest.mark.parametrize(("labels", "entity"), [
    ({"node": "worknode1", "instance": "10.0.0.5:9100"}, "node/worknode1"),
    ({"pod": "coredns-1", "namespace": "kube-system", "instance": "10.244.0.5:9153"},
     "pod/kube-system/coredns-1"),
    ({"pod": "coredns-1", "instance": "10.0.0.5:9100"}, "node/10.0.0.5"),
    ({"instance": "[fe80::1]:9100"}, "node/fe80::1"),
    ({"instance": "worknode3"}, "node/worknode3"),
    ({"job": "x"}, ""),
])
def test_entity_of(labels, entity):
    assert entity_of(labels) == entity


@pytest.mark.parametrize("bad", [
    {"name": "Bad-Name"}, {"kind": "irate"}, {"agg": "avg"}, {"range": "5 minutes"},
    {"kind": "histogram_quantile"}, {"quantile": 0.5}, {"doc": ""},
    {"matchers": (("a", "==", "b"),)},
])
def test_signal_declarations_are_checked(bad):
    fields = {"name": "x_y_total", "doc": "doc", "kind": "rate", "metric": "m"} | bad
    with pytest.raises(ValueError, match="signal"):
        Signal(**fields)


def test_evaluation_times_must_carry_a_zone(samples):
    with pytest.raises(ValueError, match="zone"):
        evaluate(SIGNALS["node_load1"], samples, pd.Timestamp("2021-08-23"), T0, 60)


def test_working_set_is_the_largest_container_not_the_pod_cgroup(samples):
    # the pod cgroup (container="", 8.60 GB) holds every container; the largest one,
    # ranker at 8.53 GB, is what its own limit is compared with
    df = evaluate(SIGNALS["cadvisor_memory_working_set_bytes"], samples, T0, T0, 15)
    assert dict(zip(df["entity"], df["value"], strict=True)) == {
        "pod/search/ranker-6svb59rpsv-jwtms": 8.5311e9}


def test_infrastructure_signals_by_hand(samples):
    # eth0 sent 1.8 GB per 15 s = 120 MB/s of its 125 MB/s: 96 %
    assert at("node_transmit_utilization_ratio", samples, 60) == {
        '{"instance":"10.0.0.11:9100"}': pytest.approx(0.96)}
    assert at("node_network_drop_per_second", samples, 60) == {
        '{"instance":"10.0.0.11:9100"}': pytest.approx(10.0)}
    # the busiest disk (sda, 59.4 s of IO in 60 s), not the sum with sdb
    assert at("node_disk_io_time_ratio", samples, 60) == {
        '{"instance":"10.0.0.11:9100"}': pytest.approx(0.99)}
    assert at("node_procs_blocked", samples, 60) == {'{"instance":"10.0.0.11:9100"}': 37.0}
    # the pod-level series (container="") is left out: only the trainer container counts
    key = '{"container":"trainer","namespace":"ml","pod":"trainer-0"}'
    throttled = at("container_cpu_cfs_throttled_periods_per_second", samples, 60)
    periods = at("container_cpu_cfs_periods_per_second", samples, 60)
    assert list(throttled) == list(periods) == [key]
    assert throttled[key] / periods[key] == pytest.approx(480 / 600)  # 80 % throttled
