"""The platform world: storage and training workloads on a few nodes, and what breaks them.

Seeds 001 and 002 are not inference stations: Ceph RGW serving Argo artifacts over a slow
LAN, PyTorch training reading from NFS. Their days are written by this World in the layout
of ``docs/scenarios.md``: ``kube/cluster.json`` (as ``kubectl get … -o json`` prints),
``metrics/*.om`` (node_exporter, cAdvisor, kube-state-metrics, 30 s scrapes, OpenMetrics),
``logs/*`` (station JSON lines, ingress-nginx, RGW) and ``expected.json``.

A ``Fault`` is what happened physically (a link filled, a mount hung, a limit bit, a
rollout ran); its effects are drawn here, in the telemetry each tool would have printed.
Nothing is imported from the rules and no threshold of theirs is known here: a fault is
as strong as its ``severity`` says and a decoy's effects are simply absent.
"""

from __future__ import annotations

import hashlib
import json
import zlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from rca.replay.writers import Clock, ingress_line, labels, om_family, station_line

__all__ = ["Fault", "PlatformDay", "PlatformNode", "Workload"]

DAY_S = 86400.0
SCRAPE_S = 30


@dataclass(frozen=True)
class PlatformNode:
    name: str
    ip: str
    link_bytes_per_s: float = 125e6  # 1 Gbit/s
    cpu: int = 32
    node_label: bool = False  # whether scrape relabeling added node="<name>"


@dataclass(frozen=True)
class Workload:
    name: str  # Deployment name (its pods are <name>-<rs>-<id>)
    namespace: str
    node: str
    pod_ip: str
    app: str = ""  # app label; the name when empty
    container: str = ""  # the name when empty
    image: str = "registry.local/app:1.0"
    port: int = 8080
    probe_timeout_s: int = 1
    probe_path: str = "/healthz"
    cpu_limit: str = "4"
    requests_per_hour: float = 0.0  # server-side traffic, 0 = nobody logs requests
    normal_s: float = 0.08  # typical own latency
    server_log: str = "ingress"  # "ingress", "rgw" or ""
    clients: tuple[str, ...] = ()  # callers that log their side (JSON lines)
    client_timeout_s: float = 5.0
    job: bool = False  # a batch Job pod, not a Deployment's


@dataclass(frozen=True)
class Fault:
    """``kind``: saturation, probe_storm, io_stall, nfs_stall, throttling (real faults);
    rollout, batch, idle_saturation (decoys that hurt nobody). ``label`` is the cause the
    answer key expects ('' for a decoy). ``driver`` of a probe storm: saturation or
    throttling. ``restarts``: the affected container crashes (exit 1) instead of slowing."""

    kind: str
    start: str
    minutes: float
    node: str = ""
    workload: str = ""
    severity: float = 1.0
    label: str = ""
    driver: str = "saturation"
    restarts: bool = False


@dataclass(frozen=True)
class PlatformDay:
    name: str
    seed: int
    zone: str
    since: str
    until: str
    nodes: tuple[PlatformNode, ...]
    workloads: tuple[Workload, ...]
    faults: tuple[Fault, ...] = ()
    kube_state_metrics: bool = True
    cadvisor: bool = True
    noise_slow_requests: int = 3  # isolated slow requests, no incident
    aggregate_events: bool = True  # kube aggregates repeats into count/first/last
    extra_events: tuple[dict, ...] = field(default=())

    def write(self, out_dir: Path) -> Path:
        return _Writer(self, Path(out_dir)).write()


