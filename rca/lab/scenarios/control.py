"""control — the same platform and load with no fault: the analysis must find no incident.

Why: every other scenario shows the tool names a fault; this one shows the platform
itself (its DNS, its load, its timings on a busy two-core machine) makes none.
"""

from __future__ import annotations

from rca.lab.platform import inference_platform
from rca.lab.scenario import Scenario


def build(lab, plan) -> None:
    inference_platform(lab, plan)


def inject(lab, plan):
    return None  # nothing: the "fault window" is an ordinary stretch of the run


SCENARIO = Scenario(
    name="control",
    cause=None,
    describe="no fault: same platform, same load",
    seed="000",
    build=build,
    inject=inject,
    expect_incident=False,
    tools=("dnsmasq",),
)
