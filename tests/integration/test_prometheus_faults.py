"""Prometheus faults, each ending in a named gap that ``rca analyze`` and the report show.

Why a real Prometheus (Debian's, backfilled with ``promtool``): its refusals are the ones
a user meets: the 400 of a query it cannot parse, the 422 of a query that would load too
many samples, the 400 of a range over 11,000 points per series, data for part of a
window only. What a real Prometheus cannot do on demand (hang, answer 503) comes from a
small proxy on 127.0.0.1 in front of it that forwards every request unchanged unless told
to delay or fail it.

The data: ``node_load1`` of two nodes every 15 s from 01:00 to 05:00 on 2021-08-23.
"""

from __future__ import annotations

import time
import urllib.error
import urllib.parse
import urllib.request
from datetime import UTC
from pathlib import Path

import pandas as pd
import pytest

from collectors.base import ParseContext
from collectors.prometheus import PrometheusSource, Settings
from tests.collectors.faults import assert_shown, collect_and_show
from tests.collectors.http_stub import serve
from tests.integration import servers

pytestmark = pytest.mark.integration

T0 = pd.Timestamp("2021-08-23T00:00:00Z")
HOUR = pd.Timedelta(hours=1)
DATA = (T0 + HOUR, T0 + 5 * HOUR)  # what the server holds
SIGNAL = "signal node_load1"
CTX = ParseContext("prometheus", UTC)


def _openmetrics(path: Path) -> Path:
    lines = ["# TYPE node_load1 gauge"]
    for t in pd.date_range(*DATA, freq="15s"):
        for node in (1, 2):
            lines.append(f'node_load1{{instance="10.0.0.{node}:9100",job="node"}} '
                         f"{0.5 * node} {int(t.timestamp())}")
    path.write_text("\n".join([*lines, "# EOF"]) + "\n")
    return path


@pytest.fixture(scope="module")
def om(tmp_path_factory) -> Path:
    return _openmetrics(tmp_path_factory.mktemp("om") / "node.om")


@pytest.fixture(scope="module")
def prometheus(om, tmp_path_factory):
    """The URL of a real Prometheus holding the data (default limits)."""
    with servers.backfilled_prometheus([om], tmp_path_factory.mktemp("prom")) as url:
        yield url


class Proxy:
    """Forwards to ``upstream``; the first ``fail`` requests get ``status`` instead, and
    every request waits ``delay_s`` first (a server slower than the client's timeout)."""

    def __init__(self, upstream: str, fail: int = 0, status: int = 503,
                 delay_s: float = 0.0) -> None:
        self.upstream, self.fail, self.status, self.delay_s = upstream, fail, status, delay_s
        self.seen = 0

    def __call__(self, req):
        self.seen += "node_load1" in req.params.get("query", "")  # not the raw series'
        if self.fail:
            self.fail -= 1
            return self.status, {"status": "error", "errorType": "unavailable",
                                 "error": "upstream connect error"}, {}
        time.sleep(self.delay_s)
        query = urllib.parse.urlencode(req.params)
        try:
            with urllib.request.urlopen(f"{self.upstream}{req.path}?{query}", timeout=60) as r:
                return r.status, r.read().decode(), {}
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read().decode(), {}


def _config(**extra) -> str:
    """``sources.prometheus`` for one signal and ``extra`` settings."""
    lines = [f"    {k}: {v}" for k, v in {"signals": "[node_load1]", "retries": 0,
                                            **extra}.items()]
    return "sources:\n  prometheus:\n" + "\n".join(lines) + "\n"


def _show(tmp_path, url, since, until, **extra):
    """``rca collect --prometheus URL`` with ``extra`` settings in rca.yaml, then shown."""
    return collect_and_show(tmp_path, since, until, ["--prometheus", url], _config(**extra))


def test_down_connection_refused(tmp_path):
    url = f"http://127.0.0.1:{servers.free_port()}"  # nothing listens there
    since, until = DATA[0], DATA[0] + HOUR
    shown = _show(tmp_path, url, since, until, retries=1)
    assert_shown(shown, "prometheus", SIGNAL,
                 "cannot connect: [Errno 111] Connection refused (tried 2 times)", since, until)


def test_slow_past_the_timeout_is_retried_then_a_gap(prometheus, tmp_path):
    proxy = Proxy(prometheus, delay_s=2.5)
    since, until = DATA[0], DATA[0] + HOUR
    with serve(proxy) as stub:
        t0 = time.monotonic()
        shown = _show(tmp_path, stub.url, since, until, timeout_s=0.5, retries=2)
        took = time.monotonic() - t0
    assert_shown(shown, "prometheus", SIGNAL,
                 "timed out: no answer within 0.5 s (tried 3 times)", since, until)
    assert proxy.seen == 3  # the first try and 2 retries: bounded
    assert took < 3 * 0.5 + 2 * 2.5 + 10  # timeouts and backoff, not the proxy's delay


