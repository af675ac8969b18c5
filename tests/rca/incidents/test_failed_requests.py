"""failed_requests: bursts of failures, grouped by gap, with scope."""

import pandas as pd
import pytest

from rca import record
from rca.config import DEFAULTS
from rca.incidents import Inputs, failed_requests, failures, same_service
from rca.incidents import detect as detect_incidents
from tests.rca.frames import T0, req, requests

TH = DEFAULTS["thresholds"]["failed_requests"]
NO_OBJECTS = record.empty("objects")


def detect(reqs, objects, th):
    """Incidents from request rows alone, through the registered detectors and merge."""
    inputs = Inputs({"requests": reqs, "objects": objects}, T0 - pd.Timedelta(days=1),
                    T0 + pd.Timedelta(days=1))
    incidents, gaps = detect_incidents(inputs, {"failed_requests": th})
    assert gaps == []
    return incidents


def test_burst_on_two_services_is_one_incident_with_scope():
    rows = [req(i * 10, "neishi" if i % 2 else "dijiao", "timeout", 15.0, station=f"st{i % 3}")
            for i in range(6)]
    rows += [req(i * 7, "neishi") for i in range(50)]
    (inc,) = detect(requests(rows), NO_OBJECTS, TH)
    assert inc.scope["services"] == ["dijiao", "neishi"]
    assert inc.scope["stations"] == ["st0", "st1", "st2"]
    assert inc.symptoms["failed_requests"] == 6
    assert inc.symptoms["latency_max_s"] == 15.0
    # the end covers the last failure's full latency
    assert (inc.end - inc.start).total_seconds() == pytest.approx(50 + 15.0)


def test_bursts_further_apart_than_the_gap_are_separate():
    rows = [req(t, "a", "timeout", 12) for t in (0, 10, 20, 1000, 1010, 1020)]
    assert len(detect(requests(rows), NO_OBJECTS, TH)) == 2


@pytest.mark.parametrize("rows,why", [
    ([req(0, "a", "timeout", 12), req(30, "a", "timeout", 12)],
     "two failures are background noise, below min_failures"),
    ([req(t, "a", "timeout", 12) for t in (0, 600, 1200, 1800)],
     "isolated timeouts far apart never form a burst"),
    ([req(t, "a", "400", 0.1, side="server") for t in range(0, 50, 5)],
     "4xx is the caller's fault, not an outage"),
    ([req(t, "a", "200", 2.0) for t in range(0, 50, 5)],
     "slow but successful requests are not failures"),
])
def test_no_incident(rows, why):
    assert detect(requests(rows), NO_OBJECTS, TH) == [], why


def test_client_side_5xx_count_as_failures():
    df = requests([req(t, "a", "502", 0.01) for t in (0, 5, 10)] + [req(20, "a", "200")])
    assert len(failures(df)) == 3


def test_server_5xx_count_as_failures():
    df = requests([req(t, "a", "504", 60, side="server") for t in (0, 5, 10)])
    assert len(failures(df)) == 3
    assert len(detect(df, NO_OBJECTS, TH)) == 1


def test_nodes_come_from_pod_facts():
    objects = record.frame("objects", [
        {"time": "2021-08-23T03:00:00Z", "row_id": "p1", "kind": "Pod", "app": "",
         "object": "pod/inference/neishi-7d9f8c6b5-x2x9z", "node": "infer-node1"},
        {"time": "2021-08-23T03:00:00Z", "row_id": "p2", "kind": "Pod", "app": "other",
         "object": "pod/inference/other-7d9f8c6b5-abcde", "node": "node2"},
    ])
    rows = [req(t, "neishi", "timeout", 12) for t in (0, 5, 10)]
    (inc,) = detect(requests(rows), objects, TH)
    assert inc.scope["nodes"] == ["infer-node1"]


def test_same_service_matches_ingress_upstream_names():
    assert same_service("inference-neishi", "neishi")
    assert not same_service("neishi", "dijiao")
    assert not same_service("", "")


def test_ingress_499_is_a_caller_that_gave_up():
    # only server logs: the stations' 5 s timeouts show up as 499 (client closed request)
    rows = [req(t, "inference-neishi", "499", 5.001, side="server") for t in (0, 4, 9, 15)]
    rows += [req(t, "inference-neishi", "200", 0.4, side="server") for t in range(0, 60, 3)]
    (inc,) = detect(requests(rows), NO_OBJECTS, TH)
    assert inc.symptoms["failed_requests"] == 4


@pytest.mark.parametrize("gap_s,incidents", [
    (120.0, 1),  # failures 120 s apart: at the edge, still one burst
    (119.0, 2),  # one second less: two
])
def test_gap_edge(gap_s, incidents):
    rows = [req(t, "a", "timeout", 1.0) for t in (0, 5, 10, 130, 135, 140)]
    inputs = Inputs({"requests": requests(rows), "objects": NO_OBJECTS},
                    T0 - pd.Timedelta(days=1), T0 + pd.Timedelta(days=1))
    assert len(failed_requests.detect(inputs, {**TH, "gap_s": gap_s})) == incidents


@pytest.mark.parametrize("n,incidents", [(3, 1), (2, 0)])
def test_min_failures_edge(n, incidents):
    rows = [req(t * 5, "a", "timeout", 1.0) for t in range(n)]
    assert len(detect(requests(rows), NO_OBJECTS, TH)) == incidents


def test_server_logged_failures_began_latency_before_they_were_logged():
    # two 504s logged at t=60 after 15 s began at t=45; a client timeout sent at t=50
    rows = [req(60, "a", "504", 15.0, side="server"), req(60, "a", "504", 15.0, side="server"),
            req(50, "a", "timeout", 5.0)]
    (inc,) = detect(requests(rows), NO_OBJECTS, TH)
    assert inc.start == T0 + pd.Timedelta(seconds=45)
    assert inc.end == T0 + pd.Timedelta(seconds=61)  # the last log line, + 1 s
