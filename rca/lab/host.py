"""The lab's hold on the machine: one lock, private namespaces, and a cleanup stack.

Why a machine-wide lock: a run changes global state (iptables rules, ``nf_conntrack_max``,
cgroups, a route for its subnet); two runs at once would undo each other's changes, so a
second run waits a bounded time for ``/run/rca-lab.lock`` and then fails naming the holder.

Why a LIFO cleanup stack: every change is registered with its undo the moment it is made,
so whatever fails later (an exception, Ctrl-C, SIGTERM from a CI runner) the undos run in
reverse order and the machine is left as it was. Processes are recorded by PID and stopped
by PID (TERM, wait, KILL), never by name: other engineers' processes share the machine.

Network: each role ("client", "dns", "svc", …) is a namespace ``rcalab-<id>-<role>`` with a
veth into one bridge in the root namespace. The bridge holds ``.1`` of a private /24
picked from ``10.213.N.0/24`` not already routed, so a Prometheus in the root namespace on
127.0.0.1 can scrape the node_exporters inside the namespaces.
"""

from __future__ import annotations

import contextlib
import fcntl
import ipaddress
import os
import re
import shutil
import signal
import subprocess
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["LOCK_PATH", "Lab", "LabError", "Namespace", "missing_tools", "pick_subnet"]

LOCK_PATH = Path("/run/rca-lab.lock")
NETNS_ETC = Path("/etc/netns")
#: Subnets the lab may take: 10.213.N.0/24; one not already routed on this machine.
SUBNET_BASE = "10.213.{n}.0/24"
#: Tools every scenario needs; a scenario names its own extra ones.
TOOLS = ("ip", "iptables", "prometheus", "prometheus-node-exporter")
STOP_WAIT_S = 3.0


class LabError(RuntimeError):
    """The lab cannot run here (not root, a missing tool, no netns) or a step failed."""


def missing_tools(tools: tuple[str, ...] | list[str]) -> list[str]:
    """The tools of ``tools`` that are not on PATH (or in /usr/sbin, where dnsmasq is)."""
    path = os.environ.get("PATH", "") + ":/usr/sbin:/sbin"
    return [t for t in tools if shutil.which(t, path=path) is None]


def pick_subnet(routes: str, taken: int = 0) -> ipaddress.IPv4Network:
    """The first ``10.213.N.0/24`` (N from 1) that no route of ``ip route`` overlaps."""
    routed = []
    for line in routes.splitlines():
        word = line.split()[0] if line.split() else ""
        try:
            routed.append(ipaddress.ip_network(word, strict=False))
        except ValueError:
            continue  # "default" and the like
    for n in range(1 + taken, 255):
        net = ipaddress.ip_network(SUBNET_BASE.format(n=n))
        if not any(net.overlaps(r) for r in routed if r.prefixlen > 0):
            return net
    raise LabError("no free 10.213.N.0/24 subnet: every one is routed on this machine")


def run(cmd: list[str], check: bool = True, ns: str | None = None,
        input_text: str | None = None) -> subprocess.CompletedProcess:
    """One command (in namespace ``ns``), its error naming the command and what it said."""
    full = ["ip", "netns", "exec", ns, *cmd] if ns else cmd
    proc = subprocess.run(full, capture_output=True, text=True, input=input_text)
    if check and proc.returncode != 0:
        raise LabError(f"{' '.join(full)} failed ({proc.returncode}): "
                       f"{(proc.stderr or proc.stdout).strip()[:300]}")
    return proc


@dataclass
class Namespace:
    """One lab role: a network namespace with one address on the lab bridge."""

    lab: Lab
    role: str
    name: str
    ip: str
    #: the veth end on the bridge, in the root namespace (what reaches this node passes
    #: its egress queue: where probe-saturation shapes the node's link)
    host_if: str = ""

    def exec(self, cmd: list[str], check: bool = True,
             input_text: str | None = None) -> subprocess.CompletedProcess:
        return run(cmd, check=check, ns=self.name, input_text=input_text)

    def popen(self, cmd: list[str], log: Path | None = None, env: dict | None = None,
              pipe: bool = False) -> subprocess.Popen:
        """Start ``cmd`` inside the namespace; the lab stops it by PID at cleanup."""
        return self.lab.start(["ip", "netns", "exec", self.name, *cmd], log=log, env=env,
                              pipe=pipe)

    def add_ip(self) -> str:
        """One more address of the lab subnet on this namespace (a pod's own IP on its
        node, as a CNI gives each pod one)."""
        ip = self.lab.next_ip()
        self.exec(["ip", "addr", "add", f"{ip}/{self.lab.net.prefixlen}", "dev", "eth0"])
        return ip

    def resolv_conf(self, text: str) -> Path:
        """``/etc/netns/<ns>/resolv.conf``: ``ip netns exec`` binds it over
        ``/etc/resolv.conf``, so glibc in this namespace reads it (and only here)."""
        path = NETNS_ETC / self.name / "resolv.conf"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        return path


