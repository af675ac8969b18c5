"""Kubernetes API objects (Node, Deployment, Pod, Event) as the API server returns them.

Why this much detail: the rules read replica counts, probe settings, pod IPs and events
from real API objects, so the objects carry the real field names and the real defaults
(the CoreDNS probes are those of the kubeadm manifest of Kubernetes 1.19, the release
current in August 2021). Which objects exist, and which events happen, is decided in
``cluster``; this module only knows their shape.
"""

from __future__ import annotations

import uuid

import numpy as np

from rca.replay.spec import ScenarioSpec
from rca.replay.writers import Clock

__all__ = ["DAY", "ObjectFactory", "new_uid", "token"]

_SAFE = "bcdfghjklmnpqrstvwxz2456789"  # the alphabet of generated Kubernetes names
DAY = 86400.0
_COREDNS_IMAGE = "k8s.gcr.io/coredns:1.7.0"


def token(rng: np.random.Generator, n: int) -> str:
    """A suffix like the ones ReplicaSets and Pods get (``coredns-74ff55c5b-x2k9q``)."""
    return "".join(_SAFE[i] for i in rng.integers(len(_SAFE), size=n))


def new_uid(rng: np.random.Generator) -> str:
    return str(uuid.UUID(bytes=rng.bytes(16), version=4))


