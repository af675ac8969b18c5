"""Cgroups the lab creates for a service: a memory limit (oom) and a CFS quota (cpu-throttle).

Why the lab does this itself instead of running a kubelet: a container's limits *are* a
cgroup's ``memory.limit_in_bytes`` / ``memory.max`` and ``cpu.cfs_quota_us`` / ``cpu.max``;
the kernel's OOM killer and the CFS throttle act on the cgroup, not on Kubernetes. So a
process in a cgroup with those files written fails exactly as a container does, and the
figures cAdvisor exports (``memory.failcnt``, ``oom_kill``, ``cpu.stat``'s ``nr_throttled``)
are read from the same files here (:meth:`Cgroup.stats`).

Both layouts are supported: cgroup v1 (one hierarchy per controller, ``memory`` and ``cpu``
mounted under ``/sys/fs/cgroup/<controller>``) and v2 (``cgroup2`` mounted on
``/sys/fs/cgroup``). The lab's cgroups go under the cgroup the lab process itself runs in
(its "own parent"): whatever limits the machine put on the lab keep holding, and two
sessions on one machine never meet in the tree. On v2, where a cgroup with processes cannot
hand controllers to its children (the "no internal processes" rule), the parent is a
``rca-lab`` cgroup at the root instead.

Removal moves any process left in the cgroup to the parent and removes the directory,
retrying briefly: the kernel keeps a cgroup busy for a moment after its last task exits.
"""

from __future__ import annotations

import errno
import os
import time
from dataclasses import dataclass
from pathlib import Path

__all__ = ["CFS_PERIOD_US", "Cgroup", "CgroupError", "CgroupStats", "Layout", "detect"]

#: The kernel's (and Kubernetes') default CFS period: a quota is granted per 100 ms.
CFS_PERIOD_US = 100_000
_CONTROLLERS = ("memory", "cpu")
_V2_FALLBACK_PARENT = "rca-lab"


class CgroupError(RuntimeError):
    """A cgroup could not be created, written or removed; the message names the file."""


@dataclass(frozen=True)
class Layout:
    """Where the controllers live: ``version`` 1 or 2, and per controller (v1) or for all
    of them (v2, key ``""``) the directory of the lab process's own cgroup."""

    version: int
    parents: dict[str, Path]

    def parent(self, controller: str) -> Path:
        return self.parents[controller if self.version == 1 else ""]


@dataclass(frozen=True)
class CgroupStats:
    """What cAdvisor would export for the cgroup, in cAdvisor's units."""

    memory_usage_bytes: int
    memory_working_set_bytes: int  # usage minus inactive file pages, cAdvisor's rule
    memory_limit_bytes: int  # 0 = unlimited, as cAdvisor reports it
    memory_failcnt: int  # times usage hit the limit (v2: memory.events "max")
    oom_kills: int
    cpu_periods: int
    cpu_throttled_periods: int
    cpu_throttled_seconds: float
    cpu_usage_seconds: float  # NaN on v1 (cpuacct is its own hierarchy, not joined)


def detect(root: Path = Path("/sys/fs/cgroup"), mounts: Path = Path("/proc/self/mounts"),
           own: Path = Path("/proc/self/cgroup")) -> Layout:
    """The cgroup layout of this machine and the lab process's own cgroups.

    v2 when ``root`` itself is a ``cgroup2`` mount; v1 when the ``memory`` and ``cpu``
    controllers are mounted as v1 hierarchies. A hybrid machine (v1 controllers plus an
    empty ``cgroup2`` under ``unified``) is v1: the controllers are where v1 put them.
    """
    table = [line.split() for line in _read(mounts).splitlines() if line.strip()]
    paths = _own_paths(_read(own))
    if any(m[1] == str(root) and m[2] == "cgroup2" for m in table):
        return Layout(2, {"": root / paths.get("", "/").lstrip("/")})
    parents = {}
    for controller in _CONTROLLERS:
        mount = next((Path(m[1]) for m in table
                      if m[2] == "cgroup" and controller in m[3].split(",")), None)
        if mount is None:
            raise CgroupError(f"no cgroup v1 '{controller}' hierarchy mounted ({mounts}) and "
                              f"no cgroup2 on {root}")
        parents[controller] = mount / paths.get(controller, "/").lstrip("/")
    return Layout(1, parents)


def _own_paths(text: str) -> dict[str, str]:
    """``/proc/self/cgroup`` as controller -> path (``""`` for the v2 line ``0::/…``)."""
    out = {}
    for line in text.splitlines():
        parts = line.split(":", 2)
        if len(parts) != 3:
            continue
        for controller in parts[1].split(",") if parts[1] else [""]:
            out[controller] = parts[2]
    return out


