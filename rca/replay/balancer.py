"""Seed 004's model servers behind a shared balancer: dead backends and a ``dev`` target.

The world: model servers (a Deployment in ``namespace``) behind ingress-nginx
(``upstreaminfo`` log). Yesterday's rollout added ``broken`` replicas whose image does
not exist: they sit in ``ImagePullBackOff``, never Ready, and the balancer only ever
reaches the ``old`` ones. Online callers use the pool all day; at ``batch_at`` a batch
job (its own pod, logging its calls as JSON lines) starts sending its load through the
same balancer, the few live servers queue, and callers with short timeouts give up
(ingress logs 499). Later, at ``dev_at``, a second batch program started with the
``dev`` config sends its load straight to the dev server (``<service>-dev``, one replica,
no ingress, only client logs), whose online API users then time out.

Two incidents, two causes: ``lb.dead_backend`` then ``config.wrong_target``. Variants:
``broken=0`` and ``draining=1`` is the rollout decoy — one old server drained on purpose
(being deleted) and a pool that is simply too slow under the batch (``overload``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from rca.replay.k8s import K8s, dump
from rca.replay.worldio import expected_json, setup, write_lines, write_text
from rca.replay.writers import Clock, ingress_line

__all__ = ["BalancerWorld"]


@dataclass(frozen=True)
class BalancerWorld:
    name: str = "dead-backend-dev-target"
    seed: int = 4
    zone: str = "Asia/Shanghai"
    since: str = "2022-06-21T13:00:00"
    hours: float = 5.0
    namespace: str = "ml-serving"
    service: str = "model-server"
    port: int = 8080
    old: int = 2
    broken: int = 10
    draining: int = 0
    online_per_min: float = 30.0
    online_timeout_s: float = 0.7
    batch_at: float | None = 1.5  # hours after since
    batch_minutes: float = 20.0
    batch_per_min: float = 240.0
    overload: float = 2.2  # how much slower the live servers answer under the batch
    dev_at: float | None = 3.6
    dev_minutes: float = 15.0
    dev_batch_per_min: float = 40.0
    dev_online_per_min: float = 4.0
    dev_timeout_s: float = 2.0
    expected_batch_cause: str = "lb.dead_backend"

    def write(self, out_dir: Path) -> Path:
        w = setup(self, out_dir, 40)
        out, clock, rng, since, until = w.out, w.clock, w.rng, w.since, w.until
        k = K8s(rng)
        items, live, names = self._cluster(k, since, until)
        ingress, clients, incidents = [], [], []
        self._online(rng, clock, since, until, live, ingress)
        if self.batch_at is not None:
            incidents += self._batch(rng, clock, since, live, names["batch"], ingress, clients)
        if self.dev_at is not None:
            incidents += self._dev(rng, clock, since, until, names, clients)
        write_lines(out / "logs" / "ingress-nginx.log", [x for _, x in sorted(ingress)])
        for station, lines in _by_station(clients).items():
            write_lines(out / "logs" / f"client-{station}.jsonl", lines)
        write_text(out / "kube" / "cluster.json", dump(items))
        write_text(out / "expected.json", expected_json(
            clock, since, until, self.zone, incidents,
            {"scenario": self.name, "seed": self.seed, "live_backends": live,
             "broken_backends": self.broken, "draining": self.draining}))
        return out

    # -- the cluster -------------------------------------------------------------------
    def _cluster(self, k: K8s, since: float, until: float):
        svc, ns = self.service, self.namespace
        old_rs, new_rs = f"{svc}-{k.token(10)}", f"{svc}-{k.token(10)}"
        old_image = f"registry.ml.local/serving/{svc}:1.8.3"
        new_image = f"registry.ml.local/serving/{svc}:1.9.0"
        rollout = since - 20 * 3600
        items = [k.node(f"gpu-node-{i:02d}", f"10.60.0.{10 + i}", since - 300 * 86400, gpus=8)
                 for i in range(1, 5)]
        items.append(k.deployment(svc, ns, self.old + self.broken, self.old - self.draining,
                                  new_image if self.broken else old_image, since - 60 * 86400))
        live = []
        for i in range(self.old):
            ip = f"10.244.{1 + i % 4}.{30 + i}"
            node = f"gpu-node-{1 + i % 4:02d}"
            drain = i < self.draining
            pod = k.pod(f"{old_rs}-{k.token(5)}", ns, svc, since - 9 * 86400, image=old_image,
                        node=node, ip=ip, owner=("ReplicaSet", old_rs), ready=not drain,
                        deleting_at=since - 120 if drain else None)
            items.append(pod)
            if not drain:
                live.append(ip)
        for i in range(self.broken):
            node = f"gpu-node-{1 + (i + self.old) % 4:02d}"
            waiting = {"waiting": {"message": f'Back-off pulling image "{new_image}"',
                                   "reason": "ImagePullBackOff"}}
            pod = k.pod(f"{new_rs}-{k.token(5)}", ns, svc, rollout, image=new_image, node=node,
                        ip=f"10.244.{1 + (i + self.old) % 4}.{60 + i}", owner=("ReplicaSet",
                                                                              new_rs),
                        state=waiting, ready=False)
            pulls = int((until - rollout) // 300)
            items += [
                k.event(pod, "Failed", f'Failed to pull image "{new_image}": rpc error: code = '
                        f"NotFound desc = failed to pull and unpack image \"{new_image}\": "
                        f'failed to resolve reference "{new_image}": not found', rollout + 20,
                        last=until - 200, count=pulls, host=node),
                k.event(pod, "BackOff", f'Back-off pulling image "{new_image}"', rollout + 25,
                        last=until - 60, count=pulls * 12, host=node),
            ]
            items.append(pod)
        batch = f"batch-infer-{k.token(5)}"
        dev_batch = f"batch-embed-{k.token(5)}"
        dev_rs = f"{svc}-dev-{k.token(10)}"
        items.append(k.pod(batch, "ml-jobs", "batch-infer", since, image="ml/batch:3.1",
                           node="gpu-node-04", ip="10.244.4.77", owner=("Job", batch[:-6])))
        items.append(k.pod(dev_batch, "ml-jobs", "batch-embed", since, image="ml/batch:3.1",
                           node="gpu-node-03", ip="10.244.3.91", owner=("Job", dev_batch[:-6])))
        items.append(k.pod(f"{dev_rs}-{k.token(5)}", "ml-dev", f"{svc}-dev", since - 30 * 86400,
                           image=old_image, node="gpu-node-02", ip="10.244.2.15",
                           owner=("ReplicaSet", dev_rs)))
        names = {"batch": (batch, "10.244.4.77"), "dev_batch": dev_batch}
        return items, live, names

    # -- traffic -----------------------------------------------------------------------
    def _served(self, rng, clock: Clock, t: float, client: str, live: list[str], took: float,
                status: int, ingress: list) -> None:
        ip = live[int(rng.integers(len(live)))]
        body = int(rng.integers(200, 900)) if status == 200 else 0
        ingress.append((t + took, ingress_line(
            remote_addr=client, time_local=clock.nginx(t + took), path="/v1/predict",
            status=status, body=body, request_length=int(rng.integers(4e4, 2e5)),
            request_time=took, upstream_name=f"{self.namespace}-{self.service}-{self.port}",
            upstream_addr=f"{ip}:{self.port}",
            upstream_time=max(0.001, took - 0.002), req_id=rng.bytes(16).hex())))

    def _busy(self, t: float, since: float) -> bool:
        if self.batch_at is None:
            return False
        start = since + self.batch_at * 3600
        return start <= t < start + self.batch_minutes * 60

    def _online(self, rng, clock: Clock, since: float, until: float, live: list[str],
                ingress: list) -> None:
        callers = [f"10.60.{rng.integers(20, 30)}.{rng.integers(2, 250)}" for _ in range(12)]
        t = since
        while True:
            t += rng.exponential(60.0 / self.online_per_min)
            if t >= until:
                break
            scale = self.overload if self._busy(t, since) else 1.0
            took = float(rng.gamma(6.0, 0.04 * scale))
            gave_up = took > self.online_timeout_s
            self._served(rng, clock, t, callers[int(rng.integers(len(callers)))], live,
                         self.online_timeout_s if gave_up else took, 499 if gave_up else 200,
                         ingress)

    def _batch(self, rng, clock: Clock, since: float, live: list[str], batch: tuple[str, str],
               ingress: list, clients: list) -> list:
        """The batch job through the shared balancer; returns its incident."""
        name, ip = batch
        start = since + self.batch_at * 3600
        t, failed = start, []
        while t < start + self.batch_minutes * 60:
            took = float(rng.gamma(6.0, 0.04 * self.overload))
            gave_up = took > self.online_timeout_s
            took = self.online_timeout_s if gave_up else took
            self._served(rng, clock, t, ip, live, took, 499 if gave_up else 200, ingress)
            clients.append((name, t, _client(clock, t, name, self.service, took,
                                             "timeout" if gave_up else 200)))
            if gave_up:
                failed.append((t, t + took))
            t += rng.exponential(60.0 / self.batch_per_min)
        if not failed:
            return []
        cause = self.expected_batch_cause
        entity = f"deployment/{self.namespace}/{self.service}" if self.broken else ""
        return [(failed[0][0], max(b for _, b in failed), cause, [], entity)]

    def _dev(self, rng, clock: Clock, since: float, until: float, names: dict,
             clients: list) -> list:
        """The ``dev`` config: batch load on the dev server, its online users time out."""
        start = since + self.dev_at * 3600
        stop = start + self.dev_minutes * 60
        dev = f"{self.service}-dev"
        t, failed = since, []
        while True:  # the dev server's online users (a test console), all day
            t += rng.exponential(60.0 / self.dev_online_per_min)
            if t >= until:
                break
            took = float(rng.gamma(4.0, 0.9 if start <= t < stop + 60 else 0.06))
            gave_up = took > self.dev_timeout_s
            took = self.dev_timeout_s if gave_up else took
            clients.append(("web-console", t, _client(clock, t, "web-console", dev, took,
                                                     "timeout" if gave_up else 200)))
            if gave_up:
                failed.append((t, t + took))
        t = start
        while t < stop:
            took = float(rng.gamma(4.0, 0.9))
            clients.append((names["dev_batch"], t, _client(clock, t, names["dev_batch"], dev,
                                                           took, 200)))
            t += rng.exponential(60.0 / self.dev_batch_per_min)
        if not failed:
            return []
        return [(failed[0][0], max(b for _, b in failed), "config.wrong_target", [],
                 f"pod/ml-jobs/{names['dev_batch']}")]


def _client(clock: Clock, t: float, station: str, service: str, took: float, status) -> str:
    """A caller's own JSON-lines record, written when the call returns (zone-less local)."""
    return json.dumps({"ts": clock.station(t), "station": station, "service": service,
                       "latency_ms": round(took * 1000, 1), "status": status,
                       "side": "client"})


def _by_station(rows: list[tuple[str, float, str]]) -> dict[str, list[str]]:
    out: dict[str, list[tuple[float, str]]] = {}
    for station, t, line in rows:
        out.setdefault(station, []).append((t, line))
    return {s: [x for _, x in sorted(v)] for s, v in out.items()}
