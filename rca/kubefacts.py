"""Pod and node facts read out of the ``objects`` table's ``detail`` JSON, once.

Why a base module: the detectors (pods that cannot start, OOM kills) and the causes (GPU
fragmentation, dead balancer backends, OOM) all ask the same questions of the collected
pods — which are Pending and why, what they request, which IP serves which pod, which
controller owns them — and must get the same answer. It imports only the record layer.
"""

from __future__ import annotations

import json
import re

import pandas as pd

__all__ = ["GPU", "endpoint_backends", "node_allocatable", "oom_events", "pod_facts", "quantity",
           "serving_owner", "window_pods"]

#: The extended resource the NVIDIA device plugin advertises.
GPU = "nvidia.com/gpu"

_SUFFIX = {"": 1, "k": 1e3, "M": 1e6, "G": 1e9, "T": 1e12, "P": 1e15,
           "Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "Pi": 2**50, "m": 1e-3}
_QUANTITY = re.compile(r"([0-9.]+(?:[eE][+-]?\d+)?)([a-zA-Z]*)")

#: Controllers that keep pods *serving*: a crash of their pod is an outage. A Job's pod
#: failing is the Job's own result (it reports ``BackoffLimitExceeded``).
_SERVING_OWNERS = ("ReplicaSet", "Deployment", "StatefulSet", "DaemonSet",
                   "ReplicationController")


def quantity(text: object) -> float:
    """A Kubernetes resource quantity (``16Gi``, ``500m``, ``8``) as a number; NaN when it
    cannot be read."""
    m = _QUANTITY.fullmatch(str(text or "").strip())
    if m is None or m.group(2) not in _SUFFIX:
        return float("nan")
    return float(m.group(1)) * _SUFFIX[m.group(2)]


def _detail(text: str) -> dict:
    try:
        value = json.loads(text) if text else {}
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def _resource(detail: dict, kind: str, name: str) -> float:
    value = (detail.get("resources") or {}).get(kind, {}).get(name)
    return quantity(value) if value is not None else float("nan")


def pod_facts(objects: pd.DataFrame) -> pd.DataFrame:
    """One row per pod container with the detail facts as columns (latest collection)."""
    cols = ["object", "namespace", "node", "app", "container", "restarts",
            "last_termination_reason", "last_termination_at"]
    if objects.empty:
        return pd.DataFrame(columns=[*cols, "phase", "ip", "owner", "deleting", "ready",
                                     "state_reason", "image", "gpu", "memory_limit",
                                     "unschedulable"])
    pods = objects[objects["kind"] == "Pod"].sort_index().drop_duplicates(
        ["object", "container"], keep="last")
    details = [_detail(d) for d in pods["detail"]]
    out = pods[cols].copy()
    out["collected_at"] = pods.index
    out["phase"] = [d.get("phase", "") for d in details]
    out["ip"] = [d.get("podIP", "") for d in details]
    out["owner"] = [d.get("owner", "") for d in details]
    out["deleting"] = [bool(d.get("deleting")) for d in details]
    out["ready"] = [bool(d.get("ready")) for d in details]
    out["state_reason"] = [d.get("state_reason", "") for d in details]
    out["image"] = [d.get("image", "") for d in details]
    out["gpu"] = [_gpu(d) for d in details]
    out["memory_limit"] = [_resource(d, "limits", "memory") for d in details]
    out["unschedulable"] = [d.get("unschedulable") or {} for d in details]
    return out.reset_index(drop=True)


def window_pods(window) -> pd.DataFrame:
    """``pod_facts`` of a cause's window, parsed once per window (``Window.cache``): four
    causes read the same pods, and parsing every pod's detail JSON is what costs."""
    if "pod_facts" not in window.cache:
        window.cache["pod_facts"] = pod_facts(window.tables.get("objects", pd.DataFrame()))
    return window.cache["pod_facts"]


def _gpu(detail: dict) -> float:
    """GPUs a container asks for: extended resources are set in limits (requests, when
    given, must equal them)."""
    for kind in ("limits", "requests"):
        value = _resource(detail, kind, GPU)
        if value == value:
            return value
    return 0.0


def node_allocatable(objects: pd.DataFrame, resource: str) -> dict[str, float]:
    """Per node name, how much of ``resource`` the scheduler may place there."""
    if objects.empty:
        return {}
    nodes = objects[objects["kind"] == "Node"].sort_index().drop_duplicates("object",
                                                                             keep="last")
    out = {}
    for node, text in zip(nodes["node"], nodes["detail"], strict=True):
        detail = _detail(text)
        value = (detail.get("allocatable") or detail.get("capacity") or {}).get(resource)
        if value is not None:
            out[str(node)] = quantity(value)
    return out


def serving_owner(owner: str) -> bool:
    """Whether a pod's controller (``Kind/name``) keeps it serving."""
    return owner.split("/", 1)[0] in _SERVING_OWNERS


_NODE_OOM = ("SystemOOM", "OOMKilling")


def oom_events(events: pd.DataFrame) -> pd.DataFrame:
    """Terminations with reason ``OOMKilled`` and the nodes' OOM events (kubelet's
    ``SystemOOM``, node-problem-detector's ``OOMKilling``)."""
    if events.empty:
        return events
    return events[(events["reason"] == "OOMKilled") | events["reason"].isin(_NODE_OOM)]


def endpoint_backends(objects: pd.DataFrame) -> pd.DataFrame:
    """The backends a Service's Endpoints / EndpointSlices list: service, namespace, ip,
    target (``pod/<ns>/<name>`` or ''), ready, terminating (latest collection)."""
    cols = ["service", "namespace", "ip", "target", "ready", "terminating"]
    if objects.empty:
        return pd.DataFrame(columns=cols)
    rows = objects[objects["kind"].isin(["Endpoints", "EndpointSlice"])].sort_index()
    rows = rows.drop_duplicates("object", keep="last")
    out = []
    for namespace, text in zip(rows["namespace"], rows["detail"], strict=True):
        detail = _detail(text)
        for b in detail.get("backends") or []:
            if isinstance(b, dict) and b.get("ip"):
                out.append((str(detail.get("service", "")), str(namespace), str(b["ip"]),
                            str(b.get("target", "")), bool(b.get("ready", True)),
                            bool(b.get("terminating", False))))
    return pd.DataFrame(out, columns=cols).drop_duplicates(["service", "ip"])
