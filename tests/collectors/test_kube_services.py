"""Services, Endpoints, EndpointSlices, ReplicaSets and DaemonSets from kubectl JSON dumps."""

import json
from pathlib import Path

import pandas as pd
import pytest
from dateutil import tz

from collectors.base import ParseContext
from collectors.kube import KubeBatch, read_kube, shape_items

DATA = Path(__file__).resolve().parents[1] / "data" / "kube"
COLLECTED = pd.Timestamp("2021-08-23T02:45:00Z")


def ctx():
    return ParseContext("f.json", tz.gettz("UTC"), {"collected_at": COLLECTED})


def objects(name):
    batch = read_kube(DATA / name, ctx())
    assert batch.malformed == 0, batch.samples
    return batch.frames["objects"].set_index("object")


def detail(row):
    return json.loads(row["detail"])


def test_endpoints_count_ready_and_not_ready_backends():
    rows = objects("endpoints.json")
    rgw = rows.loc["endpoints/rook-ceph/rook-ceph-rgw-my-store"]
    # the rgw pod failing its probe is the only backend, and it is not ready
    assert (rgw["kind"], rgw["app"], rgw["replicas"], rgw["ready_replicas"]) == (
        "Endpoints", "rook-ceph-rgw-my-store", 1.0, 0.0)
    model = rows.loc["endpoints/ml-serving/model-server"]
    assert (model["replicas"], model["ready_replicas"]) == (3.0, 2.0)
    backends = {b["ip"]: b for b in detail(model)["backends"]}
    assert backends["10.42.6.11"] == {
        "ip": "10.42.6.11", "node": "gpunode2", "ready": False,
        "target": "pod/ml-serving/model-server-new-5f6d7c8b9-g5h6i"}
    assert backends["10.42.5.31"]["ready"] is True
    assert detail(model)["ports"] == [{"name": "grpc", "port": 8001, "protocol": "TCP"}]


def test_endpointslice_unset_ready_means_ready_and_names_its_service():
    row = objects("endpointslices.json").loc["endpointslice/ml-serving/model-server-x7k2p"]
    # three endpoints: ready=true, conditions {} (ready by the API's rule), ready=false
    assert (row["app"], row["replicas"], row["ready_replicas"]) == ("model-server", 3.0, 2.0)
    d = detail(row)
    assert d["service"] == "model-server"
    assert [b["ready"] for b in d["backends"]] == [True, True, False]


def test_service_row_keeps_selector_and_ports_not_annotations():
    rows = objects("services.json")
    rgw = rows.loc["service/rook-ceph/rook-ceph-rgw-my-store"]
    d = detail(rgw)
    assert (rgw["app"], d["type"], d["clusterIP"]) == ("rook-ceph-rgw", "ClusterIP",
                                                       "10.43.118.29")
    assert d["selector"] == {"app": "rook-ceph-rgw", "rgw": "my-store"}
    assert d["ports"] == [{"name": "http", "port": 80, "protocol": "TCP", "targetPort": 8080}]
    assert "do-not-store" not in rows.to_csv()


def test_replicaset_and_daemonset_rows():
    rs = objects("replicasets.json").loc["replicaset/rook-ceph/rook-ceph-rgw-my-store-a-66b7d8cc9d"]
    assert (rs["kind"], rs["replicas"], rs["ready_replicas"]) == ("ReplicaSet", 1.0, 0.0)
    assert "hunter2" not in rs["detail"]  # container env is never copied
    ds = objects("daemonsets.json").loc["daemonset/kube-system/node-local-dns"]
    assert (ds["kind"], ds["app"], ds["replicas"], ds["ready_replicas"]) == (
        "DaemonSet", "node-local-dns", 3.0, 2.0)


@pytest.mark.parametrize("item, field", [
    # an Endpoints address without an ip cannot be matched to a backend
    ({"kind": "Endpoints", "metadata": {"name": "a", "namespace": "n"},
      "subsets": [{"addresses": [{"nodeName": "x"}]}]}, "items[0].subsets[0].addresses[0].ip"),
    # a slice endpoint without addresses, likewise
    ({"kind": "EndpointSlice", "metadata": {"name": "a", "namespace": "n"},
      "endpoints": [{"conditions": {"ready": True}}]}, "items[0].endpoints[0].addresses"),
    # ports must be a list
    ({"kind": "Service", "metadata": {"name": "a", "namespace": "n"},
      "spec": {"ports": "80"}}, "items[0].spec.ports"),
])
def test_bad_backend_items_name_their_field(item, field):
    batch = KubeBatch(source="t")
    shape_items([item, {"kind": "Service", "metadata": {"name": "ok", "namespace": "n"}}],
                ctx(), batch)
    assert batch.malformed == 1 and batch.samples[0].field == field
    assert list(batch.frames["objects"]["object"]) == ["service/n/ok"]  # the rest is kept