@dataclass
class Lab:
    """Everything one run creates, undone in reverse order on exit (see module doc)."""

    workdir: Path
    #: how long a run waits for another run to finish (a quick run takes about a minute,
    #: ``rca lab all`` several: the CI runs three quick ones in a row)
    lock_timeout_s: float = 600.0
    say: Callable[[str], None] = lambda _text: None
    lab_id: str = field(default_factory=lambda: uuid.uuid4().hex[:4])
    net: ipaddress.IPv4Network | None = None
    namespaces: dict[str, Namespace] = field(default_factory=dict)
    processes: list[subprocess.Popen] = field(default_factory=list)
    cleanup_errors: list[str] = field(default_factory=list)
    #: seconds spent waiting for another run's lock (not part of this run's duration)
    waited_s: float = 0.0
    _undo: list[tuple[str, Callable[[], None]]] = field(default_factory=list)
    _lock_fd: int | None = None
    _old_handlers: dict = field(default_factory=dict)
    _hosts: int = 1

    # -- lifetime ------------------------------------------------------------------------
    def __enter__(self) -> Lab:
        preflight()
        self.workdir.mkdir(parents=True, exist_ok=True)
        self._lock()
        try:
            self._trap_signals()
            self._reclaim_stale()
            self._bridge()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> list[str]:
        """Run every undo, newest first; an undo that fails is reported, the rest still
        run. Returns the failures (also kept in ``self.cleanup_errors``)."""
        errors = []
        for sig in (signal.SIGTERM, signal.SIGHUP, signal.SIGINT):  # let the undo finish
            self._old_handlers.setdefault(sig, signal.getsignal(sig))
            signal.signal(sig, signal.SIG_IGN)
        while self._undo:
            what, undo = self._undo.pop()
            try:
                undo()
            except Exception as exc:  # noqa: BLE001 - every other undo must still run
                errors.append(f"{what}: {exc}")
        self._restore_signals()
        self._unlock()
        self.cleanup_errors = errors
        return errors

    def on_cleanup(self, what: str, undo: Callable[[], None]) -> None:
        """Register the undo of a change just made (runs LIFO at close)."""
        self._undo.append((what, undo))

    # -- lock and signals ----------------------------------------------------------------
    def _lock(self) -> None:
        fd = os.open(LOCK_PATH, os.O_RDWR | os.O_CREAT, 0o644)
        deadline = time.monotonic() + self.lock_timeout_s
        told = False
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if not told:
                    holder = os.pread(fd, 64, 0).decode(errors="replace").strip()
                    self.say(f"waiting for another rca lab run (pid {holder or '?'}) to "
                             f"finish: {LOCK_PATH}")
                    told = True
                if time.monotonic() > deadline:
                    holder = os.pread(fd, 64, 0).decode(errors="replace").strip()
                    os.close(fd)
                    raise LabError(f"another rca lab run holds {LOCK_PATH} (pid {holder or '?'})"
                                   f"; waited {self.lock_timeout_s:.0f} s") from None
                time.sleep(0.5)
        os.ftruncate(fd, 0)
        os.pwrite(fd, str(os.getpid()).encode(), 0)
        self._lock_fd = fd
        self.waited_s = self.lock_timeout_s - max(deadline - time.monotonic(), 0.0)

    def _unlock(self) -> None:
        if self._lock_fd is not None:
            os.ftruncate(self._lock_fd, 0)
            fcntl.flock(self._lock_fd, fcntl.LOCK_UN)
            os.close(self._lock_fd)
            self._lock_fd = None

    def _trap_signals(self) -> None:
        """SIGTERM and SIGHUP become KeyboardInterrupt, so the ``with`` block unwinds and
        the cleanup stack runs exactly as on Ctrl-C."""
        def interrupt(signum, _frame):
            raise KeyboardInterrupt(f"signal {signum}")
        for sig in (signal.SIGTERM, signal.SIGHUP):
            self._old_handlers[sig] = signal.signal(sig, interrupt)

    def _restore_signals(self) -> None:
        for sig, old in self._old_handlers.items():
            signal.signal(sig, old)
        self._old_handlers.clear()

    def _reclaim_stale(self) -> None:
        """What a run killed with SIGKILL (or a power cut) left: with the lock held no
        other run exists, so every ``rcalab-*`` namespace and ``rl…br`` bridge is stale.
        Its processes are killed by the PIDs ``ip netns pids`` names."""
        names = [line.split()[0] for line in run(["ip", "netns", "list"]).stdout.splitlines()
                 if line.startswith("rcalab-")]
        for name in names:
            for pid in run(["ip", "netns", "pids", name], check=False).stdout.split():
                with contextlib.suppress(ProcessLookupError, ValueError):
                    os.kill(int(pid), signal.SIGKILL)
            _delete_netns(name)
        bridges = [b for b in run(["ip", "-o", "link", "show", "type", "bridge"]).stdout.split()
                   if re.fullmatch(r"rl[0-9a-f]{4}br:?", b)]
        for bridge in bridges:
            run(["ip", "link", "del", bridge.rstrip(":")], check=False)
        if names or bridges:
            self.say(f"removed what an interrupted lab run left: "
                     f"{', '.join(names + [b.rstrip(':') for b in bridges])}")

    # -- network -------------------------------------------------------------------------
    @property
    def bridge(self) -> str:
        return f"rl{self.lab_id}br"

    @property
    def gateway(self) -> str:
        return str(self.net.network_address + 1)

    def _bridge(self) -> None:
        self.net = pick_subnet(run(["ip", "-4", "route", "show"]).stdout)
        run(["ip", "link", "add", self.bridge, "type", "bridge"])
        self.on_cleanup(f"bridge {self.bridge}",
                        lambda: run(["ip", "link", "del", self.bridge], check=False))
        run(["ip", "addr", "add", f"{self.gateway}/{self.net.prefixlen}", "dev", self.bridge])
        run(["ip", "link", "set", self.bridge, "up"])

    def ns(self, role: str) -> Namespace:
        """The namespace of ``role``, created (with its address and veth) on first use."""
        if role in self.namespaces:
            return self.namespaces[role]
        name = f"rcalab-{self.lab_id}-{role}"
        ip = self.next_ip()
        host_if, lab_if = f"rl{self.lab_id}{role[:6]}", "eth0"
        run(["ip", "netns", "add", name])
        self.on_cleanup(f"netns {name}", lambda: _delete_netns(name))
        run(["ip", "link", "add", host_if, "type", "veth", "peer", "name", lab_if,
             "netns", name])
        self.on_cleanup(f"veth {host_if}", lambda: run(["ip", "link", "del", host_if],
                                                         check=False))
        run(["ip", "link", "set", host_if, "master", self.bridge, "up"])
        for cmd in (["ip", "addr", "add", f"{ip}/{self.net.prefixlen}", "dev", lab_if],
                    ["ip", "link", "set", lab_if, "up"], ["ip", "link", "set", "lo", "up"]):
            run(cmd, ns=name)
        space = Namespace(self, role, name, ip, host_if)
        self.namespaces[role] = space
        return space

    def next_ip(self) -> str:
        self._hosts += 1
        if self._hosts >= self.net.num_addresses - 1:
            raise LabError(f"the lab subnet {self.net} has no address left")
        return str(self.net.network_address + self._hosts)

    # -- processes -----------------------------------------------------------------------
    def start(self, cmd: list[str], log: Path | None = None, env: dict | None = None,
              pipe: bool = False) -> subprocess.Popen:
        """Start a process, its output to ``log`` (or, with ``pipe``, both streams to
        ``proc.stdout``); stopped by PID at cleanup, before its namespace is removed."""
        out = open(log, "ab") if log else subprocess.DEVNULL  # noqa: SIM115 - kept with proc
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE if pipe else out,
                                stderr=subprocess.STDOUT if pipe else out,
                                stdin=subprocess.DEVNULL, env=env, start_new_session=True)
        if log:
            out.close()
        self.processes.append(proc)
        self.on_cleanup(f"pid {proc.pid} ({_program(cmd)})", lambda: stop(proc))
        return proc