@pytest.mark.parametrize("status", [502, 503])
def test_5xx_retried_with_backoff_then_a_gap(prometheus, tmp_path, status):
    proxy = Proxy(prometheus, fail=100, status=status)
    since, until = DATA[0], DATA[0] + HOUR
    with serve(proxy) as stub:
        shown = _show(tmp_path, stub.url, since, until, retries=2)
    assert_shown(shown, "prometheus", SIGNAL,
                 f"HTTP {status}: the server kept failing (tried 3 times)", since, until)
    assert proxy.seen == 3


def test_5xx_that_passes_is_retried_and_nothing_is_missing(prometheus):
    proxy = Proxy(prometheus, fail=2, status=503)
    with serve(proxy) as stub:
        source = PrometheusSource(Settings(stub.url, signals=("node_load1",), retries=2))
        batches = list(source.fetch(DATA[0], DATA[0] + HOUR, CTX))
    assert proxy.seen == 3 and batches[0].gaps == []
    assert len(batches[0].frames["metrics"]) == 2 * 60


def test_400_bad_query_from_the_real_server(prometheus, tmp_path):
    """A relabelled metric name that is not a name: Prometheus cannot parse the query."""
    since, until = DATA[0], DATA[0] + HOUR
    shown = _show(tmp_path, prometheus, since, until,
                  metric_names="{node_load1: 'node_load1{'}")
    assert_shown(shown, "prometheus", SIGNAL, "HTTP 400: 1:37: parse error: unexpected "
                 "character inside braces: ')'", since, until)


def test_422_too_many_samples_from_the_real_server(om, tmp_path):
    """A server whose ``--query.max-samples`` the query exceeds answers 422: named, not
    retried or split (that would multiply the load on a server protecting itself)."""
    since, until = DATA[0], DATA[0] + HOUR
    with servers.backfilled_prometheus([om], tmp_path / "prom",
                                       ["--query.max-samples=50"]) as url:
        shown = _show(tmp_path, url, since, until, retries=2)
    gap = assert_shown(shown, "prometheus", SIGNAL, "HTTP 422: ", since, until)
    assert "too many samples" in gap["reason"]


def test_partial_data_names_the_missing_span(prometheus, tmp_path):
    since, until = T0, DATA[0] + HOUR  # the server has nothing for the first hour
    shown = _show(tmp_path, prometheus, since, until)
    assert_shown(shown, "prometheus", SIGNAL, "partial: no points", T0, DATA[0])


@pytest.mark.parametrize(("hole_s", "gap"), [(3600, False), (3540, True)])
def test_partial_gap_edge(prometheus, hole_s, gap):
    """The leading span without data is exactly 3,600 s: a gap past ``hole_s`` only."""
    source = PrometheusSource(Settings(prometheus, signals=("node_load1",), hole_s=hole_s))
    batches = list(source.fetch(T0, DATA[0] + HOUR, CTX))
    assert [(g.since, g.until) for g in batches[0].gaps] == ([(T0, DATA[0])] if gap else [])
    assert len(batches[0].frames["metrics"]) == 2 * 60  # 01:00 to 01:59, both nodes


def test_partial_over_chunks_and_a_hole_inside(om, tmp_path):
    """An empty first chunk (one hour a query) and a scrape outage inside the data: each
    span is named once, chunk edges do not split a gap, the data around them lands."""
    # the outage: drop 02:00-02:30 from a copy of the data, in a server of its own
    lines = [line for line in om.read_text().splitlines()
             if line.startswith("#") or not
             (DATA[0] + HOUR <= pd.Timestamp(int(line.rsplit(" ", 1)[1]), unit="s", tz="UTC")
              < DATA[0] + 1.5 * HOUR)]
    om = tmp_path / "outage.om"
    om.write_text("\n".join(lines) + "\n")
    with servers.backfilled_prometheus([om], tmp_path / "prom") as url:
        source = PrometheusSource(Settings(url, signals=("node_load1",), max_range_s=3600,
                                           hole_s=600))
        batch = next(iter(source.fetch(T0, DATA[0] + 2 * HOUR, CTX)))
    # the 5 min lookback carries the last sample past 02:00: the hole starts at 02:05
    assert [(g.since, g.until) for g in batch.gaps] == [
        (T0, DATA[0]), (DATA[0] + HOUR + pd.Timedelta(minutes=5), DATA[0] + 1.5 * HOUR)]
    assert all(g.reason.startswith("partial:") for g in batch.gaps)
    assert len(batch.frames["metrics"]) == 2 * (60 + 5 + 30)


def test_over_the_point_limit_is_split_not_a_gap(prometheus):
    """14,400 points per series at a 1 s step: Prometheus refuses the range (11,000 at
    most); the collector halves it and every point arrives once."""
    since, until = DATA[0], DATA[0] + 4 * HOUR
    source = PrometheusSource(Settings(prometheus, signals=("node_load1",), step_s=1,
                                       max_points=20_000, max_range_s=86_400, retries=0))
    assert [q.points for q in source.queries(since, until)] == [14_400]
    batches = list(source.fetch(since, until, CTX))
    df = batches[0].frames["metrics"]
    assert batches[0].gaps == []
    assert len(df) == 2 * 14_400 and df["row_id"].is_unique
    assert df.index.min() == since and df.index.max() == until - pd.Timedelta(seconds=1)
