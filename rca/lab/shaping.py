"""A slow link for probe-saturation: a token bucket (``tc qdisc … tbf``) on a lab veth.

Why tbf: seed 001's LAN carried ~10 MB/s; a big transfer filled it and every other answer
from the node (the liveness probe's included) waited in the queue. ``netem`` is not in this
kernel, and a rate limit is what a slow link *is*: tbf sends at most ``rate`` and queues the
rest up to ``latency`` worth of bytes, then drops — a full switch port in one qdisc.

The qdisc lives on one interface inside one namespace (``ip netns exec NS tc …``), so
removing it (or the namespace) restores the link; ``Shaper`` is idempotent both ways.
"""

from __future__ import annotations

import subprocess
from dataclasses import dataclass

__all__ = ["DEFAULT_RATE_BYTES", "Shaper", "ShapingError", "tbf_args"]

#: Seed 001's LAN: "a 10 MB/s LAN saturated by a big transfer".
DEFAULT_RATE_BYTES = 10_000_000


class ShapingError(RuntimeError):
    """tc refused; the message carries its stderr."""


def tbf_args(rate_bytes: int, latency_ms: int, burst_bytes: int | None = None) -> list[str]:
    """The ``tbf`` parameters: ``rate`` in bit/s; ``burst`` at least one timer tick of the
    rate (the kernel refills the bucket per tick, 4 ms at HZ=250) and a few MTUs, or the
    shaper cannot reach its rate; ``latency`` the longest a packet may queue."""
    burst = burst_bytes or max(rate_bytes // 100, 4 * 1514)
    return ["tbf", "rate", f"{rate_bytes * 8}bit", "burst", str(burst),
            "latency", f"{latency_ms}ms"]


@dataclass
class Shaper:
    """A tbf root qdisc on ``device`` inside network namespace ``netns`` (None = here)."""

    device: str
    netns: str | None = None
    rate_bytes: int = DEFAULT_RATE_BYTES
    latency_ms: int = 400
    applied: bool = False

    def _tc(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        cmd = ["tc", *args]
        if self.netns:
            cmd = ["ip", "netns", "exec", self.netns, *cmd]
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=10)
        if check and done.returncode != 0:
            raise ShapingError(f"{' '.join(cmd)}: {done.stderr.strip() or done.returncode}")
        return done

    def apply(self) -> None:
        """Cap the interface's egress at ``rate_bytes`` per second."""
        self._tc("qdisc", "replace", "dev", self.device, "root",
                 *tbf_args(self.rate_bytes, self.latency_ms))
        self.applied = True

    def remove(self) -> None:
        """Back to the default qdisc; nothing to do when the device or namespace is gone."""
        if not self.applied:
            return
        done = self._tc("qdisc", "del", "dev", self.device, "root", check=False)
        gone = ("Cannot find device", "No such file", "Cannot find specified qdisc",
                "Cannot open network namespace", "Cannot delete qdisc with handle of zero")
        if done.returncode != 0 and not any(g in done.stderr for g in gone):
            raise ShapingError(f"tc qdisc del dev {self.device}: {done.stderr.strip()}")
        self.applied = False

    def stats(self) -> str:
        """``tc -s qdisc show`` for the device: bytes sent, drops, backlog (for the log)."""
        return self._tc("-s", "qdisc", "show", "dev", self.device).stdout
