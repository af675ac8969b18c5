"""Pod placement facts in ``objects.detail``: what the GPU, balancer and start-up rules read
(pod IP, controller, deletion, the scheduler's PodScheduled=False condition)."""

import json
from pathlib import Path

import pandas as pd
from dateutil import tz

from collectors.base import ParseContext
from collectors.kube import read_kube
from rca.kubefacts import pod_facts

DATA = Path(__file__).resolve().parents[1] / "data" / "kube"
COLLECTED = pd.Timestamp("2023-08-04T02:45:00Z")


def rows():
    ctx = ParseContext(file="pods-placement.json", zone=tz.gettz("UTC"),
                       settings={"collected_at": COLLECTED})
    batch = read_kube(DATA / "pods-placement.json", ctx)
    assert batch.malformed == 0
    objects = batch.frames["objects"]
    return {o.rsplit("/", 1)[-1]: json.loads(d)
            for o, d in zip(objects["object"], objects["detail"], strict=True)}, objects


def test_pending_pod_keeps_the_schedulers_reason_and_since():
    details, _ = rows()
    pending = details["triton-inference-server-5b6c7f889c-f54c6"]
    assert pending["phase"] == "Pending" and "podIP" not in pending
    assert pending["owner"] == "ReplicaSet/triton-inference-server-5b6c7f889c"
    assert pending["unschedulable"]["reason"] == "Unschedulable"
    assert "1 Insufficient nvidia.com/gpu" in pending["unschedulable"]["message"]
    assert pd.Timestamp(pending["unschedulable"]["since"]) == pd.Timestamp("2023-08-04T02:11:40Z")


def test_running_pod_being_deleted_has_its_ip_and_no_unschedulable():
    details, _ = rows()
    drained = details["model-server-6d4cf56db6-8xk2p"]
    assert drained["podIP"] == "10.244.2.31" and drained["deleting"] is True
    assert "unschedulable" not in drained


def test_pod_facts_read_gpus_owner_and_ip():
    _, objects = rows()
    facts = pod_facts(objects).set_index("object")
    triton = facts.loc["pod/default/triton-inference-server-5b6c7f889c-f54c6"]
    assert triton["gpu"] == 1.0 and triton["node"] == "" and triton["phase"] == "Pending"
    server = facts.loc["pod/ml-serving/model-server-6d4cf56db6-8xk2p"]
    assert server["ip"] == "10.244.2.31" and bool(server["deleting"]) and not server["ready"]
