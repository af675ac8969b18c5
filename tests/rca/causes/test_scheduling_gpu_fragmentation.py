"""scheduling.gpu_fragmentation: a packing that fits decides it; a proof that none does
clears it."""

import pytest

from rca import record
from rca.causes import scheduling_gpu_fragmentation as cause
from rca.config import DEFAULTS
from rca.engine import judge
from rca.finding import Window
from tests.rca.frames import at
from tests.rca.kubeframes import event, events, node, objects, pod

TH = DEFAULTS["thresholds"]["scheduling_gpu_fragmentation"]
MSG = "0/2 nodes are available: 2 Insufficient nvidia.com/gpu."


def window(placed, pending, gpus=8, nodes=("gpu-a", "gpu-b"), via_event=False):
    rows = [node(n, gpus) for n in nodes]
    rows += [pod(f"pod/ops/run-{i}", n, gpu=g) for i, (n, g) in enumerate(placed)]
    ev = []
    for i, g in enumerate(pending):
        name = f"pod/ops/wait-{i}"
        if via_event:  # the condition's message lost: only the scheduler's event says why
            rows.append(pod(name, phase="Pending", gpu=g))
            ev.append(event(3700, "FailedScheduling", name, MSG, count=9, first=3000))
        else:
            rows.append(pod(name, phase="Pending", gpu=g, unschedulable=(3000, MSG)))
    tables = {"objects": objects(rows), "events": events(ev),
              "requests": record.empty("requests")}
    return Window(at(3600), at(4000), at(0), tables, {"pods": []})


@pytest.mark.parametrize("via_event", [False, True])
def test_seed_003_five_four_four_three_on_two_by_eight(via_event):
    # 4 and 3 landed together, the other 4 alone: the 5 finds 1 and 4 free
    f = judge(cause.CAUSE, window([("gpu-a", 4), ("gpu-a", 3), ("gpu-b", 4)], [5],
                                  via_event=via_event), TH)
    assert f.score == pytest.approx(0.9)
    assert "gpu-a: 5+3" in f.summary and "gpu-b: 4+4" in f.summary
    assert f.entity == "pod/ops/wait-0"


def test_shortage_is_proven_and_said_against():
    # 8 + 8 placed, a 4 waits: no packing of 20 GPUs fits in 16
    f = judge(cause.CAUSE, window([("gpu-a", 8), ("gpu-b", 8)], [4]), TH)
    assert f.score == 0.0
    assert not f.evidence[-1].supports and "no packing" in f.evidence[-1].text


def test_pod_larger_than_any_node_is_not_fragmentation():
    # 9 GPUs free in total, but the pod wants 9 on one 8-GPU node
    f = judge(cause.CAUSE, window([("gpu-a", 3), ("gpu-b", 4)], [9]), TH)
    assert f.score == pytest.approx(0.1)
    assert not f.evidence[-1].supports


# first-fit decreasing strands a 2 here; 5+3+2 / 4+4+2 holds all six on 2 x 10
FFD_FAILS = ([("gpu-a", 5), ("gpu-a", 4), ("gpu-b", 4), ("gpu-b", 3), ("gpu-b", 2)], [2])


@pytest.mark.parametrize("max_search, score", [
    (6, 0.9),  # six pods: searched exactly, the packing is found
    (5, 0.1),  # over the search limit: FFD's failure proves nothing
])
def test_exact_search_edge(max_search, score):
    placed, pending = FFD_FAILS
    f = judge(cause.CAUSE, window(placed, pending, gpus=10),
              {**TH, "max_search_pods": max_search})
    assert f.score == pytest.approx(score)


def test_nothing_pending_does_not_fire():
    f = judge(cause.CAUSE, window([("gpu-a", 4)], []), TH)
    assert f.score == 0.0


def test_without_objects_it_is_no_data():
    w = Window(at(3600), at(4000), at(0), {"objects": record.empty("objects"),
                                           "events": record.empty("events")}, {})
    assert judge(cause.CAUSE, w, TH).status == "no_data"
