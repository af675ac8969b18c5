"""Kubernetes-shaped records of what the lab runs, as ``kubectl get … -o json`` prints them.

Why: rca reads a cluster through its API objects (which pod runs on which node with which
IP, restarts and their reasons, probe settings, which backends a Service lists). The lab
has no cluster, so it writes the objects a cluster would hold for the same processes:
each lab namespace is a Node, each service process a Pod (its IP the namespace's
address), the DNS server a one-replica ``kube-dns`` Deployment, and what happens to a
process (a probe kill, an OOM kill, a restart) becomes the Events and container statuses
the kubelet would have written. Field names, reasons and messages are the API server's
and the kubelet's own (Kubernetes 1.22+).

Files (written at the end of a run, into ``<run>/kube/``): ``pods.json``, ``nodes.json``,
``workloads.json`` (Deployments, Services, Endpoints) and ``events.json``, each a ``List``.
"""

from __future__ import annotations

import hashlib
import json
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

__all__ = ["KUBE_NAMESPACE", "Kube", "kube_time"]

KUBE_NAMESPACE = "lab"
IMAGE = "registry.local/rca-lab/inference:1.0"


def kube_time(epoch: float) -> str:
    """RFC 3339 in UTC with seconds, as the API server prints metadata times."""
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _uid(*parts: str) -> str:
    return str(uuid.UUID(hashlib.md5("/".join(parts).encode()).hexdigest()))  # noqa: S324


def _meta(name: str, created: float, namespace: str = "", **extra) -> dict:
    meta = {"creationTimestamp": kube_time(created), "name": name,
            "resourceVersion": str(int(created) % 10**7), "uid": _uid(namespace, name)}
    if namespace:
        meta["namespace"] = namespace
    return {**meta, **extra}


