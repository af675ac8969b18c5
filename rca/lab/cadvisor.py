"""cAdvisor's container figures for the lab's cgroups, served by node_exporter's textfile
collector in the pod's node namespace.

Why: rca's ``cpu.throttling`` reads ``container_cpu_cfs_throttled_periods_total`` over
``container_cpu_cfs_periods_total`` and ``memory.oom_kill`` reads
``container_memory_working_set_bytes`` against the limit (``rca/signals.py``) — cAdvisor's
names, with its ``namespace``/``pod``/``container`` labels. The lab has no kubelet to embed
cAdvisor, so this writes the same families from the same cgroup files cAdvisor reads
(``rca.lab.cgroups.Cgroup.stats``) into ``<dir>/cadvisor.prom`` every ``interval_s``; the
namespace's node_exporter (``--collector.textfile.directory``) serves them with the node's
own metrics and the lab Prometheus scrapes them like any other series. The file is
replaced atomically (write, rename), as the textfile collector requires.

It also carries, when given, the emulated link speed of a tbf-shaped interface
(``node_network_speed_bytes``): a veth always reports 10 Gbit/s, while the link the lab
models is the tbf rate; the node_exporter of that namespace then runs without its
``netclass`` collector, so the one speed series is the shaped one.
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass
from pathlib import Path

from rca.lab.cgroups import Cgroup, CgroupStats

__all__ = ["FAMILIES", "Exporter", "Target", "render"]

#: (name, type, help, CgroupStats field or None) in cAdvisor's words.
FAMILIES = (
    ("container_cpu_cfs_periods_total", "counter",
     "Number of elapsed enforcement period intervals.", "cpu_periods"),
    ("container_cpu_cfs_throttled_periods_total", "counter",
     "Number of throttled period intervals.", "cpu_throttled_periods"),
    ("container_cpu_cfs_throttled_seconds_total", "counter",
     "Total time duration the container has been throttled.", "cpu_throttled_seconds"),
    ("container_memory_working_set_bytes", "gauge", "Current working set in bytes.",
     "memory_working_set_bytes"),
    ("container_memory_usage_bytes", "gauge", "Current memory usage in bytes, including all "
     "memory regardless of when it was accessed", "memory_usage_bytes"),
    ("container_memory_failcnt", "counter", "Number of memory usage hits limits",
     "memory_failcnt"),
    ("container_oom_events_total", "counter",
     "Count of out of memory events observed for the container", "oom_kills"),
    ("container_spec_memory_limit_bytes", "gauge", "Memory limit for the container.",
     "memory_limit_bytes"),
)


@dataclass(frozen=True)
class Target:
    """One container's cgroup and the labels cAdvisor gives it."""

    cgroup: Cgroup
    namespace: str
    pod: str
    container: str
    image: str = ""

    def labels(self) -> str:
        pairs = {"container": self.container, "image": self.image, "namespace": self.namespace,
                 "pod": self.pod, "name": self.cgroup.name}
        return ",".join(f'{k}="{_escape(v)}"' for k, v in pairs.items())


def render(stats: list[tuple[Target, CgroupStats]],
           speeds: dict[str, float] | None = None) -> str:
    """The text exposition of ``stats`` (and link ``speeds``: device -> bytes/s)."""
    lines = []
    for name, kind, help_, attr in FAMILIES:
        lines += [f"# HELP {name} {help_}", f"# TYPE {name} {kind}"]
        for target, s in stats:
            value = getattr(s, attr)
            if isinstance(value, float) and math.isnan(value):
                continue
            lines.append(f"{name}{{{target.labels()}}} {value}")
    if speeds:
        lines += ["# HELP node_network_speed_bytes Network device property: speed_bytes",
                  "# TYPE node_network_speed_bytes gauge"]
        lines += [f'node_network_speed_bytes{{device="{_escape(d)}"}} {v:g}'
                  for d, v in sorted(speeds.items())]
    return "\n".join(lines) + "\n"


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


class Exporter:
    """Rewrites ``<directory>/cadvisor.prom`` every ``interval_s`` on a thread."""

    def __init__(self, directory: Path, interval_s: float = 0.5) -> None:
        self.path = directory / "cadvisor.prom"
        self.interval_s = interval_s
        self.targets: list[Target] = []
        self.speeds: dict[str, float] = {}
        self.errors = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="cadvisor", daemon=True)
        directory.mkdir(parents=True, exist_ok=True)

    def start(self) -> Exporter:
        self.write()
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(5)

    def write(self) -> None:
        stats = []
        for t in self.targets:
            try:
                stats.append((t, t.cgroup.stats()))
            except (OSError, RuntimeError):
                self.errors += 1  # a cgroup being removed at the end of the run
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(render(stats, self.speeds), encoding="utf-8")
        tmp.replace(self.path)

    def _loop(self) -> None:
        while not self._stop.wait(self.interval_s):
            self.write()
