"""merge: symptoms that overlap in time and scope are one incident; flickers are one."""

import pandas as pd
import pytest

from rca.config import DEFAULTS
from rca.incidents.base import Symptom
from rca.incidents.merge import merge, overlaps
from tests.rca.frames import at

TH = DEFAULTS["thresholds"]["incidents"]


def _s(kind, t0, t1, **scope):
    return Symptom(kind, at(t0), at(t1), {k: list(v) for k, v in scope.items()},
                   {f"{kind}_count": 1})


def test_two_symptoms_of_one_fault_are_one_incident_with_both_kinds():
    (inc,) = merge([_s("failed_requests", 0, 60, services=["rgw"]),
                    _s("restarts", 90, 100, pods=["pod/ceph/rgw-a-1"], services=["rgw"])], TH)
    assert inc.symptoms["kinds"] == ["failed_requests", "restarts"]
    assert inc.start == at(0) and inc.end == at(100)
    assert inc.scope["pods"] == ["pod/ceph/rgw-a-1"]


@pytest.mark.parametrize("gap,incidents", [
    (TH["merge_gap_s"], 1),  # at the edge: merged
    (TH["merge_gap_s"] + 1, 2),  # one second further: apart
])
def test_merge_gap_edge(gap, incidents):
    got = merge([_s("a", 0, 10, services=["x"]), _s("b", 10 + gap, 20 + gap, services=["x"])],
                TH)
    assert len(got) == incidents


def test_same_time_on_unrelated_scope_stays_apart():
    # a restart of a batch job at the same minute as a burst on the inference service
    got = merge([_s("failed_requests", 0, 60, services=["neishi"], nodes=["infer-1"]),
                 _s("restarts", 10, 20, services=["nightly-etl"], nodes=["batch-7"])], TH)
    assert len(got) == 2


def test_unknown_scope_overlaps_everything():
    assert overlaps({}, {"services": ["x"]})
    assert not overlaps({"services": ["a"]}, {"services": ["b"]})
    assert overlaps({"services": ["inference-neishi"]}, {"services": ["neishi"]})


def _bursts(n, every_s):
    return [_s("failed_requests", i * every_s, i * every_s + 30, services=["feet"])
            for i in range(n)]


@pytest.mark.parametrize("n,every_s,incidents,why", [
    (8, 420, 1, "a burst every 7 minutes for an hour is one flickering fault"),
    (2, 540, 2, "two bursts 9 minutes apart are two incidents (2021-08-23 15:54 and 16:03)"),
    (3, TH["flicker_gap_s"] + 30, 1, "three bursts at the flicker gap's edge: one fault"),
    (3, TH["flicker_gap_s"] + 31, 3, "a second more between them: three incidents"),
])
def test_flicker(n, every_s, incidents, why):
    assert len(merge(_bursts(n, every_s), TH)) == incidents, why


def test_counts_add_up_and_scope_counts_are_recomputed():
    a = Symptom("failed_requests", at(0), at(30), {"services": ["a"]},
                {"failed_requests": 5, "services": 1})
    b = Symptom("failed_requests", at(60), at(90), {"services": ["a", "b"]},
                {"failed_requests": 7, "services": 2})
    (inc,) = merge([a, b], TH)
    assert inc.symptoms["failed_requests"] == 12
    assert inc.symptoms["services"] == 2
    assert inc.end - inc.start == pd.Timedelta(seconds=90)
