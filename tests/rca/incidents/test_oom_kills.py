"""oom_kills: every OOMKilled termination or node OOM event, grouped into loops."""

import pytest

from rca.config import DEFAULTS
from rca.incidents import Inputs, oom_kills
from tests.rca.frames import at
from tests.rca.kubeframes import event, events, objects, pod

TH = DEFAULTS["thresholds"]["oom_kills"]
POD = "pod/search/ranker-6svb59rpsv-jwtms"


def detect(ev, th=TH, obj=()):
    inputs = Inputs({"events": events(ev), "objects": objects(list(obj))}, at(0), at(7200))
    return oom_kills.DETECTOR.detect(inputs, dict(th))


def test_one_kill_is_a_symptom_with_the_pod_and_its_service():
    found = detect([event(1000, "OOMKilled", POD, "container ranker terminated: exit code 137",
                          first=400, node="n7")], obj=[pod(POD, "n7", app="ranker",
                                                         restarts=4)])
    (s,) = found
    assert s.scope == {"pods": [POD], "nodes": ["n7"], "services": ["ranker"]}
    assert s.figures == {"oom_kills": 1, "restarts": 4}


@pytest.mark.parametrize("kills, fires", [(2, True), (1, False)])
def test_min_kills_edge(kills, fires):
    th = {**TH, "min_kills": 2}
    ev = [event(1000 + 100 * i, "OOMKilling", "node/n7", "Memory cgroup out of memory")
          for i in range(kills)]
    assert bool(detect(ev, th)) is fires


def test_no_kill_no_symptom():
    # a crash with exit 1 is not an OOM kill
    assert detect([event(1000, "Error", POD, "container ranker terminated: exit code 1")]) == []


@pytest.mark.parametrize("apart_s, symptoms", [(900, 1), (901, 2)])
def test_gap_edge(apart_s, symptoms):
    ev = [event(1000, "OOMKilled", POD), event(1000 + apart_s, "OOMKilled", POD)]
    assert len(detect(ev)) == symptoms