class ObjectFactory:
    """Holds the random source so every object gets stable uids and resource versions."""

    def __init__(self, spec: ScenarioSpec, clock: Clock, seed: int) -> None:
        self.spec, self.clock = spec, clock
        self.rng = np.random.default_rng([seed, 6])
        self.since = clock.epoch(spec.since)

    def meta(self, name: str, created: float, namespace: str | None = None, **extra) -> dict:
        meta = {"creationTimestamp": Clock.kube(created), "name": name}
        if namespace:
            meta["namespace"] = namespace
        meta["resourceVersion"] = str(int(self.rng.integers(10**5, 10**7)))
        meta["uid"] = new_uid(self.rng)
        return {**meta, **extra}

    def node(self, i: int, node, reboot: float | None) -> dict:
        created = self.since - 400 * DAY + i * 3600
        role = {"node-role.kubernetes.io/master": ""} if node.role == "master" else {}
        ip_of = {"master": self.spec.dns.coredns_ips[0],
                 "inference": self.spec.services[0].pod_ip}.get(node.role)
        cidr = (ip_of.rsplit(".", 1)[0] + ".0/24") if ip_of else f"10.244.{10 + i}.0/24"
        capacity = {"cpu": str(node.cpu), "ephemeral-storage": "959863856Ki",
                    "hugepages-1Gi": "0", "hugepages-2Mi": "0",
                    "memory": f"{node.memory_gib * 1048576}Ki", "pods": "110"}
        ready = Clock.kube(reboot if reboot else created + 120)
        conditions = [
            {"lastHeartbeatTime": Clock.kube(self.since), "lastTransitionTime": ready,
             "message": msg, "reason": reason, "status": status, "type": kind}
            for kind, status, reason, msg in (
                ("MemoryPressure", "False", "KubeletHasSufficientMemory",
                 "kubelet has sufficient memory available"),
                ("DiskPressure", "False", "KubeletHasNoDiskPressure",
                 "kubelet has no disk pressure"),
                ("PIDPressure", "False", "KubeletHasSufficientPID",
                 "kubelet has sufficient PID available"),
                ("Ready", "True", "KubeletReady", "kubelet is posting ready status"))]
        labels = {"beta.kubernetes.io/arch": "amd64", "beta.kubernetes.io/os": "linux",
                  "kubernetes.io/arch": "amd64", "kubernetes.io/hostname": node.name,
                  "kubernetes.io/os": "linux", **role}
        return {
            "apiVersion": "v1", "kind": "Node",
            "metadata": self.meta(node.name, created, labels=labels),
            "spec": {"podCIDR": cidr, "podCIDRs": [cidr]},
            "status": {
                "addresses": [{"address": node.ip, "type": "InternalIP"},
                              {"address": node.name, "type": "Hostname"}],
                "allocatable": capacity, "capacity": capacity, "conditions": conditions,
                "nodeInfo": {"architecture": "amd64", "containerRuntimeVersion":
                             "docker://19.3.15", "kernelVersion":
                             "3.10.0-1160.36.2.el7.x86_64", "kubeProxyVersion": "v1.19.8",
                             "kubeletVersion": "v1.19.8", "operatingSystem": "linux",
                             "osImage": "CentOS Linux 7 (Core)"}}}

    @staticmethod
    def probe(path: str, port: int, timeout: int, failures: int, delay: int = 0) -> dict:
        probe = {"failureThreshold": failures, "httpGet": {"path": path, "port": port,
                 "scheme": "HTTP"}, "periodSeconds": 10, "successThreshold": 1,
                 "timeoutSeconds": timeout}
        return {**probe, "initialDelaySeconds": delay} if delay else probe

    def containers(self, app: str) -> list[dict]:
        if app == "coredns":
            return [{"args": ["-conf", "/etc/coredns/Corefile"], "image": _COREDNS_IMAGE,
                     "livenessProbe": self.probe("/health", 8080, 5, 5, delay=60),
                     "name": "coredns",
                     "ports": [{"containerPort": 53, "name": "dns", "protocol": "UDP"},
                               {"containerPort": 53, "name": "dns-tcp", "protocol": "TCP"},
                               {"containerPort": 9153, "name": "metrics", "protocol": "TCP"}],
                     "readinessProbe": self.probe("/ready", 8181, 1, 3),
                     "resources": {"limits": {"memory": "170Mi"},
                                   "requests": {"cpu": "100m", "memory": "70Mi"}}}]
        port = next(v.port for v in self.spec.services if v.name == app)
        return [{"image": f"registry.local/inference/{app}:v2.3.1",
                 "livenessProbe": self.probe("/healthz", port, 1, 3, delay=30),
                 "name": app, "ports": [{"containerPort": port, "protocol": "TCP"}],
                 "readinessProbe": self.probe("/healthz", port, 1, 3, delay=10),
                 "resources": {"limits": {"cpu": "8", "memory": "16Gi"},
                               "requests": {"cpu": "4", "memory": "8Gi"}}}]

    def deployment(self, app: str, namespace: str, replicas: int, labels: dict) -> dict:
        status = {"availableReplicas": replicas, "observedGeneration": 1,
                  "readyReplicas": replicas, "replicas": replicas, "updatedReplicas": replicas,
                  "conditions": [{"lastTransitionTime": Clock.kube(self.since - 20 * DAY),
                                  "lastUpdateTime": Clock.kube(self.since - 20 * DAY),
                                  "message": "Deployment has minimum availability.",
                                  "reason": "MinimumReplicasAvailable", "status": "True",
                                  "type": "Available"}]}
        return {"apiVersion": "apps/v1", "kind": "Deployment",
                "metadata": self.meta(app, self.since - 30 * DAY, namespace, generation=1,
                                      labels=labels, annotations={
                                          "deployment.kubernetes.io/revision": "1"}),
                "spec": {"replicas": replicas, "selector": {"matchLabels": labels},
                         "template": {"metadata": {"labels": labels},
                                      "spec": {"containers": self.containers(app)}}},
                "status": status}

    def pod(self, name: str, app: str, namespace: str, node, ip: str, labels: dict) -> dict:
        started = self.since - float(self.rng.uniform(3, 12)) * DAY
        rs = name.rsplit("-", 1)[0]
        owner = [{"apiVersion": "apps/v1", "blockOwnerDeletion": True, "controller": True,
                  "kind": "ReplicaSet", "name": rs,
                  "uid": new_uid(self.rng)}]
        containers = self.containers(app)
        status = {"containerStatuses": [{
            "containerID": "docker://" + self.rng.bytes(32).hex(), "image": c["image"],
            "imageID": "docker-pullable://" + c["image"].split(":")[0] + "@sha256:"
            + self.rng.bytes(32).hex(), "lastState": {}, "name": c["name"], "ready": True,
            "restartCount": 0, "started": True,
            "state": {"running": {"startedAt": Clock.kube(started + 5)}}} for c in containers],
            "hostIP": node.ip, "phase": "Running", "podIP": ip, "podIPs": [{"ip": ip}],
            "qosClass": "Burstable", "startTime": Clock.kube(started),
            "conditions": [{"lastProbeTime": None, "lastTransitionTime": Clock.kube(started + 12),
                            "status": "True", "type": kind}
                           for kind in ("Initialized", "Ready", "ContainersReady",
                                        "PodScheduled")]}
        spec = {"containers": containers, "dnsPolicy": "Default" if app == "coredns"
                else "ClusterFirst", "nodeName": node.name, "restartPolicy": "Always",
                "schedulerName": "default-scheduler", "terminationGracePeriodSeconds": 30}
        return {"apiVersion": "v1", "kind": "Pod",
                "metadata": self.meta(name, started, namespace, generateName=rs + "-",
                                      labels=labels, ownerReferences=owner),
                "spec": spec, "status": status}

    def event(self, obj: dict, reason: str, message: str, first: float, *, kind: str = "Pod",
              warning: bool = False, count: int = 1, last: float | None = None,
              host: str | None = None, component: str = "kubelet",
              field_path: str | None = None) -> dict:
        ns = obj.get("namespace", "default")
        involved = {"apiVersion": "batch/v1" if kind == "Job" else "v1", "kind": kind,
                    "name": obj["name"], "uid": obj["uid"]}
        if kind != "Node":
            involved["namespace"] = ns
        if field_path:
            involved["fieldPath"] = field_path
        source = {"component": component, **({"host": host} if host else {})}
        name = f"{obj['name']}.{round(first * 1e9):x}"
        return {"apiVersion": "v1", "count": count, "eventTime": None,
                "firstTimestamp": Clock.kube(first),
                "involvedObject": involved, "kind": "Event",
                "lastTimestamp": Clock.kube(last if last is not None else first),
                "message": message, "metadata": self.meta(name, first, ns),
                "reason": reason, "reportingComponent": "", "reportingInstance": "",
                "source": source, "type": "Warning" if warning else "Normal"}
