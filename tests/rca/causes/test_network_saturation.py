"""network.saturation: a scope node's link near capacity, new, with the servers still fast."""

import pytest

from rca.causes import network_saturation as cause
from rca.config import DEFAULTS
from rca.engine import judge
from tests.rca.causes._infra import NODE, series, server_requests, window

TH = DEFAULTS["thresholds"]["network_saturation"]
TX = "node_transmit_utilization_ratio"


def test_saturated_link_with_fast_servers_fires_on_the_node():
    f = judge(cause.CAUSE, window({TX: series(0.1, 0.97)}, server_requests(0.05, 0.05)), TH)
    assert f.status == "ok" and f.score == pytest.approx(0.9)  # 0.5 + new 0.2 + fast 0.2
    assert f.entity == NODE and f.evidence[0].supports


@pytest.mark.parametrize("use, fires", [
    (0.79, False),  # busy, queues not yet building
    (0.80, True),   # util_min
])
def test_util_edge(use, fires):
    f = judge(cause.CAUSE, window({TX: series(0.1, use)}), TH)
    assert (f.score > 0) is fires


@pytest.mark.parametrize("before, score", [
    (0.46, 0.5),  # 0.92 is under 2x this baseline: sized that way, not new
    (0.45, 0.7),  # rise_factor reached
])
def test_rise_edge(before, score):
    assert judge(cause.CAUSE, window({TX: series(before, 0.9)}), TH).score == pytest.approx(score)


@pytest.mark.parametrize("server_during, score", [
    (0.2, 0.9),    # exactly server_ratio_max (2x): processing normal
    (0.21, 0.5),   # the servers slowed: saturation explains less (-0.2)
])
def test_server_ratio_edge(server_during, score):
    f = judge(cause.CAUSE, window({TX: series(0.1, 0.95)}, server_requests(0.1, server_during)),
              TH)
    assert f.score == pytest.approx(score)


def test_drops_add_and_speed_unknown_is_ignored():
    drops = {TX: series(0.1, 0.95), "node_network_drop_per_second": series(0.0, 40.0)}
    assert judge(cause.CAUSE, window(drops), TH).score == pytest.approx(0.8)
    # node_exporter's speed of -1 makes a negative ratio: never saturated
    assert judge(cause.CAUSE, window({TX: series(-0.1, -5.0)}), TH).score == 0.0


def test_other_nodes_link_does_not_count():
    f = judge(cause.CAUSE, window({TX: series(0.1, 0.97, entity="node/backup-01")}), TH)
    assert f.score == 0.0


@pytest.mark.parametrize("kills, score", [
    (0, 0.9),   # no probe kills: saturation is the whole story
    (1, 0.85),  # a liveness kill: driver_cap keeps it below the probe it drove
])
def test_driver_cap_below_probe(kills, score):
    f = judge(cause.CAUSE, window({TX: series(0.1, 0.95)}, server_requests(0.05, 0.05),
                                  symptoms={"probe_kills": kills}), TH)
    assert f.score == pytest.approx(score)


def test_without_nic_metrics_is_no_data():
    assert judge(cause.CAUSE, window(), TH).status == "no_data"