@dataclass
class Kube:
    """The objects of one run; scenarios and the prober add to it, ``write`` dumps it."""

    created: float = field(default_factory=time.time)
    nodes: dict[str, dict] = field(default_factory=dict)
    pods: dict[str, dict] = field(default_factory=dict)
    workloads: list[dict] = field(default_factory=list)
    events: list[dict] = field(default_factory=list)
    backends: dict[str, list[dict]] = field(default_factory=dict)

    def node(self, name: str, ip: str) -> dict:
        ready = {"lastHeartbeatTime": kube_time(self.created), "lastTransitionTime":
                 kube_time(self.created), "message": "kubelet is posting ready status",
                 "reason": "KubeletReady", "status": "True", "type": "Ready"}
        capacity = {"cpu": "2", "memory": "8141592Ki", "pods": "110"}
        self.nodes[name] = {
            "apiVersion": "v1", "kind": "Node",
            "metadata": _meta(name, self.created, labels={"kubernetes.io/hostname": name}),
            "spec": {}, "status": {"addresses": [{"address": ip, "type": "InternalIP"},
                                                 {"address": name, "type": "Hostname"}],
                                   "allocatable": capacity, "capacity": capacity,
                                   "conditions": [ready],
                                   "nodeInfo": {"kubeletVersion": "v1.24.17",
                                                "containerRuntimeVersion": "containerd://1.6.20"}}}
        return self.nodes[name]

    def pod(self, app: str, node: str, ip: str, port: int, *, ready: bool = True,
            liveness: dict | None = None, limits: dict | None = None,
            namespace: str = KUBE_NAMESPACE, name: str | None = None) -> dict:
        """A running pod of Deployment ``app`` (one container named ``app``)."""
        name = name or f"{app}-{_uid(app)[:10].replace('-', '')}-{_uid(app, node)[:5]}"
        container = {"name": app, "image": IMAGE,
                     "ports": [{"containerPort": port, "protocol": "TCP"}],
                     "resources": {"limits": limits} if limits else {}}
        if liveness:
            container["livenessProbe"] = liveness
        started = kube_time(self.created)
        conditions = [{"lastProbeTime": None, "lastTransitionTime": started,
                       "status": "True" if ready or kind == "PodScheduled" else "False",
                       "type": kind}
                      for kind in ("Initialized", "Ready", "ContainersReady", "PodScheduled")]
        self.pods[name] = {
            "apiVersion": "v1", "kind": "Pod",
            "metadata": _meta(name, self.created, namespace, labels={"app": app},
                              ownerReferences=[{"apiVersion": "apps/v1", "kind": "ReplicaSet",
                                                "name": name.rsplit("-", 1)[0],
                                                "uid": _uid(app, "rs"), "controller": True,
                                                "blockOwnerDeletion": True}]),
            "spec": {"containers": [container], "nodeName": node, "restartPolicy": "Always",
                     "dnsPolicy": "ClusterFirst", "schedulerName": "default-scheduler"},
            "status": {"phase": "Running", "podIP": ip, "podIPs": [{"ip": ip}],
                       "hostIP": self._node_ip(node), "startTime": started,
                       "qosClass": "Burstable" if limits else "BestEffort",
                       "conditions": conditions,
                       "containerStatuses": [{
                           "name": app, "image": IMAGE, "imageID": f"{IMAGE}@sha256:"
                           + hashlib.sha256(IMAGE.encode()).hexdigest(),
                           "ready": ready, "started": True, "restartCount": 0,
                           "lastState": {}, "state": {"running": {"startedAt": started}}}]}}
        return self.pods[name]

    def restart(self, pod_name: str, reason: str, exit_code: int, at: float) -> None:
        """The container was killed and started again (``lastState.terminated``)."""
        status = self.pods[pod_name]["status"]["containerStatuses"][0]
        started = status["state"].get("running", {}).get("startedAt", kube_time(at))
        status["restartCount"] += 1
        status["lastState"] = {"terminated": {
            "containerID": f"containerd://{_uid(pod_name, str(at)).replace('-', '')}",
            "exitCode": exit_code, "reason": reason, "startedAt": started,
            "finishedAt": kube_time(at)}}
        status["state"] = {"running": {"startedAt": kube_time(at + 1)}}

    def never_started(self, pod_name: str, at: float,
                      image: str = IMAGE.replace(":1.0", ":1.1-broken")) -> None:
        """The pod's image cannot be pulled: it waits, never ready (seed 004's ten
        servers), with the kubelet's events for it."""
        pod = self.pods[pod_name]
        pod["spec"]["containers"][0]["image"] = image
        for cond in pod["status"]["conditions"]:
            if cond["type"] in ("Ready", "ContainersReady"):
                cond.update(status="False", reason="ContainersNotReady",
                            message=f"containers with unready status: "
                                    f"[{pod['spec']['containers'][0]['name']}]")
        status = pod["status"]["containerStatuses"][0]
        status.update(image=image, imageID="", ready=False, started=False, state={
            "waiting": {"reason": "ImagePullBackOff",
                        "message": f'Back-off pulling image "{image}"'}})
        self.event(pod_name, "Failed", f'Failed to pull image "{image}": rpc error: code = '
                   f"NotFound desc = failed to pull and unpack image \"{image}\": not found",
                   at)
        self.event(pod_name, "BackOff", f'Back-off pulling image "{image}"', at, count=3,
                   warning=False)

    def endpoint(self, app: str, ip: str, pod: str, node: str, ready: bool) -> None:
        """A backend of Service ``app`` (its Endpoints come from ``service_for``)."""
        self.backends.setdefault(app, []).append({"ip": ip, "pod": pod, "node": node,
                                                  "ready": ready})

    def service_for(self, app: str, port: int) -> None:
        """The Service of ``app`` and its Endpoints from the backends recorded so far."""
        cluster_ip = f"10.96.0.{10 + sum(1 for w in self.workloads if w['kind'] == 'Service')}"
        self.service(app, cluster_ip, port, self.backends.get(app, []))

    def deployment(self, app: str, replicas: int, ready: int,
                   namespace: str = KUBE_NAMESPACE, labels: dict | None = None) -> dict:
        labels = labels or {"app": app}
        obj = {"apiVersion": "apps/v1", "kind": "Deployment",
               "metadata": _meta(app, self.created, namespace, labels=labels),
               "spec": {"replicas": replicas, "selector": {"matchLabels": labels},
                        "template": {"metadata": {"labels": labels},
                                     "spec": {"containers": [{"name": app, "image": IMAGE}]}}},
               "status": {"replicas": replicas, "readyReplicas": ready,
                          "availableReplicas": ready, "updatedReplicas": replicas}}
        self.workloads.append(obj)
        return obj

    def service(self, app: str, cluster_ip: str, port: int, backends: list[dict],
                namespace: str = KUBE_NAMESPACE) -> None:
        """A Service and its Endpoints; ``backends``: ``{ip, pod, node, ready}``."""
        self.workloads.append({
            "apiVersion": "v1", "kind": "Service",
            "metadata": _meta(app, self.created, namespace, labels={"app": app}),
            "spec": {"type": "ClusterIP", "clusterIP": cluster_ip, "selector": {"app": app},
                     "ports": [{"port": port, "protocol": "TCP", "targetPort": port}]}})

        def address(b):
            return {"ip": b["ip"], "nodeName": b["node"],
                    "targetRef": {"kind": "Pod", "name": b["pod"], "namespace": namespace,
                                  "uid": _uid(namespace, b["pod"])}}
        subset = {"ports": [{"port": port, "protocol": "TCP"}],
                  "addresses": [address(b) for b in backends if b["ready"]]}
        dead = [address(b) for b in backends if not b["ready"]]
        if dead:
            subset["notReadyAddresses"] = dead
        self.workloads.append({"apiVersion": "v1", "kind": "Endpoints",
                               "metadata": _meta(app, self.created, namespace,
                                                 labels={"app": app}),
                               "subsets": [subset]})

    def event(self, pod_name: str, reason: str, message: str, first: float,
              last: float | None = None, count: int = 1, warning: bool = True,
              component: str = "kubelet") -> None:
        """A core/v1 Event about a pod, as the kubelet records it."""
        pod = self.pods[pod_name]
        meta = pod["metadata"]
        node = pod["spec"].get("nodeName", "")
        self.events.append({
            "apiVersion": "v1", "kind": "Event", "count": count, "eventTime": None,
            "firstTimestamp": kube_time(first), "lastTimestamp": kube_time(last or first),
            "involvedObject": {"apiVersion": "v1", "kind": "Pod", "name": meta["name"],
                               "namespace": meta["namespace"], "uid": meta["uid"],
                               "fieldPath": f"spec.containers{{{meta['labels']['app']}}}"},
            "message": message, "reason": reason,
            "metadata": _meta(f"{meta['name']}.{int(first * 1e9):x}", first,
                              meta["namespace"]),
            "reportingComponent": "", "reportingInstance": "",
            "source": {"component": component, "host": node},
            "type": "Warning" if warning else "Normal"})

    def recur(self, pod_name: str, reason: str, message: str, at: float,
              warning: bool = True, component: str = "kubelet") -> dict:
        """An Event the kubelet repeats (``Unhealthy``, ``BackOff``): its event recorder
        folds an identical one about the same object into ``count`` and
        ``lastTimestamp`` (``x4 over 5h`` in ``kubectl describe``) instead of a new one."""
        name = self.pods[pod_name]["metadata"]["name"]
        for event in reversed(self.events):
            if (event["involvedObject"]["name"] == name and event["reason"] == reason
                    and event["message"] == message):
                event["count"] += 1
                event["lastTimestamp"] = kube_time(at)
                return event
        self.event(pod_name, reason, message, at, warning=warning, component=component)
        return self.events[-1]

    def node_event(self, node: str, reason: str, message: str, at: float,
                   component: str) -> None:
        """A Warning about a Node from a node agent: node-problem-detector's
        ``kernel-monitor`` reports each kernel OOM kill as ``OOMKilling`` with the
        kernel's own line as the message."""
        self.events.append({
            "apiVersion": "v1", "kind": "Event", "count": 1, "eventTime": None,
            "firstTimestamp": kube_time(at), "lastTimestamp": kube_time(at),
            "involvedObject": {"kind": "Node", "name": node, "uid": node},
            "message": message, "reason": reason,
            "metadata": _meta(f"{node}.{int(at * 1e9):x}", at, "default"),
            "reportingComponent": "", "reportingInstance": "",
            "source": {"component": component, "host": node}, "type": "Warning"})

    def _node_ip(self, node: str) -> str:
        addresses = self.nodes.get(node, {}).get("status", {}).get("addresses", [])
        return next((a["address"] for a in addresses if a["type"] == "InternalIP"), "")

    def write(self, directory: Path) -> list[Path]:
        directory.mkdir(parents=True, exist_ok=True)
        files = {"nodes.json": list(self.nodes.values()), "pods.json": list(self.pods.values()),
                 "workloads.json": self.workloads, "events.json": self.events}
        paths = []
        for name, items in files.items():
            path = directory / name
            path.write_text(json.dumps({"apiVersion": "v1", "kind": "List", "items": items,
                                        "metadata": {"resourceVersion": ""}}, indent=1) + "\n",
                            encoding="utf-8")
            paths.append(path)
        return paths
