"""network.saturation — a node's link runs near capacity, so everything on it answers late.

Meaning: a big transfer (an artifact download, a backup, a rebalance) fills a node's NIC;
packets queue (ping 0.3 ms -> 7 ms on seed 001's 10 MB/s LAN) or drop, and every service
on that node looks slow to its callers, while its own processing time stays normal.

What decides it (thresholds under ``thresholds.network_saturation``):

- on a node the incident touches, the busiest physical NIC's receive or transmit rate over
  its link speed peaks at ``util_min`` (80 %) or more during the incident (speeds of 0 or
  below, node_exporter's "unknown", are ignored by ``rca.measure.signal_peaks``);
- it rose to at least ``rise_factor`` (2x) its baseline median: a link that always runs
  at 85 % is sized that way, the fault is what changed;
- receive drops rose on that node (the queue overflowed);
- server-side processing of the failing services stayed within ``server_ratio_max``
  (2x) its baseline: the time was lost on the wire, not in the app.

Score: 0.5 once a scope node is saturated, +0.2 when that is new, +0.1 for drops, +0.2
when server processing stayed normal; -0.2 when the servers themselves slowed far more
(another cause explains it better). Without NIC metrics the cause is *no data*.
When the incident's restarts are liveness kills the score is capped at ``driver_cap``
(``causes.base.capped_as_driver``).
"""

from __future__ import annotations

from rca.causes._evidence import during_evidence
from rca.causes.base import DRIVER_CAP, Cause, Threshold, any_of, capped_as_driver, signal
from rca.finding import Finding, Window
from rca.measure import Peak, scope_nodes, server_latency, signal_peaks

ID = "network.saturation"
FIX = ("Find the transfer filling the link (iftop / nethogs on the node, or the NIC's "
       "per-pod bytes), move or throttle it (rate-limit the copy, schedule it off-hours, "
       "a separate storage network), or give the node a faster link; keep latency-sensitive "
       "pods off nodes that serve bulk transfers.")
THRESHOLDS = {
    "util_min": Threshold(0.8, "TCP queues build from about 80 % of link speed on: latency "
                          "climbs steeply past it and bursts drop"),
    "rise_factor": Threshold(2.0, "a link's normal use can be high by design; the fault is "
                             "use that at least doubled"),
    "server_ratio_max": Threshold(2.0, "the app's own processing within 2x its normal means "
                                  "the time was lost before or after it, on the wire"),
    "driver_cap": DRIVER_CAP,
}
_RX, _TX = "node_receive_utilization_ratio", "node_transmit_utilization_ratio"
_DROPS = "node_network_drop_per_second"


def judge(window: Window, th: dict) -> Finding:
    nodes = scope_nodes(window)
    links = _busiest(window, nodes)
    if links is None:
        return Finding(ID, 0.0, "no NIC use measured on the incident's nodes", fix=FIX,
                       evidence=[during_evidence(window, False, "no link-use series for "
                                                 f"{', '.join(nodes) or 'any node'}",
                                                 f"signal:{_RX}")])
    peak, direction = links
    saturated = peak.during >= float(th["util_min"])
    new = peak.ratio != peak.ratio or peak.ratio >= float(th["rise_factor"])
    base = f"{peak.before:.0%}" if peak.before == peak.before else "no baseline"
    text = (f"{peak.entity} {direction} at {peak.during:.0%} of link speed "
            f"(baseline {base}, threshold {float(th['util_min']):.0%})")
    evidence = [during_evidence(window, saturated and new, text, f"signal:{_RX}/{_TX}",
                                [{"time": peak.at.isoformat(), "entity": peak.entity,
                                  "use": round(peak.during, 3)}])]
    drops = signal_peaks(window, _DROPS).get(peak.entity)
    dropping = drops is not None and drops.during > 0 and (
        drops.ratio != drops.ratio or drops.ratio >= float(th["rise_factor"]))
    if drops is not None:
        evidence.append(during_evidence(window, dropping, f"{peak.entity} dropped up to "
                                        f"{drops.during:.1f} packets/s on receive",
                                        f"signal:{_DROPS}"))
    server = _server_normal(window, float(th["server_ratio_max"]))
    if server is not None:
        evidence.append(during_evidence(window, server[0], server[1], "requests[side=server]"))
    score = 0.0
    if saturated:
        score = 0.5 + 0.2 * new + 0.1 * dropping
        if server is not None:
            score += 0.2 if server[0] else -0.2
    score = capped_as_driver(score, window, th)
    summary = (f"link saturated: {text}" if saturated
               else f"no link near capacity: {text}")
    return Finding(ID, score, summary, entity=peak.entity, evidence=evidence, fix=FIX)


def _busiest(window: Window, nodes: list[str]) -> tuple[Peak, str] | None:
    """The highest link use among the incident's nodes (all nodes when it names none)."""
    best = None
    for name, direction in ((_RX, "receive"), (_TX, "transmit")):
        for entity, peak in signal_peaks(window, name).items():
            if nodes and entity not in nodes:
                continue
            if best is None or peak.during > best[0].during:
                best = (peak, direction)
    return best


def _server_normal(window: Window, ratio_max: float) -> tuple[bool, str] | None:
    lat = server_latency(window)
    if lat is None or lat.p99_ratio != lat.p99_ratio:
        return None
    ok = lat.p99_ratio <= ratio_max
    return ok, (f"server-side p99 of the failing services {lat.p99_now:.2f} s, "
                f"{lat.p99_ratio:.1f}x its baseline"
                + (": processing stayed normal" if ok else ": the servers slowed too"))


CAUSE = Cause(ID, judge, FIX,
              needs=(any_of("NIC use (node_network_*_bytes_total and "
                            "node_network_speed_bytes)", signal(_RX), signal(_TX)),),
              wants=(_DROPS,), thresholds=THRESHOLDS,
              marks={_RX: "util_min", _TX: "util_min"})
