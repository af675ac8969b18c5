"""A kubelet for one lab container: start it in its cgroup, see it die, restart it, and
write down what a kubelet (and node-problem-detector) would.

Why the lab needs this: the oom and probe-saturation faults end in restarts, and rca
judges restarts by their records — ``restartCount``, ``lastState.terminated`` (reason
``OOMKilled`` with exit code 137, ``Error`` or ``Completed`` after a kill), the kubelet's
``Killing`` / ``BackOff`` events and the kernel-monitor's ``OOMKilling``. Those are only
true if a real process really died; this class owns that process.

Restart rule (kubelet's ``restartPolicy: Always``): the first restart is immediate, each
next one waits a back-off that doubles from 10 s to 5 minutes; during it the kubelet
repeats ``Back-off restarting failed container …`` (one ``BackOff`` event, its count
rising). A kill (the prober's) is SIGTERM, ``grace_s`` to exit, then SIGKILL.

Why an OOM kill is known and not guessed: the cgroup's ``oom_kill`` counter rose while the
process died of SIGKILL; the kernel's own ``Memory cgroup out of memory: Killed process …``
line (from ``dmesg`` when readable) becomes the ``OOMKilling`` event's message.
"""

from __future__ import annotations

import re
import signal
import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from rca.lab.cgroups import Cgroup
from rca.lab.kube import Kube

__all__ = ["BACKOFF_S", "Container", "termination"]

#: kubelet's crash-loop back-off: 10 s doubling, capped at 5 minutes.
BACKOFF_S = (10.0, 20.0, 40.0, 80.0, 160.0, 300.0)
_KILLED = re.compile(r"Memory cgroup out of memory: Killed process (\d+) .*")


def termination(returncode: int, oom: bool) -> tuple[str, int]:
    """(reason, exitCode) as the runtime reports them: a signal ``n`` is exit code
    ``128 + n``; OOMKilled when the cgroup's OOM killer fired."""
    code = 128 - returncode if returncode < 0 else returncode
    if oom:
        return "OOMKilled", code
    return ("Completed" if code == 0 else "Error"), code


@dataclass
class Container:
    """The one container of lab pod ``pod`` (a key of ``kube.pods``).

    ``spawn()`` starts a new process of it (through the lab, so the lab stops it by PID);
    ``cgroup`` (optional) holds it: every new process is moved in before it serves.
    """

    kube: Kube
    pod: str
    name: str
    node: str
    spawn: Callable[[], subprocess.Popen]
    cgroup: Cgroup | None = None
    grace_s: float = 5.0
    say: Callable[[str], None] = lambda _text: None
    proc: subprocess.Popen | None = None
    restarts: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)
    _stop: threading.Event = field(default_factory=threading.Event)
    _killing: bool = False
    _down: bool = False  # exit recorded, replacement not started yet
    _oom_seen: int = 0
    _thread: threading.Thread | None = None
    #: stopped before the kubelet itself (the prober that kills through it)
    also_stop: list[Callable[[], None]] = field(default_factory=list)

    # -- lifecycle ------------------------------------------------------------------------
    def start(self) -> Container:
        self._run_new()
        self._thread = threading.Thread(target=self._watch, name=f"kubelet-{self.pod}",
                                        daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop watching, and what kills through it (the lab's cleanup stops the process
        itself; so the kubelet must be stopped first, or it would restart it)."""
        for other in self.also_stop:
            other()
        self._stop.set()
        if self._thread is not None:
            self._thread.join(self.grace_s + 5)

    def _run_new(self) -> None:
        self.proc = self.spawn()
        self._down = False
        if self.cgroup is not None:
            self.cgroup.attach(self.proc.pid)
            self._oom_seen = self.cgroup.stats().oom_kills

    # -- the kubelet's loop ---------------------------------------------------------------
    def _watch(self) -> None:
        while not self._stop.wait(0.1):
            with self.lock:
                if self._killing or self._down or self.proc.poll() is None:
                    continue
                died_at = time.time()
                self._record_exit(died_at)
            self._restart(died_at)

    def _record_exit(self, at: float) -> None:
        oom = False
        if self.cgroup is not None:
            kills = self.cgroup.stats().oom_kills
            oom, self._oom_seen = kills > self._oom_seen, kills
        reason, code = termination(self.proc.returncode, oom)
        self._down = True
        self.kube.restart(self.pod, reason, code, at)
        self.restarts += 1
        self.say(f"{self.pod}: container {self.name} terminated ({reason}, exit {code})")
        if oom:
            self.kube.node_event(self.node, "OOMKilling", _kernel_line(self.proc.pid), at,
                                 component="kernel-monitor")

    def _restart(self, died_at: float) -> None:
        """Start again after the back-off (none for the first restart)."""
        wait = BACKOFF_S[min(self.restarts - 2, len(BACKOFF_S) - 1)] if self.restarts > 1 \
            else 0.0
        if wait:
            self.kube.recur(self.pod, "BackOff", f"Back-off restarting failed container "
                            f"{self.name} in pod {self._pod_ref()}", died_at)
        if self._stop.wait(wait):
            return
        with self.lock:
            self._run_new()

    def kill(self) -> None:
        """The prober's kill: SIGTERM, ``grace_s``, SIGKILL; then restart as after any
        exit. Returns once the replacement runs (or its back-off began)."""
        with self.lock:
            self._killing = True
            proc = self.proc
        try:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(self.grace_s)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)
        except ProcessLookupError:
            pass
        died_at = time.time()
        with self.lock:
            self._record_exit(died_at)
            self._killing = False
        threading.Thread(target=self._restart, args=(died_at,), daemon=True).start()

    def _pod_ref(self) -> str:
        meta = self.kube.pods[self.pod]["metadata"]
        return f"{meta['name']}_{meta['namespace']}({meta['uid']})"


def _kernel_line(pid: int) -> str:
    """The kernel's line for the kill of ``pid`` (dmesg), or its shape when unreadable."""
    try:
        text = subprocess.run(["dmesg"], capture_output=True, text=True, timeout=5).stdout
    except (OSError, subprocess.SubprocessError):
        text = ""
    for line in reversed(text.splitlines()):
        m = _KILLED.search(line)
        if m and int(m.group(1)) == pid:
            return m.group(0)
    return f"Memory cgroup out of memory: Killed process {pid} (python3)"
