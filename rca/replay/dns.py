"""What CoreDNS saw: the pods' A+AAAA lookups, the race's 5 s retries, and its metrics.

Why pairs: glibc sends the A and AAAA queries of one lookup in parallel from one UDP
socket. When both race through the DNAT to the single CoreDNS pod, conntrack drops one
(``insert_failed`` on the client's node); CoreDNS never sees it, and the resolver re-sends
the same query (same port, same id) after its 5 s timeout. So the only trace in the
CoreDNS log is a partner line 5.0x s late; in the metrics, the node's insert_failed.

The CoreDNS histogram is built from exactly the logged queries (plus a start-of-window
baseline), so the log and the metrics tell the same story to a rule that checks both.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from rca.replay.spec import ScenarioSpec
from rca.replay.traffic import Day
from rca.replay.writers import (
    Clock,
    coredns_query_line,
    coredns_text_line,
    labels,
    om_family,
    om_histogram,
)

__all__ = ["BOUNDS", "DnsDay", "coredns_metrics", "simulate_dns"]

# CoreDNS's own buckets (plugin/metrics/vars: ExponentialBuckets(0.00025, 2, 16)).
BOUNDS = (0.00025, 0.0005, 0.001, 0.002, 0.004, 0.008, 0.016, 0.032, 0.064, 0.128, 0.256,
          0.512, 1.024, 2.048, 4.096, 8.192)
QTYPES = ("A", "AAAA")


@dataclass
class DnsDay:
    lines: list[tuple[float, str]] = field(default_factory=list)  # (log time, text)
    obs: dict[tuple[int, str], list[tuple[float, float]]] = field(default_factory=dict)
    lost: list[float] = field(default_factory=list)  # queries conntrack dropped


def simulate_dns(spec: ScenarioSpec, clock: Clock, day: Day, seed: int) -> DnsDay:
    rng = np.random.default_rng([seed, 2])
    lookups = _lookups(spec, clock, day, rng)
    out = DnsDay()
    for t, service, name, lossy, slow in sorted(lookups):
        _pair(spec, rng, out, t, spec.services[service].pod_ip, name, lossy, slow)
    since, until = clock.epoch(spec.since), clock.epoch(spec.until)
    for t in np.sort(rng.uniform(since, until, spec.noise.coredns_reloads)).tolist():
        md5 = rng.bytes(16).hex()
        for dt, text in ((0.0, "Reloading"), (0.002, f"plugin/reload: Running configuration "
                         f"MD5 = {md5}"), (0.004, "Reloading complete")):
            out.lines.append((t + dt, coredns_text_line(clock.kubelet(t + dt), text)))
    out.lines.sort()
    return out


def _lookups(spec, clock, day: Day, rng) -> list[tuple[float, int, str, bool, bool]]:
    """(time, service, name, loses a query, one query slow) for every lookup of the day."""
    dns = spec.dns
    since, until = clock.epoch(spec.since), clock.epoch(spec.until)
    out = []
    for v in range(len(spec.services)):  # the licence check, every pod, all day
        start = since + rng.uniform(0, dns.periodic_every_s)
        for t in np.arange(start, until - 10.0, dns.periodic_every_s).tolist():
            out.append((t + rng.uniform(-3.0, 3.0), v, dns.periodic_name, False, False))
    for r in day.requests:  # opening a connection to the store for the result
        if rng.random() < dns.per_request_lookup and r.server_at < until:
            out.append((r.server_at + rng.uniform(0.002, 0.02), r.service, dns.request_name,
                        False, False))
    for start, _end, k in day.incidents:
        if spec.bursts[k].mechanism != "dns_race":
            continue
        failed = [r for r in day.requests if r.burst == k]
        last = max(r.t for r in failed)
        for r in failed:  # each failure had a lookup that lost a query
            out.append((r.t + rng.uniform(0.01, 0.3), r.service, dns.request_name, True, False))
        hit = sorted({r.service for r in failed})
        for _ in range(dns.extra_pairs_per_burst):
            out.append((rng.uniform(start, last + 1.0), hit[rng.integers(len(hit))],
                        dns.request_name, bool(rng.random() < dns.loss_share), False))
        for _ in range(max(1, len(failed) // 4)):
            out.append((rng.uniform(start, last + 1.0), hit[rng.integers(len(hit))],
                        dns.periodic_name, False, True))
    return [x for x in out if since <= x[0] < until - 10.0]


def _pair(spec, rng, out: DnsDay, t: float, client: str, name: str, lossy: bool,
          slow: bool) -> None:
    """One glibc lookup: A then AAAA from one socket, each answered in well under 1 ms."""
    pod = int(rng.integers(spec.dns.coredns_replicas))
    port = int(rng.integers(32768, 61000))
    ids = rng.integers(1, 65536, 2).tolist()
    arrivals = [t, t + rng.uniform(20e-6, 300e-6)]
    durations = np.clip(rng.lognormal(np.log(160e-6), 0.45, 2), 45e-6, 900e-6).tolist()
    if lossy:  # conntrack dropped this one; the resolver re-sends it after its timeout
        lost = int(rng.integers(2))
        out.lost.append(arrivals[lost])
        arrivals[lost] += 5.0 + rng.uniform(0.0005, 0.02)
    if slow:
        durations[0] = rng.uniform(4.0, 5.5)
    for qtype, qid, at, dur in zip(QTYPES, ids, arrivals, durations, strict=True):
        logged = at + dur
        ns = round(logged * 1e6) * 1000 + int(rng.integers(1000))
        line = coredns_query_line(Clock.kubelet(logged, ns), client, port, qid, qtype, name,
                                  round(dur * 1e9))
        out.lines.append((logged, line))
        out.obs.setdefault((pod, qtype), []).append((logged, dur))


def coredns_metrics(spec: ScenarioSpec, pods: list[tuple[str, str]], dns_day: DnsDay,
                    stamps: np.ndarray, seed: int) -> list[str]:
    """Request-duration histogram and request counter per CoreDNS pod and query type."""
    rng = np.random.default_rng([seed, 3])
    stamp_list = stamps.tolist()
    hist, reqs = [], []
    for p, (pod, ip) in enumerate(pods):
        for qtype in QTYPES:
            obs = sorted(dns_day.obs.get((p, qtype), []))
            times = np.array([o[0] for o in obs])
            durs = np.array([o[1] for o in obs])
            base = np.clip(rng.lognormal(np.log(160e-6), 0.6, int(rng.integers(3e4, 9e4))),
                           45e-6, 0.03)  # what CoreDNS answered before the window
            upto = np.searchsorted(times, stamps, side="right")
            bucket_of = np.searchsorted(np.array(BOUNDS), durs, side="left")
            base_bucket = np.searchsorted(np.array(BOUNDS), base, side="left")
            counts = np.zeros((len(stamps), len(BOUNDS) + 1), dtype=np.int64)
            for b in range(len(BOUNDS) + 1):
                upto_b = np.concatenate([[0], np.cumsum(bucket_of <= b)])[upto]
                counts[:, b] = upto_b + int(np.sum(base_bucket <= b))
            sums = np.concatenate([[0.0], np.cumsum(durs)])[upto] + float(base.sum())
            lab = labels({"instance": f"{ip}:9153", "job": "coredns", "pod": pod,
                          "server": "dns://:53", "zone": ".", "type": qtype})
            hist.append((lab, stamp_list, counts.tolist(), sums.tolist()))
            lab = labels({"instance": f"{ip}:9153", "job": "coredns", "pod": pod,
                          "server": "dns://:53", "zone": ".", "proto": "udp", "family": "1",
                          "type": qtype})
            reqs.append(("coredns_dns_requests_total", lab, stamp_list, counts[:, -1].tolist()))
    return [
        *om_histogram("coredns_dns_request_duration_seconds",
                      "Histogram of the time (in seconds) each request took.", BOUNDS, hist),
        *om_family("coredns_dns_requests", "counter",
                   "Counter of DNS requests made per zone, protocol and family.", reqs),
    ]
