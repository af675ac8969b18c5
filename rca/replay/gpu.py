"""Seed 003's GPU platform: operator pods Pending through fragmentation.

The world: GPU nodes of ``gpus_per_node`` devices; operator pods (Deployments of one
replica, as the Ragnaros platform packs them) arrive one by one and the scheduler puts
each on the first node with room, in arrival order (what the default scoring amounts to
once nodes fill). With 2 x 8 GPUs and pods of 4, 3, 4, 5 arriving in that order, the 4
and the 3 share a node, the second 4 takes the other, and the 5 finds 1 and 4 GPUs free:
it waits, ``FailedScheduling`` every scheduler retry, ``PodScheduled=False``, although
5 + 3 and 4 + 4 would hold everything. Pods listed in ``quick`` are the decoy: they
arrive while the nodes are full, fail scheduling once and are placed ``quick_after_s``
later when a finished batch pod frees its GPUs.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from rca.replay.k8s import K8s, dump
from rca.replay.worldio import expected_json, setup, write_lines, write_text
from rca.replay.writers import Clock, ingress_line

__all__ = ["GpuWorld"]

_IMAGE = "harbor.ragnaros.local/operators/{}:1.4.2"


@dataclass(frozen=True)
class GpuWorld:
    name: str = "gpu-fragmentation"
    seed: int = 3
    zone: str = "Asia/Shanghai"
    since: str = "2022-03-08T14:00:00"
    hours: float = 3.0
    namespace: str = "ragnaros-operators"
    nodes: tuple[str, ...] = ("gpu-a100-01", "gpu-a100-02")
    gpus_per_node: int = 8
    # (operator name, GPUs, minutes after since): in arrival order
    arrivals: tuple[tuple[str, int, float], ...] = (
        ("ocr-detector", 4, 20.0), ("defect-seg", 3, 26.0), ("face-embed", 4, 33.0),
        ("video-caption", 5, 41.0))
    quick: tuple[tuple[str, int, float], ...] = ()  # decoy: placed seconds after failing
    quick_after_s: float = 20.0
    retry_s: float = 60.0  # the scheduler's back-off for an unschedulable pod, at most
    expected_cause: str = "scheduling.gpu_fragmentation"
    cronjob_crashloop_at: float | None = None  # minutes after since: a cronjob's run that
    # crash-loops and gives up (a Job's pod: nobody calls it)

    def write(self, out_dir: Path) -> Path:
        w = setup(self, out_dir, 30)
        out, clock, rng, since, until = w.out, w.clock, w.rng, w.since, w.until
        k = K8s(rng)
        free = {n: self.gpus_per_node for n in self.nodes}
        items = [k.node(n, f"10.30.1.{11 + i}", since - 90 * 86400, cpu=96, memory_gib=1024,
                        gpus=self.gpus_per_node) for i, n in enumerate(self.nodes)]
        events, pending, serving = [], [], []
        for name, gpus, minutes in self.arrivals:
            t = since + minutes * 60
            node = next((n for n in self.nodes if free[n] >= gpus), None)
            pod, evs = self._operator(k, name, gpus, t, node, until, free)
            items += pod
            events += evs
            if node is None:
                pending.append((t, f"pod/{self.namespace}/{pod[1]['metadata']['name']}"))
            else:
                free[node] -= gpus
                serving.append((name, t, pod[1]["status"]["podIP"]))
        for name, gpus, minutes in self.quick:
            t = since + minutes * 60
            node = self.nodes[-1]
            pod, evs = self._operator(k, name, gpus, t, node, until, free, quick=True)
            items += pod
            events += evs
        if self.cronjob_crashloop_at is not None:
            events += self._cronjob(k, since + self.cronjob_crashloop_at * 60)
        write_text(out / "kube" / "cluster.json", dump(events + items))
        write_lines(out / "logs" / "ingress-nginx.log", self._traffic(rng, clock, serving, until))
        # the waiting pod is what to act on when there is one
        entity = pending[0][1] if len(pending) == 1 else ""
        incidents = ([(pending[0][0], until - 30.0, self.expected_cause, [], entity)]
                     if pending else [])
        write_text(out / "expected.json", expected_json(
            clock, since, until, self.zone, incidents,
            {"scenario": self.name, "seed": self.seed, "pending_pods": len(pending),
             "free_gpus_at_end": free}))
        return out

    def _cronjob(self, k: K8s, t: float) -> list[dict]:
        job_name = f"model-sync-{int(t // 60)}"
        job = {"apiVersion": "batch/v1", "kind": "Job",
               "metadata": k.meta(job_name, t, self.namespace)}
        pod = {"apiVersion": "v1", "kind": "Pod",
               "metadata": k.meta(f"{job_name}-{k.token(5)}", t, self.namespace)}
        return [k.event(job, "SuccessfulCreate", f"Created pod: {pod['metadata']['name']}",
                        t, warning=False, component="job-controller"),
                k.event(pod, "BackOff", "Back-off restarting failed container", t + 30,
                        last=t + 400, count=8, host=self.nodes[0]),
                k.event(job, "BackoffLimitExceeded", "Job has reached the specified backoff "
                        "limit", t + 420, component="job-controller")]

    def _traffic(self, rng, clock: Clock, serving: list, until: float) -> list[str]:
        """The platform's inference calls to the operators that run: healthy all day."""
        lines = []
        for name, start, ip in serving:
            t = start + 60.0
            while True:
                t += rng.exponential(6.0)
                if t >= until:
                    break
                took = float(rng.gamma(3.0, 0.04))
                lines.append((t + took, ingress_line(
                    remote_addr=f"10.30.8.{rng.integers(2, 60)}", time_local=clock.nginx(t + took),
                    path=f"/v1/models/{name}:predict", status=200,
                    body=int(rng.integers(300, 2000)), request_length=int(rng.integers(2e4, 3e5)),
                    request_time=took, upstream_name=f"{self.namespace}-{name}-8501",
                    upstream_addr=f"{ip}:8501", upstream_time=max(0.001, took - 0.002),
                    req_id=rng.bytes(16).hex())))
        return [line for _, line in sorted(lines)]

    def _operator(self, k: K8s, name: str, gpus: int, t: float, node: str | None,
                  until: float, free: dict[str, int], quick: bool = False):
        rs = f"{name}-{k.token(10)}"
        pod_name = f"{rs}-{k.token(5)}"
        image = _IMAGE.format(name)
        resources = {"limits": {"nvidia.com/gpu": str(gpus), "cpu": str(4 * gpus),
                                "memory": f"{16 * gpus}Gi"},
                     "requests": {"nvidia.com/gpu": str(gpus), "cpu": str(2 * gpus),
                                  "memory": f"{8 * gpus}Gi"}}
        deployment = k.deployment(name, self.namespace, 1, 0 if node is None else 1, image,
                                  t - 5, resources)
        total = len(self.nodes)
        message = (f"0/{total} nodes are available: {total} Insufficient nvidia.com/gpu. "
                   f"preemption: 0/{total} nodes are available: {total} No preemption "
                   "victims found for incoming pod.")
        if node is None:
            pod = k.pod(pod_name, self.namespace, name, t, image=image, owner=("ReplicaSet", rs),
                        resources=resources, unschedulable=(t, message))
            retries = max(1, int((until - 30.0 - t) // self.retry_s))
            events = [k.event(pod, "FailedScheduling", message, t, last=until - 30.0,
                              count=retries, component="default-scheduler")]
            return [deployment, pod], events
        placed = t + (self.quick_after_s if quick else 0.4)
        pod = k.pod(pod_name, self.namespace, name, t, image=image, node=node,
                    ip=f"10.244.{self.nodes.index(node) + 1}.{int(t) % 200 + 20}",
                    owner=("ReplicaSet", rs), resources=resources)
        events = [k.event(pod, "Scheduled", f"Successfully assigned {self.namespace}/"
                          f"{pod_name} to {node}", placed, warning=False,
                          component="default-scheduler")]
        if quick:
            events.insert(0, k.event(pod, "FailedScheduling", message, t,
                                     component="default-scheduler"))
        return [deployment, pod], events
