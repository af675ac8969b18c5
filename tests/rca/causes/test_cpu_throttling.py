"""cpu.throttling: the incident's pods spent their CFS periods throttled, and it hurt."""

import pytest

from rca.causes import app_slow_response
from rca.causes import cpu_throttling as cause
from rca.config import DEFAULTS
from rca.engine import judge
from tests.rca.causes._infra import POD, series, server_requests, window

TH = DEFAULTS["thresholds"]["cpu_throttling"]
THROTTLED = "container_cpu_cfs_throttled_periods_per_second"
PERIODS = "container_cpu_cfs_periods_per_second"


def cfs(before: float, during: float, pod: str = POD) -> dict:
    """CFS signals of one container: 10 periods/s, ``during`` of them throttled."""
    return {THROTTLED: series(before * 10, during * 10, pod), PERIODS: series(10.0, 10.0, pod)}


def test_throttled_slow_pod_fires_and_app_slow_response_ranks_below():
    w = window(cfs(0.02, 0.8), server_requests(0.1, 3.0))
    f = judge(cause.CAUSE, w, TH)
    assert f.score == pytest.approx(1.0) and f.entity == POD
    slow = judge(app_slow_response.CAUSE, w, DEFAULTS["thresholds"]["app_slow_response"])
    assert slow.score == pytest.approx(0.6) and slow.score < f.score
    assert any(not e.supports and "CPU throttling" in e.text for e in slow.evidence)


@pytest.mark.parametrize("during, fires", [(0.24, False), (0.25, True)])  # ratio_min
def test_ratio_edge(during, fires):
    assert (judge(cause.CAUSE, window(cfs(0.0, during)), TH).score > 0) is fires


@pytest.mark.parametrize("during, score", [
    (0.5, 0.8),   # twice ratio_min: the strength part is full
    (0.25, 0.7),  # at ratio_min: half of it
])
def test_strength_cap(during, score):
    assert judge(cause.CAUSE, window(cfs(0.0, during)), TH).score == pytest.approx(score)


@pytest.mark.parametrize("server_during, score", [(0.2, 1.0), (0.19, 0.8)])  # slow_ratio_min
def test_slow_ratio_edge(server_during, score):
    f = judge(cause.CAUSE, window(cfs(0.0, 0.6), server_requests(0.1, server_during)), TH)
    assert f.score == pytest.approx(score)


@pytest.mark.parametrize("kills, score", [(0, 1.0), (1, 0.85)])  # driver_cap
def test_driver_cap(kills, score):
    f = judge(cause.CAUSE, window(cfs(0.0, 0.6), symptoms={"restarts": 4, "probe_kills": kills}),
              TH)
    assert f.score == pytest.approx(score)


def test_a_batch_pods_throttling_elsewhere_does_not_count():
    f = judge(cause.CAUSE, window(cfs(0.7, 0.7, "pod/data/etl-nightly-27481920-x8k2p")), TH)
    assert f.score == 0.0


def test_without_cfs_metrics_is_no_data():
    assert judge(cause.CAUSE, window(), TH).status == "no_data"
