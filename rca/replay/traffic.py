"""The requests of a day: stations' calls, the bursts that fail, and the harmless noise.

Why simulate requests first and everything else from them: each source sees the same
request from its own side (the station its latency and verdict, ingress-nginx the
server's time, CoreDNS the lookups the pod made), so the sources only agree when they
are all derived from one list. The answer key is derived from the same list too:
an incident starts at its first failed request and ends when its last one ends.

How a timed-out request looks (MISSION 000): the station gives up after 5 s, its SDK
retries, and it logs the whole ordeal as 11-33 s with status "timeout". With the DNS race
the request that finally reached the server was processed normally (0.2-0.6 s) after the
client had already given up; with a slow app the server itself took 6-15 s.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from rca.replay.spec import ScenarioSpec
from rca.replay.writers import Clock

__all__ = ["Day", "Request", "simulate"]

MIB = 1_048_576


@dataclass(slots=True)
class Request:
    t: float  # client start, unix seconds
    station: int
    service: int
    size: int
    latency: float  # as the station logs it
    status: int | str  # the station's verdict: an HTTP code or "timeout"
    server_at: float  # when the pod started on it
    server_s: float  # ingress $request_time
    server_status: int
    request_id: str = ""
    burst: int = -1  # index into spec.bursts of the incident it failed in
    truncated: bool = False  # its station line is cut short (a malformed line)

    @property
    def end(self) -> float:
        return self.t + self.latency

    @property
    def server_end(self) -> float:
        return self.server_at + self.server_s


@dataclass
class Day:
    requests: list[Request]
    incidents: list[tuple[float, float, int]]  # (start, end, burst index), by start
    isolated: int
    http_400: int


def simulate(spec: ScenarioSpec, clock: Clock, seed: int) -> Day:
    """All requests of the window, in client start order, with ids assigned."""
    rng = np.random.default_rng([seed, 1])
    reqs = _arrivals(spec, clock, rng)
    for k in range(len(spec.bursts)):
        reqs = _apply_burst(spec, clock, rng, reqs, k)
    incidents = []
    for k in range(len(spec.bursts)):
        failed = [r for r in reqs if r.burst == k]
        incidents.append((min(r.t for r in failed), max(r.end for r in failed), k))
    incidents.sort()
    isolated = _isolated_timeouts(spec, clock, rng, reqs)
    reqs.extend(isolated)
    reqs.sort(key=lambda r: r.t)
    n400 = _http_400s(spec, rng, reqs)
    _truncate(spec, rng, reqs)
    for r in reqs:
        r.request_id = rng.bytes(16).hex()
    return Day(reqs, incidents, len(isolated), n400)


def _pairs(spec: ScenarioSpec) -> list[tuple[int, int]]:
    index = {v.name: i for i, v in enumerate(spec.services)}
    return [(si, index[v]) for si, st in enumerate(spec.stations) for v in st.services]


def _normal(spec: ScenarioSpec, rng: np.random.Generator, t: float, pair) -> Request:
    tr = spec.traffic
    size = int(rng.uniform(*tr.image_mb) * MIB)
    upload = size / tr.lan_bytes_per_s
    server_s = rng.uniform(*tr.server_s)
    rtt = rng.uniform(0.002, 0.012)
    return Request(t, pair[0], pair[1], size, upload + server_s + rtt, 200,
                   t + upload + rtt / 2, server_s, 200)


def _timeout(spec: ScenarioSpec, rng: np.random.Generator, t: float, pair,
             mechanism: str) -> Request:
    tr = spec.traffic
    r = _normal(spec, rng, t, pair)
    lo, hi = tr.timeout_latency_s
    r.status = "timeout"
    if mechanism == "slow_app":
        r.server_s = rng.uniform(*tr.slow_server_s)
        r.latency = rng.uniform(max(lo, r.server_end - t + 1.0), max(hi, r.server_end - t + 2.0))
    else:  # the attempt that got through arrives after the client's first 5 s timeout
        r.latency = rng.uniform(lo, hi)
        late = max(tr.client_timeout_s, r.latency - r.server_s - 0.5)
        r.server_at = t + rng.uniform(tr.client_timeout_s, late)
    return r


def _arrivals(spec: ScenarioSpec, clock: Clock, rng: np.random.Generator) -> list[Request]:
    """Poisson arrivals hour by hour (day rate in production hours), capped per second."""
    tr = spec.traffic
    pairs = _pairs(spec)
    weights = rng.uniform(0.7, 1.3, len(pairs))
    weights /= weights.sum()
    since, until = clock.epoch(spec.since), clock.epoch(spec.until)
    lo, hi = tr.production_hours
    times, which = [], []
    t = since
    while t < until:
        end = min(t + 3600.0, until)
        rate = tr.requests_per_hour * (1.0 if lo <= clock.local(t).hour < hi else tr.night_factor)
        n = rng.poisson(rate * (end - t) / 3600.0)
        times.append(rng.uniform(t, end, n))
        which.append(rng.choice(len(pairs), n, p=weights))
        t = end
    order = np.argsort(np.concatenate(times), kind="stable")
    all_t, all_w = np.concatenate(times)[order], np.concatenate(which)[order]
    per_second: dict[int, int] = {}
    reqs = []
    for t, w in zip(all_t.tolist(), all_w.tolist(), strict=True):
        second = int(t)
        if per_second.get(second, 0) >= tr.max_per_second:
            continue
        per_second[second] = per_second.get(second, 0) + 1
        reqs.append(_normal(spec, rng, t, pairs[w]))
    return reqs


def _apply_burst(spec, clock, rng, reqs: list[Request], k: int) -> list[Request]:
    """Requests to the hit services inside the burst window all fail (and only those)."""
    burst = spec.bursts[k]
    anchor = clock.epoch(burst.at)
    t0, t1 = anchor + rng.uniform(0.0, 0.999), anchor + burst.duration_s
    index = {v.name: i for i, v in enumerate(spec.services)}
    hit = [index[name] for name in burst.services]
    kept = [r for r in reqs if not (r.service in hit and anchor - 1.0 <= r.t <= t1 + 1.0)]
    starts = [t0, *np.sort(rng.uniform(t0, t1, burst.timeouts - 1)).tolist()]
    services = list(rng.permutation(hit)) + list(rng.choice(hit, burst.timeouts - len(hit)))
    pairs = _pairs(spec)
    for t, v in zip(starts, services, strict=True):
        callers = [p for p in pairs if p[1] == v]
        r = _timeout(spec, rng, t, callers[rng.integers(len(callers))], burst.mechanism)
        r.burst = k
        kept.append(r)
    kept.sort(key=lambda r: r.t)
    return kept


def _gap(a: tuple[float, float], b: tuple[float, float]) -> float:
    return max(0.0, max(a[0], b[0]) - min(a[1], b[1]))


def _isolated_timeouts(spec, clock, rng, reqs: list[Request]) -> list[Request]:
    """Single timeouts far from every other failure: real, but not incidents."""
    noise, tr = spec.noise, spec.traffic
    since, until = clock.epoch(spec.since), clock.epoch(spec.until)
    busy = [(r.t, r.end) for r in reqs if r.status != 200]
    pairs, out = _pairs(spec), []
    for _ in range(noise.isolated_timeouts):
        for _try in range(500):
            t = rng.uniform(since, until - 60.0)
            if not tr.production_hours[0] <= clock.local(t).hour < tr.production_hours[1]:
                continue
            r = _timeout(spec, rng, t, pairs[rng.integers(len(pairs))], "dns_race")
            if all(_gap((r.t, r.end), b) >= noise.isolated_gap_s for b in busy):
                out.append(r)
                busy.append((r.t, r.end))
                break
    return out


def _http_400s(spec: ScenarioSpec, rng: np.random.Generator, reqs: list[Request]) -> int:
    """The app rejects a few requests outright (bad image): quick 400s on both sides."""
    noise = spec.noise
    fails = [(r.t, r.end, r.burst) for r in reqs if r.status == "timeout"]
    done = 0
    for i in rng.permutation(len(reqs)).tolist():
        if done >= noise.http_400:
            break
        r = reqs[i]
        if r.status != 200:
            continue
        gaps = [_gap((r.t, r.end), (a, b)) >= (noise.http_400_gap_s if k >= 0
                                                else noise.isolated_gap_s)
                for a, b, k in fails]
        if all(gaps):
            quick = rng.uniform(0.004, 0.03)  # rejected before inference runs
            r.latency += quick - r.server_s
            r.server_s = quick
            r.status = r.server_status = 400
            done += 1
    return done


def _truncate(spec: ScenarioSpec, rng: np.random.Generator, reqs: list[Request]) -> None:
    """Cut a few successful lines short, as a station PC losing power mid-write does."""
    name = spec.noise.malformed_station or spec.stations[-1].name
    station = [s.name for s in spec.stations].index(name)
    ok = [r for r in reqs if r.station == station and r.status == 200]
    count = min(spec.noise.malformed_lines, len(ok))
    for i in sorted(rng.choice(len(ok), count, replace=False).tolist()):
        ok[i].truncated = True
