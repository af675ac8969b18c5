"""The lab's scenarios, by the name ``rca lab`` takes (one module each, defining SCENARIO)."""

from __future__ import annotations

from rca.lab.scenario import Scenario
from rca.lab.scenarios import conntrack_full, control, cpu_throttle, dns_drop, oom, probe_saturation

__all__ = ["SCENARIOS"]

SCENARIOS: dict[str, Scenario] = {
    s.name: s for s in (
        dns_drop.SCENARIO,
        control.SCENARIO,
        oom.SCENARIO,
        cpu_throttle.SCENARIO,
        probe_saturation.SCENARIO,
        conntrack_full.SCENARIO,
    )
}
