"""storage.io_stall: blocked processes or a saturated disk on a scope node that hurt its work."""

import pytest

from rca.causes import storage_io_stall as cause
from rca.config import DEFAULTS
from rca.engine import judge
from tests.rca.causes._infra import NODE, series, server_requests, window

TH = DEFAULTS["thresholds"]["storage_io_stall"]
BLOCKED, IO = "node_procs_blocked", "node_disk_io_time_ratio"


def test_nfs_stall_slowing_the_servers_fires_on_the_node():
    f = judge(cause.CAUSE, window({BLOCKED: series(0.0, 30.0)}, server_requests(0.05, 2.0)), TH)
    assert f.score == pytest.approx(0.9)  # 0.6 stall + 0.2 slowed + 0.1 strength
    assert f.entity == NODE and "30 processes blocked" in f.summary


@pytest.mark.parametrize("during, fires", [(9.0, False), (10.0, True)])  # blocked_min
def test_blocked_edge(during, fires):
    assert (judge(cause.CAUSE, window({BLOCKED: series(0.0, during)}), TH).score > 0) is fires


@pytest.mark.parametrize("during, fires", [(0.89, False), (0.90, True)])  # io_busy_min
def test_io_busy_edge(during, fires):
    assert (judge(cause.CAUSE, window({IO: series(0.1, during)}), TH).score > 0) is fires


@pytest.mark.parametrize("before, fires", [
    (6.0, True),   # 20 blocked is 3.3x: rise_factor holds
    (7.0, False),  # 2.9x: this node always has a queue; not what changed
])
def test_rise_edge(before, fires):
    assert (judge(cause.CAUSE, window({BLOCKED: series(before, 20.0)}), TH).score > 0) is fires


@pytest.mark.parametrize("server_during, score", [
    (0.1, 0.9),    # 2x: slow_ratio_min, the stall reached the callers (+0.2)
    (0.099, 0.7),  # just under: the node stalled but its services did not notice
])
def test_slow_ratio_edge(server_during, score):
    f = judge(cause.CAUSE, window({BLOCKED: series(0.0, 20.0)},
                                  server_requests(0.05, server_during)), TH)
    assert f.score == pytest.approx(score)


def test_both_signs_and_restarts_without_logs():
    f = judge(cause.CAUSE, window({BLOCKED: series(0.0, 20.0), IO: series(0.1, 0.99)},
                                  symptoms={"restarts": 3}), TH)
    assert f.score == pytest.approx(1.0)


@pytest.mark.parametrize("kills, score", [(0, 1.0), (2, 0.85)])  # driver_cap
def test_driver_cap(kills, score):
    f = judge(cause.CAUSE, window({BLOCKED: series(0.0, 20.0), IO: series(0.1, 0.99)},
                                  symptoms={"restarts": 3, "probe_kills": kills}), TH)
    assert f.score == pytest.approx(score)


def test_another_nodes_stall_does_not_count():
    # a nightly batch job pins another node's disk: not this incident's node
    f = judge(cause.CAUSE, window({BLOCKED: series(0.0, 40.0, "node/batch-07")}), TH)
    assert f.score == 0.0


def test_without_node_io_metrics_is_no_data():
    assert judge(cause.CAUSE, window(), TH).status == "no_data"
