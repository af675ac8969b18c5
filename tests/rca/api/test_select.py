"""Filters mean the same on every table, and a filter a table cannot answer says so."""

import pandas as pd
import pytest

from rca import record
from rca.api.select import local, select
from rca.timeutil import get_zone
from tests.rca.frames import at, req, requests


def _reqs() -> pd.DataFrame:
    return requests([req(0, "inference-neishi", "200", 0.3, station="gw01"),
                     req(1, "neishi", "timeout", 5.0, station="gw02"),
                     req(2, "dijiao", "504", 4.999, station="gw01"),
                     req(3, "neishi-extra", "200", 5.001, station="gw03")])


def test_service_matches_the_way_the_rules_do():
    # neishi is inference-neishi (a namespace prefix); neishi-extra is another service
    got = select(_reqs(), service="neishi")
    assert list(got["service"]) == ["inference-neishi", "neishi"]


@pytest.mark.parametrize("kw, n", [
    ({"min_latency": 5.0}, 2),     # 5.0 is in (inclusive), 4.999 is not
    ({"max_latency": 4.999}, 2),   # 0.3 and 4.999
    ({"min_latency": 5.0001}, 1),  # only 5.001
    ({"status": 504}, 1),          # an int compares as the logged text
    ({"status": ["timeout", "504"]}, 2),
    ({"station": "gw01", "status": "200"}, 1),
    ({"side": "server"}, 0),       # any column by name
])
def test_filters_on_each_side_of_their_edge(kw, n):
    assert len(select(_reqs(), **kw)) == n


def test_a_filter_the_table_cannot_answer_is_an_error_not_every_row():
    with pytest.raises(TypeError, match="'pod' does not apply"):
        select(_reqs(), pod="neishi-abc")
    with pytest.raises(TypeError, match="no 'nosuch' column"):
        select(_reqs(), nosuch="x")


def test_pod_and_node_match_with_or_without_their_prefix():
    events = record.frame("events", [
        {"time": at(0), "row_id": "e1", "object": "pod/inference/neishi-abc-1",
         "node": "infer-node1", "reason": "Unhealthy"},
        {"time": at(1), "row_id": "e2", "object": "pod/ops/rotate-1", "node": "train-node1",
         "reason": "BackOff"}])
    assert list(select(events, pod="neishi-abc-1")["row_id"]) == ["e1"]
    assert list(select(events, pod="pod/inference/neishi-abc-1")["row_id"]) == ["e1"]
    assert list(select(events, node="node/train-node1")["row_id"]) == ["e2"]
    assert select(events, pod="neishi-abc").empty  # a prefix of a name is another pod


def test_metrics_match_a_pod_by_entity_or_by_its_label():
    metrics = record.frame("metrics", [
        {"time": at(0), "row_id": "m1", "name": "coredns_dns_requests_total",
         "entity": "node/10.244.0.5", "labels": '{"pod":"coredns-x","instance":"10.244.0.5"}',
         "value": 1.0},
        {"time": at(0), "row_id": "m2", "name": "node_load1", "entity": "node/n1",
         "labels": '{"instance":"n1:9100"}', "value": 2.0}])
    assert list(select(metrics, pod="coredns-x")["row_id"]) == ["m1"]
    assert list(select(metrics, node="n1")["row_id"]) == ["m2"]


def test_local_keeps_the_instants_and_shows_the_zone():
    df = _reqs()
    shown = local(df, get_zone("Asia/Shanghai"))
    assert (shown.index == df.index).all()  # same instants
    assert shown.index[0].utcoffset() == pd.Timedelta(hours=8)
    assert df.index[0].utcoffset() == pd.Timedelta(0)  # the input is left alone
