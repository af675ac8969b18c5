"""A service pod run under the lab's kubelet: in its own cgroup, watched, restarted, probed,
and published to Prometheus as cAdvisor would (the oom, cpu-throttle and
probe-saturation scenarios' common set-up).

Why a module of its own: the plain services of ``rca.lab.platform`` are processes that
never die. A pod whose limits and restarts are the fault needs the pieces together —
``Cgroup`` (its limits), ``kubelet.Container`` (its process and restart records),
``prober.Prober`` (its liveness probe) and ``cadvisor.Exporter`` (its figures) — each
registered with the lab's cleanup stack so Ctrl-C or a failure undoes it.
"""

from __future__ import annotations

import sys
import time

from rca.lab.cadvisor import Exporter, Target
from rca.lab.cgroups import Cgroup
from rca.lab.host import Lab, Namespace
from rca.lab.kube import IMAGE, KUBE_NAMESPACE
from rca.lab.kubelet import Container
from rca.lab.metrics import COLLECTORS
from rca.lab.platform import NODES, SERVICES, inference_platform, wait_listening
from rca.lab.prober import HttpGetProbe, Prober
from rca.lab.scenario import Plan

__all__ = ["cadvisor", "managed_service", "probe"]

#: Ports of the pods a scenario runs itself (the platform's services use 8081–8083).
MANAGED_PORT = 8090


def cadvisor(lab: Lab, plan: Plan, role: str = "svc",
             speeds: dict[str, float] | None = None) -> Exporter:
    """Container figures for ``role``'s node, through its node_exporter's textfile
    collector; with link ``speeds`` the node_exporter runs without ``netclass`` (see
    ``rca.lab.cadvisor``). Call before the platform starts its node_exporters."""
    directory = plan.workdir / f"textfile-{role}"
    exporter = Exporter(directory)
    exporter.speeds = dict(speeds or {})
    collectors = tuple(c for c in COLLECTORS if not (speeds and c == "netclass"))
    plan.exporter_options[role] = {"textfile_dir": directory, "collectors": collectors}
    exporter.start()
    lab.on_cleanup("cadvisor textfile writer", exporter.stop)
    return exporter


def platform_with_managed(lab: Lab, plan: Plan, app: str, args: list[str],
                          limits: dict) -> tuple[Container, list[str]]:
    """The inference platform with ``app`` taken out of it and run on the svc node under
    the lab's kubelet, in its own cgroup watched by the cAdvisor exporter: the set-up of
    the scenarios that put a limit on one service (oom, cpu-throttle)."""
    exporter = cadvisor(lab, plan)
    svc = lab.ns("svc")
    others = tuple(s for s in SERVICES if s != app)
    inference_platform(lab, plan, services=others, also={app: (svc.ip, MANAGED_PORT)})
    return managed_service(lab, plan, svc, app, exporter, args, limits=limits)


def managed_service(lab: Lab, plan: Plan, svc: Namespace, app: str, exporter: Exporter,
                    args: list[str], port: int = MANAGED_PORT, limits: dict | None = None,
                    liveness: dict | None = None) -> tuple[Container, list[str]]:
    """Pod ``app`` (one container) on the svc node, its process in a fresh cgroup; also
    the command line every (re)start uses, which a scenario may change at injection."""
    pod_name = plan.kube.pod(app, NODES["svc"], svc.ip, port, limits=limits,
                             liveness=liveness)["metadata"]["name"]
    plan.kube.deployment(app, 1, 1)
    group = Cgroup.create(f"rcalab-{lab.lab_id}-{app}")
    lab.on_cleanup(f"cgroup {group.name}", group.remove)
    argv = [sys.executable, "-m", "rca.lab.service", "--listen", f"{svc.ip}:{port}",
            "--name", app, "--log", str(plan.logs / f"server-{app}.jsonl"), "--pod", pod_name,
            "--node", NODES["svc"], *args]
    log = plan.workdir / f"service-{app}.log"
    container: Container

    def spawn():
        proc = svc.popen(argv, log=log)
        # newer than the process' own stop: the kubelet stops before it could restart it
        lab.on_cleanup(f"kubelet {pod_name}", container.stop)
        return proc

    journal = open(plan.workdir / f"kubelet-{app}.log", "a", buffering=1,  # noqa: SIM115
                   encoding="utf-8")
    lab.on_cleanup(f"kubelet journal {app}", journal.close)

    def say(text: str) -> None:
        journal.write(f"{time.strftime('%H:%M:%S')} {text}\n")

    container = Container(plan.kube, pod_name, app, NODES["svc"], spawn, group, say=say)
    container.start()
    exporter.targets.append(Target(group, KUBE_NAMESPACE, pod_name, app, IMAGE))
    wait_listening(svc.ip, port, 15.0, svc)
    return container, argv


def probe(container: Container, ip: str, port: int, spec: HttpGetProbe | None = None,
          on_kill=lambda: None) -> Prober:
    """kubelet's liveness prober on ``container``, its events into the pod's record."""
    spec = spec or HttpGetProbe(ip, port)
    kube, pod = container.kube, container.pod

    def on_event(kind: str, reason: str, message: str) -> None:
        with container.lock:
            kube.recur(pod, reason, message, time.time(), warning=kind == "Warning")

    def kill() -> None:
        on_kill()
        container.kill()

    prober = Prober(spec, container.name, on_event, kill).start()
    container.also_stop.append(prober.stop)
    return prober

