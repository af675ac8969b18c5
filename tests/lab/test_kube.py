"""The lab's Kubernetes objects read back through the kubectl-JSON collector."""

import json

import pandas as pd

from collectors.base import ParseContext
from collectors.kube import read_kube
from rca.lab.kube import Kube
from rca.timeutil import get_zone


def _objects(tmp_path, kube: Kube):
    paths = kube.write(tmp_path / "kube")
    frames = {}
    for path in paths:
        batch = read_kube(path, ParseContext(str(path), get_zone("UTC"), {
            "collected_at": pd.Timestamp("2023-11-14T23:00:00Z")}))
        assert batch.malformed == 0, (path, batch.samples)
        for table, df in batch.frames.items():
            frames.setdefault(table, []).append(df)
    return frames


def test_pods_nodes_services_and_events_read_back(tmp_path):
    kube = Kube(created=1_700_000_000.0)
    kube.node("infer-node", "10.213.1.3")
    live = kube.pod("feet", "infer-node", "10.213.1.5", 8080)["metadata"]["name"]
    dead = kube.pod("feet", "infer-node", "10.213.1.6", 8080, name="feet-7d9f8c6b5-1")
    kube.never_started(dead["metadata"]["name"], kube.created)
    kube.endpoint("feet", "10.213.1.5", live, "infer-node", ready=True)
    kube.endpoint("feet", "10.213.1.6", "feet-7d9f8c6b5-1", "infer-node", ready=False)
    kube.service_for("feet", 8080)
    kube.restart(live, "OOMKilled", 137, kube.created + 30)
    frames = _objects(tmp_path, kube)
    objects = pd.concat(frames["objects"])
    pods = objects[objects["kind"] == "Pod"].set_index("object")
    assert pods.loc[f"pod/lab/{live}", "node"] == "infer-node"
    assert pods.loc[f"pod/lab/{live}", "restarts"] == 1
    assert pods.loc[f"pod/lab/{live}", "last_termination_reason"] == "OOMKilled"
    assert json.loads(pods.loc[f"pod/lab/{live}", "detail"])["podIP"] == "10.213.1.5"
    endpoints = objects[objects["kind"] == "Endpoints"]
    assert (endpoints["replicas"].iloc[0], endpoints["ready_replicas"].iloc[0]) == (2, 1)
    events = pd.concat(frames["events"])
    # the kubelet's image-pull events, and the restart's termination read from the pod
    assert {"Failed", "BackOff", "OOMKilled"} <= set(events["reason"])
