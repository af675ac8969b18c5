"""Which Kubernetes objects the day has, and what the cluster recorded about it.

Why the events are harmless on purpose: a real ``kubectl get events`` is never empty, and
a rule that blames whatever Warning it finds would look right on a clean fixture. So the
day has a cronjob's routine runs, one crash-looping run hours away from any incident,
and a node reboot; a rule that blames any of them for a timeout is wrong.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import numpy as np

from rca.replay.kube import ObjectFactory, new_uid, token
from rca.replay.nodes import REBOOT_DOWN_S
from rca.replay.spec import ScenarioSpec
from rca.replay.writers import Clock

__all__ = ["ClusterNames", "cluster_json", "cluster_names"]

_CRON = "log-rotate"
_CRON_NAMESPACE = "ops"
_CRON_IMAGE = "busybox:1.33.1"


@dataclass(frozen=True)
class ClusterNames:
    """Pod names shared by the API objects and the metrics' ``pod`` label."""

    coredns_rs: str
    coredns_pods: tuple[tuple[str, str], ...]  # (pod name, pod IP)
    inference_pods: tuple[str, ...]  # one per service, in spec order


def cluster_names(spec: ScenarioSpec, seed: int) -> ClusterNames:
    rng = np.random.default_rng([seed, 5])
    rs = token(rng, 10)
    pods = tuple((f"coredns-{rs}-{token(rng, 5)}", spec.dns.coredns_ips[i])
                 for i in range(spec.dns.coredns_replicas))
    inference = tuple(f"{v.name}-{token(rng, 10)}-{token(rng, 5)}" for v in spec.services)
    return ClusterNames(rs, pods, inference)


def cluster_json(spec: ScenarioSpec, clock: Clock, names: ClusterNames, seed: int) -> str:
    """The mixed ``List`` of ``kubectl get events,pods,nodes,deployments -A -o json``."""
    f = ObjectFactory(spec, clock, seed)
    reboot = clock.epoch(spec.noise.reboot_at) if spec.noise.reboot_node else None
    nodes = [f.node(i, n, reboot + REBOOT_DOWN_S
                    if reboot is not None and n.name == spec.noise.reboot_node else None)
             for i, n in enumerate(spec.nodes)]
    master, inference = spec.node("master"), spec.node("inference")
    dns_labels = {"k8s-app": "kube-dns"}
    deployments = [f.deployment("coredns", "kube-system", spec.dns.coredns_replicas,
                                dns_labels)]
    pods = [f.pod(name, "coredns", "kube-system", master, ip,
                  {**dns_labels, "pod-template-hash": names.coredns_rs})
            for name, ip in names.coredns_pods]
    for service, pod in zip(spec.services, names.inference_pods, strict=True):
        app = {"app": service.name}
        deployments.append(f.deployment(service.name, spec.namespace, 1, app))
        pods.append(f.pod(pod, service.name, spec.namespace, inference, service.pod_ip,
                          {**app, "pod-template-hash": pod.split("-")[-2]}))
    events = _cronjob_events(spec, clock, f) + _reboot_events(spec, f, reboot)

    def by_name(items: list[dict]) -> list[dict]:
        return sorted(items, key=lambda o: (o["metadata"].get("namespace", ""),
                                            o["metadata"]["name"]))

    doc = {"apiVersion": "v1",
           "items": [*by_name(events), *by_name(pods), *by_name(nodes), *by_name(deployments)],
           "kind": "List", "metadata": {"resourceVersion": "", "selfLink": ""}}
    return json.dumps(doc, indent=4) + "\n"


def _cronjob_events(spec: ScenarioSpec, clock: Clock, f: ObjectFactory) -> list[dict]:
    """A log-rotation CronJob every few hours; one run crash-loops and gives up."""
    worker = next((n for n in spec.nodes if n.role == "worker"), spec.node("master"))
    since, until = clock.epoch(spec.since), clock.epoch(spec.until)
    every = spec.noise.cronjob_every_h * 3600.0
    container = f"spec.containers{{{_CRON}}}"
    out = []
    for run, t in enumerate(np.arange(since + 2 * 3600.0, until - 900.0, every).tolist()):
        job = {"name": f"{_CRON}-{int(t // 60)}", "namespace": _CRON_NAMESPACE,
               "uid": new_uid(f.rng)}
        pod = {"name": f"{job['name']}-{token(f.rng, 5)}", "namespace": _CRON_NAMESPACE,
               "uid": new_uid(f.rng)}
        on_node = {"host": worker.name, "field_path": container}
        out += [
            f.event(job, "SuccessfulCreate", f"Created pod: {pod['name']}", t + 0.2,
                    kind="Job", component="job-controller"),
            f.event(pod, "Scheduled", f"Successfully assigned {_CRON_NAMESPACE}/{pod['name']}"
                    f" to {worker.name}", t + 0.3, component="default-scheduler"),
            f.event(pod, "Pulled", f'Container image "{_CRON_IMAGE}" already present on '
                    "machine", t + 1.9, count=1, **on_node),
            f.event(pod, "Created", f"Created container {_CRON}", t + 2.1, **on_node),
            f.event(pod, "Started", f"Started container {_CRON}", t + 2.6, **on_node),
        ]
        if run == spec.noise.cronjob_backoff_run:
            out += [
                f.event(pod, "BackOff", "Back-off restarting failed container", t + 31.0,
                        warning=True, count=7, last=t + 370.0, **on_node),
                f.event(job, "BackoffLimitExceeded", "Job has reached the specified backoff "
                        "limit", t + 395.0, kind="Job", warning=True,
                        component="job-controller"),
            ]
        else:
            out.append(f.event(job, "Completed", "Job completed", t + 11.0, kind="Job",
                               component="job-controller"))
    return out


def _reboot_events(spec: ScenarioSpec, f: ObjectFactory, reboot: float | None) -> list[dict]:
    """What the kubelet reports when its node comes back (Node events use the name as uid)."""
    if reboot is None:
        return []
    name = spec.noise.reboot_node
    node = {"name": name, "uid": name}
    up = reboot + REBOOT_DOWN_S
    boot_id = new_uid(f.rng)
    return [
        f.event(node, "Starting", "Starting kubelet.", up - 20.0, kind="Node", host=name),
        f.event(node, "Rebooted", f"Node {name} has been rebooted, boot id: {boot_id}",
                up - 19.0, kind="Node", warning=True, host=name),
        f.event(node, "NodeReady", f"Node {name} status is now: NodeReady", up - 8.0,
                kind="Node", host=name),
    ]