def stop(proc: subprocess.Popen, wait_s: float = STOP_WAIT_S) -> None:
    """TERM, wait, KILL — by this process's PID only (its own session, so a shell's
    children go too)."""
    if proc.poll() is not None:
        return
    try:
        os.killpg(proc.pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    try:
        proc.wait(wait_s)
    except subprocess.TimeoutExpired:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            return
        proc.wait(wait_s)


def _program(cmd: list[str]) -> str:
    """The program a command line runs (past ``ip netns exec NS``), for messages."""
    inner = cmd[4:] if cmd[:3] == ["ip", "netns", "exec"] else cmd
    return Path(inner[0]).name if inner else "?"


def _delete_netns(name: str) -> None:
    run(["ip", "netns", "del", name], check=False)
    shutil.rmtree(NETNS_ETC / name, ignore_errors=True)


def preflight(tools: tuple[str, ...] | list[str] = TOOLS) -> None:
    """Fail early with what is missing: root, the tools, network namespaces."""
    if os.geteuid() != 0:
        raise LabError("rca lab needs root (it creates network namespaces and iptables "
                       "rules); run it as root")
    missing = missing_tools(tools)
    if missing:
        raise LabError(f"missing: {', '.join(missing)} (scripts/install-system-deps.sh "
                       "installs them)")
    if not Path("/proc/self/ns/net").exists():
        raise LabError("this kernel has no network namespaces (/proc/self/ns/net)")
