"""lb.dead_backend: pool members that serve nothing while others serve, and why."""

import pytest

from rca import record
from rca.causes import lb_dead_backend as cause
from rca.config import DEFAULTS
from rca.engine import judge
from rca.finding import Window
from tests.rca.frames import at, req, requests
from tests.rca.kubeframes import objects, pod

TH = DEFAULTS["thresholds"]["lb_dead_backend"]
RS = "ReplicaSet/model-server-7c9d8f"


def pool(n_live=2, n_dead=2, dead_kw=None):
    rows = [pod(f"pod/ml/model-server-7c9d8f-l{i}", "n1", app="model-server",
                ip=f"10.244.1.{i + 1}", owner=RS) for i in range(n_live)]
    rows += [pod(f"pod/ml/model-server-7c9d8f-d{i}", "n2", app="model-server",
                 ip=f"10.244.2.{i + 1}", owner=RS,
                 **(dead_kw or {"state_reason": "ImagePullBackOff", "ready": False}))
             for i in range(n_dead)]
    return objects(rows)


def traffic(n=200, live=2, extra=()):
    rows = [req(3600 + i * 2, "ml-model-server", 200, 0.3, side="server",
                upstream=f"10.244.1.{i % live + 1}:8080") for i in range(n)]
    return requests(rows + list(extra))


def window(reqs, objs):
    return Window(at(3600), at(4200), at(0), {"requests": reqs, "objects": objs},
                  {"services": ["ml-model-server"]})


def test_half_the_pool_never_served():
    f = judge(cause.CAUSE, window(traffic(), pool()), TH)
    assert f.score == pytest.approx(0.6 + 0.3 * 0.5 + 0.1)
    assert f.entity == "deployment/ml/model-server"
    assert "ImagePullBackOff" in f.summary
    assert {r["pod"] for r in f.evidence[0].rows} == {"pod/ml/model-server-7c9d8f-d0",
                                                     "pod/ml/model-server-7c9d8f-d1"}


def test_backend_drained_on_purpose_is_not_dead():
    # a rollout deletes the old pod: it leaves the pool on purpose
    objs = pool(n_dead=1, dead_kw={"deleting": True, "ready": False})
    assert judge(cause.CAUSE, window(traffic(), objs), TH).score == 0.0


def test_every_backend_serving_does_not_fire():
    f = judge(cause.CAUSE, window(traffic(live=4), pool(n_live=4, n_dead=0)), TH)
    assert f.score == 0.0 and "every backend served" in f.summary


@pytest.mark.parametrize("n, fires", [
    (20, True),   # 20 requests over 4 backends: 5 each expected, silence means something
    (19, False),  # fewer: a backend without any can be chance
])
def test_min_expected_edge(n, fires):
    assert (judge(cause.CAUSE, window(traffic(n), pool()), TH).score > 0) is fires


@pytest.mark.parametrize("latency, dead", [
    (0.049, True),   # 502 in 49 ms: the connection was refused, the backend is dead
    (0.05, False),   # 50 ms: it answered something itself
])
def test_fast_fail_edge(latency, dead):
    fails = [req(3700 + i, "ml-model-server", 502, latency, side="server",
                 upstream="10.244.2.1:8080") for i in range(10)]
    objs = pool(n_dead=1, dead_kw={"ready": True})
    f = judge(cause.CAUSE, window(traffic(extra=fails), objs), TH)
    assert (f.score > 0) is dead


def test_retried_attempt_counts_against_the_first_backend():
    # nginx tried 10.244.2.1 first, then the live one: the first attempt failed
    retried = [req(3700 + i, "ml-model-server", 200, 0.4, side="server",
                   upstream="10.244.2.1:8080, 10.244.1.1:8080") for i in range(10)]
    objs = pool(n_dead=1, dead_kw={"ready": True, "restarts": 5})
    f = judge(cause.CAUSE, window(traffic(extra=retried), objs), TH)
    assert f.score > 0 and "restarting (5 restarts)" in f.summary


def test_without_upstream_addresses_it_is_no_data():
    reqs = requests([req(3700, "ml-model-server", 200, side="server")])
    assert judge(cause.CAUSE, window(reqs, pool()), TH).status == "no_data"
    assert judge(cause.CAUSE, window(traffic(), record.empty("objects")), TH).score == 0.0


def _slices():
    """The real EndpointSlice fixture, shaped by the collector: two ready old servers and
    one new server the Service lists as not ready; no pod of the service was collected."""
    from pathlib import Path

    from dateutil import tz

    from collectors.base import ParseContext
    from collectors.kube import read_kube

    path = Path(__file__).resolve().parents[2] / "data" / "kube" / "endpointslices.json"
    ctx = ParseContext(file=path.name, zone=tz.gettz("UTC"), settings={"collected_at": at(7200)})
    return read_kube(path, ctx).frames["objects"]


def test_endpoint_addresses_count_when_pods_were_not_collected():
    reqs = requests([req(3600 + i * 2, "ml-serving-model-server", 200, 0.3, side="server",
                         upstream=f"10.42.5.{31 + i % 2}:8080") for i in range(60)])
    f = judge(cause.CAUSE, Window(at(3600), at(4200), at(0),
                                  {"requests": reqs, "objects": _slices()},
                                  {"services": ["ml-serving-model-server"]}), TH)
    assert f.score == pytest.approx(0.6 + 0.3 / 3 + 0.1)
    (dead,) = f.evidence[0].rows
    assert dead["pod"] == "pod/ml-serving/model-server-new-5f6d7c8b9-g5h6i"
    assert dead["why"].startswith("not Ready")
