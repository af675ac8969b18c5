"""storage.io_stall — reads and writes hang on a node (local disk or NFS), and what runs
there stalls with them.

Meaning: a hung NFS mount or a disk at its limit leaves processes in uninterruptible sleep
(D state) waiting for IO; they hold request threads, DataLoader workers and kubelet's probe
answers, so services on that node time out or restart while its CPUs idle (seed 002:
PyTorch training reading from NFS, processes stuck in D state).

What decides it (thresholds under ``thresholds.storage_io_stall``), on a node the incident
touches:

- ``node_procs_blocked`` peaks at ``blocked_min`` (10) or more and at least
  ``rise_factor`` (3x) its baseline median: NFS stalls show here and nowhere else (NFS is
  not a block device, so disk io time stays low);
- or the busiest disk is busy (``node_disk_io_time_seconds_total`` rate) at least
  ``io_busy_min`` (90 %) of the time and ``rise_factor`` its baseline;
- the incident's services answered slower than their baseline (server p95 at least
  ``slow_ratio_min``, 2x) or its containers restarted.

Score: 0.6 once a node stalls, +0.1 when both signs agree, +0.2 when what runs there
slowed down or restarted, +0.1 as blocked processes grow to twice ``blocked_min``.
Without any node IO signal the cause is *no data*.
When the incident's restarts are liveness kills the score is capped at ``driver_cap``
(``causes.base.capped_as_driver``).
"""

from __future__ import annotations

from rca.causes._evidence import during_evidence
from rca.causes.base import DRIVER_CAP, Cause, Threshold, any_of, capped_as_driver, signal
from rca.finding import Finding, Window
from rca.measure import Peak, scope_nodes, signal_peaks, work_suffered

ID = "storage.io_stall"
FIX = ("Find what the blocked processes wait on (`ps -eo pid,stat,wchan:32,cmd | awk "
       "'$2 ~ /D/'`, `cat /proc/<pid>/stack`, `nfsiostat`, `iostat -x 1`): remount or fail "
       "over a hung NFS server (soft,timeo= options), move heavy IO off the node, cache the "
       "dataset on local disk.")
THRESHOLDS = {
    "blocked_min": Threshold(10.0, "a few processes in D state are ordinary disk waits; ten "
                             "at once are a queue behind a device or mount that stopped"),
    "io_busy_min": Threshold(0.9, "a disk busy over 90 % of the time queues every further "
                             "request (io time saturates at 100 %)"),
    "rise_factor": Threshold(3.0, "a database node is always busy; the fault is what tripled"),
    "slow_ratio_min": Threshold(2.0, "server latency doubled: the stall reached the callers"),
    "driver_cap": DRIVER_CAP,
}
_BLOCKED, _IO = "node_procs_blocked", "node_disk_io_time_ratio"


def judge(window: Window, th: dict) -> Finding:
    nodes = scope_nodes(window)
    blocked = _worst(signal_peaks(window, _BLOCKED), nodes)
    busy = _worst(signal_peaks(window, _IO), nodes)
    rise = float(th["rise_factor"])
    is_blocked = blocked is not None and blocked.during >= float(th["blocked_min"]) \
        and _rose(blocked, rise)
    is_busy = busy is not None and busy.during >= float(th["io_busy_min"]) and _rose(busy, rise)
    evidence = []
    if blocked is not None:
        evidence.append(during_evidence(window, is_blocked, f"{blocked.entity}: up to "
                                        f"{blocked.during:.0f} processes blocked on IO "
                                        f"(baseline {_base(blocked, '.0f')})",
                                        f"signal:{_BLOCKED}"))
    if busy is not None:
        evidence.append(during_evidence(window, is_busy, f"{busy.entity}: busiest disk in IO "
                                        f"{busy.during:.0%} of the time (baseline "
                                        f"{_base(busy, '.0%')})", f"signal:{_IO}"))
    entity = (blocked if is_blocked else busy if is_busy else blocked or busy)
    if not (is_blocked or is_busy):
        return Finding(ID, 0.0, "no IO stall on the incident's nodes", fix=FIX,
                       entity=entity.entity if entity else "", evidence=evidence)
    hurt, text = work_suffered(window, float(th["slow_ratio_min"]))
    evidence.append(during_evidence(window, hurt, text, "requests / restarts"))
    strength = min(1.0, blocked.during / (2 * float(th["blocked_min"]))) if is_blocked else 0.0
    score = 0.6 + 0.1 * (is_blocked and is_busy) + 0.2 * hurt + 0.1 * strength
    score = capped_as_driver(score, window, th)
    return Finding(ID, score, f"IO stalled on {entity.entity}: "
                   + "; ".join(e.text for e in evidence if e.supports),
                   entity=entity.entity, evidence=evidence, fix=FIX)


def _worst(peaks: dict[str, Peak], nodes: list[str]) -> Peak | None:
    mine = [p for e, p in peaks.items() if not nodes or e in nodes]
    return max(mine, key=lambda p: p.during) if mine else None


def _rose(peak: Peak, factor: float) -> bool:
    return peak.ratio != peak.ratio or peak.ratio >= factor


def _base(peak: Peak, fmt: str) -> str:
    return format(peak.before, fmt) if peak.before == peak.before else "none"



CAUSE = Cause(ID, judge, FIX,
              needs=(any_of("node IO metrics (node_procs_blocked, node_disk_io_time_seconds)",
                            signal(_BLOCKED), signal(_IO)),),
              thresholds=THRESHOLDS,
              marks={_BLOCKED: "blocked_min", _IO: "io_busy_min"})
