"""Small in-memory events and objects rows for the Kubernetes-side rules (no files)."""

from __future__ import annotations

import itertools
import json

import pandas as pd

from rca import record
from tests.rca.frames import at

_ids = itertools.count()


def event(t: float, reason: str, obj: str, message: str = "", count: int = 1,
          first: float | None = None, node: str = "") -> dict:
    kind = obj.split("/", 1)[0].capitalize()
    return {"time": at(t), "row_id": f"e{next(_ids)}", "source": "kube", "type": "Warning",
            "kind": kind, "reason": reason, "object": obj, "namespace": obj.split("/")[1]
            if kind != "Node" else "", "node": node, "message": message, "count": count,
            "first_seen": at(first if first is not None else t), "last_seen": at(t)}


def events(rows) -> pd.DataFrame:
    return record.frame("events", rows) if rows else record.empty("events")


def pod(obj: str, node: str = "", *, phase: str = "Running", app: str = "", ip: str = "",
        owner: str = "ReplicaSet/x-1", gpu: int = 0, memory: str = "", restarts: float = 0,
        state_reason: str = "", ready: bool = True, deleting: bool = False,
        unschedulable: tuple[float, str] | None = None, image: str = "img:1",
        at_s: float = 7200) -> dict:
    limits = {}
    if gpu:
        limits["nvidia.com/gpu"] = str(gpu)
    if memory:
        limits["memory"] = memory
    detail = {"phase": phase, "image": image, "resources": {"limits": limits} if limits else {},
              "ready": ready, "state_reason": state_reason, "owner": owner}
    if ip:
        detail["podIP"] = ip
    if deleting:
        detail["deleting"] = True
    if unschedulable:
        detail["unschedulable"] = {"reason": "Unschedulable", "message": unschedulable[1],
                                   "since": at(unschedulable[0]).isoformat()}
    return {"time": at(at_s), "row_id": f"o{next(_ids)}", "kind": "Pod", "object": obj,
            "namespace": obj.split("/")[1], "node": node, "app": app, "container": "c",
            "restarts": restarts, "detail": json.dumps(detail)}


def node(name: str, gpus: int = 0, at_s: float = 7200) -> dict:
    alloc = {"cpu": "32"} | ({"nvidia.com/gpu": str(gpus)} if gpus else {})
    return {"time": at(at_s), "row_id": f"o{next(_ids)}", "kind": "Node",
            "object": f"node/{name}", "node": name,
            "detail": json.dumps({"allocatable": alloc, "capacity": alloc})}


def workload(obj: str, kind: str = "Deployment", app: str = "") -> dict:
    return {"time": at(0), "row_id": f"o{next(_ids)}", "kind": kind, "object": obj,
            "namespace": obj.split("/")[1], "app": app, "replicas": 1.0}


def objects(rows) -> pd.DataFrame:
    return record.frame("objects", rows) if rows else record.empty("objects")
