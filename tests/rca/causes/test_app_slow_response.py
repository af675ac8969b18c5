"""app.slow_response: fires when the server-side log shows the failing services slow."""

import pytest

from rca import record
from rca.causes import app_slow_response as cause
from rca.config import DEFAULTS
from rca.engine import judge
from rca.finding import Window
from tests.rca.frames import at, req, requests

TH = DEFAULTS["thresholds"]["app_slow_response"]


def _window(server_latency_during: float, with_server_logs=True):
    rows = [req(t, "neishi", latency=0.35) for t in range(0, 3600, 20)]
    rows += [req(3600 + i * 5, "neishi", "timeout", 15.0) for i in range(8)]
    if with_server_logs:
        rows += [req(t, "inference-neishi", latency=0.35, side="server")
                 for t in range(0, 3600, 20)]
        rows += [req(3600 + i * 5, "inference-neishi", latency=server_latency_during,
                     side="server") for i in range(8)]
    tables = {"requests": requests(rows), "objects": record.empty("objects")}
    return Window(at(3540), at(3700), at(0), tables, {"services": ["neishi"]})


def test_slow_server_side_fires_on_that_service():
    f = judge(cause.CAUSE, _window(9.0), TH)
    assert f.score >= 0.7
    assert f.entity == "service/inference-neishi"
    assert f.evidence[0].supports and f.evidence[0].rows


def test_fast_server_side_does_not_fire():
    # the clients time out but the app answers in 0.4 s: the delay is before the app
    f = judge(cause.CAUSE, _window(0.4), TH)
    assert f.score == 0.0
    assert not f.evidence[0].supports


def test_ratio_below_threshold_does_not_fire():
    # 0.35 s -> 0.9 s is 2.6x and under a second: load, not a hung app
    f = judge(cause.CAUSE, _window(0.9), TH)
    assert f.score == 0.0


def test_missing_server_logs_is_no_data_not_healthy():
    f = judge(cause.CAUSE, _window(0.4, with_server_logs=False), TH)
    assert f.status == "no_data"


def _flat_window(base, during):
    rows = [req(t, "neishi", latency=0.35) for t in range(0, 3600, 20)]
    rows += [req(3600 + i * 5, "neishi", "timeout", 15.0) for i in range(8)]
    rows += [req(t, "inference-neishi", latency=base, side="server") for t in range(0, 3600, 20)]
    rows += [req(3600 + i * 5, "inference-neishi", latency=during, side="server")
             for i in range(8)]
    tables = {"requests": requests(rows), "objects": record.empty("objects")}
    return Window(at(3540), at(3700), at(0), tables, {"services": ["neishi"]})


@pytest.mark.parametrize("during,fires", [
    (1.5, True),  # 0.5 s -> 1.5 s: exactly ratio_min (3x) and over a second
    (1.45, False),  # 2.9x: a loaded app, not a hung one
])
def test_ratio_min_edge(during, fires):
    assert (judge(cause.CAUSE, _flat_window(0.5, during), TH).score > 0) is fires


@pytest.mark.parametrize("during,fires", [
    (1.0, True),  # 5x the baseline and at min_slow_s
    (0.99, False),  # 5x the baseline but under a second: no sane caller gives up
])
def test_min_slow_s_edge(during, fires):
    assert (judge(cause.CAUSE, _flat_window(0.2, during), TH).score > 0) is fires


# -- deferring to the resource that slowed it (explained_* thresholds) -------------------
from tests.rca.causes import _infra  # noqa: E402


@pytest.mark.parametrize("signals, capped", [
    ({"container_cpu_cfs_throttled_periods_per_second": _infra.series(0.0, 2.4, _infra.POD),
      "container_cpu_cfs_periods_per_second": _infra.series(10.0, 10.0, _infra.POD)}, False),
    ({"container_cpu_cfs_throttled_periods_per_second": _infra.series(0.0, 2.5, _infra.POD),
      "container_cpu_cfs_periods_per_second": _infra.series(10.0, 10.0, _infra.POD)}, True),
    ({"node_procs_blocked": _infra.series(0.0, 9.0)}, False),
    ({"node_procs_blocked": _infra.series(0.0, 10.0)}, True),
    ({"node_disk_io_time_ratio": _infra.series(0.1, 0.89)}, False),
    ({"node_disk_io_time_ratio": _infra.series(0.1, 0.9)}, True),
])
def test_explained_edges_cap_the_score(signals, capped):
    w = _infra.window(signals, _infra.server_requests(0.1, 3.0))
    f = judge(cause.CAUSE, w, TH)
    assert (f.score == pytest.approx(TH["explained_cap"])) is capped
    assert f.score >= TH["explained_cap"]


# -- a proxy's slow rows against the app's own handler time (request ids) --------------
def _proxied_window(app_latency_during: float):
    """Callers time out at 5 s through a proxy; the proxy logs a 499 after 5 s (its own
    request id), the app logs the same requests (the callers' ids) with its handler time."""
    rows = []
    for t in range(0, 3600, 20):
        rows += [req(t, "neishi", latency=0.4, request_id=f"b{t}"),
                 req(t, "ingress-neishi", latency=0.4, side="server", request_id=f"p{t}"),
                 req(t, "inference-neishi", latency=0.35, side="server", request_id=f"b{t}")]
    for i in range(8):
        t = 3600 + i * 5
        rows += [req(t, "neishi", "timeout", 5.0, request_id=f"f{i}"),
                 req(t, "ingress-neishi", "499", 5.0, side="server", request_id=f"q{i}"),
                 req(t, "inference-neishi", latency=app_latency_during, side="server",
                     request_id=f"f{i}")]
    tables = {"requests": requests(rows), "objects": record.empty("objects")}
    return Window(at(3540), at(3700), at(0), tables, {"services": ["neishi"]})


def test_proxy_slow_but_app_handler_fast_is_capped_below_what_took_the_time():
    # the proxy waited 5 s, the app worked 0.4 s of it: the queue before the handler (a
    # pool short of live backends, the network) is the cause, not the app's processing
    f = judge(cause.CAUSE, _proxied_window(0.4), TH)
    assert f.score == pytest.approx(TH["explained_cap"])
    assert any("outside the application" in e.text and not e.supports for e in f.evidence)


def test_app_handler_itself_slow_is_not_capped():
    # the app's own log shows the 4.8 s: the app is the slow part, full score
    f = judge(cause.CAUSE, _proxied_window(4.8), TH)
    assert f.score > TH["explained_cap"]


@pytest.mark.parametrize("app_s, capped", [
    (2.5, False),  # the app worked half of the callers' 5 s: its share, not the rest's
    (2.45, True),  # a little less than half: most of the wait was outside the handler
])
def test_outside_share_edge(app_s, capped):
    f = judge(cause.CAUSE, _proxied_window(app_s), TH)
    assert (f.score == pytest.approx(TH["explained_cap"])) is capped
