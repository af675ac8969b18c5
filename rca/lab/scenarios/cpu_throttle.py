"""cpu-throttle — a CPU limit far below what the service needs at the offered load.

The real fault (seed 002): a container's ``limits.cpu`` becomes a CFS quota; when its
threads need more CPU than the quota per 100 ms period they wait for the next period, so
every answer comes late although nothing is broken. Here the ``interior`` service burns
``CPU_MS`` of CPU per request (``--cpu-ms``) at ~2 requests/s, in a cgroup the lab creates
with a quota of one core (never reached); at injection the quota drops to ``QUOTA_CORES``,
half the ~0.2 core the load needs. cAdvisor's ``container_cpu_cfs_periods_total`` and
``container_cpu_cfs_throttled_periods_total`` are read from the cgroup's ``cpu.stat`` and
reach Prometheus through the node's textfile collector. Lifting the fault removes the quota.
"""

from __future__ import annotations

from rca.lab.scenario import Durations, Scenario
from rca.lab.workload import platform_with_managed

#: CPU per request: at ~2 requests/s the service needs ~0.2 core.
CPU_MS = 100
#: The limit at injection, "100m": half what the load needs, so every period that runs a
#: request is throttled, the queue grows and answers pass the stations' 5 s timeout
#: within seconds (a limit that merely slows answers to 0.5 s is no incident: rca's
#: latency rule wants a second or more).
QUOTA_CORES = 0.1
BASELINE_CORES = 1.0
APP = "interior"


def build(lab, plan) -> None:
    container, _ = platform_with_managed(lab, plan, APP, ["--cpu-ms", f"{CPU_MS}"],
                                         limits={"cpu": f"{int(QUOTA_CORES * 1000)}m"})
    container.cgroup.set_cpu_limit(BASELINE_CORES)
    plan.options["managed"] = (container, None)


def inject(lab, plan):
    container, _ = plan.options["managed"]
    container.cgroup.set_cpu_limit(QUOTA_CORES)
    return container.cgroup.clear_cpu_limit


SCENARIO = Scenario(
    name="cpu-throttle",
    cause="cpu.throttling",
    describe=f"{APP} needs ~{2 * CPU_MS / 1000:.1f} core; its CFS quota drops to "
             f"{QUOTA_CORES:g} core",
    seed="002",
    build=build,
    inject=inject,
    also=("app.slow_response",),
    quick=Durations(baseline_s=20, fault_s=35, recovery_s=5),
    tools=("dnsmasq",),
)