class _Writer:
    def __init__(self, day: PlatformDay, out: Path) -> None:
        self.day, self.out = day, out
        self.clock = Clock(day.zone)
        self.t0, self.t1 = self.clock.epoch(day.since), self.clock.epoch(day.until)
        self.stamps = np.arange(int(self.t0) - 3600, int(self.t1), SCRAPE_S, dtype=np.int64)
        self.rng = np.random.default_rng([day.seed, zlib.crc32(day.name.encode())])
        self.pods = {w.name: self._pod_name(w) for w in day.workloads}
        self.kills: dict[str, list[float]] = {w.name: [] for w in day.workloads}
        self.unhealthy: dict[str, list[float]] = {w.name: [] for w in day.workloads}
        self.expected: list[dict] = []

    # -- the fault model ---------------------------------------------------------------
    def _span(self, f: Fault) -> tuple[float, float]:
        a = self.clock.epoch(f.start)
        return a, a + f.minutes * 60.0

    def _active(self, kinds: tuple[str, ...], t: np.ndarray, node: str = "",
                workload: str = "") -> np.ndarray:
        """Severity of the strongest fault of ``kinds`` on ``node``/``workload`` at ``t``."""
        out = np.zeros(len(t))
        for f in self.day.faults:
            if f.kind not in kinds or (node and f.node != node) \
                    or (workload and f.workload != workload):
                continue
            a, b = self._span(f)
            out = np.maximum(out, np.where((t >= a) & (t < b), f.severity, 0.0))
        return out

    def _slowdown(self, w: Workload, t: np.ndarray) -> np.ndarray:
        """How many times slower the workload answers (its own processing)."""
        own = self._active(("io_stall", "nfs_stall"), t, node=w.node) * 25 \
            + self._active(("throttling",), t, workload=w.name) * 20
        storm = np.zeros(len(t))
        for f in self.day.faults:
            if f.kind == "probe_storm" and f.workload == w.name:
                storm = np.maximum(storm, self._active(("probe_storm",), t, workload=w.name))
        return 1.0 + own + storm * (1.15 * w.probe_timeout_s / max(w.normal_s, 1e-3))

    def _wire_delay(self, w: Workload, t: np.ndarray) -> np.ndarray:
        """Seconds lost queueing on a saturated link of the workload's node."""
        sat = self._active(("saturation",), t, node=w.node)
        return sat * self.rng.uniform(3.0, 9.0, len(t))

    # -- writing -----------------------------------------------------------------------
    def write(self) -> Path:
        for sub in ("logs", "metrics", "kube"):
            (self.out / sub).mkdir(parents=True, exist_ok=True)
        for f in self.day.faults:
            if f.kind == "probe_storm" or f.restarts:
                self._storm(f)
        self._requests()
        self._lines("metrics/node.om", self._node_metrics())
        if self.day.cadvisor:
            self._lines("metrics/cadvisor.om", self._cadvisor())
        if self.day.kube_state_metrics:
            self._lines("metrics/kube-state-metrics.om", self._ksm())
        (self.out / "kube" / "cluster.json").write_text(self._cluster(), encoding="utf-8")
        self._expected()
        return self.out

    def _lines(self, rel: str, lines: list[str]) -> None:
        with open(self.out / rel, "w", encoding="utf-8", newline="\n") as fh:
            fh.write("\n".join(lines) + ("\n" if lines else ""))

    def _storm(self, f: Fault) -> None:
        """Probe kills (or crash restarts) every few minutes while the fault lasts: three
        failed probes 10 s apart, a kill, a restart, kubelet's back-off growing."""
        a, b = self._span(f)
        t, backoff = a + float(self.rng.uniform(20, 40)), 10.0
        while t < b:
            if f.kind == "probe_storm":
                self.unhealthy[f.workload] += [t - 20, t - 10, t]
            self.kills[f.workload].append(t)
            t += 30 + backoff + float(self.rng.uniform(0, 60))
            backoff = min(backoff * 2, 300.0)

    def _requests(self) -> None:
        clients: dict[str, list[tuple[float, str]]] = {}
        ingress: list[tuple[float, str]] = []
        rgw: list[tuple[float, str]] = []
        for w in self.day.workloads:
            if w.requests_per_hour <= 0:
                continue
            n = int(self.rng.poisson(w.requests_per_hour * (self.t1 - self.t0 + 3600) / 3600))
            t = np.sort(self.rng.uniform(self.t0 - 3600, self.t1, n))
            own = w.normal_s * self.rng.lognormal(0, 0.35, n) * self._slowdown(w, t)
            noise = self.rng.choice(n, size=min(self.day.noise_slow_requests, n), replace=False)
            own[noise] *= 8
            wire = self._wire_delay(w, t)
            down = self._down(w, t)
            for i in range(n):
                status = 502 if down[i] else 200
                rid = f"{self.rng.integers(16**12):012x}"
                total = own[i] + wire[i] + 0.004
                if w.server_log == "ingress":
                    end = t[i] + own[i]
                    ingress.append((end, ingress_line(
                        remote_addr="10.244.7.3", time_local=self.clock.nginx(end),
                        path=f"/{w.name}/v1", status=status, body=412 if status == 200 else 150,
                        request_length=2048, request_time=own[i] + 0.002,
                        upstream_name=f"{w.namespace}-{w.name}-{w.port}",
                        upstream_addr=f"{w.pod_ip}:{w.port}", upstream_time=own[i],
                        req_id=rid)))
                elif w.server_log == "rgw":
                    rgw += self._rgw_lines(t[i], own[i], status, down[i])
                for station in w.clients:
                    timed_out = total >= w.client_timeout_s
                    lat = w.client_timeout_s if timed_out else total
                    clients.setdefault(station, []).append((t[i] + lat, station_line(
                        self.clock.station(t[i]), station, w.name, lat,
                        "timeout" if timed_out else status, rid, 2048)))
        for station, rows in clients.items():
            self._lines(f"logs/client-{station}.jsonl", [line for _, line in sorted(rows)])
        if ingress:
            self._lines("logs/ingress-nginx.log", [line for _, line in sorted(ingress)])
        if rgw:
            self._lines("logs/rgw.log", [line for _, line in sorted(rgw)])

    def _down(self, w: Workload, t: np.ndarray) -> np.ndarray:
        """Requests that arrive while the container is being restarted (~15 s each kill)."""
        down = np.zeros(len(t), dtype=bool)
        for k in self.kills[w.name]:
            down |= (t >= k) & (t < k + 15)
        return down

    def _rgw_lines(self, t: float, own: float, status: int, down: bool) -> list[tuple]:
        req = f"0x55aa{self.rng.integers(16**8):08x}"
        thread = f"7f48{self.rng.integers(16**8):08x}"

        def line(at: float, level: int, text: str) -> tuple[float, str]:
            d = self.clock.local(at)
            return at, (f"debug {d:%Y-%m-%d %H:%M:%S}.{int(at * 1000) % 1000:03d} {thread} "
                        f"{level:>2} {text}")
        out = [line(t, 1, f"====== starting new request req={req} =====")]
        if down or own > 1.0 and self.rng.random() < 0.3:
            out.append(line(t + own, 0, "ERROR: client_io->complete_request() returned "
                                        "Broken pipe"))
        out.append(line(t + own, 1, f"====== req done req={req} op status=0 "
                                    f"http_status={200 if not down else 500} "
                                    f"latency={own:.3f}s ======"))
        return out

    # -- metrics -----------------------------------------------------------------------
    def _node_labels(self, n: PlatformNode) -> str:
        pairs = {"instance": n.name if not n.node_label else f"{n.ip}:9100",
                 "job": "node-exporter"}
        if n.node_label:
            pairs["node"] = n.name
        return labels(pairs)

    def _node_metrics(self) -> list[str]:
        t, s = self.stamps.astype(float), self.stamps
        rx, tx, speed, drops, blocked, io, load = [], [], [], [], [], [], []
        for n in self.day.nodes:
            lab = self._node_labels(n)
            sat = np.maximum(self._active(("saturation", "idle_saturation"), t, node=n.name),
                             self._storm_link(n, t))
            base = self.rng.uniform(0.05, 0.25) * (1 + 0.3 * np.sin(t / 1800.0))
            use_tx = np.where(sat > 0, np.clip(0.9 + 0.08 * sat, 0, 0.995), base)
            use_rx = base * 0.6
            for dev, use, speed_b in (("eth0", (use_rx, use_tx), n.link_bytes_per_s),
                                      ("eno2", (use_rx * 0, use_tx * 0), -1.0)):
                per = SCRAPE_S * max(speed_b, 0)
                rx.append(("node_network_receive_bytes_total", f'device="{dev}",{lab}', s,
                           1e11 + np.cumsum(use[0] * per)))
                tx.append(("node_network_transmit_bytes_total", f'device="{dev}",{lab}', s,
                           4e11 + np.cumsum(use[1] * per)))
                speed.append(("node_network_speed_bytes", f'device="{dev}",{lab}', s,
                              np.full(len(s), speed_b)))
                drops.append(("node_network_receive_drop_total", f'device="{dev}",{lab}', s,
                              np.cumsum(self.rng.poisson(np.where(sat > 0, 40.0, 0.02)
                                                         * SCRAPE_S) * (dev == "eth0"))))
            stall = self._active(("io_stall", "nfs_stall", "batch"), t, node=n.name)
            disk = self._active(("io_stall", "batch"), t, node=n.name)
            blocked.append(("node_procs_blocked", lab, s,
                            self.rng.poisson(0.3, len(s)) + np.round(stall * 30)
                            + self.rng.poisson(stall * 6)))
            busy = np.where(disk > 0, 0.985, np.clip(self.rng.normal(0.08, 0.03, len(s)), 0, 1))
            io.append(("node_disk_io_time_seconds_total", f'device="sda",{lab}', s,
                       2e5 + np.cumsum(busy * SCRAPE_S)))
            load.append(("node_load1", lab, s, self.rng.gamma(2.0, n.cpu / 16, len(s))
                         + stall * 30))
        return [*om_family("node_network_receive_bytes", "counter",
                           "Network device statistic receive_bytes.", rx),
                *om_family("node_network_transmit_bytes", "counter",
                           "Network device statistic transmit_bytes.", tx),
                *om_family("node_network_speed_bytes", "gauge",
                           "Network device property: speed_bytes", speed),
                *om_family("node_network_receive_drop", "counter",
                           "Network device statistic receive_drop.", drops),
                *om_family("node_procs_blocked", "gauge",
                           "Number of processes blocked waiting for I/O to complete.", blocked),
                *om_family("node_disk_io_time_seconds", "counter",
                           "Total seconds spent doing I/Os.", io),
                *om_family("node_load1", "gauge", "1m load average.", load), "# EOF"]

    def _storm_link(self, n: PlatformNode, t: np.ndarray) -> np.ndarray:
        """A probe storm driven by saturation fills the link of the workload's node."""
        out = np.zeros(len(t))
        for f in self.day.faults:
            w = self._workload(f.workload)
            if f.kind == "probe_storm" and f.driver == "saturation" and w and w.node == n.name:
                a, b = self._span(f)
                out = np.maximum(out, np.where((t >= a - 120) & (t < b), f.severity, 0.0))
        return out

    def _workload(self, name: str) -> Workload | None:
        return next((w for w in self.day.workloads if w.name == name), None)

    def _throttle(self, w: Workload, t: np.ndarray) -> np.ndarray:
        share = np.clip(self.rng.normal(0.02, 0.01, len(t)), 0, 1)
        hot = self._active(("throttling",), t, workload=w.name)
        for f in self.day.faults:
            if f.workload == w.name and (f.kind == "batch" or
                                         f.kind == "probe_storm" and f.driver == "throttling"):
                a, b = self._span(f)
                hot = np.maximum(hot, np.where((t >= a) & (t < b), f.severity, 0.0))
        return np.where(hot > 0, np.clip(0.55 + 0.3 * hot, 0, 0.97), share)

    def _cadvisor(self) -> list[str]:
        s, t = self.stamps, self.stamps.astype(float)
        periods, throttled = [], []
        for w in self.day.workloads:
            node = next(n for n in self.day.nodes if n.name == w.node)
            pairs = {"container": w.container or w.name, "id": "/kubepods/burstable/pod"
                     + self.pods[w.name][-5:], "image": w.image,
                     "instance": f"{node.ip}:10250", "job": "kubelet",
                     "metrics_path": "/metrics/cadvisor", "name": "k8s_" + (w.container or w.name),
                     "namespace": w.namespace, "pod": self.pods[w.name]}
            per = np.cumsum(np.full(len(s), 10.0 * SCRAPE_S))  # 100 ms periods
            thr = np.cumsum(10.0 * SCRAPE_S * self._throttle(w, t))
            periods.append(("container_cpu_cfs_periods_total", labels(pairs), s, np.round(per)))
            throttled.append(("container_cpu_cfs_throttled_periods_total", labels(pairs), s,
                              np.round(thr)))
            pod_level = {**pairs, "container": "", "image": "", "name": ""}
            periods.append(("container_cpu_cfs_periods_total", labels(pod_level), s,
                            np.round(per)))
            throttled.append(("container_cpu_cfs_throttled_periods_total", labels(pod_level), s,
                              np.round(thr * 0.5)))
        return [*om_family("container_cpu_cfs_periods", "counter",
                           "Number of elapsed enforcement period intervals.", periods),
                *om_family("container_cpu_cfs_throttled_periods", "counter",
                           "Number of throttled period intervals.", throttled), "# EOF"]

    def _ksm(self) -> list[str]:
        s = self.stamps
        series = []
        for w in self.day.workloads:
            kills = np.array(self.kills[w.name])
            counts = np.array([(kills <= x).sum() for x in s], dtype=float) + 0
            pairs = {"container": w.container or w.name, "instance": "10.244.0.9:8080",
                     "job": "kube-state-metrics", "namespace": w.namespace,
                     "pod": self.pods[w.name], "uid": self._uid(w.name)}
            series.append(("kube_pod_container_status_restarts_total", labels(pairs), s, counts))
        return [*om_family("kube_pod_container_status_restarts", "counter",
                           "The number of container restarts per container.", series), "# EOF"]

    # -- kube ----------------------------------------------------------------------------
    def _pod_name(self, w: Workload) -> str:
        def tok(n: int) -> str:
            return "".join(self.rng.choice(list("bcdfghjklmnpqrstvwxz2456789"), n))
        return f"{w.name}-{tok(5)}" if w.job else f"{w.name}-{tok(9)}-{tok(5)}"

    def _uid(self, key: str) -> str:
        h = hashlib.sha256(f"{self.day.seed}/{key}".encode()).hexdigest()
        return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"

    def _cluster(self) -> str:
        items = [*self._events(), *[self._pod(w) for w in self.day.workloads],
                 *[self._node(n) for n in self.day.nodes],
                 *[self._deployment(w) for w in self.day.workloads if not w.job]]
        return json.dumps({"apiVersion": "v1", "items": items, "kind": "List",
                           "metadata": {"resourceVersion": "", "selfLink": ""}}, indent=4) + "\n"

    def _meta(self, name: str, created: float, namespace: str = "", **extra) -> dict:
        meta = {"creationTimestamp": Clock.kube(created), "name": name}
        if namespace:
            meta["namespace"] = namespace
        return {**meta, "resourceVersion": str(int(self.rng.integers(10**5, 10**7))),
                "uid": self._uid(name), **extra}

    def _container(self, w: Workload) -> dict:
        return {"image": w.image, "name": w.container or w.name,
                "livenessProbe": {"failureThreshold": 3, "httpGet": {
                    "path": w.probe_path, "port": w.port, "scheme": "HTTP"},
                    "initialDelaySeconds": 10, "periodSeconds": 10, "successThreshold": 1,
                    "timeoutSeconds": w.probe_timeout_s},
                "ports": [{"containerPort": w.port, "protocol": "TCP"}],
                "resources": {"limits": {"cpu": w.cpu_limit, "memory": "8Gi"},
                              "requests": {"cpu": "500m", "memory": "2Gi"}}}

    def _pod(self, w: Workload) -> dict:
        node = next(n for n in self.day.nodes if n.name == w.node)
        name = self.pods[w.name]
        started = self.t0 - 5 * DAY_S
        kills = self.kills[w.name]
        rollout = [f for f in self.day.faults if f.kind == "rollout" and f.workload == w.name]
        if rollout:
            started = self._span(rollout[0])[0] + 40
        finished = [f for f in self.day.faults if f.kind == "batch" and f.workload == w.name]
        crash = any(f.restarts for f in self.day.faults if f.workload == w.name)
        status = {"containerID": "containerd://" + self.rng.bytes(32).hex(), "image": w.image,
                  "imageID": w.image.split(":")[0] + "@sha256:" + self.rng.bytes(32).hex(),
                  "lastState": {}, "name": w.container or w.name, "ready": True,
                  "restartCount": len(kills), "started": True,
                  "state": {"running": {"startedAt": Clock.kube(
                      (kills[-1] + 12) if kills else started + 5)}}}
        if kills:
            status["lastState"] = {"terminated": {
                "containerID": "containerd://" + self.rng.bytes(32).hex(),
                "exitCode": 1 if crash else 137, "finishedAt": Clock.kube(kills[-1]),
                "reason": "Error", "startedAt": Clock.kube(kills[-2] + 12 if len(kills) > 1
                                                           else started + 5)}}
        phase = "Running"
        if finished:
            end = self._span(finished[0])[1]
            status.update(ready=False, started=False, state={"terminated": {
                "containerID": status["containerID"], "exitCode": 0, "reason": "Completed",
                "finishedAt": Clock.kube(end), "startedAt": Clock.kube(started + 5)}})
            phase = "Succeeded"
        owner = {"apiVersion": "batch/v1" if w.job else "apps/v1", "controller": True,
                 "kind": "Job" if w.job else "ReplicaSet",
                 "name": w.name if w.job else self.pods[w.name].rsplit("-", 1)[0],
                 "uid": self._uid("owner" + w.name)}
        return {"apiVersion": "v1", "kind": "Pod",
                "metadata": self._meta(name, started, w.namespace,
                                       labels={"app": w.app or w.name},
                                       ownerReferences=[owner]),
                "spec": {"containers": [self._container(w)], "nodeName": w.node,
                         "restartPolicy": "Never" if w.job else "Always",
                         "dnsPolicy": "ClusterFirst"},
                "status": {"containerStatuses": [status], "hostIP": node.ip, "phase": phase,
                           "podIP": w.pod_ip, "podIPs": [{"ip": w.pod_ip}],
                           "qosClass": "Burstable", "startTime": Clock.kube(started)}}

    def _deployment(self, w: Workload) -> dict:
        labels_ = {"app": w.app or w.name}
        return {"apiVersion": "apps/v1", "kind": "Deployment",
                "metadata": self._meta(w.name, self.t0 - 90 * DAY_S, w.namespace, labels=labels_,
                                       generation=2),
                "spec": {"replicas": 1, "selector": {"matchLabels": labels_},
                         "template": {"metadata": {"labels": labels_},
                                      "spec": {"containers": [self._container(w)]}}},
                "status": {"availableReplicas": 1, "readyReplicas": 1, "replicas": 1,
                           "updatedReplicas": 1, "observedGeneration": 2}}

    def _node(self, n: PlatformNode) -> dict:
        cap = {"cpu": str(n.cpu), "memory": "131768320Ki", "pods": "110"}
        return {"apiVersion": "v1", "kind": "Node",
                "metadata": self._meta(n.name, self.t0 - 300 * DAY_S,
                                       labels={"kubernetes.io/hostname": n.name}),
                "spec": {}, "status": {"addresses": [{"address": n.ip, "type": "InternalIP"}],
                                       "allocatable": cap, "capacity": cap,
                                       "conditions": [{"type": "Ready", "status": "True",
                                                       "reason": "KubeletReady"}]}}

    def _event(self, w: Workload, reason: str, message: str, times: list[float],
               warning: bool = True, kind: str = "Pod", name: str = "") -> list[dict]:
        """Kube aggregates repeats of one (object, reason, message) into count/first/last;
        with ``aggregate_events`` off each repeat is its own Event (events.k8s.io series)."""
        if not times:
            return []
        groups = [times] if self.day.aggregate_events else [[x] for x in times]
        name = name or self.pods[w.name]
        out = []
        for g in groups:
            involved = {"apiVersion": "v1", "kind": kind, "name": name,
                        "namespace": w.namespace, "uid": self._uid(name)}
            if kind == "Pod":
                involved["fieldPath"] = f"spec.containers{{{w.container or w.name}}}"
            out.append({"apiVersion": "v1", "count": len(g), "eventTime": None,
                        "firstTimestamp": Clock.kube(g[0]), "lastTimestamp": Clock.kube(g[-1]),
                        "involvedObject": involved, "kind": "Event", "message": message,
                        "metadata": self._meta(f"{name}.{round(g[0] * 1e9):x}", g[0],
                                               w.namespace),
                        "reason": reason, "reportingComponent": "", "reportingInstance": "",
                        "source": {"component": "kubelet", "host": w.node},
                        "type": "Warning" if warning else "Normal"})
        return out

    def _events(self) -> list[dict]:
        out: list[dict] = []
        for w in self.day.workloads:
            c = w.container or w.name
            probe = (f"Liveness probe failed: Get http://{w.pod_ip}:{w.port}{w.probe_path}: "
                     "net/http: request canceled (Client.Timeout exceeded while awaiting "
                     "headers)")
            out += self._event(w, "Unhealthy", probe, self.unhealthy[w.name])
            storm = [k for k in self.kills[w.name] if self.unhealthy[w.name]]
            out += self._event(w, "Killing", f"Container {c} failed liveness probe, will be "
                               "restarted", storm, warning=False)
            if self.kills[w.name]:
                out += self._event(w, "Pulled", f'Container image "{w.image}" already present '
                                   "on machine", [k + 2 for k in self.kills[w.name]],
                                   warning=False)
                out += self._event(w, "BackOff", "Back-off restarting failed container",
                                   [k + 5 for k in self.kills[w.name][1:]])
            for f in self.day.faults:
                if f.kind == "rollout" and f.workload == w.name:
                    a = self._span(f)[0]
                    old = f"{w.name}-{self._uid('old')[:9]}-{self._uid('oldpod')[:5]}"
                    out += self._event(w, "Killing", f"Stopping container {c}", [a + 30],
                                       warning=False, name=old)
                    out += self._event(w, "ScalingReplicaSet", "Scaled up replica set "
                                       f"{self.pods[w.name].rsplit('-', 1)[0]} to 1", [a],
                                       warning=False, kind="Deployment", name=w.name)
                    out += self._event(w, "Started", f"Started container {c}", [a + 41],
                                       warning=False)
        return out + list(self.day.extra_events)

    # -- answer key ----------------------------------------------------------------------
    def _expected(self) -> None:
        incidents = []
        for f in self.day.faults:
            if not f.label:
                continue
            a, b = self._span(f)
            incidents.append({"start": self.clock.iso(a), "end": self.clock.iso(b),
                              "cause": f.label, "also": []})
        doc = {"window": {"since": self.clock.iso(self.t0, "seconds"),
                          "until": self.clock.iso(self.t1, "seconds")},
               "tz": self.day.zone, "incidents": sorted(incidents, key=lambda i: i["start"]),
               "notes": {"scenario": self.day.name, "seed": self.day.seed,
                         "faults": [vars(f) for f in self.day.faults],
                         "restarts": {self.pods[k]: len(v) for k, v in self.kills.items() if v}}}
        (self.out / "expected.json").write_text(json.dumps(doc, indent=2) + "\n",
                                                encoding="utf-8")
