"""An OOM loop: a model server killed at its memory limit, again and again.

Not a seed post-mortem of its own but the failure seeds 002 and 004 brush against (a
training or serving process that outgrows its container). The world: one ranking
server behind ingress-nginx with ``limits.memory``; at ``loop_at`` a client starts
sending large batches, each pushes the working set to the limit, the kernel kills the
process (``OOMKilled``, exit 137), kubelet restarts it with a growing back-off, and while
it is down the ingress answers 502 at once. cAdvisor's working set (OpenMetrics, 30 s
scrapes) climbs to the limit before each kill. node-problem-detector reports each kill
as an ``OOMKilling`` event on the node.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from rca.replay.k8s import K8s, dump
from rca.replay.worldio import expected_json, setup, write_lines, write_text
from rca.replay.writers import Clock, ingress_line, labels, om_family

__all__ = ["OomWorld"]

_GI = 2**30


@dataclass(frozen=True)
class OomWorld:
    name: str = "oom-loop"
    seed: int = 5
    zone: str = "Europe/Berlin"
    since: str = "2023-02-07T08:00:00"
    hours: float = 3.0
    namespace: str = "search"
    service: str = "ranker"
    node: str = "cpu-node-07"
    limit_gib: int = 8
    per_min: float = 40.0
    loop_at: float | None = 1.2  # hours after since; None: a quiet day
    kills: int = 4

    def write(self, out_dir: Path) -> Path:
        w = setup(self, out_dir, 50)
        out, clock, rng, since, until = w.out, w.clock, w.rng, w.since, w.until
        k = K8s(rng)
        kills = self._kill_times(since)
        downs = [(t, t + 10.0 * 2**i) for i, t in enumerate(kills)]  # restart back-off
        rs = f"{self.service}-{k.token(10)}"
        pod_name, ip = f"{rs}-{k.token(5)}", "10.244.7.41"
        write_lines(out / "logs" / "ingress-nginx.log",
                    self._traffic(rng, clock, since, until, downs, ip))
        write_lines(out / "metrics" / "cadvisor.om",
                    [*self._working_set(rng, since, until, kills, pod_name), "# EOF"])
        write_text(out / "kube" / "cluster.json",
                   self._cluster(k, since, kills, downs, rs, pod_name, ip))
        incidents = ([(kills[0], downs[-1][1], "memory.oom_kill", [],
                       f"deployment/{self.namespace}/{self.service}")] if kills else [])
        write_text(out / "expected.json", expected_json(
            clock, since, until, self.zone, incidents,
            {"scenario": self.name, "seed": self.seed, "oom_kills": len(kills)}))
        return out

    def _kill_times(self, since: float) -> list[float]:
        if self.loop_at is None:
            return []
        start = since + self.loop_at * 3600
        return [start + 90.0 * i + 10.0 * (2**i - 1) for i in range(self.kills)]

    def _traffic(self, rng, clock: Clock, since: float, until: float,
                 downs: list[tuple[float, float]], ip: str) -> list[str]:
        callers = [f"10.70.3.{rng.integers(2, 250)}" for _ in range(8)]
        lines, t = [], since
        while True:
            t += rng.exponential(60.0 / self.per_min)
            if t >= until:
                break
            down = any(a <= t < b for a, b in downs)
            took = float(rng.uniform(0.001, 0.004)) if down else float(rng.gamma(5.0, 0.03))
            status = 502 if down else 200
            lines.append((t + took, ingress_line(
                remote_addr=callers[int(rng.integers(len(callers)))],
                time_local=clock.nginx(t + took), path="/rank", status=status,
                body=150 if down else int(rng.integers(400, 3000)),
                request_length=int(rng.integers(800, 9000)), request_time=took,
                upstream_name=f"{self.namespace}-{self.service}-8000",
                upstream_addr=f"{ip}:8000", upstream_time=took, req_id=rng.bytes(16).hex())))
        return [x for _, x in sorted(lines)]

    def _working_set(self, rng, since: float, until: float, kills: list[float],
                     pod: str) -> list[str]:
        stamps = np.arange(int(since), int(until), 30, dtype=np.int64)
        limit = self.limit_gib * _GI
        base = 0.45 * limit + rng.normal(0, 0.01 * limit, len(stamps))
        for t in kills:  # the climb of the two minutes before each kill
            near = (stamps > t - 120) & (stamps <= t)
            base[near] = limit * (0.9 + 0.1 * (1 - (t - stamps[near]) / 120.0))
        text = labels({"container": self.service, "namespace": self.namespace, "pod": pod,
                       "image": f"registry.local/search/{self.service}:4.2.0"})
        return om_family("container_memory_working_set_bytes", "gauge",
                         "Current working set of the container in bytes",
                         [("container_memory_working_set_bytes", text, stamps,
                           np.minimum(base, limit))])

    def _cluster(self, k: K8s, since: float, kills: list[float], downs, rs: str,
                 pod_name: str, ip: str) -> str:
        resources = {"limits": {"cpu": "4", "memory": f"{self.limit_gib}Gi"},
                     "requests": {"cpu": "2", "memory": f"{self.limit_gib // 2}Gi"}}
        image = f"registry.local/search/{self.service}:4.2.0"
        node = k.node(self.node, "10.70.0.17", since - 100 * 86400, cpu=16, memory_gib=64)
        last_state, state = {}, None
        if kills:
            last_state = {"terminated": {"containerID": "containerd://" + k.token(20),
                                         "exitCode": 137, "reason": "OOMKilled",
                                         "startedAt": Clock.kube(downs[-2][1] if len(downs) > 1
                                                                 else since - 86400),
                                         "finishedAt": Clock.kube(kills[-1])}}
            state = {"running": {"startedAt": Clock.kube(downs[-1][1])}}
        pod = k.pod(pod_name, self.namespace, self.service, since - 5 * 86400, image=image,
                    node=self.node, ip=ip, owner=("ReplicaSet", rs), resources=resources,
                    state=state, last_state=last_state, restarts=len(kills))
        items = [node, k.deployment(self.service, self.namespace, 1, 1, image,
                                    since - 50 * 86400, resources), pod]
        for i, t in enumerate(kills):
            pid = 30000 + 17 * i
            items.append(k.event(node, "OOMKilling", f"Memory cgroup out of memory: Killed "
                                 f"process {pid} (python3) total-vm:{self.limit_gib * 1100000}"
                                 f"kB, anon-rss:{self.limit_gib * 1040000}kB, file-rss:0kB, "
                                 "shmem-rss:0kB, UID:1000 pgtables:17000kB oom_score_adj:996",
                                 t + 0.5, component="kernel-monitor", host=self.node))
        if len(kills) > 1:
            items.append(k.event(pod, "BackOff", "Back-off restarting failed container",
                                 downs[1][0] + 1, last=downs[-1][0] + 1, count=len(kills) - 1,
                                 host=self.node))
        return dump(items)
