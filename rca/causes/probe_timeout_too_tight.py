"""probe.timeout_too_tight — kubelet kills a container whose answers are merely slow.

Meaning: the liveness probe's ``timeoutSeconds`` (1 s unless set) is shorter than what the
container needs under load. When something slows it (a saturated link, CPU throttling, a
disk stall), the probe times out ``failureThreshold`` times in a row and kubelet kills a
container that was working, mid-transfer; its clients see broken pipes and refused
connections (seed 001: Ceph RGW, 1 s probe, 65 restarts, `Client.Timeout exceeded while
awaiting headers`; fixed by a 5 s timeout).

What decides it (thresholds under ``thresholds.probe_timeout_too_tight``):

- kubelet ``Killing`` events naming a failed liveness probe on the incident's pods
  (at least ``min_kills``);
- of the ``Unhealthy`` liveness failures, at least ``timeout_share_min`` (half) are
  timeouts (`Client.Timeout exceeded`, `context deadline exceeded`, `timed out`) rather
  than refusals: a refused probe means the process was down, not slow;
- the probe allows at most ``tight_max_s`` (2 s);
- the container's own latency in the window, where its server log was collected, exceeds
  ``timeoutSeconds`` for at least ``slow_share_min`` of its requests;
- a driver on its node or pod: link use, CPU throttling or blocked processes at the
  edges in ``driver_*`` (named in the evidence; it is what made the answers slow).

Score: 0.6 for probe-timeout kills, +0.1 tight timeout, +0.15 container latency over the
timeout, +0.15 a driver found. Kills whose probes were refused score 0.2 (the probe was
right: the process was gone).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import pandas as pd

from rca.causes._evidence import during_evidence, per_minute, rows_of
from rca.causes.base import Cause, Threshold, table
from rca.entities import app_requests, same_service, workload_of
from rca.finding import Chart, Finding, Window
from rca.measure import scope_pods, signal_peaks, throttled_share
from rca.record import empty

ID = "probe.timeout_too_tight"
FIX = ("Raise the liveness probe's timeoutSeconds (and failureThreshold) above the "
       "container's latency under load, e.g. timeoutSeconds: 5 as seed 001 did; probe a "
       "cheap local endpoint; and fix the driver that made it slow (see the evidence).")
THRESHOLDS = {
    "min_kills": Threshold(1, "one kill of a working container already broke every transfer "
                           "it was serving"),
    "timeout_share_min": Threshold(0.5, "when most failed probes timed out the container was "
                                   "slow; when most were refused it was down"),
    "tight_max_s": Threshold(2.0, "a probe that allows under 2 s fails whenever anything on "
                             "the node pauses the answer for a moment; the seed's fix was 5 s"),
    "slow_share_min": Threshold(0.05, "one request in twenty slower than the probe timeout "
                                "means the probe, which queues like any request, will hit it "
                                "every few periods"),
    "driver_util_min": Threshold(0.8, "link use from which queues build (network.saturation's "
                                 "edge)"),
    "driver_throttled_min": Threshold(0.25, "a container throttled a quarter of the time "
                                      "answers in bursts (cpu.throttling's edge)"),
    "driver_blocked_min": Threshold(10.0, "processes stuck in D state on the node "
                                    "(storage.io_stall's edge)"),
}
_KILL = re.compile(r"failed (?:liveness|startup) probe|unhealthy, it will be killed",
                   re.IGNORECASE)  # kubelet's wordings, see rca.incidents.restarts
_LIVENESS = re.compile(r"^(?:Liveness|Startup) probe failed", re.IGNORECASE)
_TIMED_OUT = re.compile(r"Client\.Timeout exceeded|context deadline exceeded|timed? ?out|"
                        r"timeout", re.IGNORECASE)


def judge(window: Window, th: dict) -> Finding:
    events = window.during("events")
    pods = set(scope_pods(window))
    if pods:
        events = events[events["object"].isin(pods)]
    kills = events[(events["reason"] == "Killing")
                   & events["message"].str.contains(_KILL, na=False)]
    failed = events[(events["reason"] == "Unhealthy")
                    & events["message"].str.contains(_LIVENESS, na=False)]
    n_kills = int(kills["count"].fillna(1).sum())
    n_failed = int(failed["count"].fillna(1).sum())
    timed_out = failed[failed["message"].str.contains(_TIMED_OUT, na=False)]
    share = timed_out["count"].fillna(1).sum() / n_failed if n_failed else 0.0
    evidence = [during_evidence(
        window, n_kills >= int(th["min_kills"]),
        f"{n_kills} liveness kills, {n_failed} failed probes ({share:.0%} timed out)",
        "events[reason=Killing|Unhealthy]",
        rows_of(pd.concat([kills, failed]).sort_index(), ["reason", "object", "message",
                                                         "count"], 6))]
    if n_kills < int(th["min_kills"]):
        return Finding(ID, 0.0, f"no liveness kills in the window ({n_failed} failed probes)",
                       evidence=evidence, fix=FIX)
    target = str(kills["object"].mode().iloc[0])
    timeout_s = _probe_timeout(window, target)
    timing_out = share >= float(th["timeout_share_min"])
    if not timing_out:
        return Finding(ID, 0.2, f"{target} was killed by its liveness probe, but the probes "
                       f"were refused, not slow ({share:.0%} timed out): the process was down",
                       entity=_entity(window, target), evidence=evidence, fix=FIX)
    tight = timeout_s == timeout_s and timeout_s <= float(th["tight_max_s"])
    evidence.append(during_evidence(window, tight, f"liveness probe timeoutSeconds={timeout_s:g}"
                                    if timeout_s == timeout_s else "probe settings not collected",
                                    "objects.liveness_timeout_s"))
    mine = _own_requests(window, target)
    slow = _own_latency(window.split(mine)[1], timeout_s, float(th["slow_share_min"]))
    if slow is not None:
        evidence.append(during_evidence(window, slow[0], slow[1], "requests[side=server]"))
    driver = _driver(window, target, th)
    evidence.append(during_evidence(window, driver is not None,
                                    f"driver: {driver.text}" if driver else
                                    "no driver found (link use, CPU throttling, blocked IO)",
                                    "signals"))
    score = 0.6 + 0.1 * tight + 0.15 * bool(slow and slow[0]) + 0.15 * (driver is not None)
    summary = (f"{target}: {n_kills} liveness kills after probe timeouts "
               f"(timeoutSeconds={timeout_s:g})" + (f"; {driver.text}" if driver else ""))
    return Finding(ID, score, summary, entity=_entity(window, target), evidence=evidence,
                   fix=FIX, chart=_chart(window, target, mine, kills, timeout_s, driver))


def _chart(window: Window, target: str, mine: pd.DataFrame, kills: pd.DataFrame,
           timeout_s: float, driver: _Driver | None) -> Chart:
    """The container's own slowest answer each minute against the probe's timeout, with
    kubelet's kills marked: the picture of a probe stricter than the service can be.
    Without its server log, the driver's signal against the edge it was judged by."""
    marks = [(t, "kubelet Killing event") for t in kills.index]
    if not mine.empty:
        return Chart(f"{target}: its slowest answer per minute vs the probe timeout",
                     "seconds", line=timeout_s if timeout_s == timeout_s else None,
                     line_label=f"liveness timeoutSeconds={timeout_s:g}",
                     series={"slowest request (server log)": per_minute(mine["latency_s"])},
                     marks=marks)
    sig = window.tables.get(f"signal:{driver.signal}") if driver and driver.signal else None
    if sig is not None and not sig.empty:
        return Chart(f"what slowed it: {driver.signal} on {driver.entity} (no server log of "
                     f"its own requests)", driver.signal, line=driver.edge,
                     line_label=f"driver edge {driver.edge:g}",
                     series={driver.entity: per_minute(
                         sig.loc[sig["entity"] == driver.entity, "value"])}, marks=marks)
    counts = kills["count"].fillna(1)
    return Chart(f"{target}: liveness kills (no server log of its own requests)",
                 "kills per minute", series={"kills": per_minute(counts, "sum")}, marks=marks)


