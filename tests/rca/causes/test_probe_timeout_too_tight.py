"""probe.timeout_too_tight: liveness kills after probe timeouts, on a container that was slow."""

import pytest

from rca import record
from rca.causes import probe_timeout_too_tight as cause
from rca.config import DEFAULTS
from rca.engine import judge
from tests.rca.causes._infra import NODE, POD, pod_objects, series, server_requests, window
from tests.rca.frames import at

TH = DEFAULTS["thresholds"]["probe_timeout_too_tight"]
TIMEOUT = ("Liveness probe failed: Get http://10.42.2.44:80/: net/http: request canceled "
           "(Client.Timeout exceeded while awaiting headers)")
REFUSED = "Liveness probe failed: Get http://10.42.2.44:80/: dial tcp 10.42.2.44:80: connect: " \
          "connection refused"
KILL = "Container rgw failed liveness probe, will be restarted"


def events(kills=3, timeouts=9, refused=0):
    rows = []
    for reason, message, count in (("Killing", KILL, kills), ("Unhealthy", TIMEOUT, timeouts),
                                   ("Unhealthy", REFUSED, refused)):
        if count:
            rows.append({"time": at(4100), "row_id": f"{reason}{message[:30]}", "source": "kube",
                         "type": "Warning", "kind": "Pod", "reason": reason, "object": POD,
                         "namespace": "rook-ceph", "node": "storage-02", "message": message,
                         "count": count, "first_seen": at(3650), "last_seen": at(4100)})
    return record.frame("events", rows) if rows else record.empty("events")


def test_rgw_case_names_the_deployment_and_the_driver():
    w = window({"node_transmit_utilization_ratio": series(0.05, 0.98)},
               server_requests(0.05, 1.076), events())
    f = judge(cause.CAUSE, w, TH)
    assert f.score == pytest.approx(1.0)
    assert f.entity == "deployment/rook-ceph/rook-ceph-rgw-a"
    assert f"{NODE} link transmit at 98%" in f.summary
    assert "timeoutSeconds=1" in f.summary


def test_kills_with_no_request_logs_still_judged_from_events():
    f = judge(cause.CAUSE, window(events=events()), TH)
    assert f.status == "ok" and f.score == pytest.approx(0.7)  # 0.6 kills + 0.1 tight


@pytest.mark.parametrize("kills, fires", [(0, False), (1, True)])  # min_kills
def test_min_kills_edge(kills, fires):
    assert (judge(cause.CAUSE, window(events=events(kills=kills)), TH).score >= 0.6) is fires


@pytest.mark.parametrize("timeouts, refused, score", [
    (5, 5, 0.7),  # half timed out: timeout_share_min holds
    (4, 5, 0.2),  # mostly refused: the process was down, the probe was right
])
def test_timeout_share_edge(timeouts, refused, score):
    f = judge(cause.CAUSE, window(events=events(timeouts=timeouts, refused=refused)), TH)
    assert f.score == pytest.approx(score)


@pytest.mark.parametrize("timeout_s, score", [(2.0, 0.7), (3.0, 0.6)])  # tight_max_s
def test_tight_edge(timeout_s, score):
    w = window(events=events())
    w.tables["objects"] = pod_objects(timeout_s)
    assert judge(cause.CAUSE, w, TH).score == pytest.approx(score)


@pytest.mark.parametrize("slow, score", [
    (3, 0.85),  # 3 of 60 requests (5 %) over the 1 s timeout: slow_share_min
    (2, 0.7),   # 2 of 60: the container was not slower than its probe
])
def test_slow_share_edge(slow, score):
    reqs = server_requests(0.05, 0.05)
    during = [i for i, t in enumerate(reqs.index) if t >= at(3600)]
    assert len(during) == 60
    reqs.iloc[during[:slow], reqs.columns.get_loc("latency_s")] = 1.5
    assert judge(cause.CAUSE, window(requests_=reqs, events=events()), TH).score == \
        pytest.approx(score)


@pytest.mark.parametrize("name, before, during, key, fires", [
    ("node_transmit_utilization_ratio", 0.1, 0.79, "driver_util_min", False),
    ("node_transmit_utilization_ratio", 0.1, 0.80, "driver_util_min", True),
    ("node_procs_blocked", 0.0, 9.0, "driver_blocked_min", False),
    ("node_procs_blocked", 0.0, 10.0, "driver_blocked_min", True),
])
def test_driver_edges(name, before, during, key, fires):
    f = judge(cause.CAUSE, window({name: series(before, during)}, events=events()), TH)
    assert (f.score == pytest.approx(0.85)) is fires


@pytest.mark.parametrize("share, fires", [(0.24, False), (0.25, True)])  # driver_throttled_min
def test_throttling_driver_edge(share, fires):
    signals = {"container_cpu_cfs_throttled_periods_per_second": series(0.0, share * 10, POD),
               "container_cpu_cfs_periods_per_second": series(10.0, 10.0, POD)}
    f = judge(cause.CAUSE, window(signals, events=events()), TH)
    assert ("CPU-throttled" in f.summary) is fires


def test_without_events_is_no_data():
    assert judge(cause.CAUSE, window(), TH).status == "no_data"
