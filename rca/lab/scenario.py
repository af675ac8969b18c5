"""What a lab scenario is: the injected truth, how to build its platform, how to break it.

Why a record and not a class hierarchy: like a cause (``rca/causes/base.py``), a scenario
is data plus two functions, registered by name in ``rca/lab/scenarios/__init__.py``; the
same name is the ``rca lab`` argument. ``build`` starts the platform pieces the scenario
needs (through ``rca/lab/platform.py``), ``inject`` starts the fault and returns the
function that lifts it (or None when the fault ends by itself), so ``run.py`` owns the
timeline: baseline, fault, recovery.

A scenario may declare ``variants``: further runs of the same fault with one option
changed, each with its own expectation. dns-drop's ``use-vc`` variant is the fix: the
same packet loss, resolver over TCP, and no incident must be found.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rca.lab.kube import Kube

__all__ = ["Durations", "Plan", "Scenario", "Variant"]


@dataclass(frozen=True)
class Durations:
    """Seconds of load before, during and after the fault."""

    baseline_s: float
    fault_s: float
    recovery_s: float

    @property
    def load_s(self) -> float:
        return self.baseline_s + self.fault_s + self.recovery_s


#: ``rca lab --quick`` (CI: ≤ 90 s a run with set-up, collection and analysis) and full.
QUICK = Durations(baseline_s=20, fault_s=20, recovery_s=5)
FULL = Durations(baseline_s=90, fault_s=120, recovery_s=30)


@dataclass(frozen=True)
class Variant:
    """A further run of a scenario with ``options`` set (e.g. ``{"use_vc": True}``)."""

    suffix: str
    options: dict[str, Any]
    expect_incident: bool
    describe: str


@dataclass
class Plan:
    """One run's settings and the state its pieces share (addresses, the kube objects)."""

    name: str
    workdir: Path
    durations: Durations
    options: dict[str, Any] = field(default_factory=dict)
    kube: Kube = field(default_factory=Kube)
    #: lab node name -> ``ip:port`` of its node_exporter (Prometheus' targets)
    exporters: dict[str, str] = field(default_factory=dict)
    #: lab role -> keyword arguments of ``metrics.start_node_exporter`` (collectors,
    #: textfile_dir) for scenarios that publish more than the defaults
    exporter_options: dict[str, dict] = field(default_factory=dict)
    #: DNS name -> IP (what the lab's DNS server answers)
    names: dict[str, str] = field(default_factory=dict)
    #: service name -> URL the stations call
    targets: dict[str, str] = field(default_factory=dict)
    prometheus: str = ""
    dns_ip: str = ""
    #: client request body size range (bytes)
    body_bytes: tuple[int, int] = (0, 0)
    qps: float = 6.0
    stations: int = 2

    @property
    def logs(self) -> Path:
        path = self.workdir / "logs"
        path.mkdir(parents=True, exist_ok=True)
        return path


@dataclass(frozen=True)
class Scenario:
    name: str
    #: the injected truth: the catalogue cause id that must rank first (None: control)
    cause: str | None
    describe: str
    #: the seed document and the real fault it reproduces
    seed: str
    build: Callable[[Any, Plan], None]
    inject: Callable[[Any, Plan], Callable[[], None] | None]
    also: tuple[str, ...] = ()
    quick: Durations = QUICK
    full: Durations = FULL
    expect_incident: bool = True
    #: programs this scenario needs beyond the lab's own (checked before anything starts)
    tools: tuple[str, ...] = ()
    variants: tuple[Variant, ...] = ()