def _pod_rows(window: Window, pod: str) -> pd.DataFrame:
    objects = window.tables.get("objects")
    if objects is None or objects.empty:
        return pd.DataFrame()
    return objects[(objects["kind"] == "Pod") & (objects["object"] == pod)]


def _probe_timeout(window: Window, pod: str) -> float:
    rows = _pod_rows(window, pod)
    values = rows["liveness_timeout_s"].dropna() if len(rows) else pd.Series([], dtype=float)
    return float(values.min()) if len(values) else float("nan")


def _own_requests(window: Window, pod: str) -> pd.DataFrame:
    """The container's own requests (its server log), baseline and incident."""
    rows = _pod_rows(window, pod)
    names = {a for a in rows["app"] if a} if len(rows) else set()
    names.add(workload_of(pod))
    requests = window.tables.get("requests")
    if requests is None or requests.empty:
        return empty("requests")
    requests = app_requests(requests)
    return requests[requests["service"].map(lambda s: any(same_service(s, n) for n in names))
                    .astype(bool)]


def _own_latency(mine: pd.DataFrame, timeout_s: float,
                 share_min: float) -> tuple[bool, str] | None:
    """The container's own answers in the incident slower than the probe timeout."""
    if mine.empty or timeout_s != timeout_s:
        return None
    over = float((mine["latency_s"] > timeout_s).mean())
    return over >= share_min, (f"{over:.0%} of its own requests took longer than the "
                               f"{timeout_s:g} s probe timeout (p99 "
                               f"{mine['latency_s'].quantile(0.99):.2f} s)")


