"""latency_regression: a service's p99 or error ratio far above its own normal."""

import pandas as pd
import pytest

from rca import record
from rca.config import DEFAULTS
from rca.incidents import Inputs, latency_regression
from tests.rca.frames import T0, req, requests

TH = DEFAULTS["thresholds"]["latency_regression"]


def day(slow_n=0, slow_s=2.0, errors=0, per_bin=30, normal_s=0.1):
    """Four hours of one service at ``per_bin`` requests per 5 min; in the bin starting at
    2 h, ``slow_n`` requests take ``slow_s`` and ``errors`` answer 503."""
    rows = []
    for b in range(48):
        for i in range(per_bin):
            t = b * 300 + i * 300 / per_bin
            latency, status = normal_s * (1 + (i % 7) / 10), 200
            if b == 24 and i < slow_n:
                latency = slow_s
            if b == 24 and slow_n <= i < slow_n + errors:
                status = 503
            rows.append(req(t, "rgw", status, latency, side="server"))
    return requests(rows)


def detect(reqs, th=None):
    inputs = Inputs({"requests": reqs, "objects": record.empty("objects")}, T0,
                    T0 + pd.Timedelta(hours=4))
    return latency_regression.detect(inputs, {**TH, **(th or {})})


def test_a_slow_bin_is_a_symptom_with_its_figures():
    (s,) = detect(day(slow_n=5))
    assert s.kind == "latency_regression" and s.scope["services"] == ["rgw"]
    assert s.figures["service_p99_s"] == pytest.approx(2.0)
    assert s.figures["service_normal_p99_s"] < 0.2
    assert T0 + pd.Timedelta(hours=2) <= s.start < s.end <= T0 + pd.Timedelta(hours=2, minutes=5)


def test_quiet_day_has_none():
    assert detect(day()) == []


@pytest.mark.parametrize("slow_n, fires", [
    (2, False),  # two slow requests are outliers
    (3, True),   # min_slow_requests
])
def test_min_slow_requests_edge(slow_n, fires):
    assert bool(detect(day(slow_n=slow_n))) is fires


@pytest.mark.parametrize("slow_s, fires", [
    (0.99, False),  # 6x normal but under min_latency_s: hurts nobody
    (1.0, True),
])
def test_min_latency_edge(slow_s, fires):
    assert bool(detect(day(slow_n=5, slow_s=slow_s))) is fires


@pytest.mark.parametrize("ratio, fires", [(3.9, False), (4.0, True)])
def test_ratio_edge(ratio, fires):
    # normal p99 is 0.16 s at 0.1 s base latency; at 1 s base it is 1.6 s
    normal = day(normal_s=1.0)
    p99 = normal["latency_s"].groupby(pd.Grouper(freq="300s")).quantile(0.99).median()
    assert bool(detect(day(slow_n=5, slow_s=ratio * p99, normal_s=1.0))) is fires


@pytest.mark.parametrize("per_bin, fires", [(9, False), (10, True)])
def test_min_requests_edge(per_bin, fires):
    assert bool(detect(day(slow_n=5, per_bin=per_bin))) is fires


@pytest.mark.parametrize("errors, fires", [(2, False), (3, True)])
def test_error_ratio_edge(errors, fires):
    # 3 of 30 is the 10 % error_ratio_min; the baseline has no errors
    assert bool(detect(day(errors=errors))) is fires


def test_bin_width_is_config():
    # a one-minute bin holds 6 requests: below min_requests, nothing can fire
    assert detect(day(slow_n=5), {"bin_s": 60.0}) == []
