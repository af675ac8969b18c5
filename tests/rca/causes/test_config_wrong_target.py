"""config.wrong_target: a new client takes over a non-production service while prod idles."""

import pytest

from rca import record
from rca.causes import config_wrong_target as cause
from rca.config import DEFAULTS
from rca.engine import judge
from rca.finding import Window
from tests.rca.frames import at, req, requests
from tests.rca.kubeframes import objects, pod

TH = DEFAULTS["thresholds"]["config_wrong_target"]


def window(batch=60, online=10, service="model-dev", prod_before=60, prod_during=10,
           batch_before=0, objs=None):
    """3600 s baseline, 600 s incident; counts are requests in each part."""
    rows = [req(3600 + i * 600 / online, service, "timeout", 2.0, station="console")
            for i in range(online)]
    rows += [req(i * 3600 / (6 * online), service, 200, 0.2, station="console")
             for i in range(6 * online)]  # the console's usual rate, before
    rows += [req(3600 + i * 600 / batch, service, 200, 3.0, station="batch-embed-x2k9q")
             for i in range(batch)]
    rows += [req(i * 3600 / max(batch_before, 1), service, 200, 0.3, station="batch-embed-x2k9q")
             for i in range(batch_before)]
    rows += [req(i * 3600 / prod_before, "model", 200, 0.3, station="web")
             for i in range(prod_before)]
    rows += [req(3600 + i * 600 / prod_during, "model", 200, 0.3, station="web")
             for i in range(prod_during)]
    return Window(at(3600), at(4200), at(0),
                  {"requests": requests(rows), "objects": objs if objs is not None
                   else record.empty("objects")}, {"services": [service]})


def test_batch_on_dev_while_prod_idles():
    # prod: 60/h before (1/min), 10 in 10 min during (1/min): not idle
    f = judge(cause.CAUSE, window(), TH)
    assert f.score == pytest.approx(0.7)
    f = judge(cause.CAUSE, window(prod_during=4), TH)  # 0.4/min: idles
    assert f.score == pytest.approx(0.9)
    assert "model idled" in f.evidence[-1].text


def test_entity_is_the_clients_pod_when_collected():
    objs = objects([pod("pod/ml-jobs/batch-embed-x2k9q", "n3", owner="Job/batch-embed")])
    assert judge(cause.CAUSE, window(objs=objs), TH).entity == "pod/ml-jobs/batch-embed-x2k9q"
    assert judge(cause.CAUSE, window(), TH).entity == "service/model-dev"


@pytest.mark.parametrize("prod_during, idle", [(4, True), (5, False)])
def test_idle_ratio_edge(prod_during, idle):
    # 5 in 10 min is exactly half the baseline's 1/min: not idle enough
    f = judge(cause.CAUSE, window(prod_during=prod_during), TH)
    assert (f.score == pytest.approx(0.9)) is idle


@pytest.mark.parametrize("min_share, fires", [
    (0.85, True),   # the newcomer sent 60 of 70 requests: 0.857
    (0.86, False),  # just over its share: not enough to explain the saturation
])
def test_min_share_edge(min_share, fires):
    f = judge(cause.CAUSE, window(batch=60, online=10), {**TH, "min_share": min_share})
    assert (f.score > 0) is fires


def test_newcomer_with_a_minority_share_does_not_fire():
    # 9 of 19: the usual console traffic is most of the load
    assert judge(cause.CAUSE, window(batch=9, online=10), TH).score == 0.0


@pytest.mark.parametrize("batch_before, fires", [
    (60, True),   # 60/h before, 60 in 10 min now: 6x
    (73, False),  # 73/h before: under 5x, an old client busier than usual
])
def test_new_client_ratio_edge(batch_before, fires):
    f = judge(cause.CAUSE, window(batch_before=batch_before), TH)
    assert (f.score > 0) is fires


def test_new_job_on_a_production_service_scores_low():
    f = judge(cause.CAUSE, window(service="model-server"), TH)
    assert f.score == pytest.approx(0.3)
    assert not f.evidence[-1].supports


def test_no_newcomer_does_not_fire():
    f = judge(cause.CAUSE, window(batch=0), TH)
    assert f.score == 0.0


@pytest.mark.parametrize("data_from, fires", [
    (0, True),      # the whole hour recorded: 60 before is 1/min, 60 in 10 min is 6x
    (2400, False),  # only the last 20 min recorded, same 60 rows in them: 3/min, 2x
])
def test_the_rate_before_counts_only_the_recorded_part_of_the_baseline(data_from, fires):
    """A collection that started 20 min before the incident: dividing the client's
    earlier requests by the full hour would make a steady client look new."""
    w = window(batch_before=60)
    df = w.tables["requests"]
    span = (df.index - at(0)).total_seconds()
    squeezed = df.index.where(span >= 3600, at(data_from) + (df.index - at(0)) *
                              ((3600 - data_from) / 3600))
    moved = df.set_axis(squeezed).sort_index()
    f = judge(cause.CAUSE, Window(w.start, w.end, w.baseline_start,
                                  {**w.tables, "requests": moved}, w.scope), TH)
    assert (f.score > 0) is fires
