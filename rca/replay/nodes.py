"""node_exporter's view of each node, scraped every 30 s.

Why these series: they are what an engineer checks first and what MISSION 000 reports.
Load stays at 25-50 % of the 48 cores with +10-20 bumps during bursts, and the link is
far from full: both look fine, which is the point (neither is the cause). The inference
node's conntrack ``insert_failed`` jumps exactly when lookups lose a query: the tell.

node_exporter exposes the conntrack stats as *gauges* although they only ever grow
(they are kernel counters summed over CPUs), so they are written as gauges here too.
One node reboots once, far from any incident: its exporter is down for two scrapes and
every counter restarts from zero, the reset a ``rate()`` must survive.
"""

from __future__ import annotations

import numpy as np

from rca.replay.dns import DnsDay
from rca.replay.spec import Node, ScenarioSpec
from rca.replay.traffic import Day
from rca.replay.writers import Clock, labels, om_family

__all__ = ["REBOOT_DOWN_S", "node_metrics"]

REBOOT_DOWN_S = 75.0
_BACKGROUND_INSERT_FAILED_PER_S = 0.0004  # a few a day: the race happens now and then
_BURST_INSERT_FAILED_PER_S = 0.15  # other processes' lookups on the node hit it too


def node_metrics(spec: ScenarioSpec, clock: Clock, day: Day, dns_day: DnsDay,
                 stamps: np.ndarray, seed: int) -> list[str]:
    rng = np.random.default_rng([seed, 4])
    since = clock.epoch(spec.since)
    edges = np.concatenate([[stamps[0] - spec.scrape_s], stamps]).astype(float)
    in_burst = np.zeros(len(stamps), dtype=bool)
    bump = np.zeros(len(stamps))
    for start, end, k in day.incidents:
        if spec.bursts[k].mechanism == "dns_race":
            window = (stamps >= start - spec.scrape_s) & (stamps <= end)
            in_burst |= window
            bump[window] = rng.uniform(10.0, 20.0)
    reset = None
    if spec.noise.reboot_node:
        reboot = clock.epoch(spec.noise.reboot_at)
        reset = int(np.searchsorted(stamps, reboot + REBOOT_DOWN_S))
        down = (stamps >= reboot) & (stamps < reboot + REBOOT_DOWN_S)
    families: dict[str, list] = {k: [] for k in ("load", "rx", "speed", "drop", "failed")}
    for node in spec.nodes:
        lab = {"instance": f"{node.name}:9100", "job": "node-exporter"}
        inference = node.role == "inference"
        rebooted = node.name == spec.noise.reboot_node
        alive = ~down if rebooted else np.ones(len(stamps), dtype=bool)
        node_reset = reset if rebooted else None
        failed = rng.poisson(_BACKGROUND_INSERT_FAILED_PER_S * spec.scrape_s, len(stamps))
        rx = rng.uniform(0.3e6, 3e6) * spec.scrape_s * rng.uniform(0.6, 1.4, len(stamps))
        if inference:
            failed += np.histogram(dns_day.lost, bins=edges)[0]
            others = rng.poisson(_BURST_INSERT_FAILED_PER_S * spec.scrape_s, len(stamps))
            failed += others * in_burst
            arrivals = [r.server_at for r in day.requests]
            rx += np.histogram(arrivals, bins=edges, weights=[r.size for r in day.requests])[0]
        drop = rng.poisson(0.0001 * spec.scrape_s, len(stamps))
        load = _load(node, rng, (stamps - since) / 3600.0, spec.scrape_s,
                     bump if inference else np.zeros(len(stamps)))
        keep = stamps[alive].tolist()
        series = {
            "load": ("node_load1", lab, load),
            "rx": ("node_network_receive_bytes_total", {**lab, "device": "eth0"},
                   _counter(rng.integers(10**11, 10**12), rx.round(), node_reset)),
            "speed": ("node_network_speed_bytes", {**lab, "device": "eth0"},
                      np.full(len(stamps), spec.link_bytes_per_s)),
            "drop": ("node_nf_conntrack_stat_drop", lab,
                     _counter(rng.integers(0, 5), drop, node_reset)),
            "failed": ("node_nf_conntrack_stat_insert_failed", lab,
                       _counter(rng.integers(5, 200), failed, node_reset)),
        }
        for key, (sample, lab_, values) in series.items():
            families[key].append((sample, labels(lab_), keep, values[alive].round(2).tolist()))
    return [
        *om_family("node_load1", "gauge", "1m load average.", families["load"]),
        *om_family("node_network_receive_bytes", "counter",
                   "Network device statistic receive_bytes.", families["rx"]),
        *om_family("node_network_speed_bytes", "gauge",
                   "speed_bytes value of /sys/class/net/<iface>.", families["speed"]),
        *om_family("node_nf_conntrack_stat_drop", "gauge",
                   "Number of packets dropped due to conntrack failure.", families["drop"]),
        *om_family("node_nf_conntrack_stat_insert_failed", "gauge",
                   "Number of entries for which list insertion was attempted but failed.",
                   families["failed"]),
    ]


def _counter(start: int, increments: np.ndarray, reset: int | None) -> np.ndarray:
    """A kernel counter: grows by ``increments``; restarts from zero after a reboot."""
    values = int(start) + np.cumsum(increments)
    if reset is not None and reset < len(values):
        values[reset:] = np.cumsum(increments[reset:])
    return values


def _load(node: Node, rng: np.random.Generator, hours: np.ndarray, scrape_s: int,
          bump: np.ndarray) -> np.ndarray:
    """A smooth 25-50 % of the cores (inference) or 5-20 % (others), plus burst bumps
    smoothed the way the kernel's 1-minute load average smooths them."""
    lo, hi = (0.25, 0.5) if node.role == "inference" else (0.05, 0.2)
    mid, half = (lo + hi) / 2, (hi - lo) / 2
    phases = rng.uniform(0, 2 * np.pi, 3)
    wave = (0.55 * np.sin(2 * np.pi * hours / 24 + phases[0])
            + 0.25 * np.sin(2 * np.pi * hours / 5.3 + phases[1])
            + 0.12 * np.sin(2 * np.pi * hours / 1.1 + phases[2]))
    frac = np.clip(mid + half * wave + rng.normal(0, 0.01, len(hours)), lo + 0.005, hi - 0.005)
    alpha = 1.0 - np.exp(-scrape_s / 60.0)
    smooth = np.zeros(len(bump))
    for i in range(1, len(bump)):
        smooth[i] = smooth[i - 1] + alpha * (bump[i] - smooth[i - 1])
    return node.cpu * frac + smooth
