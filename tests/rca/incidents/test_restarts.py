"""restarts: probe kills, restarted terminations and restart counters, grouped into storms."""

import json

import pandas as pd
import pytest

from rca import record
from rca.config import DEFAULTS
from rca.incidents import Inputs, restarts
from tests.rca.frames import T0, at

TH = DEFAULTS["thresholds"]["restarts"]
POD = "pod/rook-ceph/rook-ceph-rgw-my-store-a-7c9d8b6f5-x2k4p"
KILL = "Container rgw failed liveness probe, will be restarted"
PROBE = ("Liveness probe failed: Get http://10.42.2.44:80/: net/http: request canceled "
         "(Client.Timeout exceeded while awaiting headers)")


def event(t, reason, message, obj=POD, count=1, first=None, source="kube"):
    return {"time": at(t), "row_id": f"e{t}{reason}{obj}", "source": source, "type": "Warning",
            "kind": "Pod", "reason": reason, "object": obj, "namespace": obj.split("/")[1],
            "node": "", "message": message, "count": count,
            "first_seen": at(first if first is not None else t), "last_seen": at(t)}


def pod(obj=POD, restarts_=3.0, node="k8s-storage-02", app="rook-ceph-rgw"):
    return {"time": at(7200), "row_id": f"o{obj}", "kind": "Pod", "object": obj,
            "namespace": obj.split("/")[1], "node": node, "app": app, "container": "rgw",
            "restarts": restarts_, "liveness_timeout_s": 1.0}


def sample(t, value, pod_name="rook-ceph-rgw-my-store-a-7c9d8b6f5-x2k4p"):
    labels = {"container": "rgw", "namespace": "rook-ceph", "pod": pod_name}
    return {"time": at(t), "row_id": f"m{t}{pod_name}", "name": restarts.RESTARTS_METRIC,
            "entity": f"pod/rook-ceph/{pod_name}", "labels": json.dumps(labels, sort_keys=True),
            "value": value}


def detect(events=(), objects=(), metrics=(), th=None):
    tables = {"events": record.frame("events", list(events)) if events else record.empty("events"),
              "objects": record.frame("objects", list(objects)) if objects
              else record.empty("objects"),
              "metrics": record.frame("metrics", list(metrics)) if metrics
              else record.empty("metrics")}
    inputs = Inputs(tables, T0 - pd.Timedelta(hours=1), T0 + pd.Timedelta(days=1))
    return restarts.detect(inputs, {**TH, **(th or {})})


def test_probe_kills_with_no_request_logs_are_an_incident_with_scope():
    (s,) = detect([event(600, "Killing", KILL, count=4, first=0),
                   event(590, "Unhealthy", PROBE, count=12, first=0)], [pod()])
    assert s.kind == "restarts"
    assert s.figures["restarts"] == 4 and s.figures["probe_kills"] == 4
    assert s.figures["liveness_failures"] == 12
    assert s.scope == {"pods": [POD], "nodes": ["k8s-storage-02"], "services": ["rook-ceph-rgw"]}
    assert s.start == at(0) and s.end >= at(600)


def test_a_rollouts_stopped_containers_are_not_restarts():
    # a rollout stops the old pods on purpose; the new ones have restartCount 0
    rollout = [event(60 * i, "Killing", "Stopping container rgw", obj=f"{POD}{i}")
               for i in range(5)]
    assert detect(rollout, [pod(restarts_=0.0)]) == []


@pytest.mark.parametrize("kills, fires", [
    (1, False),  # one restart: a blip
    (2, True),   # min_restarts
])
def test_min_restarts_edge(kills, fires):
    events = [event(100 * i, "Killing", KILL) for i in range(kills)]
    assert bool(detect(events, [pod()])) is fires


@pytest.mark.parametrize("apart_s, storms", [
    (600, 1),  # gap_s: still one storm
    (601, 2),  # further apart: two storms
])
def test_gap_edge(apart_s, storms):
    events = [event(t, "Killing", KILL) for t in (0, 1, apart_s + 1, apart_s + 2)]
    assert len(detect(events, [pod()])) == storms


def test_restarted_terminations_count_and_completed_or_oom_do_not():
    term = [event(t, r, f"container rgw terminated: exit code {c}")
            for t, r, c in ((0, "Error", 1), (200, "Error", 1), (300, "Completed", 0),
                            (400, "OOMKilled", 137))]
    (s,) = detect(term, [pod()])
    assert s.figures["restarts"] == 2
    # the same terminations on a pod that never restarted (a Job's) are no restart
    assert detect(term, [pod(restarts_=0.0)]) == []


def test_counter_steps_and_an_event_of_the_same_restart_count_once():
    metrics = [sample(t, v) for t, v in ((0, 3), (30, 3), (60, 4), (90, 6), (120, 6))]
    (s,) = detect([event(60, "Killing", KILL)], [pod()], metrics)
    assert s.figures["restarts"] == 3  # the counter saw three; the event is one of them
    assert s.scope["pods"] == [POD]


@pytest.mark.parametrize("message, counted", [
    ("Container rgw failed liveness probe, will be restarted", True),  # kubelet 1.16+
    ("Killing container with id docker://rgw:Container failed liveness probe.. Container "
     "will be killed and recreated.", True),  # kubelet 1.10-1.15
    ("container is unhealthy, it will be killed and re-created", True),  # older
    ("Container rgw failed startup probe, will be restarted", True),
    ("Stopping container rgw", False),  # a rollout or a delete: deliberate
    ("Container rgw definition changed, will be restarted", False),  # a spec edit
])
def test_kill_wordings_of_kubelet_versions(message, counted):
    kills = detect([event(0, "Killing", message), event(60, "Killing", message)], [pod()])
    assert bool(kills) is counted