class Cgroup:
    """One lab cgroup with a memory and a cpu controller.

    ``create`` makes the directories; the limit setters write the files a container runtime
    writes for ``resources.limits``; ``attach`` moves a process in; ``remove`` undoes it all.
    """

    def __init__(self, name: str, layout: Layout) -> None:
        if not name or "/" in name or name.startswith("."):
            raise CgroupError(f"bad cgroup name {name!r}")
        self.name = name
        self.layout = layout
        self.dirs = self._dirs(layout, name)

    @staticmethod
    def _dirs(layout: Layout, name: str) -> dict[str, Path]:
        if layout.version == 1:
            return {c: layout.parent(c) / name for c in _CONTROLLERS}
        return {"": layout.parent("") / name}

    def dir(self, controller: str) -> Path:
        return self.dirs[controller if self.layout.version == 1 else ""]

    # -- lifecycle ----------------------------------------------------------------------
    @classmethod
    def create(cls, name: str, layout: Layout | None = None) -> Cgroup:
        """Make the cgroup (v2: under a parent that delegates memory and cpu)."""
        layout = layout or detect()
        if layout.version == 2:
            layout = _delegating_parent(layout)
        group = cls(name, layout)
        made = []
        try:
            for d in group.dirs.values():
                d.mkdir()
                made.append(d)
        except OSError as e:
            for d in made:
                _rmdir(d)
            raise CgroupError(f"cannot create cgroup {e.filename}: {e.strerror}") from e
        return group

    def remove(self, timeout_s: float = 5.0) -> None:
        """Move leftover processes to the parent and delete the cgroup (idempotent)."""
        for controller, d in self.dirs.items():
            if not d.exists():
                continue
            for pid in self.pids(controller):
                _write(d.parent / "cgroup.procs", str(pid), missing_ok=True)
            deadline = time.monotonic() + timeout_s
            while not _rmdir(d):
                if time.monotonic() > deadline:
                    raise CgroupError(f"cgroup {d} still busy after {timeout_s:g} s "
                                      f"(pids {self.pids(controller)})")
                time.sleep(0.05)

    # -- limits ---------------------------------------------------------------------------
    def set_memory_limit(self, limit_bytes: int) -> None:
        """The container's ``limits.memory``. On v1 swap is capped to the same figure when
        the kernel accounts it, so the limit means "killed", not "swapped"."""
        if self.layout.version == 2:
            _write(self.dir("memory") / "memory.max", str(limit_bytes))
            _write(self.dir("memory") / "memory.swap.max", "0", missing_ok=True)
            return
        d = self.dir("memory")
        _write(d / "memory.limit_in_bytes", str(limit_bytes))
        _write(d / "memory.memsw.limit_in_bytes", str(limit_bytes), missing_ok=True)

    def set_cpu_limit(self, cores: float, period_us: int = CFS_PERIOD_US) -> None:
        """The container's ``limits.cpu`` as the runtime writes it: a CFS quota of
        ``cores`` × the period, per period."""
        quota = max(1000, int(round(cores * period_us)))  # the kernel's floor is 1 ms
        if self.layout.version == 2:
            _write(self.dir("cpu") / "cpu.max", f"{quota} {period_us}")
            return
        d = self.dir("cpu")
        _write(d / "cpu.cfs_period_us", str(period_us))
        _write(d / "cpu.cfs_quota_us", str(quota))

    def clear_memory_limit(self) -> None:
        """No memory limit (``-1`` on v1, ``max`` on v2): the fix a scenario lifts to."""
        if self.layout.version == 2:
            _write(self.dir("memory") / "memory.max", "max")
            return
        d = self.dir("memory")
        _write(d / "memory.memsw.limit_in_bytes", "-1", missing_ok=True)
        _write(d / "memory.limit_in_bytes", "-1")

    def clear_cpu_limit(self) -> None:
        """No CFS quota (``-1`` on v1, ``max`` on v2)."""
        if self.layout.version == 2:
            _write(self.dir("cpu") / "cpu.max", f"max {CFS_PERIOD_US}")
            return
        _write(self.dir("cpu") / "cpu.cfs_quota_us", "-1")

    # -- processes ------------------------------------------------------------------------
    def attach(self, pid: int) -> None:
        """Move ``pid`` (and, v1 ``cgroup.procs``, all its threads) into the cgroup."""
        for d in self.dirs.values():
            _write(d / "cgroup.procs", str(pid))

    def pids(self, controller: str = "memory") -> list[int]:
        path = self.dir(controller) / "cgroup.procs"
        if not path.exists():
            return []
        return [int(x) for x in _read(path).split()]

    # -- figures --------------------------------------------------------------------------
    def stats(self) -> CgroupStats:
        if self.layout.version == 2:
            return self._stats_v2()
        mem, cpu = self.dir("memory"), self.dir("cpu")
        usage = _int(mem / "memory.usage_in_bytes")
        memstat = _keyed(mem / "memory.stat")
        limit = _int(mem / "memory.limit_in_bytes")
        cpustat = _keyed(cpu / "cpu.stat")
        return CgroupStats(
            memory_usage_bytes=usage,
            memory_working_set_bytes=max(0, usage - memstat.get("total_inactive_file", 0)),
            memory_limit_bytes=0 if limit >= 2**62 else limit,
            memory_failcnt=_int(mem / "memory.failcnt"),
            oom_kills=_keyed(mem / "memory.oom_control").get("oom_kill", 0),
            cpu_periods=cpustat.get("nr_periods", 0),
            cpu_throttled_periods=cpustat.get("nr_throttled", 0),
            cpu_throttled_seconds=cpustat.get("throttled_time", 0) / 1e9,
            cpu_usage_seconds=float("nan"),
        )

    def _stats_v2(self) -> CgroupStats:
        d = self.dir("")
        usage = _int(d / "memory.current")
        memstat = _keyed(d / "memory.stat")
        events = _keyed(d / "memory.events")
        limit = _read(d / "memory.max").strip()
        cpustat = _keyed(d / "cpu.stat")
        return CgroupStats(
            memory_usage_bytes=usage,
            memory_working_set_bytes=max(0, usage - memstat.get("inactive_file", 0)),
            memory_limit_bytes=0 if limit == "max" else int(limit),
            memory_failcnt=events.get("max", 0),
            oom_kills=events.get("oom_kill", 0),
            cpu_periods=cpustat.get("nr_periods", 0),
            cpu_throttled_periods=cpustat.get("nr_throttled", 0),
            cpu_throttled_seconds=cpustat.get("throttled_usec", 0) / 1e6,
            cpu_usage_seconds=cpustat.get("usage_usec", 0) / 1e6,
        )

    def __repr__(self) -> str:
        return f"Cgroup({self.name!r}, v{self.layout.version}, {list(self.dirs.values())})"


