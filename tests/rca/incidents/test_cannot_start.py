"""cannot_start: unschedulable long enough, crash/pull loops of serving pods only."""

import pandas as pd
import pytest

from rca.config import DEFAULTS
from rca.incidents import Inputs, cannot_start
from tests.rca.frames import at
from tests.rca.kubeframes import event, events, objects, pod, workload

TH = DEFAULTS["thresholds"]["cannot_start"]
GPU_MSG = "0/2 nodes are available: 2 Insufficient nvidia.com/gpu."
POD = "pod/ml/video-7d9f8c6b5-x2k9q"


def detect(ev, obj, th=TH):
    inputs = Inputs({"events": events(ev), "objects": objects(obj)}, at(0), at(7200))
    return cannot_start.DETECTOR.detect(inputs, dict(th))


@pytest.mark.parametrize("span_s, fires", [
    (300, True),   # five minutes unschedulable: it waits for something that will not come
    (299, False),  # under five: the scheduler or an autoscaler may still place it
])
def test_failed_scheduling_span_edge(span_s, fires):
    found = detect([event(600 + span_s, "FailedScheduling", POD, GPU_MSG, count=5, first=600)],
                   [])
    assert bool(found) is fires
    if fires:
        assert found[0].scope["pods"] == [POD]
        assert found[0].figures["pods_unschedulable"] == 1
        assert found[0].start == at(600)


def test_pending_condition_alone_is_enough_when_events_expired():
    obj = [pod(POD, phase="Pending", gpu=5, unschedulable=(1000, GPU_MSG), at_s=7200)]
    (s,) = detect([], obj)
    assert s.start == at(1000) and s.figures["longest_pending_s"] == 6200.0


def test_pending_condition_shorter_than_threshold_does_not_fire():
    # Pending for 100 s at collection: still the scheduler's ordinary wait
    obj = [pod(POD, phase="Pending", gpu=5, unschedulable=(7100, GPU_MSG), at_s=7200)]
    assert detect([], obj) == []


def test_pod_that_schedules_in_seconds_does_not_fire():
    # one FailedScheduling, placed 20 s later: the decoy
    ev = [event(1000, "FailedScheduling", POD, GPU_MSG), event(1020, "Scheduled", POD)]
    assert detect(ev, [pod(POD, "gpu-1", gpu=2)]) == []


LOOP = "Back-off restarting failed container"


@pytest.mark.parametrize("count, owner, fires", [
    (3, "ReplicaSet/video-7d9f8c6b5", True),   # a serving pod crash-looping
    (2, "ReplicaSet/video-7d9f8c6b5", False),  # two back-offs: one crash and a retry
    (8, "Job/model-sync-2771", False),         # a Job's pod: the Job reports its failure
])
def test_crash_loop_counts_for_serving_pods(count, owner, fires):
    found = detect([event(3000, "BackOff", POD, LOOP, count=count, first=2000)],
                   [pod(POD, "n1", owner=owner, state_reason="CrashLoopBackOff")])
    assert bool(found) is fires


def test_uncollected_pod_counts_when_its_deployment_was_collected():
    ev = [event(3000, "BackOff", POD, 'Back-off pulling image "x:2"', count=9, first=2000)]
    assert detect(ev, [workload("deployment/ml/video")])
    # a cronjob's pod nobody collected and no workload of that name: not an outage
    assert detect([event(3000, "BackOff", "pod/ops/log-rotate-27713-abcde", LOOP, count=7,
                         first=2000)], [workload("deployment/ml/video")]) == []


def test_pods_failing_together_are_one_symptom():
    ev = [event(1400 + 60 * i, "FailedScheduling", f"{POD}{i}", GPU_MSG, count=9, first=1000)
          for i in range(3)]
    (s,) = detect(ev, [])
    assert len(s.scope["pods"]) == 3


def test_gap_edge_splits_far_apart_failures():
    th = {**TH, "gap_s": 600.0}
    ev = [event(1400, "FailedScheduling", "pod/a/p1", GPU_MSG, count=9, first=1000),
          event(2400, "FailedScheduling", "pod/a/p2", GPU_MSG, count=9, first=2000)]
    assert len(detect(ev, [], th)) == 1  # 600 s after the first ended: one wave
    th = {**TH, "gap_s": 599.0}
    assert len(detect(ev, [], th)) == 2


def test_no_kube_data_is_no_symptom():
    inputs = Inputs({"requests": pd.DataFrame()}, at(0), at(10))
    assert cannot_start.DETECTOR.detect(inputs, dict(TH)) == []
