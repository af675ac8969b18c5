"""A replayed day described as data: who talks to whom, how often, and what goes wrong.

Why a spec separate from the simulation: the tests and the accuracy corpus need many days
that differ in names, zones, rates and noise, while the code that turns a day into files
stays one piece. Everything a scenario may vary lives here. Nothing here knows how the
analysis rules decide; a burst only says *what happens* (``mechanism``) and what the
answer key calls it (``label``), so the corpus can grade the rules without the rules
being able to peek.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

__all__ = ["Burst", "Dns", "Node", "Noise", "ScenarioSpec", "Service", "Station", "Traffic"]

MECHANISMS = ("dns_race", "slow_app")


@dataclass(frozen=True)
class Station:
    """An industrial PC on the line; it sends one camera image per request."""

    name: str
    ip: str
    services: tuple[str, ...]


@dataclass(frozen=True)
class Service:
    """One inference Deployment (1 replica) behind ingress-nginx."""

    name: str
    pod_ip: str
    port: int = 8080
    path: str = "/predict"


@dataclass(frozen=True)
class Node:
    """A cluster node; ``role`` places pods: "master" runs CoreDNS, "inference" the models."""

    name: str
    ip: str
    cpu: int
    role: str = "worker"
    memory_gib: int = 256


@dataclass(frozen=True)
class Burst:
    """One incident. ``at`` is the local wall time of its first failed request.

    ``dns_race``: A/AAAA pairs lose one query to the conntrack insert race and the
    resolver retries after 5 s; the servers themselves stay fast. ``slow_app``: the one
    service's own processing takes 6-15 s, visible in the ingress ``request_time``.
    """

    at: str
    services: tuple[str, ...]
    timeouts: int = 12
    duration_s: float = 180.0
    mechanism: str = "dns_race"
    label: str = "dns.resolver_timeout"
    also: tuple[str, ...] = ()


@dataclass(frozen=True)
class Traffic:
    """Request volume and timings, from MISSION 000 (361 req/h, 5 s client timeout)."""

    requests_per_hour: float = 361.0
    night_factor: float = 0.12  # share of the day rate outside production hours
    production_hours: tuple[int, int] = (8, 20)
    max_per_second: int = 6
    image_mb: tuple[float, float] = (3.0, 10.0)
    server_s: tuple[float, float] = (0.2, 0.6)
    client_timeout_s: float = 5.0
    timeout_latency_s: tuple[float, float] = (11.0, 33.0)
    slow_server_s: tuple[float, float] = (6.0, 15.0)
    lan_bytes_per_s: float = 110e6  # 1 GbE to the ingress: a 10 MB image takes ~0.1 s


@dataclass(frozen=True)
class Dns:
    """What the inference pods resolve and how CoreDNS is deployed."""

    coredns_replicas: int = 1
    coredns_ips: tuple[str, ...] = ("10.244.0.5", "10.244.0.6", "10.244.0.7")
    per_request_lookup: float = 0.3  # share of requests whose pod resolves the store
    request_name: str = "minio.storage.svc.cluster.local."
    periodic_name: str = "license.inference.svc.cluster.local."
    periodic_every_s: float = 600.0
    extra_pairs_per_burst: int = 6  # lookups during a burst besides one per failure
    loss_share: float = 0.6  # of those extra pairs, how many lose a query


@dataclass(frozen=True)
class Noise:
    """Things real days have that are not incidents; each must stay harmless."""

    http_400: int = 8
    isolated_timeouts: int = 4
    isolated_gap_s: float = 1800.0  # from any other failure: never part of an incident
    http_400_gap_s: float = 600.0  # from any timeout
    malformed_lines: int = 2
    malformed_station: str = ""  # "" means the last station
    reboot_node: str = ""  # a node that reboots once: exporter gap and counter reset
    reboot_at: str = ""  # local wall time
    coredns_reloads: int = 2
    cronjob_every_h: int = 3
    cronjob_backoff_run: int = 1  # which run of the cronjob crash-loops (-1: none)


@dataclass(frozen=True)
class ScenarioSpec:
    """One day (or any window) of one cluster. ``since``/``until`` are local wall times."""

    name: str
    seed: int
    zone: str
    since: str
    until: str
    stations: tuple[Station, ...]
    services: tuple[Service, ...]
    nodes: tuple[Node, ...]
    bursts: tuple[Burst, ...] = ()
    namespace: str = "inference"
    traffic: Traffic = field(default_factory=Traffic)
    dns: Dns = field(default_factory=Dns)
    noise: Noise = field(default_factory=Noise)
    scrape_s: int = 30
    link_bytes_per_s: float = 1.25e9  # 10 Gb/s

    def __post_init__(self) -> None:
        """Reject a spec that cannot be simulated, naming the field, before any file exists."""
        ZoneInfo(self.zone)
        names = [s.name for s in self.services]
        if len(set(names)) != len(names):
            raise ValueError("services: names must be unique")
        for st in self.stations:
            unknown = set(st.services) - set(names)
            if unknown or not st.services:
                raise ValueError(f"station {st.name}: unknown or no services {sorted(unknown)}")
        called = {v for st in self.stations for v in st.services}
        roles = [n.role for n in self.nodes]
        if roles.count("inference") != 1 or roles.count("master") != 1:
            raise ValueError("nodes: need exactly one 'master' and one 'inference' node")
        if not 1 <= self.dns.coredns_replicas <= len(self.dns.coredns_ips):
            raise ValueError("dns.coredns_replicas: between 1 and len(dns.coredns_ips)")
        for b in self.bursts:
            if b.mechanism not in MECHANISMS:
                raise ValueError(f"burst {b.at}: mechanism must be one of {MECHANISMS}")
            if not b.services or not set(b.services) <= called:
                raise ValueError(f"burst {b.at}: services must be called by some station")
            if b.timeouts < len(b.services):
                raise ValueError(f"burst {b.at}: fewer timeouts than services")
        if self.noise.reboot_node and self.noise.reboot_node not in [n.name for n in self.nodes]:
            raise ValueError(f"noise.reboot_node: no node {self.noise.reboot_node!r}")

    def node(self, role: str) -> Node:
        return next(n for n in self.nodes if n.role == role)
