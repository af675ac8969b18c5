"""A liveness prober with kubelet's semantics, for the lab's services.

Why not just "restart when unhealthy": seed 001's outage *was* kubelet's rule. An
``httpGet`` probe gets ``timeoutSeconds`` (1 s by default) to receive the response
headers; ``failureThreshold`` (3) failures in a row, one every ``periodSeconds`` (10 s),
and kubelet kills the container (SIGTERM, then SIGKILL after the grace period) and
restarts it, with a back-off that doubles from 10 s up to 5 minutes between restarts
that come quickly. A container that answers in 1.1 s is killed as surely as a dead one.

What it records is what kubelet prints, word for word (from real events in the issues
corpus; ``probe_failure_message`` has the variants):

- ``Warning Unhealthy``: ``Liveness probe failed: Get "http://IP:PORT/PATH": context
  deadline exceeded (Client.Timeout exceeded while awaiting headers)`` (Go's
  ``net/http`` client error, as kubelet passes it on), ``… dial tcp IP:PORT: connect:
  connection refused``, or ``HTTP probe failed with statuscode: 503``;
- ``Normal Killing``: ``Container NAME failed liveness probe, will be restarted``.

The prober calls ``on_event(type, reason, message)`` for each and ``kill()`` at the
threshold; the lab's pod (``rca.lab.kube``) turns those into core/v1 Events and the
pod's ``restartCount`` / ``lastState.terminated``. The probe runs from where kubelet runs
(the lab's root namespace, through the node's link to the pod), so it queues on a busy
link like any other packet.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

__all__ = ["HttpGetProbe", "ProbeResult", "Prober", "probe_failure_message", "probe_once"]

#: kubelet's User-Agent: ``kube-probe/<major>.<minor>``.
USER_AGENT = "kube-probe/1.27"


@dataclass(frozen=True)
class HttpGetProbe:
    """``livenessProbe.httpGet`` with Kubernetes' defaults (seed 001's ``http-get :80/
    delay=10s timeout=1s period=10s #failure=3``)."""

    host: str
    port: int
    path: str = "/healthz"
    initial_delay_s: float = 10.0
    timeout_s: float = 1.0
    period_s: float = 10.0
    failure_threshold: int = 3

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}{self.path}"

    def spec(self) -> dict:
        """The probe as a pod spec holds it (``spec.containers[].livenessProbe``)."""
        return {"httpGet": {"path": self.path, "port": self.port, "scheme": "HTTP"},
                "initialDelaySeconds": int(self.initial_delay_s),
                "timeoutSeconds": int(self.timeout_s), "periodSeconds": int(self.period_s),
                "successThreshold": 1, "failureThreshold": self.failure_threshold}


@dataclass(frozen=True)
class ProbeResult:
    ok: bool
    message: str  # kubelet's failure output ("" on success)
    seconds: float


def probe_failure_message(url: str, what: str, detail: str = "") -> str:
    """kubelet's probe output for a failure ``what``: ``timeout`` (no headers within the
    timeout, Go ≥ 1.14's wording), ``body-timeout`` (headers came, the body did not),
    ``refused``, ``status`` (``detail`` = the code) or ``error`` (``detail`` = the error)."""
    host = url.split("//", 1)[1].split("/", 1)[0]
    match what:
        case "timeout":
            return (f'Get "{url}": context deadline exceeded (Client.Timeout exceeded while '
                    "awaiting headers)")
        case "body-timeout":
            return (f'Get "{url}": context deadline exceeded (Client.Timeout or context '
                    "cancellation while reading body)")
        case "refused":
            return f'Get "{url}": dial tcp {host}: connect: connection refused'
        case "status":
            return f"HTTP probe failed with statuscode: {detail}"
    return f'Get "{url}": {detail}'


def probe_once(probe: HttpGetProbe) -> ProbeResult:
    """One ``httpGet``: success is a 200–399 status within ``timeout_s`` (kubelet's rule)."""
    t0 = time.monotonic()
    deadline = t0 + probe.timeout_s
    request = (f"GET {probe.path} HTTP/1.1\r\nHost: {probe.host}:{probe.port}\r\n"
               f"User-Agent: {USER_AGENT}\r\nAccept: */*\r\nConnection: close\r\n\r\n")
    head, body_left = b"", None
    try:
        with socket.create_connection((probe.host, probe.port), timeout=probe.timeout_s) as s:
            s.sendall(request.encode())
            while b"\r\n\r\n" not in head:
                s.settimeout(max(deadline - time.monotonic(), 1e-3))
                chunk = s.recv(4096)
                if not chunk:
                    break
                head += chunk
            status = _status(head)
            body_left = _drain(s, head, deadline)
    except ConnectionRefusedError:
        return _fail(probe, "refused", "", t0)
    except TimeoutError:
        return _fail(probe, "body-timeout" if b"\r\n\r\n" in head else "timeout", "", t0)
    except OSError as e:
        return _fail(probe, "error", str(e.strerror or e), t0)
    if status is None:
        return _fail(probe, "error", "EOF", t0)
    if body_left:
        return _fail(probe, "body-timeout", "", t0)
    if not 200 <= status < 400:
        return _fail(probe, "status", str(status), t0)
    return ProbeResult(True, "", time.monotonic() - t0)


def _status(head: bytes) -> int | None:
    parts = head.split(b"\r\n", 1)[0].split()
    return int(parts[1]) if len(parts) >= 2 and parts[1].isdigit() else None


def _drain(s: socket.socket, head: bytes, deadline: float) -> bool:
    """Read the (small) body until EOF within the deadline; True when time ran out."""
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            return True
        s.settimeout(left)
        if not s.recv(4096):
            return False


def _fail(probe: HttpGetProbe, what: str, detail: str, t0: float) -> ProbeResult:
    return ProbeResult(False, probe_failure_message(probe.url, what, detail),
                       time.monotonic() - t0)


class Prober:
    """kubelet's liveness worker for one container, on its own thread.

    ``on_event(type, reason, message)`` receives every ``Unhealthy`` and ``Killing``;
    ``kill()`` restarts the container (it returns once the new process runs; the lab's pod
    applies kubelet's restart back-off). After a kill the worker waits out
    ``initial_delay_s`` again, counted from the restart, as kubelet does.
    """

    def __init__(self, probe: HttpGetProbe, container: str,
                 on_event: Callable[[str, str, str], None], kill: Callable[[], None],
                 probe_fn: Callable[[HttpGetProbe], ProbeResult] = probe_once) -> None:
        self.probe, self.container = probe, container
        self.on_event, self.kill, self.probe_fn = on_event, kill, probe_fn
        self.results: list[tuple[float, ProbeResult]] = []
        self.kills = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"prober-{container}",
                                        daemon=True)

    def start(self) -> Prober:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(self.probe.timeout_s + 5)

    def _run(self) -> None:
        failures = 0
        next_at = time.monotonic() + self.probe.initial_delay_s
        while not self._stop.wait(max(0.0, next_at - time.monotonic())):
            next_at += self.probe.period_s
            result = self.probe_fn(self.probe)
            self.results.append((time.time(), result))
            if result.ok:
                failures = 0
                continue
            failures += 1
            self.on_event("Warning", "Unhealthy", f"Liveness probe failed: {result.message}")
            if failures < self.probe.failure_threshold:
                continue
            self.on_event("Normal", "Killing", f"Container {self.container} failed liveness "
                          "probe, will be restarted")
            self.kills += 1
            failures = 0
            self.kill()
            next_at = time.monotonic() + self.probe.initial_delay_s
