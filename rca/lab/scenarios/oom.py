"""oom — a service that keeps memory per request, in a cgroup with a memory limit, is killed
by the kernel again and again (an OOM loop).

The real fault: a container whose working set grows past its ``limits.memory`` is killed
by the kernel's OOM killer (SIGKILL, exit code 137, ``OOMKilled``) and restarted by the
kubelet, with a back-off; every request it held is lost. Here: the ``interior`` service
runs in a cgroup the lab creates (``memory.limit_in_bytes`` / ``memory.max`` =
``LIMIT_MB``), and at injection starts keeping ``GROW_MB`` per request (SIGUSR1: the leak a
new request kind brings; every restart keeps it). The lab's kubelet
(``rca.lab.kubelet``) sees the kernel's ``oom_kill`` counter rise, records
``lastState.terminated`` OOMKilled/137, the kernel-monitor's ``OOMKilling`` and the
``BackOff``; cAdvisor-named working-set and limit series reach Prometheus through the
node's textfile collector. Lifting the fault removes the limit (the fix: a larger one).
"""

from __future__ import annotations

import signal

from rca.lab.scenario import Durations, Scenario
from rca.lab.workload import platform_with_managed

#: The container's limit: about four times the service's resident size at rest (~25 MB),
#: so at 2 requests/s × GROW_MB it is reached in ~15-20 s: two or three kills in a minute.
LIMIT_MB = 96
#: Memory kept per request once the leak starts.
GROW_MB = 2.0
APP = "interior"


def build(lab, plan) -> None:
    container, argv = platform_with_managed(lab, plan, APP,
                                            ["--grow-mb", f"{GROW_MB:g}", "--grow-paused"],
                                            limits={"memory": f"{LIMIT_MB}Mi"})
    container.cgroup.set_memory_limit(LIMIT_MB << 20)
    plan.options["managed"] = (container, argv)


def inject(lab, plan):
    container, argv = plan.options["managed"]
    with container.lock:
        argv.remove("--grow-paused")  # every restart runs the leaking code from its start
        container.proc.send_signal(signal.SIGUSR1)
    return container.cgroup.clear_memory_limit


SCENARIO = Scenario(
    name="oom",
    cause="memory.oom_kill",
    describe=f"{APP} keeps {GROW_MB:g} MB per request under a {LIMIT_MB} MiB memory limit: "
             "the kernel kills it, the kubelet restarts it",
    seed="002",
    build=build,
    inject=inject,
    quick=Durations(baseline_s=20, fault_s=35, recovery_s=5),
    full=Durations(baseline_s=90, fault_s=150, recovery_s=30),
    tools=("dnsmasq",),
)
