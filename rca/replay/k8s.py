"""Kubernetes API objects for the worlds of seeds 002–004, as ``kubectl get -o json`` prints.

Why apart from ``kube``: that factory is shaped around the inference-station spec
(CoreDNS, one pod per service). The GPU platform, the balanced model servers and the
upload front end need pods that are Pending, waiting on an image, crash-looping or
being deleted, with the fields the API server fills in (conditions, owner references,
``state.waiting``), so their worlds build objects from these few functions. Field names
and messages are the API server's and the kubelet's own (Kubernetes 1.19–1.24).
"""

from __future__ import annotations

import json

import numpy as np

from rca.replay.kube import new_uid, token
from rca.replay.writers import Clock

__all__ = ["K8s"]


class K8s:
    """Builds API objects with stable uids from one random stream."""

    def __init__(self, rng: np.random.Generator) -> None:
        self.rng = rng

    def token(self, n: int) -> str:
        return token(self.rng, n)

    def meta(self, name: str, created: float, namespace: str = "", **extra) -> dict:
        meta = {"creationTimestamp": Clock.kube(created), "name": name,
                "resourceVersion": str(int(self.rng.integers(10**5, 10**7))),
                "uid": new_uid(self.rng)}
        if namespace:
            meta["namespace"] = namespace
        return {**meta, **extra}

    def node(self, name: str, ip: str, created: float, *, cpu: int = 32, memory_gib: int = 256,
             gpus: int = 0) -> dict:
        capacity = {"cpu": str(cpu), "memory": f"{memory_gib * 1048576}Ki", "pods": "110"}
        if gpus:
            capacity["nvidia.com/gpu"] = str(gpus)
        conditions = [{"lastHeartbeatTime": Clock.kube(created + 60), "lastTransitionTime":
                       Clock.kube(created + 60), "message": "kubelet is posting ready status",
                       "reason": "KubeletReady", "status": "True", "type": "Ready"}]
        return {"apiVersion": "v1", "kind": "Node",
                "metadata": self.meta(name, created, labels={"kubernetes.io/hostname": name}),
                "spec": {}, "status": {
                    "addresses": [{"address": ip, "type": "InternalIP"}],
                    "allocatable": capacity, "capacity": capacity, "conditions": conditions,
                    "nodeInfo": {"kubeletVersion": "v1.22.17", "kernelVersion":
                                 "5.4.0-150-generic", "containerRuntimeVersion":
                                 "containerd://1.6.21"}}}

    def deployment(self, name: str, namespace: str, replicas: int, ready: int, image: str,
                   created: float, resources: dict | None = None) -> dict:
        labels = {"app": name}
        container = {"image": image, "name": name, "resources": resources or {}}
        return {"apiVersion": "apps/v1", "kind": "Deployment",
                "metadata": self.meta(name, created, namespace, labels=labels),
                "spec": {"replicas": replicas, "selector": {"matchLabels": labels},
                         "template": {"metadata": {"labels": labels},
                                      "spec": {"containers": [container]}}},
                "status": {"replicas": replicas, "readyReplicas": ready,
                           "availableReplicas": ready, "updatedReplicas": replicas}}

    def pod(self, name: str, namespace: str, app: str, created: float, *, image: str,
            node: str = "", ip: str = "", owner: tuple[str, str] | None = None,
            resources: dict | None = None, state: dict | None = None,
            last_state: dict | None = None, restarts: int = 0, ready: bool = True,
            phase: str = "Running", unschedulable: tuple[float, str] | None = None,
            deleting_at: float | None = None) -> dict:
        """A pod; ``state``/``last_state`` are containerStatuses states as the API has them;
        ``unschedulable`` = (since, scheduler message) makes it Pending and unplaced."""
        extra = {"labels": {"app": app}}
        if owner:
            extra["ownerReferences"] = [{"apiVersion": "apps/v1", "blockOwnerDeletion": True,
                                         "controller": True, "kind": owner[0],
                                         "name": owner[1], "uid": new_uid(self.rng)}]
        if deleting_at is not None:
            extra["deletionTimestamp"] = Clock.kube(deleting_at)
            extra["deletionGracePeriodSeconds"] = 30
        container = {"image": image, "name": app, "resources": resources or {}}
        spec = {"containers": [container], "restartPolicy": "Always",
                "schedulerName": "default-scheduler", "terminationGracePeriodSeconds": 30}
        if unschedulable is not None:
            since, message = unschedulable
            status = {"phase": "Pending", "qosClass": "Burstable", "conditions": [{
                "lastProbeTime": None, "lastTransitionTime": Clock.kube(since),
                "message": message, "reason": "Unschedulable", "status": "False",
                "type": "PodScheduled"}]}
            return {"apiVersion": "v1", "kind": "Pod",
                    "metadata": self.meta(name, created, namespace, **extra),
                    "spec": spec, "status": status}
        spec["nodeName"] = node
        started = state or {"running": {"startedAt": Clock.kube(created + 8)}}
        status = {"phase": phase, "podIP": ip, "podIPs": [{"ip": ip}], "qosClass": "Burstable",
                  "startTime": Clock.kube(created),
                  "conditions": [{"lastProbeTime": None, "lastTransitionTime":
                                  Clock.kube(created + 10),
                                  "status": "True" if ready or kind == "PodScheduled"
                                  else "False", "type": kind}
                                 for kind in ("Initialized", "Ready", "ContainersReady",
                                              "PodScheduled")],
                  "containerStatuses": [{
                      "image": image, "imageID": "" if "waiting" in started else
                      f"docker-pullable://{image.split(':')[0]}@sha256:"
                      + self.rng.bytes(32).hex(), "lastState": last_state or {},
                      "name": app, "ready": ready, "restartCount": restarts,
                      "started": "running" in started, "state": started}]}
        return {"apiVersion": "v1", "kind": "Pod",
                "metadata": self.meta(name, created, namespace, **extra),
                "spec": spec, "status": status}

    def event(self, obj: dict, reason: str, message: str, first: float, *,
              last: float | None = None, count: int = 1, warning: bool = True,
              component: str = "kubelet", host: str = "") -> dict:
        meta = obj["metadata"]
        ns = meta.get("namespace", "default")
        involved = {"apiVersion": obj.get("apiVersion", "v1"), "kind": obj["kind"],
                    "name": meta["name"], "namespace": ns, "uid": meta["uid"]}
        source = {"component": component, **({"host": host} if host else {})}
        name = f"{meta['name']}.{round(first * 1e9):x}"
        return {"apiVersion": "v1", "count": count, "eventTime": None,
                "firstTimestamp": Clock.kube(first), "involvedObject": involved,
                "kind": "Event", "lastTimestamp": Clock.kube(last if last else first),
                "message": message, "metadata": self.meta(name, first, ns), "reason": reason,
                "reportingComponent": "", "reportingInstance": "", "source": source,
                "type": "Warning" if warning else "Normal"}


def dump(items: list[dict]) -> str:
    """The mixed ``List`` kubectl prints for ``get a,b,c -A -o json``."""
    return json.dumps({"apiVersion": "v1", "items": items, "kind": "List",
                       "metadata": {"resourceVersion": ""}}, indent=2) + "\n"