def _delegating_parent(layout: Layout) -> Layout:
    """v2: the lab's own cgroup when it can hand ``memory`` and ``cpu`` to children, else
    a ``rca-lab`` cgroup at the root (the root is exempt from the no-internal-process rule)."""
    own = layout.parent("")
    if _enable_controllers(own):
        return layout
    root = own
    while (root.parent / "cgroup.controllers").exists() and root != root.parent:
        root = root.parent
    parent = root / _V2_FALLBACK_PARENT
    parent.mkdir(exist_ok=True)
    if not (_enable_controllers(root) and _enable_controllers(parent)):
        raise CgroupError(f"cannot delegate memory and cpu to children of {own} or {parent}")
    return Layout(2, {"": parent})


def _enable_controllers(d: Path) -> bool:
    wanted = set(_CONTROLLERS)
    if wanted <= set(_read(d / "cgroup.subtree_control").split()):
        return True
    try:
        _write(d / "cgroup.subtree_control", " ".join(f"+{c}" for c in _CONTROLLERS))
    except CgroupError:
        return False
    return True


# -- file helpers -----------------------------------------------------------------------------
def _read(path: Path) -> str:
    try:
        return path.read_text()
    except OSError as e:
        raise CgroupError(f"cannot read {path}: {e.strerror}") from e


def _write(path: Path, value: str, missing_ok: bool = False) -> None:
    try:
        with open(path, "w") as f:
            f.write(value)
    except FileNotFoundError:
        if not missing_ok:
            raise CgroupError(f"cannot write {value!r} to {path}: no such file") from None
    except OSError as e:
        if missing_ok and e.errno in (errno.ESRCH, errno.ENOENT):
            return
        raise CgroupError(f"cannot write {value!r} to {path}: {e.strerror}") from e


def _rmdir(d: Path) -> bool:
    try:
        os.rmdir(d)
    except FileNotFoundError:
        return True
    except OSError as e:
        if e.errno == errno.EBUSY:
            return False
        raise CgroupError(f"cannot remove cgroup {d}: {e.strerror}") from e
    return True


def _int(path: Path) -> int:
    return int(_read(path).split()[0])


def _keyed(path: Path) -> dict[str, int]:
    """A ``key value`` per line file (memory.stat, cpu.stat, memory.oom_control/events)."""
    out = {}
    for line in _read(path).splitlines():
        parts = line.split()
        if len(parts) == 2 and parts[1].lstrip("-").isdigit():
            out[parts[0]] = int(parts[1])
    return out
