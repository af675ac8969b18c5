"""Labelled days of the inference-station world (seed 000): DNS stalls, slow apps, decoys.

Written with the replay generator's spec, never by reading what the rules check: names,
zones, rates and noise differ from the 2021-08-23 replay and from each other.
"""

from __future__ import annotations

from dataclasses import replace

from rca.replay import builtin
from rca.replay.spec import Burst, Dns, Node, Noise, ScenarioSpec, Service, Station, Traffic


def _site(name: str, zone: str, day: str, bursts: tuple[Burst, ...], seed: int,
          rate: float = 600.0, replicas: int = 1, noise: Noise | None = None,
          hours: tuple[str, str] = ("08:00:00", "14:00:00")) -> ScenarioSpec:
    services = (Service("label-ocr", "10.32.1.40"), Service("seam-check", "10.32.1.41"),
                Service("paint-qa", "10.32.1.42"), Service("bolt-count", "10.32.1.43"))
    stations = (Station("cell-1", "172.20.4.11", ("label-ocr", "seam-check")),
                Station("cell-2", "172.20.4.12", ("seam-check", "paint-qa")),
                Station("cell-3", "172.20.4.13", ("paint-qa", "bolt-count")),
                Station("cell-4", "172.20.4.14", ("bolt-count", "label-ocr")))
    nodes = (Node("ctl-a", "172.20.0.2", 8, "master", 32),
             Node("gpu-b7", "172.20.0.17", 64, "inference", 256),
             Node("misc-c", "172.20.0.21", 16, "worker", 64))
    return ScenarioSpec(
        name=name, seed=seed, zone=zone, since=f"{day}T{hours[0]}", until=f"{day}T{hours[1]}",
        stations=stations, services=services, nodes=nodes, bursts=bursts, namespace="vision-prod",
        traffic=Traffic(requests_per_hour=rate, production_hours=(6, 22)),
        dns=replace(Dns(), coredns_replicas=replicas), noise=noise or Noise())


def dns_europe() -> ScenarioSpec:
    day = "2024-03-12"
    return _site("dns-europe", "Europe/Berlin", day, (
        Burst(f"{day}T09:12:40", ("label-ocr", "seam-check", "paint-qa"), 10, 150.0),
        Burst(f"{day}T12:47:05", ("bolt-count", "label-ocr"), 7, 90.0),
    ), seed=11)


def dns_americas() -> ScenarioSpec:
    day = "2023-11-02"
    return _site("dns-americas", "America/Chicago", day, (
        Burst(f"{day}T10:05:10", ("seam-check", "paint-qa", "bolt-count", "label-ocr"), 16, 240.0),
    ), seed=12, rate=1200.0, noise=replace(Noise(), http_400=25, isolated_timeouts=6))


def slow_app_apac() -> ScenarioSpec:
    day = "2022-06-30"
    return _site("slow-app-apac", "Asia/Tokyo", day, (
        Burst(f"{day}T11:20:00", ("paint-qa",), 9, 200.0, mechanism="slow_app",
              label="app.slow_response"),
    ), seed=13, replicas=2)


def mixed_dns_then_slow_app() -> ScenarioSpec:
    day = "2025-01-20"
    return _site("mixed-dns-slow", "UTC", day, (
        Burst(f"{day}T08:40:00", ("label-ocr", "bolt-count"), 8, 120.0),
        Burst(f"{day}T12:10:00", ("seam-check",), 10, 240.0, mechanism="slow_app",
              label="app.slow_response"),
    ), seed=14)


def quiet_three_replicas() -> ScenarioSpec:
    """Three CoreDNS replicas, an ordinary day: 400s, isolated timeouts, a reboot."""
    return _site("quiet-three-replicas", "Australia/Sydney", "2024-07-04", (), seed=15,
                 replicas=3, noise=replace(Noise(), http_400=30, isolated_timeouts=3,
                                           reboot_node="misc-c",
                                           reboot_at="2024-07-04T10:30:00"))


SCENARIOS = {
    "replay-2021-08-23": lambda: builtin("2021-08-23"),
    "decoy-app-slow": lambda: builtin("decoy-app-slow"),
    "quiet": lambda: builtin("quiet"),
    "dns-europe": dns_europe,
    "dns-americas": dns_americas,
    "slow-app-apac": slow_app_apac,
    "mixed-dns-slow": mixed_dns_then_slow_app,
    "quiet-three-replicas": quiet_three_replicas,
}
