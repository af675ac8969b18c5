"""The lab's scenarios, by the name ``rca lab`` takes (one module each, defining SCENARIO)."""

from __future__ import annotations

from rca.lab.scenario import Scenario
from rca.lab.scenarios import (
    body_limit,
    conntrack_full,
    control,
    cpu_throttle,
    dead_backend,
    dns_drop,
    oom,
    probe_saturation,
)

__all__ = ["SCENARIOS"]

SCENARIOS: dict[str, Scenario] = {
    s.name: s for s in (
        dns_drop.SCENARIO,
        body_limit.SCENARIO,
        dead_backend.SCENARIO,
        control.SCENARIO,
        oom.SCENARIO,
        cpu_throttle.SCENARIO,
        probe_saturation.SCENARIO,
        conntrack_full.SCENARIO,
    )
}
