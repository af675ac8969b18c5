"""memory.oom_kill: a kill in the window decides it; the working set at the limit confirms."""

import pytest

from rca import record
from rca.causes import memory_oom_kill as cause
from rca.config import DEFAULTS
from rca.engine import judge
from rca.finding import Window
from tests.rca.frames import at, signal
from tests.rca.kubeframes import event, events, objects, pod

TH = DEFAULTS["thresholds"]["memory_oom_kill"]
POD = "pod/search/ranker-6svb59rpsv-jwtms"
GI = 2**30


def window(kills=1, peak_gib=None, scope_pods=(POD,), with_kube=True):
    ev = [event(3700 + 60 * i, "OOMKilled", POD, "exit code 137", node="n7")
          for i in range(kills)]
    tables = {"events": events(ev) if with_kube else record.empty("events"),
              "objects": objects([pod(POD, "n7", memory="8Gi",
                                      owner="ReplicaSet/ranker-6svb59rpsv")])
              if with_kube else record.empty("objects"),
              "requests": record.empty("requests")}
    if peak_gib is not None:
        tables[f"signal:{cause.SIGNAL}"] = signal(
            [(t, 4 * GI) for t in range(0, 3600, 60)] + [(3690, peak_gib * GI)], entity=POD)
    return Window(at(3600), at(4000), at(0), tables, {"pods": list(scope_pods)})


def test_kill_with_working_set_at_limit_ranks_high_on_the_deployment():
    f = judge(cause.CAUSE, window(kills=3, peak_gib=7.9), TH)
    assert f.score == pytest.approx(1.0)
    assert f.entity == "deployment/search/ranker"
    assert [e.supports for e in f.evidence] == [True, True]


@pytest.mark.parametrize("peak_gib, bonus", [
    (8 * 0.9, True),    # 90 % of the limit: the spike between samples reached it
    (8 * 0.89, False),  # below: something else than this limit
])
def test_at_limit_ratio_edge(peak_gib, bonus):
    f = judge(cause.CAUSE, window(kills=1, peak_gib=peak_gib), TH)
    base = 0.6 + 0.1 / 3
    assert f.score == pytest.approx(base + (0.3 if bonus else 0.0))
    assert f.evidence[1].supports is bonus


@pytest.mark.parametrize("kills, score", [(1, 0.6 + 0.1 / 3), (3, 0.7), (5, 0.7)])
def test_score_grows_with_kills_up_to_the_loop_cap(kills, score):
    assert judge(cause.CAUSE, window(kills=kills), TH).score == pytest.approx(score)


def test_no_kill_does_not_fire():
    f = judge(cause.CAUSE, window(kills=0, peak_gib=7.99), TH)
    assert f.score == 0.0 and not f.evidence[0].supports


def test_kill_of_another_pod_than_the_incidents_does_not_fire():
    f = judge(cause.CAUSE, window(kills=2, scope_pods=("pod/search/other-1",)), TH)
    assert f.score == 0.0


def test_without_kube_data_it_is_no_data():
    assert judge(cause.CAUSE, window(with_kube=False), TH).status == "no_data"