@dataclass(frozen=True)
class _Driver:
    """What made the container slow: its words for the evidence, and the signal, entity and
    edge it was judged by (no ``signal`` for the throttled share, a ratio of two)."""

    text: str
    signal: str
    entity: str
    edge: float


def _driver(window: Window, pod: str, th: dict) -> _Driver | None:
    rows = _pod_rows(window, pod)
    node = f"node/{rows['node'].iloc[0]}" if len(rows) and rows["node"].iloc[0] else ""
    for name, what in (("node_transmit_utilization_ratio", "transmit"),
                       ("node_receive_utilization_ratio", "receive")):
        peak = signal_peaks(window, name).get(node)
        if peak is not None and peak.during >= float(th["driver_util_min"]):
            return _Driver(f"{node} link {what} at {peak.during:.0%} of its speed "
                           f"(network.saturation)", name, node, float(th["driver_util_min"]))
    throttled = throttled_share(window).get(pod)
    if throttled is not None and throttled.during >= float(th["driver_throttled_min"]):
        return _Driver(f"{pod} CPU-throttled {throttled.during:.0%} of periods (cpu.throttling)",
                       "", pod, float(th["driver_throttled_min"]))
    blocked = signal_peaks(window, "node_procs_blocked").get(node)
    if blocked is not None and blocked.during >= float(th["driver_blocked_min"]):
        return _Driver(f"{node} had {blocked.during:.0f} processes blocked on IO "
                       f"(storage.io_stall)", "node_procs_blocked", node,
                       float(th["driver_blocked_min"]))
    return None


def _entity(window: Window, pod: str) -> str:
    """The Deployment whose pod template holds the probe, else the pod."""
    objects = window.tables.get("objects")
    ns = pod.split("/")[1] if pod.count("/") == 2 else ""
    if objects is not None and not objects.empty:
        deps = objects[(objects["kind"] == "Deployment") & (objects["namespace"] == ns)]
        for obj in deps["object"]:
            if obj.rsplit("/", 1)[-1] == workload_of(pod):
                return str(obj)
    return pod


CAUSE = Cause(ID, judge, FIX, needs=(table("events"),),
              wants=("node_transmit_utilization_ratio", "node_receive_utilization_ratio",
                     "container_cpu_cfs_throttled_periods_per_second",
                     "container_cpu_cfs_periods_per_second", "node_procs_blocked"),
              thresholds=THRESHOLDS)
