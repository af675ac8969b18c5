"""Turn a ScenarioSpec into a scenario directory of raw telemetry and its answer key.

Layout (the parsers in ``collectors`` read exactly these)::

    expected.json                 the answer key: window, zone, incidents (+ notes)
    logs/station-<name>.jsonl     client side, zone-less local times
    logs/ingress-nginx.log        server side, ingress-nginx upstreaminfo format
    logs/coredns.log              CoreDNS log plugin via ``kubectl logs --timestamps``
    metrics/coredns.om            OpenMetrics, promtool-backfillable, 30 s scrapes
    metrics/node.om               node_exporter series of every node
    kube/cluster.json             ``kubectl get events,pods,nodes,deployments -A -o json``

Why self-contained: the generator must never share a constant or an import with the
analysis rules (``rca.causes``, ``rca.incidents``, ``rca.config``); if it did, a rule and
its fixture could drift together and the accuracy corpus would grade nothing. Every
random draw comes from ``numpy.random.default_rng([seed, part])``, one stream per part,
so the same spec gives byte-identical files and changing one part leaves the others be.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Protocol

import numpy as np

from rca.replay.cluster import cluster_json, cluster_names
from rca.replay.dns import coredns_metrics, simulate_dns
from rca.replay.nodes import node_metrics
from rca.replay.spec import ScenarioSpec
from rca.replay.traffic import Day, simulate
from rca.replay.writers import Clock, ingress_line, station_line

__all__ = ["World", "generate"]


class World(Protocol):
    """A scenario of a system other than the inference stations (seed 001's RGW cluster,
    seed 003's GPU platform…): its own spec, writing the same directory layout and answer
    key (``docs/scenarios.md``) with its own code, so each world stays one readable piece."""

    name: str

    def write(self, out_dir: Path) -> Path: ...


def generate(spec: ScenarioSpec | World, out_dir: Path) -> Path:
    """Write the scenario directory for ``spec`` into ``out_dir`` (created) and return it.

    Files of an earlier run in ``out_dir`` are overwritten; station logs of stations the
    spec no longer has are removed so the directory describes exactly one scenario. A spec
    of another world (storage, training, GPU scheduling…) writes itself: see ``World``.
    """
    if not isinstance(spec, ScenarioSpec):
        return spec.write(Path(out_dir))
    out = Path(out_dir)
    for sub in ("logs", "metrics", "kube"):
        (out / sub).mkdir(parents=True, exist_ok=True)
    for stale in (out / "logs").glob("station-*.jsonl"):
        stale.unlink()
    clock, seed = Clock(spec.zone), spec.seed
    day = simulate(spec, clock, seed)
    dns_day = simulate_dns(spec, clock, day, seed)
    names = cluster_names(spec, seed)
    since, until = clock.epoch(spec.since), clock.epoch(spec.until)
    stamps = np.arange(int(since), int(until), spec.scrape_s, dtype=np.int64)

    malformed = _write_stations(spec, clock, day, out)
    _write_lines(out / "logs" / "ingress-nginx.log", _ingress_lines(spec, clock, day))
    _write_lines(out / "logs" / "coredns.log", [line for _, line in dns_day.lines])
    _write_lines(out / "metrics" / "coredns.om",
                 [*coredns_metrics(spec, list(names.coredns_pods), dns_day, stamps, seed),
                  "# EOF"])
    _write_lines(out / "metrics" / "node.om",
                 [*node_metrics(spec, clock, day, dns_day, stamps, seed), "# EOF"])
    (out / "kube" / "cluster.json").write_text(cluster_json(spec, clock, names, seed),
                                               encoding="utf-8", newline="\n")
    (out / "expected.json").write_text(_expected(spec, clock, day, malformed),
                                       encoding="utf-8", newline="\n")
    return out


def _write_lines(path: Path, lines: list[str]) -> None:
    with open(path, "w", encoding="utf-8", newline="\n") as fh:
        fh.write("\n".join(lines))
        if lines:
            fh.write("\n")


def _write_stations(spec: ScenarioSpec, clock: Clock, day: Day, out: Path) -> dict[str, int]:
    """One JSON-lines file per station, written as the PC does: when a request completes.
    Returns the deliberately truncated lines per file, for the answer key."""
    malformed: dict[str, int] = {}
    for si, station in enumerate(spec.stations):
        mine = sorted((r for r in day.requests if r.station == si), key=lambda r: (r.end, r.t))
        lines = []
        for r in mine:
            line = station_line(clock.station(r.t), station.name,
                                spec.services[r.service].name, r.latency, r.status,
                                r.request_id, r.size)
            if r.truncated:
                line = line[: len(line) // 2]
                key = f"logs/station-{station.name}.jsonl"
                malformed[key] = malformed.get(key, 0) + 1
            lines.append(line)
        _write_lines(out / "logs" / f"station-{station.name}.jsonl", lines)
    return malformed


def _ingress_lines(spec: ScenarioSpec, clock: Clock, day: Day) -> list[str]:
    """Every request reached the server, including those whose client had given up."""
    rng = np.random.default_rng([spec.seed, 7])
    lines = []
    for r in sorted(day.requests, key=lambda r: (r.server_end, r.t)):
        station, service = spec.stations[r.station], spec.services[r.service]
        ok = r.server_status == 200
        body = int(rng.integers(180, 640) if ok else rng.integers(60, 95))
        lines.append(ingress_line(
            remote_addr=station.ip, time_local=clock.nginx(r.server_end), path=service.path,
            status=r.server_status, body=body,
            request_length=r.size + int(rng.integers(250, 330)), request_time=r.server_s,
            upstream_name=f"{spec.namespace}-{service.name}-{service.port}",
            upstream_addr=f"{service.pod_ip}:{service.port}",
            upstream_time=max(0.001, r.server_s - rng.uniform(0.001, 0.004)),
            req_id=r.request_id))
    return lines


def _expected(spec: ScenarioSpec, clock: Clock, day: Day, malformed: dict[str, int]) -> str:
    """The answer key. An incident starts at its first failed request and ends when the
    last one ends, both as the client saw them."""
    incidents = [{"start": clock.iso(start), "end": clock.iso(end),
                  "cause": spec.bursts[k].label, "also": list(spec.bursts[k].also)}
                 for start, end, k in day.incidents]
    noise = spec.noise
    notes = {
        "scenario": spec.name,
        "seed": spec.seed,
        "malformed_lines": malformed,
        "isolated_timeouts": day.isolated,
        "http_400": day.http_400,
        "coredns_replicas": spec.dns.coredns_replicas,
        "node_reboot": ({"node": noise.reboot_node,
                         "at": clock.iso(clock.epoch(noise.reboot_at), "seconds")}
                        if noise.reboot_node else None),
    }
    since, until = clock.epoch(spec.since), clock.epoch(spec.until)
    doc = {"window": {"since": clock.iso(since, "seconds"), "until": clock.iso(until, "seconds")},
           "tz": spec.zone, "incidents": incidents, "notes": notes}
    return json.dumps(doc, indent=2, ensure_ascii=False) + "\n"
